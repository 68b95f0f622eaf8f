"""The lab's fictional world: one .test domain per case, each on its own
loopback address (127.0.2.N) with its own DNS records, certificate and servers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from gmailfix.lab.dns_server import Behaviour
from gmailfix.lab.servers import ServerSpec
from gmailfix.lab.stack_looks import LOOKS, StackLook

ISP_HOST = "server42.isp.test"
ALL_PORTS = (587, 465, 25)


@dataclass(frozen=True)
class CertSpec:
    names: tuple[str, ...]
    issuer: Literal["lab", "self", "other"] = "lab"
    valid_from_days: float = -1
    valid_days: float = 90
    send_intermediate: bool = True
    by_sni: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # SNI -> names
    tls_max: Literal["TLSv1.1"] | None = None
    look: StackLook | None = None  # a mail stack's own default certificate subject


def _all(spec: ServerSpec | None = None) -> dict[int, ServerSpec]:
    return dict.fromkeys(ALL_PORTS, spec or ServerSpec())


@dataclass(frozen=True)
class Scenario:
    domain: str
    title: str
    expect: str  # "accept", or the finding code that explains the rejection
    cert: CertSpec | None = None
    servers: Mapping[int, ServerSpec] = field(default_factory=_all)
    mx: tuple[str, ...] | None = None  # None: "10 mail.<domain>"; (): no MX record
    records: tuple[tuple[str, str, str], ...] = ()  # extra; "{addr}" is this scenario's address
    hosts: tuple[str, ...] = ()  # names served here besides mail.<domain>
    ptr: str | None = None  # the PTR of the address (default mail.<domain>)
    smtp_host: str | None = None  # what the user typed in Gmail (default mail.<domain>)
    share_servers_of: str | None = None  # answer with another scenario's servers
    ipv6_only: bool = False  # the server is on ::1 and DNS has only AAAA
    dns_behaviour: tuple[tuple[str, Behaviour], ...] = ()  # names the DNS misanswers
    second_cert: CertSpec | None = None  # a second address (127.0.3.N) serving this certificate
    look: StackLook | None = None  # greet, answer EHLO and certify like this mail stack

    @property
    def mail_host(self) -> str:
        return f"mail.{self.domain}"

    @property
    def typed_host(self) -> str:
        return self.smtp_host or self.mail_host


def _mail(domain: str) -> tuple[str, ...]:
    return (f"mail.{domain}",)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "blog.test",
        "the blog's case: the ISP's certificate, for server42.isp.test",
        "hostname-mismatch",
        CertSpec((ISP_HOST,)),
        hosts=(ISP_HOST,),
        ptr=ISP_HOST,
        records=((ISP_HOST, "A", "{addr}"),),
    ),
    Scenario("good.test", "a correct set-up", "accept", CertSpec(_mail("good.test"))),
    Scenario(
        "wild.test",
        "a shared host with a wildcard certificate; its PTR names it",
        "hostname-mismatch",
        CertSpec(("*.hosting.test",)),
        hosts=("web7.hosting.test",),
        ptr="web7.hosting.test",
        records=(("web7.hosting.test", "A", "{addr}"),),
    ),
    Scenario(
        "selfsigned.test",
        "a self-signed certificate",
        "self-signed",
        CertSpec(_mail("selfsigned.test"), issuer="self"),
    ),
    Scenario(
        "expired.test",
        "an expired certificate",
        "expired",
        CertSpec(_mail("expired.test"), valid_from_days=-100, valid_days=90),
    ),
    Scenario(
        "notyet.test",
        "a certificate that is not valid yet",
        "not-yet-valid",
        CertSpec(_mail("notyet.test"), valid_from_days=10),
    ),
    Scenario(
        "chain.test",
        "the intermediate certificate is not sent",
        "incomplete-chain",
        CertSpec(_mail("chain.test"), send_intermediate=False),
    ),
    Scenario(
        "privateca.test",
        "a certificate from a private CA",
        "untrusted-root",
        CertSpec(_mail("privateca.test"), issuer="other"),
    ),
    Scenario(
        "nostarttls.test",
        "no STARTTLS offered",
        "no-starttls",
        CertSpec(_mail("nostarttls.test")),
        servers={587: ServerSpec(starttls=False), 25: ServerSpec(starttls=False)},
    ),
    Scenario(
        "wrongmode.test",
        "implicit TLS on 587, plain SMTP on 465",
        "wrong-tls-mode",
        CertSpec(_mail("wrongmode.test")),
        servers={587: ServerSpec(implicit_tls=True), 465: ServerSpec(implicit_tls=False)},
    ),
    Scenario(
        "noauth.test",
        "TLS works but no AUTH is offered",
        "no-auth",
        CertSpec(_mail("noauth.test")),
        servers=_all(ServerSpec(auth=False)),
    ),
    Scenario(
        "sni.test",
        "the right certificate only when SNI is sent",
        "accept",
        CertSpec(("default.sni-host.test",), by_sni={"mail.sni.test": ("mail.sni.test",)}),
    ),
    Scenario(
        "silent.test", "a server that never greets", "timeout", servers=_all(ServerSpec("silent"))
    ),
    Scenario(
        "garbage.test",
        "a server that sends garbage",
        "smtp-protocol-error",
        servers=_all(ServerSpec("garbage")),
    ),
    Scenario(
        "broken.test",
        "the blog's Exim snippet: 454 TLS currently unavailable",
        "starttls-refused",
        servers={587: ServerSpec("starttls-454"), 25: ServerSpec("starttls-454")},
    ),
    Scenario(
        "tlsreset.test",
        "the connection is reset in the middle of the handshake",
        "tls-handshake-failed",
        servers={587: ServerSpec("tls-reset")},
    ),
    Scenario(
        "cname.test",
        "mail.cname.test is a CNAME to the ISP's server",
        "hostname-mismatch",
        servers={},
        share_servers_of="blog.test",
        records=(("mail.cname.test", "CNAME", f"{ISP_HOST}."),),
    ),
    Scenario("closed.test", "nothing listens", "connection-failed", servers={}),
    Scenario(
        "oldtls.test",
        "only TLS 1.1",
        "accept",
        CertSpec(_mail("oldtls.test"), tls_max="TLSv1.1"),
    ),
    Scenario(
        "nomx.test",
        "no MX record (implicit MX)",
        "accept",
        CertSpec(("nomx.test", "mail.nomx.test")),
        mx=(),
        hosts=("nomx.test",),
        records=(("nomx.test", "A", "{addr}"),),
    ),
    Scenario(
        "nullmx.test",
        "a null MX; the server is mail.nullmx.test",
        "accept",
        CertSpec(_mail("nullmx.test")),
        mx=("0 .",),
    ),
    Scenario(
        "multi.test",
        "two MX hosts and mail.multi.test on one server",
        "accept",
        CertSpec(("mail.multi.test", "mx1.multi.test", "mx2.multi.test")),
        mx=("10 mx1.multi.test.", "20 mx2.multi.test."),
        hosts=("mx1.multi.test", "mx2.multi.test"),
        records=(("mx1.multi.test", "A", "{addr}"), ("mx2.multi.test", "A", "{addr}")),
    ),
    Scenario(
        "ip.test",
        "an IP address typed as SMTP Server",
        "hostname-mismatch",
        CertSpec(_mail("ip.test")),
        hosts=("{addr}",),
        smtp_host="{addr}",
    ),
)

# Cases where a verdict is easy to get wrong.
TRICKY: tuple[Scenario, ...] = (
    Scenario(
        "twoaddr.test",
        "two addresses: one serves the right certificate, the other the ISP's",
        "hostname-mismatch",
        CertSpec(_mail("twoaddr.test")),
        second_cert=CertSpec((ISP_HOST,)),
    ),
    Scenario(
        "sslonly.test",
        "only port 465 (SSL) answers: typed with 587 it fails, 465 works",
        "accept",
        CertSpec(_mail("sslonly.test")),
        servers={465: ServerSpec()},
    ),
    Scenario(
        "twogood.test",
        "two addresses, both with the right certificate",
        "accept",
        CertSpec(_mail("twogood.test")),
        second_cert=CertSpec(_mail("twogood.test")),
    ),
)

# Hostile servers and hostile DNS: each must end in a clear finding, never a hang.
HOSTILE: tuple[Scenario, ...] = (
    Scenario("drip.test", "one byte per second", "timeout", servers={587: ServerSpec("drip")}),
    Scenario(
        "hugeline.test",
        "a 1 MB greeting line",
        "smtp-protocol-error",
        servers={587: ServerSpec("huge-line")},
    ),
    Scenario(
        "hangup.test",
        "220, then the connection closes",
        "smtp-protocol-error",
        servers={587: ServerSpec("close-after-banner")},
    ),
    Scenario(
        "alert.test",
        "a TLS alert instead of a handshake",
        "tls-handshake-failed",
        servers={587: ServerSpec("tls-alert")},
    ),
    Scenario(
        "inject.test",
        "data injected after the 220 to STARTTLS (no AUTH after TLS)",
        "starttls-injection",
        CertSpec(_mail("inject.test")),
        servers={587: ServerSpec("starttls-inject")},
    ),
    Scenario(
        "split.test",
        "replies cut into packets mid-line",
        "accept",
        CertSpec(_mail("split.test")),
        servers={587: ServerSpec("split")},
    ),
    Scenario(
        "ipv6.test",
        "an IPv6-only server on ::1",
        "accept",
        CertSpec(_mail("ipv6.test")),
        ipv6_only=True,
    ),
    Scenario(
        "clientcert.test",
        "465 demands a client certificate",
        "tls-handshake-failed",
        CertSpec(_mail("clientcert.test")),
        servers={465: ServerSpec(client_cert=True)},
    ),
    Scenario(
        "servfail.test",
        "the DNS server fails (SERVFAIL)",
        "no-candidates",
        servers={},
        dns_behaviour=(
            ("servfail.test", "servfail"),
            ("mail.servfail.test", "servfail"),
            ("smtp.servfail.test", "servfail"),
        ),
    ),
    Scenario(
        "dnsdrop.test",
        "the DNS server never answers for the domain",
        "no-candidates",
        servers={},
        dns_behaviour=(
            ("dnsdrop.test", "drop"),
            ("mail.dnsdrop.test", "drop"),
            ("smtp.dnsdrop.test", "drop"),
        ),
    ),
    Scenario(
        "truncated.test",
        "UDP answers truncated: TCP needed",
        "accept",
        CertSpec(_mail("truncated.test")),
        dns_behaviour=(("truncated.test", "truncate"), ("mail.truncated.test", "truncate")),
    ),
    Scenario(
        "cnameloop.test",
        "mail.cnameloop.test is a CNAME loop",
        "no-candidates",
        servers={},
        records=(
            ("mail.cnameloop.test", "CNAME", "loop.cnameloop.test."),
            ("loop.cnameloop.test", "CNAME", "mail.cnameloop.test."),
        ),
    ),
    Scenario(
        "mxcname.test",
        "the MX points at a CNAME",
        "hostname-mismatch",
        CertSpec(("real.mxcname.test",)),
        mx=("10 alias.mxcname.test.",),
        hosts=("alias.mxcname.test",),
        records=(
            ("alias.mxcname.test", "CNAME", "real.mxcname.test."),
            ("real.mxcname.test", "A", "{addr}"),
        ),
    ),
    Scenario(
        "mxip.test",
        "the MX is an IP address literal",
        "connection-failed",
        servers={},
        mx=("10 {addr}.",),
    ),
    Scenario(
        "bigtxt.test",
        "a very large TXT answer (MTA-STS)",
        "accept",
        CertSpec(_mail("bigtxt.test")),
        records=(
            (
                "_mta-sts.bigtxt.test",
                "TXT",
                '"v=STSv1; id=1;" ' + " ".join(f'"{"x" * 250}"' for _ in range(40)),
            ),
        ),
    ),
)

# For bench/: every reply 200 ms late, three hosts on three ports.
BENCH: tuple[Scenario, ...] = (
    Scenario(
        "slow.test",
        "every SMTP reply 200 ms late; mx1, mx2 and mail on one server with two addresses",
        "accept",
        CertSpec(("mail.slow.test", "mx1.slow.test", "mx2.slow.test")),
        servers=_all(ServerSpec(reply_delay=0.2)),
        second_cert=CertSpec(("mail.slow.test", "mx1.slow.test", "mx2.slow.test")),
        mx=("10 mx1.slow.test.", "20 mx2.slow.test."),
        hosts=("mx1.slow.test", "mx2.slow.test"),
        records=(("mx1.slow.test", "A", "{addr}"), ("mx2.slow.test", "A", "{addr}")),
    ),
)


def _stack_case(look: StackLook) -> Scenario:
    domain = f"{look.stack}.test"
    cert = CertSpec(_mail(domain), issuer="self" if look.self_signed else "lab", look=look)
    title = f"a server that shows itself as {look.stack}"
    return Scenario(domain, title, "self-signed" if look.self_signed else "accept", cert, look=look)


# One server per recognisable mail stack, with that stack's greeting, EHLO and certificate.
STACKS: tuple[Scenario, ...] = tuple(_stack_case(look) for look in LOOKS)

ALL_SCENARIOS = SCENARIOS + TRICKY + HOSTILE + STACKS + BENCH
MISSING_DOMAIN = "missing.test"  # not in the lab's DNS at all: NXDOMAIN
