"""Forward-confirmed reverse DNS against the lab's DNS server on loopback: a name under
google.com counts only when it leads back to the client's address."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from gmailfix.dns import make_resolver
from gmailfix.server.fcrdns import Confirmer, Identity, client_address, identify, recognised
from tests.support.servers import dns_zone

GOOGLE = ("google.com",)
RECORDS = [
    # a real Google-like client: PTR, and the name's A record back to the same address
    ("41.13.0.127.in-addr.arpa", "PTR", "mail-sor-f41.google.com."),
    ("mail-sor-f41.google.com", "A", "127.0.13.41"),
    # a PTR under google.com whose name leads elsewhere (the reverse zone's owner lied)
    ("66.13.0.127.in-addr.arpa", "PTR", "mail-sor-f41.google.com."),
    # a look-alike name, correctly forward-confirmed, but not under google.com
    ("67.13.0.127.in-addr.arpa", "PTR", "mail-sor-f41.google.com.evil.test."),
    ("mail-sor-f41.google.com.evil.test", "A", "127.0.13.67"),
    ("68.13.0.127.in-addr.arpa", "PTR", "notgoogle.com."),
    ("notgoogle.com", "A", "127.0.13.68"),
    # IPv6
    (
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
        "PTR",
        "mail-v6.google.com.",
    ),
    ("mail-v6.google.com", "AAAA", "::1"),
    # a name through a CNAME inside Google's own zone still leads back
    ("43.13.0.127.in-addr.arpa", "PTR", "alias.google.com."),
    ("alias.google.com", "CNAME", "mail-sor-f43.google.com."),
    ("mail-sor-f43.google.com", "A", "127.0.13.43"),
    # garbage and many names: bounded, invalid ones ignored
    *(("70.13.0.127.in-addr.arpa", "PTR", f"n{i}.example.") for i in range(60)),
    ("70.13.0.127.in-addr.arpa", "PTR", "mail-last.google.com."),
    ("mail-last.google.com", "A", "127.0.13.70"),
]


@pytest.fixture(scope="module")
def dns_server() -> Iterator[str]:
    with dns_zone(RECORDS) as server:
        yield server


def ask(server: str, address: str, domains: tuple[str, ...] = GOOGLE) -> Identity:
    resolver = make_resolver(dns_server=server, timeout=5)
    return asyncio.run(identify(resolver, address, domains, time.monotonic() + 5))


def test_a_confirmed_name(dns_server: str) -> None:
    found = ask(dns_server, "127.0.13.41")
    assert (found.confirmed, found.domain, found.failure) == (
        "mail-sor-f41.google.com",
        "google.com",
        None,
    )
    v6 = ask(dns_server, "::1")
    assert v6.confirmed == "mail-v6.google.com"
    assert ask(dns_server, "::ffff:127.0.13.41").confirmed == "mail-sor-f41.google.com"
    assert ask(dns_server, "127.0.13.43").confirmed == "alias.google.com"


def test_names_that_do_not_confirm(dns_server: str) -> None:
    liar = ask(dns_server, "127.0.13.66")
    assert liar.names == ("mail-sor-f41.google.com",) and liar.confirmed is None
    assert "does not lead back" in liar.why_not("google.com")
    for address in ("127.0.13.67", "127.0.13.68"):
        other = ask(dns_server, address)
        assert other.confirmed is None and other.names and other.failure is None
        assert "not a name under google.com" in other.why_not("google.com")
    nothing = ask(dns_server, "127.0.13.99")
    assert nothing.names == () and "has no reverse DNS name" in nothing.why_not("google.com")
    # the look-alike is confirmed for its own domain, not for Google's
    assert ask(dns_server, "127.0.13.67", ("evil.test",)).domain == "evil.test"


def test_answers_are_bounded(dns_server: str) -> None:
    crowded = ask(dns_server, "127.0.13.70")
    assert len(crowded.names) <= 8  # the rest of the 61 names are never asked about


def test_failures_are_facts_not_confirmations() -> None:
    with dns_zone([]) as server:
        pass  # stopped: nothing answers there any more
    resolver = make_resolver(dns_server=server, timeout=1)
    found = asyncio.run(identify(resolver, "127.0.13.41", GOOGLE, time.monotonic() + 1))
    assert found.confirmed is None and found.failure
    assert "could not be asked" in found.why_not("google.com")
    assert asyncio.run(identify(resolver, "not an address", GOOGLE, time.monotonic() + 1)).failure


def test_confirmer_remembers_answers(dns_server: str) -> None:
    confirm = Confirmer(make_resolver(dns_server=dns_server, timeout=5), GOOGLE, 5)
    assert confirm("127.0.13.41").confirmed == "mail-sor-f41.google.com"
    assert "127.0.13.41" in confirm.known
    assert confirm("127.0.13.41") is confirm.known["127.0.13.41"]


def test_recognised_and_addresses() -> None:
    assert recognised("MAIL.Google.COM.", GOOGLE) == "google.com"
    assert recognised("google.com.evil.test", GOOGLE) is None
    assert recognised("evilgoogle.com", GOOGLE) is None
    assert client_address("[::ffff:10.1.2.3]") == "10.1.2.3"
    assert client_address("mail.google.com") is None and client_address("") is None
