"""``gmailfix apply BUNDLE`` and ``gmailfix rollback``.

apply exit statuses: 0 applied (and Gmail's check passes, or was not run) or,
without --yes, nothing written; 1 a step failed and everything was put back;
2 bad input (the bundle does not fit this server, not root, ...); 3 applied,
but Gmail's check could not be made from this computer.
rollback: 0 the last change was undone; 2 nothing to undo, not root, or a file was
edited since the change (the difference is shown; --force puts the old file back anyway).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, TextIO

from gmailfix.cli.doctor import (
    check_options,
    connection_for,
    reload_argv,
    server_options,
)

if TYPE_CHECKING:
    from gmailfix.server.apply import ApplyResult
    from gmailfix.server.plan import ApplyPlan

EXIT_APPLIED, EXIT_ROLLED_BACK, EXIT_USAGE, EXIT_NOT_CONFIRMED = 0, 1, 2, 3


def add_apply_parsers(sub: Any) -> None:
    """The ``apply`` and ``rollback`` subcommands (``sub``: the parser's subparsers)."""
    apply = sub.add_parser(
        "apply",
        parents=[server_options(), check_options()],
        help="on the mail server: put a bundle's fix in place, checked, with automatic rollback",
    )
    apply.add_argument("bundle", metavar="BUNDLE", help="a folder or .zip from gmailfix export")
    apply.add_argument(
        "--yes", action="store_true", help="make the changes shown (default: only show them)"
    )
    apply.add_argument(
        "--inbound-done",
        action="store_true",
        help="the bundle's step that keeps inbound mail working (DANE, MTA-STS) is done",
    )
    certificate = apply.add_argument_group(
        "the certificate step (when the plan needs a certificate that is not there yet)"
    )
    certificate.add_argument(
        "--acme-server",
        metavar="URL",
        help="the ACME directory certbot gets it from (default: Let's Encrypt's)",
    )
    certificate.add_argument(
        "--webroot",
        metavar="DIR",
        help="your web server serves DIR on port 80 for the host name (default: certbot "
        "answers on port 80 itself, which must be free)",
    )
    rollback = sub.add_parser(
        "rollback", parents=[server_options()], help="undo the last change gmailfix made here"
    )
    rollback.add_argument(
        "--force",
        action="store_true",
        help="put the old files back even where they were edited since the change (the "
        "edited copies are kept in the journal)",
    )


def _recheck_connection(args: argparse.Namespace) -> Any:
    """The Connection for the last check: given when any checking option is, else None
    (the engine then uses this computer's port and DNS, and skips it under --root)."""
    if args.connect or args.ca_file or args.dns_server:
        return connection_for(args)
    return None


def run_apply(args: argparse.Namespace, out: TextIO) -> int:
    from gmailfix.errors import reason
    from gmailfix.render.certbot import LETS_ENCRYPT
    from gmailfix.server.apply import apply, plan_apply
    from gmailfix.server.plan import InboundStepPending
    from gmailfix.server.system import Root, ServerError
    from gmailfix.text import clean

    try:
        plan = plan_apply(
            args.bundle,
            Root.at(args.root),
            reload=reload_argv(args),
            inbound_done=args.inbound_done,
            acme_server=args.acme_server or LETS_ENCRYPT,
            webroot=args.webroot,
        )
        show_plan(plan, out)
        if not args.yes:
            print("\nNothing was written. Run again with --yes to make these changes.", file=out)
            return EXIT_APPLIED
        result = apply(plan, connection=_recheck_connection(args))
    except InboundStepPending as exc:
        raise ServerError(f"{exc}: add --inbound-done") from None
    except OSError as exc:
        raise ServerError(f"cannot apply the bundle: {reason(exc)}") from None
    code = show_result(result, out)
    if any(r.step.key == "certificate" and r.ok for r in result.results):
        for name in plan.issuance.lineages if plan.issuance else ():
            print(
                f"certbot's certificate for {clean(name)} is kept in "
                f"/etc/letsencrypt/live/{clean(name)}: rollback leaves certbot's files.",
                file=out,
            )
    return code


def show_plan(plan: ApplyPlan, out: TextIO) -> None:
    from gmailfix.text import clean

    bundle = plan.bundle
    assert bundle is not None
    print(f"Mail server: {plan.setup.label}", file=out)
    print(
        f"Fix: {clean(', '.join(bundle.plan.kinds))} for {clean(bundle.plan.smtp_host)} "
        f"port {bundle.plan.port}",
        file=out,
    )
    print("\nChanges:", file=out)
    diff = plan.diff()
    print(clean(diff, limit=500_000, keep_newlines=True) if diff else "  (none)", file=out, end="")
    print("\nEvery file above is backed up first. Then:", file=out)
    for number, step in enumerate(plan.steps, 1):
        command = f"\n     $ {' '.join(step.argv)}" if step.argv else ""
        print(
            f"  {number}. {clean(step.words)}{clean(command, limit=2000, keep_newlines=True)}",
            file=out,
        )
    print("If any step fails, every file is put back as it was.", file=out)
    for warning in plan.warnings:
        print(f"Note: {clean(warning, limit=600)}", file=out)


def show_result(result: ApplyResult, out: TextIO) -> int:
    from gmailfix.server.apply import describe_restored
    from gmailfix.text import clean

    print("", file=out)
    for item in result.results:
        mark = "skipped" if item.skipped else ("ok" if item.ok else "FAILED")
        print(f"  {mark:7} {clean(item.step.words)}: {clean(item.detail, limit=600)}", file=out)
    if result.outcome == "rolled-back":
        print("\nA step failed, so everything was put back:", file=out)
        for line in describe_restored(result.restored):
            print(f"  {clean(line)}", file=out)
        if result.reload_after_rollback is not None:
            again = result.reload_after_rollback
            print(f"  restarted with the old config: {clean(again.detail)}", file=out)
        return EXIT_ROLLED_BACK
    print(
        f"\nApplied. The backups are in {clean(result.journal)}; 'gmailfix rollback' undoes it.",
        file=out,
    )
    diagnosis = result.diagnosis
    if diagnosis is not None and diagnosis.outcome == "unknown":
        return EXIT_NOT_CONFIRMED
    return EXIT_APPLIED


def run_rollback(args: argparse.Namespace, out: TextIO) -> int:
    from gmailfix.errors import reason
    from gmailfix.server.apply import describe_restored, rollback
    from gmailfix.server.journal import ChangedSince
    from gmailfix.server.system import Root, ServerError
    from gmailfix.text import clean

    root = Root.at(args.root)
    try:
        done = rollback(root, reload=reload_argv(args), force=args.force)
    except ChangedSince as exc:
        print(clean(exc.diff, limit=500_000, keep_newlines=True), file=out, end="")
        raise ServerError(f"{exc} (gmailfix rollback --force)") from None
    except OSError as exc:
        raise ServerError(f"cannot roll back: {reason(exc)}") from None
    print(f"Undid: {clean(done.what)}", file=out)
    for line in describe_restored(done.restored):
        print(f"  {clean(line)}", file=out)
    for name in done.certificates:
        print(
            f"  certbot's certificate for {clean(name)} stays in "
            f"/etc/letsencrypt/live/{clean(name)} (rollback leaves certbot's files)",
            file=out,
        )
    if done.dovecot is not None:
        state = "done" if done.dovecot.ok else clean(done.dovecot.detail)
        print(f"  reloaded Dovecot with the old config: {state}", file=out)
    if done.reload is not None:
        state = "done" if done.reload.ok else clean(done.reload.detail)
        print(f"  restarted the MTA with the old config: {state}", file=out)
    elif not any(r.action != "unchanged" for r in done.restored):
        print("  (nothing was restarted: no file had changed)", file=out)
    elif not root.is_system:
        print("  (nothing was restarted: under --root no MTA runs from the copy)", file=out)
    else:
        print("  (nothing was restarted: no MTA found here; restart it yourself)", file=out)
    return EXIT_APPLIED
