"""DNS facts with dnspython's async resolver: MX, A/AAAA, CNAME, PTR.

Every failure is a fact (``Answer.status``), never an exception, and the whole
DNS phase shares one deadline. Names that come from DNS are validated here,
once, with the same rules as typed names: an invalid one is recorded and never
probed. Counts are bounded (MX hosts, addresses per host), because a hostile
zone can list thousands; a bound that is reached is counted, never silent:
``DnsFacts.addresses_not_checked`` says how many addresses of a host were left
out, and the verdict for that host cannot then be "accept".

Whether the resolver itself works is asked separately (the root's NS), so
"this computer cannot reach DNS" is never mistaken for "the domain is broken".
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from gmailfix.errors import InputError, reason, shorten
from gmailfix.inputs import is_ip_address, is_valid_dns_host, parse_endpoint, parse_host

if TYPE_CHECKING:
    import dns.asyncresolver
    import dns.nameserver

Status = Literal["ok", "nxdomain", "nodata", "error"]
# why a query got no answer, in the terms the findings explain
Failure = Literal["timeout", "servfail", "refused", "unreachable", "untrusted", "broken"]
MAX_MX_HOSTS = 5  # Gmail dials the SMTP host typed; the first few MX hosts are plenty
MAX_ADDRESSES = 64  # probed per host, A and AAAA together: far above real hosts
MAX_RECORDS = 64  # records kept from any one answer (the rest are counted in ``dropped``)
MAX_PTR_NAMES = 8  # PTR names kept per address: context for the fixes, never a verdict


@dataclass(frozen=True)
class Answer:
    """One query's outcome: records as text, the canonical name, or what went wrong."""

    name: str
    rdtype: str
    status: Status
    records: tuple[str, ...] = ()
    canonical: str | None = None
    mx: tuple[tuple[int, str], ...] = ()
    failure: Failure | None = None
    error: str | None = None  # the resolver's own words: evidence, never the message
    dropped: int = 0  # records in the answer beyond MAX_RECORDS: counted, not kept

    @property
    def responded(self) -> bool:
        """Did a DNS server give an answer (even 'no such name')?"""
        return self.status != "error"


@dataclass(frozen=True)
class MXHost:
    preference: int
    host: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class HostAddresses:
    """One host's addresses as looked up: what will be probed, and what was left out."""

    addresses: tuple[str, ...]  # A first, then AAAA; at most MAX_ADDRESSES
    alias_of: str | None  # the CNAME target, when the name is an alias
    answers: tuple[Answer, Answer]  # the A and AAAA answers, as evidence
    not_checked: int = 0  # addresses DNS gave beyond MAX_ADDRESSES: never probed


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
    invalid_names: tuple[tuple[str, str], ...] = ()  # (where it was found, the name)
    skipped_mx: int = 0  # MX hosts beyond MAX_MX_HOSTS, not checked
    # host -> how many of its addresses were beyond MAX_ADDRESSES (only hosts with some)
    addresses_not_checked: Mapping[str, int] = field(default_factory=dict)
    resolver: str = ""  # which resolver, in words ("10.0.0.53", "https://dns.example/")
    health: Answer | None = None  # the resolver asked about the root: does it answer at all?
    responded: bool = True  # some question about the domain got an answer

    @property
    def resolver_works(self) -> bool:
        return self.health is None or self.health.responded

    @property
    def reachable(self) -> bool:
        """Could anything be learnt from DNS from this computer?"""
        return self.resolver_works or self.responded


def make_resolver(
    *,
    dns_server: str | None = None,
    doh: str | None = None,
    timeout: float = 5.0,
    ca_files: Sequence[str] = (),
) -> dns.asyncresolver.Resolver:
    """The system resolver, a given server (``IP[:PORT]``), or DNS over HTTPS.

    A DoH server's certificate is checked against Mozilla's roots plus ``ca_files``.
    """
    import dns.asyncresolver
    import dns.resolver

    if dns_server is not None and doh is not None:
        raise InputError("use either a DNS server or DNS over HTTPS, not both", field="option")
    if dns_server is not None or doh is not None:
        resolver = dns.asyncresolver.Resolver(configure=False)
        if doh is not None:
            resolver.nameservers = [_doh_server(doh, ca_files)]
        else:
            assert dns_server is not None
            host, port = _server_address(dns_server)
            resolver.nameservers = [host]
            resolver.port = port
    else:
        try:
            resolver = dns.asyncresolver.Resolver()
        except (dns.resolver.NoResolverConfiguration, OSError):
            # no /etc/resolv.conf: nothing answers on loopback either, which the
            # health check then reports as "cannot check from here"
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = ["127.0.0.1"]
    resolver.lifetime = timeout
    resolver.timeout = min(timeout, 2.0)
    resolver.cache = None
    return resolver


def describe_resolver(resolver: dns.asyncresolver.Resolver) -> str:
    """The resolver in a few words, for messages."""
    servers = [str(ns).removeprefix("Do53:").split("@")[0] for ns in resolver.nameservers][:3]
    if resolver.port != 53:  # a test or lab server: say which one
        servers = [
            f"[{s}]:{resolver.port}" if ":" in s else f"{s}:{resolver.port}" for s in servers
        ]
    return ", ".join(servers) or "none"


def _doh_server(url: str, ca_files: Sequence[str]) -> dns.nameserver.DoHNameserver:
    import certifi
    import dns.nameserver

    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise InputError(f"{shorten(url)!r} is not a valid URL", field="option") from None
    if parts.scheme != "https" or not host:
        raise InputError(
            f"DNS over HTTPS needs an https:// URL, not {shorten(url)!r}", field="option"
        )
    trust = ssl.create_default_context(cafile=certifi.where())
    for path in ca_files:
        try:
            trust.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError, ValueError):
            raise InputError(f"cannot use CA file {shorten(path)}", field="option") from None
    # dnspython hands ``verify`` to httpx, which takes an SSLContext as well as a path
    return dns.nameserver.DoHNameserver(url, verify=trust)  # type: ignore[arg-type]


def _server_address(text: str) -> tuple[str, int]:
    """``127.0.0.1``, ``127.0.0.1:5353``, ``::1`` or ``[::1]:5353``: an address, never a name."""
    text = text.strip()
    if not text:
        raise InputError("the DNS server is empty; give an IP address", field="option")
    if is_ip_address(text) or (text.startswith("[") and text.endswith("]")):
        host, port = parse_host(text), 53
    else:
        host, port = parse_endpoint(text) if ":" in text else (parse_host(text), 53)
    if not is_ip_address(host):
        raise InputError(
            f"the DNS server must be an IP address, not {shorten(host)!r}", field="option"
        )
    return host, port


async def query(
    resolver: dns.asyncresolver.Resolver, name: str, rdtype: str, deadline: float
) -> Answer:
    """Ask one question before ``deadline`` (time.monotonic()); failures become the Answer."""
    import dns.exception
    import dns.resolver

    left = deadline - time.monotonic()
    if left <= 0:
        return Answer(name, rdtype, "error", failure="timeout", error="no time left")
    failure: Failure
    try:
        result = await resolver.resolve(name, rdtype, search=False, lifetime=left)
    except dns.resolver.NXDOMAIN:
        return Answer(name, rdtype, "nxdomain")
    except dns.resolver.NoAnswer:
        return Answer(name, rdtype, "nodata")
    except dns.resolver.LifetimeTimeout as exc:
        # the resolver retries until its time is up: the errors on the way say why
        failure = _why_failed(exc, default="timeout")
        return Answer(name, rdtype, "error", failure=failure, error=_errors_text(exc))
    except dns.resolver.NoNameservers as exc:
        failure = _why_failed(exc, default="broken")
        return Answer(name, rdtype, "error", failure=failure, error=_errors_text(exc))
    except (dns.exception.DNSException, OSError, ValueError, ssl.SSLError) as exc:
        failure = "unreachable" if isinstance(exc, OSError) else "broken"
        return Answer(name, rdtype, "error", failure=failure, error=str(exc) or type(exc).__name__)
    canonical = result.canonical_name.to_text(omit_final_dot=True).lower()
    every = list(result)
    rrs = every[:MAX_RECORDS]
    if rdtype == "TXT":
        records = tuple(b"".join(r.strings).decode("utf-8", "replace") for r in rrs)
    else:
        records = tuple(r.to_text() for r in rrs)
    mx: tuple[tuple[int, str], ...] = ()
    if rdtype == "MX":
        mx = tuple(
            (int(r.preference), r.exchange.to_text(omit_final_dot=True).lower()) for r in rrs
        )
    return Answer(name, rdtype, "ok", records, canonical, mx=mx, dropped=len(every) - len(rrs))


def _tries(exc: Exception) -> list[tuple[str, int, object, object]]:
    """(server, port, problem, response) of each try dnspython made before giving up.

    ``response`` is the server's message when it answered (with a refusal or a
    failure code), else None; ``problem`` is then only dnspython's words for it."""
    tries = []
    for entry in getattr(exc, "kwargs", {}).get("errors") or []:
        if len(entry) > 3:
            server = str(entry[0]).removeprefix("Do53:").split("@")[0]
            tries.append((server, entry[2], entry[3], entry[4] if len(entry) > 4 else None))
    return tries


def _errors_text(exc: Exception) -> str:
    """What each DNS server did, as evidence: '10.0.0.53 port 53: Network is unreachable'.

    dnspython's own text says "Server ... answered" even when nothing answered."""
    parts = [
        f"{server} port {port}: {_words(problem)}" for server, port, problem, _ in _tries(exc)[:3]
    ]
    return shorten("; ".join(parts) or str(exc).rstrip(": "), 500)


def _words(problem: object) -> str:
    if isinstance(problem, BaseException):
        return reason(problem) or type(problem).__name__
    return str(problem)


def _why_failed(exc: Exception, default: Failure) -> Failure:
    """Every try failed: was it the network, a refusal, a server failure, or TLS?

    Decided from what each try returned (the answer's rcode, the exception's type
    and causes), never from dnspython's or httpx's words."""
    import dns.message  # loaded with the resolver that failed
    import dns.rcode

    kinds: list[Failure] = []
    for _, _, problem, response in _tries(exc):
        if isinstance(response, dns.message.Message):
            rcode = response.rcode()
            if rcode == dns.rcode.SERVFAIL:
                kinds.append("servfail")
            elif rcode == dns.rcode.REFUSED:
                kinds.append("refused")
            else:
                kinds.append("broken")
        elif _caused_by(problem, ssl.SSLError):  # before OSError: SSLError is one
            kinds.append("untrusted")
        elif isinstance(problem, OSError):
            kinds.append("unreachable")
        else:
            kinds.append("broken")
    for kind in ("untrusted", "servfail", "refused", "unreachable"):
        if kind in kinds:
            return kind
    return default


def _caused_by(problem: object, kind: type[BaseException]) -> bool:
    """Is ``problem`` a ``kind``, or did one cause it (httpx wraps the TLS error)?"""
    seen = 0
    while isinstance(problem, BaseException) and seen < 8:
        if isinstance(problem, kind):
            return True
        problem = problem.__cause__ or problem.__context__
        seen += 1
    return False


async def lookup_addresses(
    resolver: dns.asyncresolver.Resolver, host: str, deadline: float
) -> HostAddresses:
    """A host's addresses (A and AAAA asked at once), its CNAME target, and how many
    addresses were left out because the host has more than MAX_ADDRESSES."""
    a, aaaa = await asyncio.gather(
        query(resolver, host, "A", deadline), query(resolver, host, "AAAA", deadline)
    )
    v4, v6 = (tuple(dict.fromkeys(r for r in x.records if is_ip_address(r))) for x in (a, aaaa))
    kept = keep_addresses(v4, v6)
    found = len(v4) + len(v6) + a.dropped + aaaa.dropped
    canonical = next((x.canonical for x in (a, aaaa) if x.status == "ok"), None)
    target = canonical if canonical and canonical != host else None
    return HostAddresses(kept, target, (a, aaaa), max(0, found - len(kept)))


def keep_addresses(v4: Sequence[str], v6: Sequence[str]) -> tuple[str, ...]:
    """At most MAX_ADDRESSES, A before AAAA; past the bound each family keeps a fair
    share (half, or more when the other has fewer), so IPv6 is checked too."""
    if len(v4) + len(v6) <= MAX_ADDRESSES:
        return (*v4, *v6)
    share4 = min(len(v4), max(MAX_ADDRESSES // 2, MAX_ADDRESSES - len(v6)))
    return (*v4[:share4], *v6[: MAX_ADDRESSES - share4])


async def resolver_health(resolver: dns.asyncresolver.Resolver, deadline: float) -> Answer:
    """Does the resolver answer at all? Any answer about the root (even 'no such name'
    from a server that only knows its own zone) says the network path to it works."""
    return await query(resolver, ".", "NS", deadline)


async def gather_facts(
    resolver: dns.asyncresolver.Resolver,
    domain: str,
    extra_hosts: Iterable[str] = (),
    *,
    deadline: float,
) -> DnsFacts:
    """MX of the domain, then addresses of every MX and extra host, then their PTRs."""
    mx_answer, domain_lookup, sts, health = await asyncio.gather(
        query(resolver, domain, "MX", deadline),
        lookup_addresses(resolver, domain, deadline),
        query(resolver, f"_mta-sts.{domain}", "TXT", deadline),
        resolver_health(resolver, deadline),
    )
    domain_addresses, domain_answers = domain_lookup.addresses, domain_lookup.answers
    exists = mx_answer.status != "nxdomain" and not (
        mx_answer.status == "error" and all(a.status == "nxdomain" for a in domain_answers)
    )
    null_mx = mx_answer.mx in (((0, ""),), ((0, "."),))
    mx_records, invalid = _valid_mx([] if null_mx else sorted(mx_answer.mx))
    skipped = max(0, len(mx_records) - MAX_MX_HOSTS)
    mx_records = mx_records[:MAX_MX_HOSTS]
    implicit = exists and mx_answer.status == "nodata" and bool(domain_addresses)
    if implicit:
        mx_records = [(0, domain)]
    hosts = list(dict.fromkeys([h for _, h in mx_records if not is_ip_address(h)]))
    hosts += [h for h in extra_hosts if h not in hosts and not is_ip_address(h)]
    looked_up = await asyncio.gather(*(lookup_addresses(resolver, h, deadline) for h in hosts))
    addresses = {h: found.addresses for h, found in zip(hosts, looked_up, strict=True)}
    not_checked = {
        h: found.not_checked for h, found in zip(hosts, looked_up, strict=True) if found.not_checked
    }
    for _, host in mx_records:
        if is_ip_address(host):
            addresses[host] = (host,)  # an MX that is an address literal: still tried
    cnames = {h: f.alias_of for h, f in zip(hosts, looked_up, strict=True) if f.alias_of}
    missing = frozenset(
        h
        for h, found in zip(hosts, looked_up, strict=True)
        if all(ans.status == "nxdomain" for ans in found.answers)
    )
    all_addresses = list(dict.fromkeys(a for found in addresses.values() for a in found))
    ptrs = await asyncio.gather(*(reverse(resolver, a, deadline) for a in all_addresses))
    answers = [mx_answer, *domain_answers, *(a for found in looked_up for a in found.answers)]
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
        errors=tuple(a for a in answers if a.status == "error"),
        invalid_names=tuple(("MX", name) for name in invalid),
        skipped_mx=skipped,
        addresses_not_checked=not_checked,
        resolver=describe_resolver(resolver),
        health=health,
        responded=any(a.responded for a in (mx_answer, *domain_answers, sts)),
    )


def _valid_mx(records: list[tuple[int, str]]) -> tuple[list[tuple[int, str]], list[str]]:
    """MX records whose exchange is a usable host name (or an address literal)."""
    valid, invalid = [], []
    for preference, host in records:
        if is_ip_address(host) or is_valid_dns_host(host):
            valid.append((preference, host))
        else:
            invalid.append(host)
    return valid, invalid


async def reverse(
    resolver: dns.asyncresolver.Resolver, address: str, deadline: float
) -> tuple[str, ...]:
    """Valid PTR names of an address (empty when there are none or the query failed)."""
    import dns.exception
    import dns.reversename

    try:
        name = dns.reversename.from_address(address).to_text()
    except (dns.exception.SyntaxError, ValueError):
        return ()
    answer = await query(resolver, name, "PTR", deadline)
    names = (r.rstrip(".").lower() for r in answer.records)
    return tuple(n for n in names if is_valid_dns_host(n))[:MAX_PTR_NAMES]
