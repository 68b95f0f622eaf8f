"""Why a DNS question got no answer is read from the answer itself (its rcode) and the
exception's type, never from dnspython's words: a real UDP server on loopback answers
every question with one refusal or failure code."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dns.message
import dns.rcode
import pytest

from gmailfix.dns import make_resolver, query


@contextmanager
def answering(rcode: dns.rcode.Rcode) -> Iterator[str]:
    """A DNS server on 127.0.0.1 that answers every question with ``rcode``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            reply = dns.message.make_response(dns.message.from_wire(data))
            reply.set_rcode(rcode)
            sock.sendto(reply.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        sock.close()


@pytest.mark.parametrize(
    ("rcode", "failure"),
    [(dns.rcode.SERVFAIL, "servfail"), (dns.rcode.REFUSED, "refused")],
)
async def test_the_failure_is_the_servers_answer_code(rcode: dns.rcode.Rcode, failure: str) -> None:
    with answering(rcode) as server:
        resolver = make_resolver(dns_server=server, timeout=2)
        answer = await query(resolver, "mail.alpha.test", "A", time.monotonic() + 2)
    assert answer.status == "error"
    assert answer.failure == failure


async def test_nothing_listening_is_unreachable_or_a_timeout() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # the port is closed: ICMP port unreachable, or silence
    resolver = make_resolver(dns_server=f"127.0.0.1:{port}", timeout=1)
    answer = await query(resolver, "mail.alpha.test", "A", time.monotonic() + 1)
    assert answer.status == "error"
    assert answer.failure in ("unreachable", "timeout")


async def test_dnspythons_words_decide_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """dnspython names the code in its error list with dns.rcode.to_text; with those
    words replaced by noise (even misleading ones) the failure is still the code's."""
    monkeypatch.setattr(dns.rcode, "to_text", lambda *args, **kwargs: "REFUSED CERTIFICATE")
    with answering(dns.rcode.SERVFAIL) as server:
        resolver = make_resolver(dns_server=server, timeout=2)
        answer = await query(resolver, "mail.alpha.test", "A", time.monotonic() + 2)
    assert answer.failure == "servfail"
