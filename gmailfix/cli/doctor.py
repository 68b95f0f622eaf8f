"""``gmailfix doctor`` and ``gmailfix doctor --watch``: the mail server checked from inside.

Exit statuses: 0 nothing wrong, 1 problems found (with --watch: Google's
connection stopped, or none came in time), 2 bad input. The engine is
imported only when the command runs, so ``gmailfix --help`` stays quick.
"""

from __future__ import annotations

import argparse
import shlex
import time
from typing import TYPE_CHECKING, Any, TextIO

from gmailfix.cli.args import Parser
from gmailfix.vocabulary import Exit

if TYPE_CHECKING:
    from gmailfix.connection import Connection
    from gmailfix.server.doctor import DoctorReport, Served
    from gmailfix.server.plan import ApplyPlan
    from gmailfix.server.watch_log import WatchedLog

MTA_CHOICES = ("exim", "postfix")


# --- options --------------------------------------------------------------------------


def server_options() -> Parser:
    """--root and --reload-command, shared by doctor, apply and rollback."""
    parent = Parser(add_help=False)
    group = parent.add_argument_group("the server")
    group.add_argument(
        "--root", metavar="DIR", help="a copy of the server's filesystem (default: this computer)"
    )
    group.add_argument(
        "--reload-command",
        metavar="CMD",
        help="how to restart the MTA (default: invoke-rc.d exim4 restart, or postfix reload; "
        "under --root nothing is restarted unless this is given)",
    )
    return parent


def check_options() -> Parser:
    """Where the server's ports are reached and which roots are trusted (doctor, apply)."""
    parent = Parser(add_help=False)
    group = parent.add_argument_group("checking")
    group.add_argument(
        "--connect",
        action="append",
        default=[],
        metavar="HOST:PORT=ADDR:PORT",
        help="reach HOST:PORT at ADDR:PORT (default: the MTA's own address here)",
    )
    group.add_argument(
        "--ca-file", action="append", default=[], metavar="PEM", help="extra trust anchors"
    )
    group.add_argument(
        "--dns-server", metavar="IP[:PORT]", help="ask this DNS server (an IP address)"
    )
    group.add_argument("--timeout", default="10", metavar="SECONDS", help="per check (default 10)")
    return parent


def add_doctor_parser(sub: Any) -> None:
    """The ``doctor`` subcommand (``sub``: the parser's subparsers)."""
    doctor = sub.add_parser(
        "doctor",
        parents=[server_options(), check_options()],
        help="on the mail server: check its TLS set-up (exit 0 fine, 1 problems, 2 bad input)",
    )
    doctor.add_argument("--json", action="store_true", help="print gmailfix.doctor/1 JSON")
    doctor.add_argument("--host", metavar="NAME", help="the SMTP Server typed in Gmail")
    doctor.add_argument("--mta", choices=MTA_CHOICES, help="when both Exim and Postfix are here")
    doctor.add_argument(
        "--renew-dry-run",
        action="store_true",
        help="also run 'certbot renew --dry-run' for the served certificate (asks its CA, "
        "keeps nothing; its pre and post hooks are turned off and listed)",
    )
    watch = doctor.add_argument_group("watching Gmail's own connection (Exim or Postfix)")
    watch.add_argument(
        "--watch",
        action="store_true",
        help="log TLS details (a reversible change), then report Google's connections",
    )
    watch.add_argument("--yes", action="store_true", help="with --watch: make that change")
    watch.add_argument(
        "--seconds", type=float, default=600, metavar="N", help="watch this long (default 600)"
    )
    watch.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="NAME",
        help="also report clients whose address has a reverse DNS name under NAME that "
        "resolves back to it (as Google's are recognised)",
    )
    watch.add_argument(
        "--keep-logging", action="store_true", help="leave TLS logging on afterwards"
    )


def connection_for(args: argparse.Namespace) -> Connection:
    from gmailfix.connection import build

    return build(
        dns_server=args.dns_server,
        ca_files=args.ca_file,
        connect=args.connect,
        timeout=args.timeout,
    )


def reload_argv(args: argparse.Namespace) -> list[str] | None:
    from gmailfix.server.system import ServerError

    if not args.reload_command:
        return None
    try:
        words = shlex.split(args.reload_command)
    except ValueError as exc:
        raise ServerError(f"--reload-command: {exc}") from None
    if not words:
        raise ServerError("--reload-command is empty")
    return words


# --- doctor ---------------------------------------------------------------------------


def run_doctor_cli(args: argparse.Namespace, out: TextIO) -> int:
    import asyncio
    import json

    from gmailfix.errors import reason
    from gmailfix.server.doctor import run_doctor
    from gmailfix.server.doctor_json import report_json
    from gmailfix.server.system import Root, ServerError

    if args.watch:
        return run_watch(args, out)
    try:
        report = asyncio.run(
            run_doctor(
                Root.at(args.root),
                host=args.host,
                mta=args.mta,
                connection=connection_for(args),
                renew_dry_run=args.renew_dry_run,
            )
        )
    except OSError as exc:
        raise ServerError(f"cannot check the server: {reason(exc)}") from None
    if args.json:
        from gmailfix.text import unicode_output

        wide = unicode_output(out)  # else \u escapes: still JSON in any locale
        print(json.dumps(report_json(report), indent=2, ensure_ascii=not wide), file=out)
    else:
        print_report(report, out)
    return Exit.ACCEPT if report.ok else Exit.REJECT


def print_report(report: DoctorReport, out: TextIO) -> None:
    """The report in plain words; everything that came from files or servers is cleaned.
    An output that cannot carry every character gets plain marks (X for ✗)."""
    from gmailfix.render.terminal import Terminal, wrap
    from gmailfix.text import clean, plain_marks, unicode_output

    wide = unicode_output(out)
    width = Terminal.of(out).width

    def say(text: str = "") -> None:
        """One line, wrapped to the terminal: continuation lines keep its indent."""
        text = text if wide else plain_marks(text)
        indent = len(text) - len(text.lstrip(" "))
        hang = indent + (2 if text.lstrip(" ")[:2] in ("✗ ", "X ", "! ", "i ") else 0)
        lines = wrap(text, max(width - hang, 20)) or [""]
        print(" " * indent + lines[0], file=out)
        for line in lines[1:]:
            print(" " * hang + line, file=out)

    setup, tls = report.setup, report.tls
    say(f"Mail server: {setup.label}")
    if not setup.root.is_system:
        say(f"  (a copy under {clean(setup.root.path)})")
    say(f"Host name Gmail uses: {clean(report.host) if report.host else 'not known: give --host'}")
    if report.on_disk is not None and report.on_disk.chain.leaf is not None:
        leaf = report.on_disk.chain.leaf
        say(f"Certificate: {clean(report.on_disk.path)}")
        say(f"  for {clean(', '.join(leaf.names[:6]) or leaf.subject)}")
        say(f"  from {clean(leaf.issuer)}, valid until {leaf.not_after:%Y-%m-%d}")
        say(f"Key: {clean(report.on_disk.key_path)} (read by {clean(tls.user)})")
    for served in report.served:
        say("  " + _served_line(report, served))
    if report.renewal is not None:
        say(f"Renewal: certbot '{clean(report.renewal.lineage)}': {clean(report.renewal.why)}")
    say()
    if report.ok:
        say("Nothing wrong found.")
    else:
        count = len(report.problems)
        say(f"{count} problem{'s' if count != 1 else ''} found:")
    for found in report.findings:
        where = f" (port {found.port})" if found.port else ""
        say(f" {_mark(str(found.severity))} {clean(found.title)}{where}")
        say(f"   {clean(found.detail, limit=1200)}")
    for note in report.notes:
        say(f" i {clean(note, limit=600)}")


def _mark(severity: str) -> str:
    return {"error": "✗", "warning": "!"}.get(severity, "i")


def _served_line(report: DoctorReport, served: Served) -> str:
    from gmailfix.text import clean

    mode = "TLS from the first byte" if served.mode == "implicit" else "STARTTLS"
    head = f"port {served.port} ({mode}) at {clean(served.address)}:"
    if served.certificate is None:
        return f"{head} {clean(served.error or 'no certificate')}"
    expected = report.on_disk.chain.leaf if report.on_disk else None
    if expected is not None and expected.sha256 == served.certificate.sha256:
        return f"{head} serves this certificate"
    names = ", ".join(served.certificate.names[:4]) or served.certificate.subject
    return f"{head} serves another certificate (for {clean(names)})"


# --- doctor --watch -------------------------------------------------------------------


def run_watch(args: argparse.Namespace, out: TextIO) -> int:
    """Turn TLS logging on (with --yes), follow the log, report, turn it off again.
    SIGHUP and SIGTERM turn it off as Ctrl+C does."""
    from gmailfix.server.apply import apply
    from gmailfix.server.stop_signals import stop_signals
    from gmailfix.server.system import Root, ServerError
    from gmailfix.server.watch import plan_watch, watched_log

    if not 0 < args.seconds <= 86400:
        raise ServerError("--seconds must be between 0 and 86400")
    root = Root.at(args.root)
    log = watched_log(root, mta=args.mta)  # a log gmailfix cannot read: say so before any change
    plan = plan_watch(root, reload=reload_argv(args), mta=args.mta)
    if plan is not None and not args.yes:
        mta = "Postfix" if plan.setup.mta == "postfix" else "Exim"
        _show_plan(plan, out, f"Watching needs {mta} to log TLS details. This change")
        print(
            "Nothing changed. Run again with --yes to make it (it is undone at the end).",
            file=out,
        )
        return Exit.ACCEPT
    journal = None
    with stop_signals() as signals:
        try:
            if plan is not None:
                with signals.held():  # a signal now waits until the change is whole
                    result = apply(plan)
                    if result.outcome == "applied":
                        journal = result.journal
                if journal is None:
                    failed = result.failed
                    why = failed.detail if failed else "a step failed"
                    raise ServerError(
                        f"TLS logging could not be turned on ({why}); nothing was changed"
                    )
                print("TLS logging is on.", file=out)
            return _follow(args, log, out)
        finally:
            if journal is not None and not args.keep_logging:
                with signals.held(stop_after=False):
                    _logging_off(args, root, journal, out)


def _logging_off(args: argparse.Namespace, root: Any, journal: Any, out: TextIO) -> None:
    """Undo the logging change; the terminal may be gone (SIGHUP), the undo is not."""
    import contextlib

    from gmailfix.server.apply import rollback
    from gmailfix.text import clean

    undone = rollback(root, runner=_default_runner(), only=journal, reload=reload_argv(args))
    with contextlib.suppress(OSError):
        print("TLS logging is off again (the files are as they were).", file=out, flush=True)
        if undone.reload is not None and not undone.reload.ok:
            print(f"gmailfix: {clean(undone.reload.detail)}", file=out, flush=True)


def _default_runner() -> Any:
    from gmailfix.server.system import run_command

    return run_command


SHOWN_UNCONFIRMED = 5  # clients that only call themselves Google, reported one by one


def _follow(args: argparse.Namespace, log: WatchedLog, out: TextIO) -> int:
    from gmailfix.server.fcrdns import Confirmer
    from gmailfix.server.watch import follow
    from gmailfix.server.watch_log import GOOGLE, describe, log_size, party
    from gmailfix.text import clean

    clients = (*GOOGLE, *args.client)
    connection = connection_for(args)
    confirm = Confirmer(connection.resolver, clients, connection.timeout)
    path = log.path
    start = log_size(path)  # before asking: a connection right after the question counts
    if log.forgeable:
        only_dns = "Google is named only when DNS confirms the client's address."
        print(f"{clean(log.forgeable)} {only_dns}", file=out)
    print(
        "Now press 'Add account' in Gmail's 'Send mail as' (or send a test message). "
        f"Watching {clean(path)} for {args.seconds:g} s; Ctrl+C stops.",
        file=out,
        flush=True,
    )
    deadline = time.monotonic() + float(args.seconds)
    seen = None
    unconfirmed = 0
    try:
        for attempt in follow(
            path,
            start=start,
            clients=clients,
            deadline=deadline,
            mta=log.mta,
            sni_logged=log.sni_logged,
        ):
            if attempt.address is not None:
                attempt = attempt.with_identity(confirm(attempt.address))
            if attempt.verdict == "other":
                continue
            if attempt.verdict == "claimed":
                unconfirmed += 1
                if unconfirmed > SHOWN_UNCONFIRMED:
                    continue
            for line in describe(attempt):
                print(clean(line, limit=600), file=out, flush=True)
            if attempt.verdict == "confirmed":
                seen = attempt
                break  # one press of 'Add account' is one connection: report it and stop
    except KeyboardInterrupt:
        print("Stopped.", file=out)
    if seen is None:
        if unconfirmed:
            one = unconfirmed == 1
            print(
                f"No connection confirmed as {party(clients[0])}'s was seen: {unconfirmed} "
                f"client{'' if one else 's'} only called {'itself' if one else 'themselves'} "
                f"{party(clients[0])} (a name is not proof; DNS of the address is).",
                file=out,
            )
        else:
            print("No connection from Google (or --client) was seen.", file=out)
        return Exit.REJECT
    return Exit.ACCEPT if seen.stopped == "quit" and seen.tls_version else Exit.REJECT


def _show_plan(plan: ApplyPlan, out: TextIO, lead: str) -> None:
    from gmailfix.text import clean

    print(f"{lead}:", file=out)
    print(clean(plan.diff(), limit=200_000, keep_newlines=True), file=out, end="")
    for step in plan.steps:
        command = f": {' '.join(step.argv)}" if step.argv else ""
        print(f"  then {step.words}{clean(command)}", file=out)
