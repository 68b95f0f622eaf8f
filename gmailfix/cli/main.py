"""The parser and the dispatch; every subcommand lives in its own module.

Exit statuses: 0 Gmail would accept, 1 it would reject (or the fix asked for
cannot help), 2 bad input or usage, 3 it could not be checked from here,
4 an internal error (one line; the traceback only with --debug), 130
interrupted, 141 the output's reader went away (``| head``); ``diagnose`` keeps
its verdict's status then.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from gmailfix import __version__
from gmailfix.cli.args import CommandParser, Parser, connection_options, field_message
from gmailfix.cli.output import stdout_gone
from gmailfix.errors import (
    BundleError,
    CannotCheck,
    GmailfixError,
    InputError,
    NoSuchFix,
    NothingToFix,
)
from gmailfix.remedies.model import REMEDY_KINDS
from gmailfix.stacks.recognise import STACK_NAMES
from gmailfix.vocabulary import Exit


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="gmailfix",
        description=(
            "Find out why Gmail 'Send mail as' says 'TLS Negotiation failed, the certificate "
            "doesn't match the host', and get a fix you can paste. Without a command, the "
            "wizard starts."
        ),
        epilog=(
            "exit status: 0 Gmail would accept, 1 it would reject, 2 bad input, "
            "3 cannot check from this computer, 4 internal error, 130 interrupted"
        ),
    )
    parser.add_argument("--version", action="version", version=f"gmailfix {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub: Any = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    conn = connection_options()
    diag = sub.add_parser(
        "diagnose",
        parents=[conn],
        help="diagnose a domain or address (exit 0 accept, 1 reject, 3 cannot check)",
    )
    diag.add_argument("target", metavar="DOMAIN_OR_ADDRESS", nargs="?")
    diag.add_argument("--json", action="store_true", help="print gmailfix.diagnosis/1 JSON")
    diag.add_argument(
        "--from",
        dest="from_file",
        metavar="FILE",
        help="diagnose every domain or address in FILE, one per line ('-' for stdin)",
    )
    diag.add_argument(
        "--concurrency",
        type=int,
        default=8,
        metavar="N",
        help="with --from: domains checked at once (default 8)",
    )
    from gmailfix.cli.check import add_check_parser

    add_check_parser(sub, conn)
    export = sub.add_parser("export", parents=[conn], help="write the fix as a folder or zip")
    export.add_argument("target", metavar="DOMAIN_OR_ADDRESS")
    export.add_argument(
        "--remedy",
        choices=REMEDY_KINDS,
        action="append",
        default=[],
        help="repeatable; default: every recommended fix, as one plan",
    )
    where = export.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", metavar="DIR", help="write a folder")
    where.add_argument("--zip", metavar="FILE", help="write a .zip file")
    export.add_argument("--alias-domain", action="append", default=[], metavar="DOMAIN")
    export.add_argument(
        "--exim-layout",
        choices=("debian-split", "debian-single", "plain"),
        default=None,
        help="default: not known, so the bundle holds both Debian files and says how to tell",
    )
    export.add_argument(
        "--mta", choices=("exim", "postfix"), help="whose settings to write (default: recognised)"
    )
    export.add_argument(
        "--stack",
        choices=STACK_NAMES,
        metavar="NAME",
        help="the server's mail stack or panel (default: what the diagnosis recognised)",
    )
    export.add_argument("--force", action="store_true", help="replace an existing bundle")
    export.add_argument("--make-csr", action="store_true", help="also make a private key and CSR")
    export.add_argument(
        "--include-key", action="store_true", help="put the private key in the bundle"
    )
    export.add_argument(
        "--timer",
        action="store_true",
        help="also a systemd timer that runs 'gmailfix check' daily and mails root on failure",
    )
    # on the mail server itself: doctor (and --watch), apply, rollback
    from gmailfix.cli.apply import add_apply_parsers
    from gmailfix.cli.doctor import add_doctor_parser

    add_doctor_parser(sub)
    add_apply_parsers(sub)
    for name, description in _SERVER_DESCRIPTIONS.items():  # what --help says first
        sub.choices[name].description = description
    from gmailfix.cli.explain import add_explain_parser

    add_explain_parser(sub)
    lab = sub.add_parser(
        "lab",
        help="run the offline lab and print commands to try",
        description="Run the offline lab in the foreground: a DNS server, SMTP servers with "
        "every kind of problem, and a private CA, all on this computer. It prints the commands "
        "that diagnose its domains; Ctrl+C stops it.",
    )
    lab.add_argument(
        "--dns-port", type=_port_number, default=5353, help="port of the lab DNS (default 5353)"
    )
    lab.add_argument("--dir", metavar="DIR", help="where to write the lab CA (default: a temp dir)")
    sub.add_parser("demo", help="the wizard against the built-in lab (offline)")
    sub.add_parser("wizard", help="the wizard (the default)")
    return parser


_SERVER_DESCRIPTIONS = {
    "doctor": "Run on the mail server itself: read its Exim or Postfix settings, check the "
    "certificate and key files and who can read them, what each port serves, and whether "
    "certbot's renewals reach the mail server. Nothing is changed.",
    "apply": "Run on the mail server itself: show what a bundle from 'gmailfix export' "
    "changes, and with --yes back up, write, check, reload and check as Gmail does, "
    "rolling everything back if a step fails.",
    "rollback": "Run on the mail server itself: undo the last change 'gmailfix apply' made, "
    "refusing when a file was changed since (unless --force).",
}


def _port_number(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a port number") from None
    if not 0 <= number < 65536:
        raise argparse.ArgumentTypeError(f"{number} is not a port number (0-65535)")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    whole_process = argv is None  # started as ``gmailfix``, not called by other code
    if whole_process and isinstance(sys.stdout, io.TextIOWrapper):
        # outside text in a Latin-1 or ASCII locale: shown as \u2717, never a crash
        sys.stdout.reconfigure(errors="backslashreplace")
    if whole_process and getattr(args, "doh", None) is None:
        _skip_doh_stack()
    status = _run(args)
    one_diagnosis = args.command == "check" or (
        args.command == "diagnose" and args.from_file is None
    )
    if whole_process and one_diagnosis:
        _exit_now(status)
    return status


def _run(args: argparse.Namespace) -> int:
    try:
        return _dispatch(args)
    except InputError as exc:
        print(f"gmailfix: {field_message(exc)}", file=sys.stderr)
        return Exit.USAGE
    except BundleError as exc:
        hint = "; add --force to replace it" if exc.replaceable else ""
        print(f"gmailfix: {exc}{hint}", file=sys.stderr)
        return Exit.USAGE
    except CannotCheck as exc:
        print(f"gmailfix: {exc}", file=sys.stderr)
        return Exit.UNKNOWN
    except NoSuchFix as exc:
        hint = ""
        if isinstance(exc, NothingToFix):
            hint = " (to prepare certificates for more domains: --remedy sni --alias-domain D)"
        print(f"gmailfix: {exc}{hint}", file=sys.stderr)
        return Exit.REJECT
    except GmailfixError as exc:
        print(f"gmailfix: {exc}", file=sys.stderr)
        return Exit.USAGE
    except KeyboardInterrupt:
        print("gmailfix: interrupted", file=sys.stderr)
        return Exit.INTERRUPTED
    except BrokenPipeError:
        stdout_gone()
        return Exit.PIPE_CLOSED
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        print(
            f"gmailfix: internal error ({type(exc).__name__}); run again with --debug "
            "and report it",
            file=sys.stderr,
        )
        return Exit.INTERNAL


def _exit_now(status: int) -> NoReturn:
    """End a diagnosis without the interpreter's tidy-up of every module and object.

    One diagnosis writes nothing but stdout and stderr, and asyncio.run has
    joined its threads, so there is nothing left to tidy; the tidy-up was a
    fifth of a one-port diagnosis. Only for a whole process (callers of main()
    go on), and not for a list (--from), whose tidy-up is lost in its run.
    The report was flushed, and a failure to write it said, by ``run_diagnose``."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


def _skip_doh_stack() -> None:
    """Tell dnspython not to load its HTTP stack, which only --doh needs.

    Only for a whole process started as ``gmailfix`` without --doh: the choice
    is made once, when dnspython's query module is first imported, so a caller
    that runs main() in its own process may still want DoH later. It saves
    about a tenth of a one-port diagnosis."""
    import dns._features

    dns._features.force("doh", False)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "diagnose":
        from gmailfix.cli.diagnose import run_diagnose

        return run_diagnose(args, sys.stdout)
    if args.command == "check":
        from gmailfix.cli.check import run_check

        return run_check(args, sys.stdout)
    if args.command == "export":
        from gmailfix.cli.export import run_export

        return run_export(args)
    if args.command == "doctor":
        from gmailfix.cli.doctor import run_doctor_cli

        return run_doctor_cli(args, sys.stdout)
    if args.command == "apply":
        from gmailfix.cli.apply import run_apply

        return run_apply(args, sys.stdout)
    if args.command == "rollback":
        from gmailfix.cli.apply import run_rollback

        return run_rollback(args, sys.stdout)
    if args.command == "explain":
        from gmailfix.cli.explain import run_explain

        return run_explain(args, sys.stdout)
    if args.command == "lab":
        from gmailfix.cli.lab import run_lab

        return run_lab(dns_port=args.dns_port, directory=args.dir)
    return _wizard(demo=args.command == "demo")


def _wizard(demo: bool) -> int:
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        print(
            "gmailfix: the wizard needs a terminal; try 'gmailfix diagnose --help'", file=sys.stderr
        )
        return Exit.USAGE
    from gmailfix.screens.app import run_wizard

    return run_wizard(demo=demo)
