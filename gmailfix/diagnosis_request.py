"""A diagnosis asked for from the command line or the wizard, validated up front."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

from gmailfix.connection import Connection, build
from gmailfix.diagnose import Diagnosis, Listener, diagnose
from gmailfix.errors import InputError
from gmailfix.inputs import PORTS, normalise_domain, normalise_host


@dataclass(frozen=True)
class Request:
    domain: str
    username: str | None
    smtp_host: str | None
    ports: tuple[int, ...]
    connection: Connection


def make_request(
    target: str,
    connection: Connection,
    *,
    smtp_host: str | None = None,
    ports: tuple[int, ...] = PORTS,
) -> Request:
    """Validate everything a person typed; raises InputError with one clear line."""
    domain = normalise_domain(target)
    username = _username(target)
    host = normalise_host(smtp_host) if smtp_host else None
    return Request(domain, username, host, ports, connection)


_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")


def _username(target: str) -> str | None:
    """The address as Gmail's username, when an address was typed (local part checked)."""
    text = target.strip()
    if "@" not in text or "://" in text:
        return None
    local, _, domain = text.rpartition("@")
    if not _LOCAL_PART.match(local):
        raise InputError(f"{local!r} is not a valid address: check the part before the @")
    return f"{local}@{normalise_domain(domain)}"


def connection_from_args(args: argparse.Namespace) -> Connection:
    """The connection options shared by diagnose and export (DESIGN.md)."""
    return build(
        dns_server=args.dns_server,
        doh=args.doh,
        ca_files=args.ca_file,
        connect=args.connect,
        timeout=args.timeout,
    )


def ports_from_args(args: argparse.Namespace) -> tuple[int, ...]:
    return tuple(dict.fromkeys(args.port)) if args.port else PORTS


def request_from_args(args: argparse.Namespace) -> Request:
    return make_request(
        args.target,
        connection_from_args(args),
        smtp_host=args.smtp_host,
        ports=ports_from_args(args),
    )


async def run_request(request: Request, on_event: Listener | None = None) -> Diagnosis:
    return await diagnose(
        request.domain,
        username=request.username,
        smtp_host=request.smtp_host,
        ports=request.ports,
        on_event=on_event,
        **request.connection.kwargs(),
    )
