"""The ``gmailfix`` command. Textual is imported only when the wizard starts."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import TextIO

from gmailfix import __version__
from gmailfix.errors import GmailfixError, InputError
from gmailfix.inputs import PORTS

EXIT_ACCEPT, EXIT_REJECT, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"gmailfix: error: {message}\n")


def _connection_options() -> _Parser:
    """Options shared by diagnose and export (DESIGN.md contract)."""
    parent = _Parser(add_help=False)
    group = parent.add_argument_group("connection")
    group.add_argument("--smtp-host", metavar="HOST", help="the SMTP Server as typed in Gmail")
    group.add_argument(
        "--port",
        type=int,
        action="append",
        choices=PORTS,
        metavar="{587,465,25}",
        help="port to check (repeatable; default all three)",
    )
    group.add_argument("--dns-server", metavar="HOST[:PORT]", help="ask this DNS server")
    group.add_argument("--doh", metavar="URL", help="ask this DNS-over-HTTPS resolver")
    group.add_argument(
        "--ca-file", action="append", default=[], metavar="PEM", help="extra trust anchors"
    )
    group.add_argument(
        "--connect",
        action="append",
        default=[],
        metavar="HOST:PORT=ADDR:PORT",
        help="reach HOST:PORT at ADDR:PORT (names are still checked as HOST)",
    )
    group.add_argument("--timeout", default="10", metavar="SECONDS", help="per probe (default 10)")
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gmailfix",
        description=(
            "Find out why Gmail 'Send mail as' says 'TLS Negotiation failed, the certificate "
            "doesn't match the host', and get a fix you can paste. Without a command, the "
            "wizard starts."
        ),
    )
    parser.add_argument("--version", action="version", version=f"gmailfix {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    # parents must be plain ArgumentParsers; the subparsers themselves are _Parser
    conn = _connection_options()
    diag = sub.add_parser(
        "diagnose", parents=[conn], help="diagnose a domain or address (exit 0 accept, 1 reject)"
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
    export = sub.add_parser("export", parents=[conn], help="write the fix as a folder or zip")
    export.add_argument("target", metavar="DOMAIN_OR_ADDRESS")
    export.add_argument("--remedy", choices=("isp-hostname", "new-certificate", "sni"))
    where = export.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", metavar="DIR", help="write a folder")
    where.add_argument("--zip", metavar="FILE", help="write a .zip file")
    export.add_argument("--alias-domain", action="append", default=[], metavar="DOMAIN")
    export.add_argument(
        "--exim-layout", choices=("debian-split", "debian-single", "plain"), default="debian-split"
    )
    export.add_argument("--force", action="store_true", help="replace an existing bundle")
    export.add_argument("--make-csr", action="store_true", help="also make a private key and CSR")
    export.add_argument(
        "--include-key", action="store_true", help="put the private key in the bundle"
    )
    lab = sub.add_parser("lab", help="run the offline lab and print commands to try")
    lab.add_argument(
        "--dns-port", type=int, default=5353, help="port of the lab DNS (default 5353)"
    )
    lab.add_argument("--dir", metavar="DIR", help="where to write the lab CA (default: a temp dir)")
    sub.add_parser("demo", help="the wizard against the built-in lab (offline)")
    sub.add_parser("wizard", help="the wizard (the default)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "diagnose":
            return _diagnose(args, sys.stdout)
        if args.command == "export":
            from gmailfix.export_cli import run_export

            return run_export(args)
        if args.command == "lab":
            from gmailfix.lab.foreground import run_lab

            return run_lab(dns_port=args.dns_port, directory=args.dir)
        return _wizard(demo=args.command == "demo")
    except InputError as exc:
        print(f"gmailfix: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except GmailfixError as exc:
        print(f"gmailfix: {exc}", file=sys.stderr)
        return EXIT_REJECT
    except KeyboardInterrupt:
        print("gmailfix: interrupted", file=sys.stderr)
        return 130


def _diagnose(args: argparse.Namespace, out: TextIO) -> int:
    from gmailfix.diagnosis_request import request_from_args, run_request

    if (args.target is None) == (args.from_file is None):
        raise InputError("give one DOMAIN_OR_ADDRESS, or --from FILE")
    if args.from_file is not None:
        from gmailfix.batch_cli import run_batch_cli

        return run_batch_cli(args, out)

    request = request_from_args(args)
    diagnosis = asyncio.run(run_request(request))
    if args.json:
        from gmailfix.render.json_report import dumps

        print(dumps(diagnosis), file=out)
    else:
        from rich.console import Console

        from gmailfix.render.terminal import print_report

        print_report(diagnosis, Console(file=out))
    return EXIT_ACCEPT if diagnosis.accepted else EXIT_REJECT


def _wizard(demo: bool) -> int:
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        print(
            "gmailfix: the wizard needs a terminal; try 'gmailfix diagnose --help'", file=sys.stderr
        )
        return EXIT_USAGE
    from gmailfix.screens.app import run_wizard

    return run_wizard(demo=demo)
