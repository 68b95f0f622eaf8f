"""Why a DNS question got no answer is read from the answer itself (its rcode) and the
exception's type, never from dnspython's words: a real UDP server on loopback answers
every question with one refusal or failure code."""

from __future__ import annotations

import socket
import time
from contextlib import AbstractContextManager

import dns.message
import dns.rcode
import pytest

from gmailfix.dns import make_resolver, query
from tests.support.udp_dns import answering


def answering_with(rcode: dns.rcode.Rcode) -> AbstractContextManager[str]:
    """A DNS server on 127.0.0.1 that answers every question with ``rcode``."""

    def reply(query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.set_rcode(rcode)
        return response

    return answering(reply)


@pytest.mark.parametrize(
    ("rcode", "failure"),
    [(dns.rcode.SERVFAIL, "servfail"), (dns.rcode.REFUSED, "refused")],
)
async def test_the_failure_is_the_servers_answer_code(rcode: dns.rcode.Rcode, failure: str) -> None:
    with answering_with(rcode) as server:
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
    with answering_with(dns.rcode.SERVFAIL) as server:
        resolver = make_resolver(dns_server=server, timeout=2)
        answer = await query(resolver, "mail.alpha.test", "A", time.monotonic() + 2)
    assert answer.failure == "servfail"
