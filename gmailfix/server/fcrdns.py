"""Who a client is, as DNS can confirm it: forward-confirmed reverse DNS (FCrDNS).

A name a client gives itself (its EHLO) proves nothing: any client can say
``mail-sor-f41.google.com``. Nor does a name in the MTA's log, when the MTA
took it from a reverse DNS answer that whoever runs the address's reverse
zone wrote, or when the line itself may have been written by someone else.
What counts is the client's address: its reverse DNS (PTR) names are looked
up, and a name under a watched domain is believed only when that name's own
A or AAAA records lead back to the same address. Those records are in the
domain owner's zone (Google's, for google.com), which no one else can write.

Every answer is asked with dnspython through the resolver the caller gives
(the ``Connection``'s, so tests point it at a DNS server on loopback), with
one deadline per address. A DNS failure is a fact (``Identity.failure``),
never an exception, and never a confirmation.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gmailfix.dns import MAX_PTR_NAMES, lookup_addresses, query
from gmailfix.inputs import is_valid_dns_host

if TYPE_CHECKING:
    import dns.asyncresolver

CACHE_LIMIT = 256  # addresses remembered while watching; a failed look-up is asked again


def recognised(name: str, domains: Sequence[str]) -> str | None:
    """The one of ``domains`` (lower case, no final dot) that ``name`` is or is under."""
    name = name.lower().rstrip(".")
    return next((d for d in domains if name == d or name.endswith("." + d)), None)


@dataclass(frozen=True)
class Identity:
    """What DNS says about one client address."""

    address: str
    names: tuple[str, ...] = ()  # its PTR names (valid host names, at most MAX_PTR_NAMES)
    confirmed: str | None = None  # a PTR name under a watched domain that leads back to it
    domain: str | None = None  # the watched domain ``confirmed`` is under
    failure: str | None = None  # DNS did not answer, in words (never a confirmation)

    def why_not(self, domain: str) -> str:
        """Why the address is not confirmed as ``domain``'s, in plain words."""
        if self.failure is not None:
            return f"DNS could not be asked about {self.address} ({self.failure})"
        named = [n for n in self.names if recognised(n, (domain,))]
        if named:
            return f"{named[0]} (the reverse DNS name of {self.address}) does not lead back to it"
        if self.names:
            shown = ", ".join(self.names[:3])
            return f"the reverse DNS name of {self.address} is {shown}, not a name under {domain}"
        return f"{self.address} has no reverse DNS name"


def client_address(text: str | None) -> str | None:
    """An address as a log gives it, in the form DNS compares (IPv4-mapped IPv6 as IPv4);
    None when it is not an IP address."""
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


async def identify(
    resolver: dns.asyncresolver.Resolver,
    address: str,
    domains: Sequence[str],
    deadline: float,
) -> Identity:
    """The PTR names of ``address``, and the first one under ``domains`` whose A/AAAA
    records include ``address`` again. Only names under ``domains`` are asked forwards."""
    import dns.exception
    import dns.reversename

    shown = client_address(address)
    if shown is None:
        return Identity(address, failure="not an IP address")
    try:
        reverse_name = dns.reversename.from_address(shown).to_text()
    except (dns.exception.SyntaxError, ValueError):
        return Identity(shown, failure="not an IP address")
    answer = await query(resolver, reverse_name, "PTR", deadline)
    if answer.status == "error":
        return Identity(shown, failure=_failed(answer.failure))
    found = (r.rstrip(".").lower() for r in answer.records)
    names = tuple(dict.fromkeys(n for n in found if is_valid_dns_host(n)))[:MAX_PTR_NAMES]
    asked = [(n, d) for n in names if (d := recognised(n, domains)) is not None]
    forwards = await asyncio.gather(*(lookup_addresses(resolver, n, deadline) for n, _ in asked))
    target = ipaddress.ip_address(shown)
    failures = []
    for (name, domain), forward in zip(asked, forwards, strict=True):
        if any(client_address(a) == str(target) for a in forward.addresses):
            return Identity(shown, names, name, domain)
        failures += [a.failure for a in forward.answers if a.status == "error"]
    if failures and len(failures) == 2 * len(asked):  # no forward question got an answer
        return Identity(shown, names, failure=_failed(failures[0]))
    return Identity(shown, names)


def _failed(failure: str | None) -> str:
    return {
        "timeout": "no answer in time",
        "servfail": "the DNS server failed",
        "refused": "the DNS server refused",
        "unreachable": "the DNS server cannot be reached",
        "untrusted": "the DNS server's certificate is not trusted",
    }.get(failure or "", "no usable answer")


class Confirmer:
    """``identify`` for a loop that is not async: one look-up per address while watching
    (answers kept, failures asked again), each within ``timeout`` seconds."""

    def __init__(
        self, resolver: dns.asyncresolver.Resolver, domains: Sequence[str], timeout: float
    ) -> None:
        self.resolver = resolver
        self.domains = tuple(d.lower().strip(".") for d in domains)
        self.timeout = timeout
        self.known: OrderedDict[str, Identity] = OrderedDict()

    def __call__(self, address: str) -> Identity:
        key = client_address(address) or address
        if key in self.known:
            self.known.move_to_end(key)
            return self.known[key]
        deadline = time.monotonic() + self.timeout
        found = asyncio.run(identify(self.resolver, key, self.domains, deadline))
        if found.failure is None:
            self.known[key] = found
            while len(self.known) > CACHE_LIMIT:
                self.known.popitem(last=False)
        return found
