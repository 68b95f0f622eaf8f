"""How the engine reaches the world: the seams of a diagnosis, typed and frozen.

Built once (by the CLI from its options, by the wizard, or by the lab with
``LabInfo.connection()``) and handed to ``diagnose``. Tests point every
network step at loopback through it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gmailfix.certs import Fetcher, TrustStore, fetch_url
from gmailfix.errors import InputError, shorten
from gmailfix.inputs import parse_endpoint
from gmailfix.smtp import Endpoint

if TYPE_CHECKING:
    import dns.asyncresolver

MAX_TIMEOUT = 300.0


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Connection:
    resolver: dns.asyncresolver.Resolver
    trust: TrustStore
    timeout: float = 10.0  # per probe, and for the DNS phase as a whole
    connect: Mapping[Endpoint, Endpoint] = field(default_factory=dict)  # host or address -> where
    fetch: Fetcher | None = fetch_url  # AIA caIssuers fetcher (None: never fetch)
    clock: Callable[[], dt.datetime] = utc_now
    ca_files: tuple[str, ...] = ()  # extra trust anchors, as files (verify.sh can use them)
    dns_server: str | None = None  # the DNS server asked for, as given (None: the system's)


def parse_timeout(text: str | float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(
            f"the time limit {shorten(str(text))!r} is not a number of seconds", field="option"
        ) from None
    if not 0 < value <= MAX_TIMEOUT:
        raise InputError(
            f"the time limit must be between 0 and {MAX_TIMEOUT:g} seconds", field="option"
        )
    return value


def parse_connect(specs: Sequence[str]) -> dict[Endpoint, Endpoint]:
    """``HOST:PORT=ADDR:PORT`` items: reach that host (or address) at another address.

    The right side must be an IP address: resolving it would bypass the DNS
    server the person chose.
    """
    mapping: dict[Endpoint, Endpoint] = {}
    for spec in specs:
        left, sep, right = spec.partition("=")
        if not sep:
            raise InputError(f"{shorten(spec)!r} is not HOST:PORT=ADDR:PORT", field="option")
        mapping[parse_endpoint(left)] = parse_endpoint(right, need_ip=True)
    return mapping


def build(
    *,
    dns_server: str | None = None,
    doh: str | None = None,
    ca_files: Sequence[str] = (),
    connect: Sequence[str] | Mapping[Endpoint, Endpoint] = (),
    timeout: str | float = 10.0,
) -> Connection:
    """A Connection from plain values (the CLI's options, the wizard, the lab)."""
    from gmailfix.dns import make_resolver

    seconds = parse_timeout(timeout)
    mapping = dict(connect) if isinstance(connect, Mapping) else parse_connect(connect)
    return Connection(
        resolver=make_resolver(dns_server=dns_server, doh=doh, timeout=seconds, ca_files=ca_files),
        trust=TrustStore.with_ca_files([Path(p) for p in ca_files]),
        timeout=seconds,
        connect=mapping,
        ca_files=tuple(ca_files),
        dns_server=dns_server,
    )
