"""Flags shared by diagnose, export and batch, turned into Target, Connection, Credentials.

The one place that maps engine fields to flag names: an InputError that names
a field is reported here as the flag a person typed.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shlex
import sys
from typing import TYPE_CHECKING, Any

from gmailfix.errors import InputError
from gmailfix.vocabulary import PORTS

if TYPE_CHECKING:  # the engine loads when a command runs, not for --help
    from gmailfix.connection import Connection
    from gmailfix.inputs import Target
    from gmailfix.login import Credentials

FLAG_FOR_FIELD = {
    "address": "DOMAIN_OR_ADDRESS",
    "smtp_host": "--smtp-host",
    "port": "--port",
    "option": "an option",
}
PASSWORD_VARIABLE = "GMAILFIX_PASSWORD"


class Parser(argparse.ArgumentParser):
    """Usage errors exit 2 with one line, as every other bad input does."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"gmailfix: error: {message}\n")


class CommandParser(Parser):
    """A subcommand's parser: ``--debug`` also works after the command's name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )


def connection_options() -> Parser:
    """Options shared by diagnose and export (docs/DESIGN.md contract)."""
    parent = Parser(add_help=False)
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
    group.add_argument(
        "--dns-server", metavar="IP[:PORT]", help="ask this DNS server (an IP address)"
    )
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
    group.add_argument(
        "--auth-user",
        metavar="USER",
        help=f"also log in as Gmail does (password from a prompt or ${PASSWORD_VARIABLE})",
    )
    return parent


def target_from_args(args: argparse.Namespace, text: str | None = None) -> Target:
    from gmailfix.inputs import Target, parse_target

    ports = tuple(dict.fromkeys(args.port or ()))
    target = parse_target(text if text is not None else args.target, args.smtp_host, None)
    if ports and target.port_from_host and ports != target.ports:
        raise InputError("--smtp-host names a port that --port contradicts", field="option")
    if ports and not target.port_from_host:
        target = Target(target.domain, target.username, target.smtp_host, ports)
    return target


def connection_from_args(args: argparse.Namespace) -> Connection:
    from gmailfix.connection import build

    if args.dns_server is not None and not args.dns_server.strip():
        raise InputError("--dns-server is empty; give an IP address", field="option")
    return build(
        dns_server=args.dns_server,
        doh=args.doh,
        ca_files=args.ca_file,
        connect=args.connect,
        timeout=args.timeout,
    )


def credentials_from_args(args: argparse.Namespace) -> Credentials | None:
    """The login to try, with the password from the environment or a no-echo prompt."""
    from gmailfix.login import Credentials

    if not getattr(args, "auth_user", None):
        return None
    password = os.environ.get(PASSWORD_VARIABLE)
    if password is None:
        if not sys.stdin.isatty():
            raise InputError(
                f"--auth-user needs a password: set {PASSWORD_VARIABLE} or run in a terminal",
                field="option",
            )
        password = getpass.getpass(f"Password for {args.auth_user} (not shown, never stored): ")
    return Credentials(args.auth_user, password)


def connection_flags(args: argparse.Namespace) -> list[str]:
    """The flags that reproduce this run's connection, for a command we suggest."""
    flags: list[str] = []
    if args.smtp_host:
        flags += ["--smtp-host", args.smtp_host]
    for port in dict.fromkeys(args.port or ()):
        flags += ["--port", str(port)]
    if args.dns_server:
        flags += ["--dns-server", args.dns_server]
    if args.doh:
        flags += ["--doh", args.doh]
    for path in args.ca_file:
        flags += ["--ca-file", path]
    for spec in args.connect:
        flags += ["--connect", spec]
    if str(args.timeout) != "10":
        flags += ["--timeout", str(args.timeout)]
    return flags


def command_line(*words: str) -> str:
    return shlex.join(words)


def field_message(exc: InputError) -> str:
    """An InputError in the CLI's terms: name the flag when the field is known."""
    flag = FLAG_FOR_FIELD.get(exc.field or "", "")
    if exc.field in ("smtp_host", "port"):
        return f"{flag}: {exc}"
    return str(exc)
