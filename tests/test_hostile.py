"""Hostile servers and hostile DNS on loopback: each ends in a defined finding,
never a hang or a traceback. (No timing assertions: a probe that a deadline
ended says so with the code `timeout`.)"""

from __future__ import annotations

from dataclasses import replace

import pytest

from gmailfix.connection import Connection
from gmailfix.lab.runner import LabInfo
from gmailfix.lab.scenarios import HOSTILE, Scenario
from tests.support.diagnosis import run_diagnosis

ALSO = {
    "mxcname.test": {"cname-smtp-host"},
    "mxip.test": {"no-mx"},
    "servfail.test": {"dns-error"},
    "inject.test": set(),
    "dnsdrop.test": {"dns-error"},
    "cnameloop.test": {"dns-error"},
}


@pytest.mark.parametrize("scenario", HOSTILE, ids=lambda s: s.domain)
def test_hostile_case(lab: LabInfo, lab_connection: Connection, scenario: Scenario) -> None:
    connection = replace(lab_connection, timeout=2.0)
    port = next((p for p in (587, 465) if p in scenario.servers), 587)
    result = run_diagnosis(connection, scenario.domain, port=port)
    codes = {f.code for f in result.findings}
    if scenario.expect == "accept":
        assert result.verdict.accept, result.findings
    else:
        assert result.verdict.cause == scenario.expect, result.findings
        assert scenario.expect in codes
    assert ALSO.get(scenario.domain, set()) <= codes
    for endpoint in result.endpoints:
        assert endpoint.probe.error_code is None or endpoint.probe.error, (
            "every failure is explained"
        )


def test_drip_feed_is_ended_by_the_whole_probe_deadline(
    lab: LabInfo, lab_connection: Connection
) -> None:
    """One byte a second would pass any per-read timeout; the probe has one deadline."""
    result = run_diagnosis(replace(lab_connection, timeout=2.5), "drip.test", port=587)
    probe = result.endpoints[0].probe
    assert probe.error_code == "timeout"
    assert "greeting" in (probe.error or "")


def test_split_replies_are_reassembled(lab: LabInfo, lab_connection: Connection) -> None:
    result = run_diagnosis(lab_connection, "split.test", port=587)
    probe = result.endpoints[0].probe
    assert probe.banner == "lab.test ESMTP split"
    assert probe.starttls_offered and probe.auth_mechanisms == ("PLAIN", "LOGIN")


def test_client_certificate_demand_is_named(lab: LabInfo, lab_connection: Connection) -> None:
    result = run_diagnosis(lab_connection, "clientcert.test", port=465)
    assert "certificate required" in (result.endpoints[0].probe.error or "")


def test_ipv6_only_server(lab: LabInfo, lab_connection: Connection) -> None:
    result = run_diagnosis(lab_connection, "ipv6.test", port=587)
    assert result.facts.addresses["mail.ipv6.test"] == ("::1",)
    assert result.endpoints[0].probe.address == "::1"


def test_large_txt_answer_comes_over_tcp(lab: LabInfo, lab_connection: Connection) -> None:
    result = run_diagnosis(lab_connection, "bigtxt.test", port=587)
    assert result.facts.mta_sts and result.facts.mta_sts[0].startswith("v=STSv1; id=1;")
    assert len(result.facts.mta_sts[0]) > 10_000


def test_starttls_injection_never_turns_into_an_accept(
    lab: LabInfo, lab_connection: Connection
) -> None:
    """The forged '250 AUTH' sent with the 220 to STARTTLS must not count as the server's
    encrypted reply: the real server offers no AUTH over TLS (CVE-2021-38371 class)."""
    result = run_diagnosis(lab_connection, "inject.test", port=587)
    assert result.outcome == "reject"
    probe = result.endpoints[0].probe
    assert probe.error_code == "starttls-injection"
    assert probe.auth_mechanisms == ()
    assert "injection" in (probe.error or "")
