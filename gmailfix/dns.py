"""DNS facts with dnspython's async resolver: MX, A/AAAA, CNAME, PTR.

Every query is bounded by the resolver's lifetime and every failure is a
fact (``status``), never an exception: a diagnosis goes on with what it has.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

import certifi
import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
import dns.reversename

from gmailfix.errors import InputError
from gmailfix.inputs import is_ip_address, parse_endpoint

Status = Literal["ok", "nxdomain", "nodata", "error"]


@dataclass(frozen=True)
class Answer:
    """One query's outcome: records as text, the canonical name, or what went wrong."""

    name: str
    rdtype: str
    status: Status
    records: tuple[str, ...] = ()
    canonical: str | None = None
    error: str | None = None
    mx: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class MXHost:
    preference: int
    host: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class DnsFacts:
    """What DNS says about a mail domain and its candidate SMTP hosts."""

    domain: str
    exists: bool
    mx: tuple[MXHost, ...]
    implicit_mx: bool
    null_mx: bool
    addresses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    cnames: Mapping[str, str] = field(default_factory=dict)
    nxdomain_hosts: frozenset[str] = frozenset()
    ptr: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    mta_sts: tuple[str, ...] = ()  # TXT of _mta-sts.<domain>: context, not a verdict
    errors: tuple[Answer, ...] = ()


def make_resolver(
    *,
    dns_server: str | None = None,
    doh: str | None = None,
    timeout: float = 5.0,
    ca_files: Sequence[str] = (),
) -> dns.asyncresolver.Resolver:
    """The system resolver, a given server (``HOST[:PORT]``), or DNS over HTTPS.

    A DoH server's certificate is checked against Mozilla's roots plus ``ca_files``.
    """
    if dns_server and doh:
        raise InputError("use either --dns-server or --doh, not both")
    if dns_server or doh:
        resolver = dns.asyncresolver.Resolver(configure=False)
        if doh:
            resolver.nameservers = [_doh_server(doh, ca_files)]
        else:
            assert dns_server is not None
            host, port = _server_address(dns_server)
            resolver.nameservers = [host]
            resolver.port = port
    else:
        try:
            resolver = dns.asyncresolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = ["127.0.0.1"]
    resolver.lifetime = timeout
    resolver.timeout = min(timeout, 2.0)
    resolver.cache = None
    return resolver


def _doh_server(url: str, ca_files: Sequence[str]) -> dns.nameserver.DoHNameserver:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise InputError(f"--doh needs an https:// URL, not {url!r}")
    trust = ssl.create_default_context(cafile=certifi.where())
    for path in ca_files:
        try:
            trust.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError):
            raise InputError(f"cannot read CA file {path}") from None
    # dnspython hands ``verify`` to httpx, which takes an SSLContext as well as a path
    return dns.nameserver.DoHNameserver(url, verify=trust)  # type: ignore[arg-type]


def _server_address(text: str) -> tuple[str, int]:
    """``127.0.0.1``, ``127.0.0.1:5353``, ``::1`` or ``[::1]:5353``."""
    text = text.strip()
    if is_ip_address(text):
        return text.strip("[]"), 53
    host, port = parse_endpoint(text) if ":" in text else (text, 53)
    if not is_ip_address(host):
        raise InputError(f"--dns-server needs an IP address, not {host!r}")
    return host.strip("[]"), port


async def query(resolver: dns.asyncresolver.Resolver, name: str, rdtype: str) -> Answer:
    """Ask one question; any failure becomes the Answer's status."""
    try:
        result = await resolver.resolve(name, rdtype, search=False)
    except dns.resolver.NXDOMAIN:
        return Answer(name, rdtype, "nxdomain")
    except dns.resolver.NoAnswer:
        return Answer(name, rdtype, "nodata")
    except dns.resolver.LifetimeTimeout:
        return Answer(name, rdtype, "error", error="no answer in time")
    except dns.resolver.NoNameservers as exc:
        return Answer(name, rdtype, "error", error=_servfail_text(exc))
    except (dns.exception.DNSException, OSError, ValueError) as exc:
        return Answer(name, rdtype, "error", error=str(exc) or type(exc).__name__)
    canonical = result.canonical_name.to_text(omit_final_dot=True).lower()
    if rdtype == "TXT":
        records = tuple(b"".join(r.strings).decode("utf-8", "replace") for r in result)
    else:
        records = tuple(r.to_text() for r in result)
    mx: tuple[tuple[int, str], ...] = ()
    if rdtype == "MX":
        mx = tuple(
            (int(r.preference), r.exchange.to_text(omit_final_dot=True).lower()) for r in result
        )
    return Answer(name, rdtype, "ok", records, canonical, mx=mx)


def _servfail_text(exc: dns.resolver.NoNameservers) -> str:
    text = str(exc)
    return "the DNS server failed (SERVFAIL)" if "SERVFAIL" in text else text


async def lookup_addresses(
    resolver: dns.asyncresolver.Resolver, host: str
) -> tuple[tuple[str, ...], str | None, list[Answer]]:
    """(addresses, CNAME target or None, answers) for one host, A and AAAA at once."""
    a, aaaa = await asyncio.gather(query(resolver, host, "A"), query(resolver, host, "AAAA"))
    addresses = tuple(a.records) + tuple(aaaa.records)
    canonical = next((x.canonical for x in (a, aaaa) if x.status == "ok"), None)
    target = canonical if canonical and canonical != host else None
    return addresses, target, [a, aaaa]


async def gather_facts(
    resolver: dns.asyncresolver.Resolver, domain: str, extra_hosts: Iterable[str] = ()
) -> DnsFacts:
    """MX of the domain, then addresses of every MX and extra host, then their PTRs."""
    mx_answer, (domain_addresses, _, domain_answers), sts = await asyncio.gather(
        query(resolver, domain, "MX"),
        lookup_addresses(resolver, domain),
        query(resolver, f"_mta-sts.{domain}", "TXT"),
    )
    exists = mx_answer.status != "nxdomain"
    null_mx = mx_answer.mx == ((0, ""),) or mx_answer.mx == ((0, "."),)
    mx_records = [] if null_mx else sorted(mx_answer.mx)
    implicit = exists and mx_answer.status == "nodata" and bool(domain_addresses)
    if implicit:
        mx_records = [(0, domain)]
    hosts = list(dict.fromkeys([h for _, h in mx_records] + list(extra_hosts)))
    looked_up = await asyncio.gather(*(lookup_addresses(resolver, h) for h in hosts))
    addresses = {h: found[0] for h, found in zip(hosts, looked_up, strict=True)}
    cnames = {h: found[1] for h, found in zip(hosts, looked_up, strict=True) if found[1]}
    missing = frozenset(
        h
        for h, found in zip(hosts, looked_up, strict=True)
        if all(ans.status == "nxdomain" for ans in found[2])
    )
    all_addresses = list(dict.fromkeys(a for found in addresses.values() for a in found))
    ptrs = await asyncio.gather(*(reverse(resolver, a) for a in all_addresses))
    errors = [mx_answer, *domain_answers, *(a for found in looked_up for a in found[2])]
    return DnsFacts(
        domain=domain,
        exists=exists,
        mx=tuple(MXHost(p, h, addresses.get(h, ())) for p, h in mx_records),
        implicit_mx=implicit,
        null_mx=null_mx,
        addresses=addresses,
        cnames=cnames,
        nxdomain_hosts=missing,
        ptr={a: names for a, names in zip(all_addresses, ptrs, strict=True) if names},
        mta_sts=tuple(r for r in sts.records if "v=STSv1" in r)[:1],
        errors=tuple(a for a in errors if a.status == "error"),
    )


async def reverse(resolver: dns.asyncresolver.Resolver, address: str) -> tuple[str, ...]:
    """PTR names of an address (empty when there are none or the query failed)."""
    try:
        name = dns.reversename.from_address(address).to_text()
    except (dns.exception.SyntaxError, ValueError):
        return ()
    answer = await query(resolver, name, "PTR")
    return tuple(r.rstrip(".").lower() for r in answer.records)
