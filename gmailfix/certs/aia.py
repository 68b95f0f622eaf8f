"""Fetching a missing intermediate from the leaf's AIA caIssuers URL, bounded."""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

from gmailfix.certs.parse import MAX_CERTS, Facts, Unreadable, read_facts, signed_by
from gmailfix.certs.paths import PathSearch

if TYPE_CHECKING:
    import httpx

Fetcher = Callable[[str, float], Awaitable[bytes | None]]

MAX_AIA_FETCHES = 3
MAX_AIA_BYTES = 64 * 1024
MAX_REDIRECTS = 2
DEFAULT_AIA_SECONDS = 10.0  # when the caller gives no deadline

# --- fetching a missing intermediate -----------------------------------------------


async def fetch_issuers(
    search: PathSearch, fetch: Fetcher, deadline: float
) -> list[tuple[Facts, str]]:
    """Fetch the issuers missing above the deepest partial path, following AIA upward.

    Only when the missing issuer's name is nowhere at hand: a certificate of
    that name that does not link up is not mended by fetching another.
    """
    fetched: list[tuple[Facts, str]] = []
    top = search.deepest[-1] if search.deepest else None
    while top is not None and len(fetched) < MAX_AIA_FETCHES:
        at_hand = [f.subject for f in search.pool] + [f.subject for f, _ in fetched]
        if top.info.self_signed or top.issuer in at_hand or search.trust.has_subject(top.issuer):
            break
        got = await _fetch_one(top, fetch, deadline)
        if got is None:
            break
        fetched.append(got)
        top = got[0]
    return fetched


async def _fetch_one(child: Facts, fetch: Fetcher, deadline: float) -> tuple[Facts, str] | None:
    """The issuer of ``child`` from its caIssuers URLs (two at most), within the deadline."""
    for url in child.info.ca_issuers[:2]:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            async with asyncio.timeout(left):  # even a fetcher that ignores `left` stops
                data = await fetch(url, left)
        except Exception:  # a fetcher's failure, timeout included, is "not fetched"
            continue
        if not data or len(data) > MAX_AIA_BYTES:
            continue
        for cert in _certificates_in(data):
            try:
                facts = read_facts(cert)
            except Unreadable:
                continue
            if facts.subject == child.issuer and signed_by(child.cert, cert):
                return facts, url
    return None


def _certificates_in(data: bytes) -> list[x509.Certificate]:
    """Certificates in an AIA answer: DER, PEM or PKCS#7 (.p7c), as CAs publish them."""
    loaders: tuple[Callable[[bytes], list[x509.Certificate]], ...] = (
        lambda d: [x509.load_der_x509_certificate(d)],
        x509.load_pem_x509_certificates,
        pkcs7.load_der_pkcs7_certificates,
        pkcs7.load_pem_pkcs7_certificates,
    )
    for loader in loaders:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return loader(data)[:MAX_CERTS]
        except Exception:  # not this format, or garbage: try the next
            continue
    return []


async def fetch_url(url: str, timeout: float) -> bytes | None:
    """GET an AIA caIssuers URL; None on any failure. Bounded in every way:

    - plain ``http:`` only (RFC 5280 4.2.2.1 publishes caIssuers over HTTP;
      an ``https:`` URL would need the very chain being checked);
    - at most ``MAX_REDIRECTS`` redirects, each to ``http:`` again;
    - one deadline, ``timeout`` seconds, for the whole fetch (connects,
      redirects, headers and body together), so a server dripping a byte a
      second cannot hold the run;
    - the body is streamed and dropped past ``MAX_AIA_BYTES``; compressed
      bodies are refused, so nothing expands past that either.

    httpx rather than a hand-written client: it parses HTTP (status line,
    headers, chunked bodies) with h11's size limits, and streams. Its timeouts
    bound each read alone, so the one overall deadline is ``asyncio.timeout``
    around everything.
    """
    if timeout <= 0 or not _is_http(url):
        return None
    import httpx  # only when an intermediate is missing: keeps start-up light

    try:
        async with asyncio.timeout(timeout):
            async with httpx.AsyncClient(
                timeout=timeout, follow_redirects=False, trust_env=False
            ) as client:
                for _ in range(MAX_REDIRECTS + 1):
                    outcome = await _get_once(client, url)
                    if not isinstance(outcome, str):
                        return outcome
                    url = outcome
    except Exception:  # timeouts, refused connections, garbled HTTP: all mean "not fetched"
        return None
    return None  # more redirects than allowed


async def _get_once(client: httpx.AsyncClient, url: str) -> bytes | str | None:
    """One GET: the body, the ``http:`` URL a redirect points to, or None."""
    headers = {"Accept-Encoding": "identity", "Accept": "application/pkix-cert, */*"}
    async with client.stream("GET", url, headers=headers) as response:
        if response.is_redirect:
            target = str(response.url.join(response.headers.get("location", "")))
            return target if _is_http(target) else None
        if response.status_code != 200:
            return None
        if response.headers.get("content-encoding", "identity").lower() not in ("", "identity"):
            return None
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_AIA_BYTES:
            return None
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > MAX_AIA_BYTES:
                return None
        return bytes(body)


def _is_http(url: str) -> bool:
    return url[:7].lower() == "http://" and len(url) <= 2048
