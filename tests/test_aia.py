"""Fetching a missing intermediate from a stranger's server stays bounded.

A real loopback server (gmailfix.lab.aia) answers well or as badly as it can;
it counts what it sent and which paths were asked for, so the bounds are shown
by counts, never by timing: how many bytes went out before the client left,
how many redirects it followed, whether it asked at all.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable

import pytest

from gmailfix.certs import (
    TrustStore,
    analyse_chain,
    fetch_url,
    parse_chain,
)
from gmailfix.certs.aia import MAX_AIA_BYTES, MAX_REDIRECTS
from gmailfix.lab import ca
from gmailfix.lab.aia import HUGE, AiaServer, aia_server
from gmailfix.vocabulary import Code

NOW = dt.datetime.now(dt.UTC)
# Loopback moves megabytes in milliseconds: a client that read a "huge" body
# would pass this mark at once. Kernel socket buffers let a few MB out even
# when the client stops at its 64 KiB cap, hence the margin.
BOUNDED = 16 * 1024 * 1024


@pytest.fixture(scope="module")
def pki() -> tuple[ca.Issued, ca.Issued]:
    root = ca.make_root(now=NOW)
    return root, ca.make_intermediate(root, now=NOW)


Scenario = Callable[[AiaServer], Awaitable[None]]


def with_server(pki: tuple[ca.Issued, ca.Issued], scenario: Scenario) -> AiaServer:
    _, intermediate = pki

    async def main() -> AiaServer:
        async with aia_server(intermediate.cert_der(), intermediate.cert_pem()) as server:
            await scenario(server)
            async with asyncio.timeout(30):  # a bound for a broken test, not an assertion
                await server.settled()
            return server

    return asyncio.run(main())


@pytest.mark.parametrize("path", ["/good.der", "/good.pem"])
def test_a_good_answer_is_fetched(pki: tuple[ca.Issued, ca.Issued], path: str) -> None:
    _, intermediate = pki
    bodies: list[bytes | None] = []

    async def scenario(server: AiaServer) -> None:
        bodies.append(await fetch_url(server.url(path), 5))

    with_server(pki, scenario)
    expected = intermediate.cert_der() if path == "/good.der" else intermediate.cert_pem()
    assert bodies == [expected]


@pytest.mark.parametrize("path", ["/drip", "/slow-headers"])
def test_a_dripping_server_is_left_at_the_deadline(
    pki: tuple[ca.Issued, ca.Issued], path: str
) -> None:
    """One deadline for the whole fetch: a byte every 0.05 s never resets it."""
    bodies: list[bytes | None] = []

    async def scenario(server: AiaServer) -> None:
        bodies.append(await fetch_url(server.url(path), 0.5))

    server = with_server(pki, scenario)
    assert bodies == [None]
    assert path in server.hung_up
    # ten-odd bytes fit in half a second; a client that waited for the whole
    # 100 000-byte body (or the end of the headers) would take well over an hour
    assert server.written[path] < 2_000


@pytest.mark.parametrize("path", ["/huge", "/endless", "/endless-close"])
def test_a_huge_body_is_dropped_past_the_cap(pki: tuple[ca.Issued, ca.Issued], path: str) -> None:
    bodies: list[bytes | None] = []

    async def scenario(server: AiaServer) -> None:
        bodies.append(await fetch_url(server.url(path), 20))

    server = with_server(pki, scenario)
    assert bodies == [None]
    assert path in server.hung_up
    assert server.written[path] < BOUNDED < HUGE


def test_a_declared_huge_length_is_refused_before_the_body(
    pki: tuple[ca.Issued, ca.Issued],
) -> None:
    async def scenario(server: AiaServer) -> None:
        assert await fetch_url(server.url("/huge"), 20) is None

    server = with_server(pki, scenario)
    assert server.written["/huge"] < BOUNDED
    assert MAX_AIA_BYTES < BOUNDED


def test_a_compressed_body_is_not_inflated(pki: tuple[ca.Issued, ca.Issued]) -> None:
    async def scenario(server: AiaServer) -> None:
        assert await fetch_url(server.url("/gzip"), 5) is None

    with_server(pki, scenario)


def test_a_redirect_loop_is_followed_twice_at_most(pki: tuple[ca.Issued, ca.Issued]) -> None:
    async def scenario(server: AiaServer) -> None:
        assert await fetch_url(server.url("/loop"), 5) is None

    server = with_server(pki, scenario)
    assert server.requests == ["/loop"] * (1 + MAX_REDIRECTS)


def test_two_redirects_are_fine_three_are_not(pki: tuple[ca.Issued, ca.Issued]) -> None:
    _, intermediate = pki
    bodies: list[bytes | None] = []

    async def scenario(server: AiaServer) -> None:
        bodies.append(await fetch_url(server.url("/hops/1"), 5))  # hops/1, hops/0, good.der
        bodies.append(await fetch_url(server.url("/hops/2"), 5))  # needs a third redirect

    server = with_server(pki, scenario)
    assert bodies == [intermediate.cert_der(), None]
    assert server.requests == ["/hops/1", "/hops/0", "/good.der", "/hops/2", "/hops/1", "/hops/0"]


def test_a_redirect_to_https_is_not_followed(pki: tuple[ca.Issued, ca.Issued]) -> None:
    async def scenario(server: AiaServer) -> None:
        assert await fetch_url(server.url("/to-https"), 5) is None

    server = with_server(pki, scenario)
    assert server.requests == ["/to-https"] and server.connections == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:1/good.der",
        "ldap://127.0.0.1/cn=ca",
        "file:///etc/passwd",
        "ftp://127.0.0.1/ca.der",
        "http:/good.der",
        "",
    ],
)
def test_only_plain_http_urls_are_fetched(url: str) -> None:
    assert asyncio.run(fetch_url(url, 5)) is None


def test_no_time_left_means_no_request(pki: tuple[ca.Issued, ca.Issued]) -> None:
    async def scenario(server: AiaServer) -> None:
        assert await fetch_url(server.url("/good.der"), 0) is None

    server = with_server(pki, scenario)
    assert server.requests == [] and server.connections == 0


# --- the analysis with a real AIA server ------------------------------------------------


def _incomplete_chain(
    pki: tuple[ca.Issued, ca.Issued], path: str, deadline_in: float
) -> tuple[AiaServer, list[Code]]:
    root, intermediate = pki
    trust = TrustStore([root.cert], public=False)
    found: list[Code] = []

    async def scenario(server: AiaServer) -> None:
        leaf = ca.make_leaf(intermediate, ["mail.a.test"], now=NOW, ca_issuers_url=server.url(path))
        chain = parse_chain([leaf.cert_der()])  # the server forgot the intermediate
        deadline = time.monotonic() + deadline_in
        result = await analyse_chain(
            chain, "mail.a.test", trust=trust, now=NOW, fetch=fetch_url, deadline=deadline
        )
        found.extend(p.code for p in result.problems)

    return with_server(pki, scenario), found


def test_analysis_fetches_the_missing_intermediate(pki: tuple[ca.Issued, ca.Issued]) -> None:
    server, found = _incomplete_chain(pki, "/good.der", 10)
    assert found == [Code.INCOMPLETE_CHAIN]
    assert server.requests == ["/good.der"]


def test_analysis_with_a_deadline_in_the_past_does_not_fetch(
    pki: tuple[ca.Issued, ca.Issued],
) -> None:
    server, found = _incomplete_chain(pki, "/good.der", -1)
    assert found == [Code.UNTRUSTED_ROOT]
    assert server.requests == [] and server.connections == 0


def test_analysis_leaves_a_dripping_server_at_its_deadline(
    pki: tuple[ca.Issued, ca.Issued],
) -> None:
    server, found = _incomplete_chain(pki, "/drip", 0.5)
    assert found == [Code.UNTRUSTED_ROOT]
    assert "/drip" in server.hung_up and server.written["/drip"] < 2_000
