"""Every lab case diagnosed over real sockets: verdict, Gmail's words, findings."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gmailfix import gmail
from gmailfix.connection import Connection
from gmailfix.diagnose import DnsDone, Event, ProbeDone
from gmailfix.lab.runner import LabInfo
from gmailfix.lab.scenarios import MISSING_DOMAIN, SCENARIOS, TRICKY, Scenario
from gmailfix.vocabulary import Code
from tests.support.diagnosis import propose_lab, run_proposal

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
    "twoaddr.test": {"inconsistent-addresses"},
}


@pytest.mark.parametrize("scenario", SCENARIOS + TRICKY, ids=lambda s: s.domain)
def test_lab_case(lab: LabInfo, lab_connection: Connection, scenario: Scenario) -> None:
    result = propose_lab(lab, lab_connection, scenario.domain)
    codes = {f.code for f in result.diagnosis.findings}
    if scenario.expect == "accept":
        assert result.diagnosis.verdict.accept, result.diagnosis.findings
        assert result.diagnosis.verdict.error is None
        chosen = result.diagnosis.chosen
        assert chosen is not None
        here = [
            f for f in result.diagnosis.findings if (f.host, f.port) == (chosen.host, chosen.port)
        ]
        assert not [f for f in here if f.severity == "error"]
    else:
        assert not result.diagnosis.verdict.accept
        assert result.diagnosis.verdict.cause == scenario.expect
        assert scenario.expect in codes
        assert result.diagnosis.verdict.error == GMAIL_TEXT[scenario.expect]
    assert ALSO.get(scenario.domain, set()) <= codes


def test_nxdomain(lab: LabInfo, lab_connection: Connection) -> None:
    result = run_proposal(lab_connection, MISSING_DOMAIN)
    assert result.diagnosis.verdict.cause == "nxdomain"
    assert result.diagnosis.outcome == "reject"
    assert result.diagnosis.verdict.error == gmail.UNREACHABLE
    assert not result.diagnosis.facts.exists


def test_blog_case_recommends_the_verified_isp_name(
    lab: LabInfo, lab_connection: Connection
) -> None:
    result = run_proposal(lab_connection, "blog.test")
    first = result.remedies[0]
    assert (first.kind, first.recommended, first.verified) == ("isp-hostname", True, True)
    assert first.smtp_host == "server42.isp.test"
    again = run_proposal(lab_connection, "blog.test", first.smtp_host)
    assert again.diagnosis.verdict.accept


def test_wildcard_certificate_uses_the_ptr_name(lab: LabInfo, lab_connection: Connection) -> None:
    """*.hosting.test covers the server's PTR name web7.hosting.test: that is the name to type."""
    result = run_proposal(lab_connection, "wild.test")
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
    result = run_proposal(replace(lab_connection, connect=connect), "blog.test")
    isp = next(r for r in result.remedies if r.kind == "isp-hostname")
    assert not isp.verified and not isp.applicable
    assert result.remedies[0].kind == "new-certificate"


def test_typed_host_and_single_port(lab: LabInfo, lab_connection: Connection) -> None:
    result = run_proposal(lab_connection, "me@good.test", "mail.good.test", 465)
    assert [(e.host, e.port) for e in result.diagnosis.endpoints] == [("mail.good.test", 465)]
    assert result.diagnosis.verdict.settings.security == "SSL"
    assert result.diagnosis.endpoints[0].probe.mode == "implicit"


def test_events_arrive_as_each_probe_finishes(lab: LabInfo, lab_connection: Connection) -> None:
    events: list[Event] = []
    run_proposal(lab_connection, "good.test", on_event=events.append)
    assert isinstance(next(e for e in events if not hasattr(e, "text")), DnsDone)
    probes = [e for e in events if isinstance(e, ProbeDone)]
    assert len(probes) == 6  # 3 ports, with and without SNI
    assert {p.result.port for p in probes} == {587, 465, 25}


def test_dns_over_https(lab: LabInfo, lab_connection: Connection) -> None:
    """--doh: the same answers through the lab's RFC 8484 endpoint (dnspython over httpx)."""
    from gmailfix.dns import make_resolver

    resolver = make_resolver(doh=lab.doh_url, ca_files=[str(lab.ca_file)], timeout=5)
    result = run_proposal(replace(lab_connection, resolver=resolver), "blog.test")
    assert [mx.host for mx in result.diagnosis.facts.mx] == ["mail.blog.test"]
    assert result.diagnosis.verdict.cause == "hostname-mismatch"
    assert result.remedies[0].smtp_host == "server42.isp.test"


def test_doh_server_must_be_trusted(lab: LabInfo, lab_connection: Connection) -> None:
    from gmailfix.dns import make_resolver

    resolver = make_resolver(doh=lab.doh_url, timeout=3)  # lab CA not trusted
    result = run_proposal(replace(lab_connection, resolver=resolver), "blog.test")
    assert result.diagnosis.outcome == "unknown"
    (only,) = result.diagnosis.findings
    assert only.code == Code.CANNOT_CHECK_HERE
    assert "does not trust" in only.detail
