"""``gmailfix check``: the quiet form of diagnose, for cron and monitoring.

It judges exactly as ``gmailfix diagnose`` does (the same options, the same
verdict) and prints one line on stdout::

    OK mail.example.com:587 Gmail would accept; certificate 61 days left of 90 days
    WARN mail.example.com:587 Gmail would accept, but the certificate has 20 days left of 90 days
    REFUSED mail.example.com:587 self-signed: Authentication failed. ... (Gmail's words)
    UNKNOWN mail.example.com:587 gmailfix cannot tell what Gmail would do: ...

Exit statuses: 0 accept (OK or WARN), 1 Gmail would refuse, 2 bad input or
usage, 3 it could not be checked from here, 4 an internal error. WARN is an
accept whose certificate has less than a third of its lifetime left (the rule
lives in ``gmailfix.lifetime``): by then a working renewal has replaced it.

No Rich, no report: the engine loads only when the command runs, so --help
stays quick. Outside text (a server's reply inside Gmail's words) passes
through ``gmailfix.text.clean``, which also keeps it on one line.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import TYPE_CHECKING, Any, TextIO

from gmailfix.vocabulary import EXIT_FOR_OUTCOME

if TYPE_CHECKING:
    from gmailfix.bundle import BundleFile
    from gmailfix.certs import CertInfo
    from gmailfix.diagnose import Diagnosis
    from gmailfix.remedies.plan import Plan

EXIT_WARN = 5  # with --fail-on-warn only


def add_check_parser(sub: Any, connection: argparse.ArgumentParser) -> None:
    check = sub.add_parser(
        "check",
        parents=[connection],
        help="one line for cron and monitoring (exit 0 accept, 1 refuse, 3 cannot check)",
        description=(
            "Check the server as Gmail does and print one line: OK, WARN (Gmail would accept, "
            "but less than a third of the certificate's lifetime is left), REFUSED (with "
            "Gmail's words) or UNKNOWN. Exit status: 0 accept (OK or WARN), 1 refuse, "
            "2 bad input, 3 cannot check from this computer, 4 internal error."
        ),
    )
    check.add_argument("target", metavar="DOMAIN_OR_ADDRESS")
    check.add_argument(
        "--fail-on-warn",
        action="store_true",
        help=f"exit {EXIT_WARN} on WARN instead of 0 (the systemd service uses it to mail root)",
    )


def run_check(args: argparse.Namespace, out: TextIO) -> int:
    import asyncio  # with the engine: it loads ssl, which --help does without

    from gmailfix.cli.args import connection_from_args, credentials_from_args, target_from_args
    from gmailfix.diagnose import diagnose

    target = target_from_args(args)
    connection = connection_from_args(args)
    credentials = credentials_from_args(args)
    result = asyncio.run(diagnose(target, connection, credentials=credentials))
    line = check_line(result, connection.clock())
    print(line, file=out)
    out.flush()
    if args.fail_on_warn and line.startswith("WARN "):
        return EXIT_WARN
    return EXIT_FOR_OUTCOME[result.outcome]


def check_line(result: Diagnosis, now: dt.datetime) -> str:
    """The one line for ``result``: its first word says the outcome."""
    from gmailfix.text import clean

    settings = result.verdict.settings
    where = clean(f"{settings.smtp_server}:{settings.port}")
    if result.outcome == "unknown":
        return f"UNKNOWN {where} gmailfix cannot tell what Gmail would do: {result.why_unknown}"
    if result.outcome == "reject":
        cause = result.verdict.cause.value if result.verdict.cause else "refused"
        words = clean(result.verdict.error or "Gmail would refuse it")
        address = result.verdict.address
        at = f" (address {clean(address)})" if address and _addresses(result) > 1 else ""
        return f"REFUSED {where}{at} {cause}: {words}"
    return _accepted(result, where, now)


def _accepted(result: Diagnosis, where: str, now: dt.datetime) -> str:
    from gmailfix.lifetime import Lifetime, days

    served = _shortest(result)
    if served is None:  # accepted without a certificate cannot happen; say nothing wrong
        return f"OK {where} Gmail would accept"
    life = Lifetime.of(served)
    left, total = days(life.left(now)), days(life.total)
    if life.running_out(now):
        return (
            f"WARN {where} Gmail would accept, but the certificate has {left} left of {total} "
            "(less than a third: it should have been renewed by now)"
        )
    return f"OK {where} Gmail would accept; certificate {left} left of {total}"


def _shortest(result: Diagnosis) -> CertInfo | None:
    """Of every address's certificate, the one that runs out first."""
    chosen = result.chosen
    if chosen is None:
        return None
    leaves = [c.probe.chain.leaf for c in chosen.checks]
    return min((leaf for leaf in leaves if leaf is not None), key=_ends, default=None)


def _ends(leaf: CertInfo) -> dt.datetime:
    return leaf.not_after


def _addresses(result: Diagnosis) -> int:
    return len(result.chosen.checks) if result.chosen is not None else 0


# --- the same check, daily, from systemd (export --timer) ---------------------------------


def plan_check_words(plan: Plan) -> list[str]:
    """The words after ``gmailfix`` that check the plan's host and port as Gmail will use
    them, with the DNS server, trust anchors and addresses the diagnosis used (a lab's)."""
    words = ["check", plan.domain, "--smtp-host", plan.smtp_host, "--port", str(plan.port)]
    if plan.dns_server:
        words += ["--dns-server", plan.dns_server]
    for path in plan.ca_files:
        words += ["--ca-file", path]
    for (host, port), (address, to) in sorted(plan.connect.items()):
        if port == plan.port and (host == plan.smtp_host or host in plan.addresses):
            there = f"[{address}]:{to}" if ":" in address else f"{address}:{to}"
            words += ["--connect", f"{host}:{port}={there}"]
    return [*words, "--fail-on-warn"]


def timer_files(plan: Plan) -> tuple[BundleFile, ...]:
    """The systemd service, timer and mail units for the bundle, with their roles."""
    from gmailfix.bundle import BundleFile
    from gmailfix.render.systemd import SYSTEMD_ROLES, systemd_units

    units = systemd_units(plan, plan_check_words(plan))
    return tuple(BundleFile(p, SYSTEMD_ROLES[p], t.encode("utf-8")) for p, t in units.items())
