"""Every lab case diagnosed over real sockets: verdict, Gmail's words, findings."""

from __future__ import annotations

import pytest

from gmailfix import gmail
from gmailfix.connection import Connection
from gmailfix.diagnose import Diagnosis, DnsDone, Event, ProbeDone, diagnose
from gmailfix.lab.runner import LabInfo
from gmailfix.lab.scenarios import MISSING_DOMAIN, SCENARIOS, Scenario
from tests.conftest import run

DESIGN_CODES = {
    "hostname-mismatch",
    "self-signed",
    "untrusted-root",
    "incomplete-chain",
    "expired",
    "not-yet-valid",
    "no-starttls",
    "tls-handshake-failed",
    "wrong-tls-mode",
    "connection-failed",
    "timeout",
    "no-auth",
    "old-tls-version",
    "nxdomain",
    "no-mx",
    "null-mx",
    "sni-dependent-certificate",
    "cname-smtp-host",
    "ip-smtp-host",
}
GMAIL_TEXT = {
    "hostname-mismatch": gmail.CERT_ERROR,
    "self-signed": gmail.CERT_ERROR,
    "untrusted-root": gmail.CERT_ERROR,
    "incomplete-chain": gmail.CERT_ERROR,
    "expired": gmail.CERT_ERROR,
    "not-yet-valid": gmail.CERT_ERROR,
    "tls-handshake-failed": gmail.CERT_ERROR,
    "no-starttls": gmail.NO_STARTTLS,
    "wrong-tls-mode": gmail.UNREACHABLE,
    "connection-failed": gmail.UNREACHABLE,
    "timeout": gmail.UNREACHABLE,
    "smtp-protocol-error": gmail.UNREACHABLE,
    "no-auth": gmail.MISCONFIGURED.format(response=gmail.NO_AUTH_RESPONSE),
    "starttls-refused": gmail.MISCONFIGURED.format(response="454 4.7.0 TLS currently unavailable"),
}
# findings each case must show besides its verdict's cause
ALSO = {
    "sni.test": {"sni-dependent-certificate"},
    "oldtls.test": {"old-tls-version"},
    "nomx.test": {"no-mx"},
    "nullmx.test": {"null-mx"},
    "cname.test": {"cname-smtp-host"},
    "ip.test": {"ip-smtp-host"},
}
PRODUCED: set[str] = set()


def diagnose_lab(
    lab: LabInfo, connection: Connection, scenario: Scenario, **kw: object
) -> Diagnosis:
    if scenario.smtp_host:
        kw.setdefault("smtp_host", lab.typed_host(scenario.domain))
    return run(diagnose(scenario.domain, **connection.kwargs(), **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.domain)
def test_lab_case(lab: LabInfo, lab_connection: Connection, scenario: Scenario) -> None:
    result = diagnose_lab(lab, lab_connection, scenario)
    codes = {f.code for f in result.findings}
    PRODUCED.update(codes)
    if scenario.expect == "accept":
        assert result.verdict.accept, result.findings
        assert result.verdict.error is None
        assert not [f for f in result.findings if f.severity == "error"]
    else:
        assert not result.verdict.accept
        assert result.verdict.cause == scenario.expect
        assert scenario.expect in codes
        assert result.verdict.error == GMAIL_TEXT[scenario.expect]
    assert ALSO.get(scenario.domain, set()) <= codes


def test_nxdomain(lab: LabInfo, lab_connection: Connection) -> None:
    result = run(diagnose(MISSING_DOMAIN, **lab_connection.kwargs()))
    PRODUCED.update(f.code for f in result.findings)
    assert result.verdict.cause == "nxdomain"
    assert result.verdict.error == gmail.UNREACHABLE
    assert not result.facts.exists


def test_blog_case_recommends_the_verified_isp_name(
    lab: LabInfo, lab_connection: Connection
) -> None:
    result = run(diagnose("blog.test", **lab_connection.kwargs()))
    first = result.remedies[0]
    assert (first.kind, first.recommended, first.verified) == ("isp-hostname", True, True)
    assert first.smtp_host == "server42.isp.test"
    again = run(diagnose("blog.test", smtp_host=first.smtp_host, **lab_connection.kwargs()))
    assert again.verdict.accept


def test_wildcard_certificate_uses_the_ptr_name(lab: LabInfo, lab_connection: Connection) -> None:
    """*.hosting.test covers the server's PTR name web7.hosting.test: that is the name to type."""
    result = run(diagnose("wild.test", **lab_connection.kwargs()))
    first = result.remedies[0]
    assert (first.kind, first.verified, first.smtp_host) == (
        "isp-hostname",
        True,
        "web7.hosting.test",
    )


def test_isp_name_is_not_offered_when_it_leads_elsewhere(
    lab: LabInfo, lab_connection: Connection
) -> None:
    """The certificate's name must reach the same server: pointing it at another
    lab server (with its own certificate) leaves the ISP fix unverified."""
    connect = dict(lab_connection.connect)
    for port in (587, 465, 25):
        connect[("server42.isp.test", port)] = lab.by_domain["good.test"][("mail.good.test", port)]
    kwargs = {**lab_connection.kwargs(), "connect": connect}
    result = run(diagnose("blog.test", **kwargs))
    isp = next(r for r in result.remedies if r.kind == "isp-hostname")
    assert not isp.verified and not isp.applicable
    assert result.remedies[0].kind == "new-certificate"


def test_typed_host_and_single_port(lab: LabInfo, lab_connection: Connection) -> None:
    result = run(
        diagnose("me@good.test", smtp_host="mail.good.test", ports=[465], **lab_connection.kwargs())
    )
    assert [(e.host, e.port) for e in result.endpoints] == [("mail.good.test", 465)]
    assert result.verdict.settings.security == "SSL"
    assert result.endpoints[0].probe.mode == "implicit"


def test_events_arrive_as_each_probe_finishes(lab: LabInfo, lab_connection: Connection) -> None:
    events: list[Event] = []
    run(diagnose("good.test", on_event=events.append, **lab_connection.kwargs()))
    assert isinstance(next(e for e in events if not hasattr(e, "text")), DnsDone)
    probes = [e for e in events if isinstance(e, ProbeDone)]
    assert len(probes) == 6  # 3 ports, with and without SNI
    assert {p.result.port for p in probes} == {587, 465, 25}


def test_every_design_code_is_produced() -> None:
    """Runs last in this module: the cases above must have shown every code."""
    assert DESIGN_CODES <= PRODUCED, DESIGN_CODES - PRODUCED


def test_dns_over_https(lab: LabInfo, lab_connection: Connection) -> None:
    """--doh: the same answers through the lab's RFC 8484 endpoint (dnspython over httpx)."""
    from gmailfix.dns import make_resolver

    resolver = make_resolver(doh=lab.doh_url, ca_files=[str(lab.ca_file)], timeout=5)
    kwargs = {**lab_connection.kwargs(), "resolver": resolver}
    result = run(diagnose("blog.test", **kwargs))
    assert [mx.host for mx in result.facts.mx] == ["mail.blog.test"]
    assert result.verdict.cause == "hostname-mismatch"
    assert result.remedies[0].smtp_host == "server42.isp.test"


def test_doh_server_must_be_trusted(lab: LabInfo, lab_connection: Connection) -> None:
    from gmailfix.dns import make_resolver

    resolver = make_resolver(doh=lab.doh_url, timeout=3)  # lab CA not trusted
    result = run(diagnose("blog.test", **{**lab_connection.kwargs(), "resolver": resolver}))
    assert "dns-error" in {f.code for f in result.findings}
    assert not result.verdict.accept
