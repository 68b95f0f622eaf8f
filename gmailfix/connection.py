"""How the engine reaches the world: resolver, address overrides, trust, time limit.

Built once from the CLI options (or from the lab) and handed to ``diagnose``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.asyncresolver

from gmailfix.certs import TrustStore
from gmailfix.dns import make_resolver
from gmailfix.errors import InputError
from gmailfix.inputs import parse_endpoint
from gmailfix.smtp import Endpoint

MAX_TIMEOUT = 300.0


@dataclass(frozen=True)
class Connection:
    resolver: dns.asyncresolver.Resolver
    trust: TrustStore
    timeout: float = 10.0
    connect: dict[Endpoint, Endpoint] = field(default_factory=dict)
    ca_files: tuple[str, ...] = ()
    dns_server: str | None = None

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``diagnose``."""
        return {
            "resolver": self.resolver,
            "trust": self.trust,
            "timeout": self.timeout,
            "connect": self.connect,
        }


def parse_timeout(text: str | float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"--timeout {text!r} is not a number of seconds") from None
    if not 0 < value <= MAX_TIMEOUT:
        raise InputError(f"--timeout must be between 0 and {MAX_TIMEOUT:g} seconds")
    return value


def parse_connect(specs: Sequence[str]) -> dict[Endpoint, Endpoint]:
    """``HOST:PORT=ADDR:PORT`` items: reach that host and port at another address."""
    mapping: dict[Endpoint, Endpoint] = {}
    for spec in specs:
        left, sep, right = spec.partition("=")
        if not sep:
            raise InputError(f"--connect {spec!r} is not HOST:PORT=ADDR:PORT")
        mapping[parse_endpoint(left)] = parse_endpoint(right)
    return mapping


def build(
    *,
    dns_server: str | None = None,
    doh: str | None = None,
    ca_files: Sequence[str] = (),
    connect: Sequence[str] = (),
    timeout: str | float = 10.0,
) -> Connection:
    seconds = parse_timeout(timeout)
    return Connection(
        resolver=make_resolver(dns_server=dns_server, doh=doh, timeout=seconds, ca_files=ca_files),
        trust=TrustStore.with_ca_files([Path(p) for p in ca_files]),
        timeout=seconds,
        connect=parse_connect(connect),
        ca_files=tuple(ca_files),
        dns_server=dns_server,
    )
