"""The remedies model over every lab case: every cause of a rejection has a fix,
a fix that cannot help is unavailable with its reason, and no words contradict
the verdict."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gmailfix.bundle import bundle_files
from gmailfix.connection import Connection
from gmailfix.findings import CATALOG, Severity
from gmailfix.inputs import is_ip_address
from gmailfix.lab.runner import LabInfo
from gmailfix.lab.scenarios import HOSTILE, SCENARIOS, TRICKY, Scenario
from gmailfix.remedies.model import FIXES, REMEDY_KINDS, TITLES
from gmailfix.remedies.propose import rejection_causes
from gmailfix.vocabulary import SERVER_CODES, Code
from tests.support.diagnosis import propose_lab, run_proposal
from tests.support.plans import plan_from

CASES = [s for s in SCENARIOS + TRICKY + HOSTILE if s.domain != "dnsdrop.test"]
TODAY_ACCEPTED = re.compile(r"accept\w*[^.]*today|today[^.]*accept", re.IGNORECASE)


@pytest.mark.parametrize("scenario", CASES, ids=lambda s: s.domain)
def test_every_cause_has_a_fix_and_no_fix_contradicts_the_verdict(
    lab: LabInfo, lab_connection: Connection, scenario: Scenario
) -> None:
    result = propose_lab(lab, lab_connection, scenario.domain, port=_port(scenario))
    kinds = [r.kind for r in result.remedies]
    assert sorted(kinds) == sorted(REMEDY_KINDS), "every kind is judged, once"
    for remedy in result.remedies:
        assert remedy.title == TITLES[remedy.kind]
        assert remedy.reason.strip()
        assert remedy.recommended == (remedy.status == "recommended")
        if remedy.kind in ("new-certificate", "sni"):
            assert not any(is_ip_address(n) for n in remedy.names), "never a certificate for an IP"
    if result.diagnosis.outcome == "accept":
        assert not [r for r in result.remedies if r.recommended]
        return
    for remedy in result.remedies:
        if remedy.applicable:
            assert not TODAY_ACCEPTED.search(remedy.reason), remedy
    causes = rejection_causes(result.diagnosis)
    assert causes, result.diagnosis.findings
    for cause in causes:
        helping = [r for r in result.remedies if r.applicable and cause in r.fixes]
        assert helping, f"no fix for {cause}: {[(r.kind, r.status) for r in result.remedies]}"
    assert result.remedies[0].applicable
    for remedy in result.remedies:
        if remedy.recommended:
            assert remedy.fixes, remedy
    sni = next(r for r in result.remedies if r.kind == "sni")
    if sni.applicable:
        assert Code.HOSTNAME_MISMATCH in causes, "SNI only when a name mismatch is the cause"


def _port(scenario: Scenario) -> int | None:
    if scenario in HOSTILE:
        return next((p for p in (587, 465) if p in scenario.servers), 587)
    return None


def test_every_error_code_has_a_kind_that_can_fix_it() -> None:
    """A code that can make Gmail refuse is in the FIXES of at least one kind."""
    not_causes = {
        Code.CANNOT_CHECK_HERE,  # an unknown verdict: nothing to fix on the server
        Code.INCONSISTENT_ADDRESSES,  # a summary; the failing address has its own cause
        Code.DNS_ERROR,  # a warning; the verdict's own cause is what fails
    }
    not_causes |= SERVER_CODES  # what doctor finds on the server itself, not a Gmail refusal
    fixable = set().union(*FIXES.values())
    for code in Code:
        if CATALOG[code].severity == Severity.ERROR and code not in not_causes:
            assert code in fixable, code


def test_ip_typed_gets_a_verified_name(lab: LabInfo, lab_connection: Connection) -> None:
    result = propose_lab(lab, lab_connection, "ip.test")
    first = result.remedies[0]
    assert (first.kind, first.status, first.verified) == ("use-host-name", "recommended", True)
    assert first.smtp_host == "mail.ip.test"
    isp = next(r for r in result.remedies if r.kind == "isp-hostname")
    assert not isp.applicable


def test_use_host_name_says_how_the_name_was_found(
    lab: LabInfo, lab_connection: Connection
) -> None:
    """Before: "You typed a server name already" also when nothing was typed."""
    found = propose_lab(lab, lab_connection, "selfsigned.test")
    typed = run_proposal(lab_connection, "selfsigned.test", "mail.selfsigned.test", 587)
    reasons = [
        next(r for r in d.remedies if r.kind == "use-host-name").reason for d in (found, typed)
    ]
    assert reasons == [
        "The server was found by its name already.",
        "You typed a server name already.",
    ]


def test_self_signed_is_never_offered_sni_or_an_isp_name(
    lab: LabInfo, lab_connection: Connection
) -> None:
    result = propose_lab(lab, lab_connection, "selfsigned.test")
    status = {r.kind: r.status for r in result.remedies}
    assert status["new-certificate"] == "recommended"
    assert status["sni"] == status["isp-hostname"] == "unavailable"


@pytest.mark.parametrize(
    ("domain", "kind"),
    [
        ("noauth.test", "enable-auth"),
        ("chain.test", "serve-full-chain"),
        ("nostarttls.test", "enable-starttls"),
        ("sslonly.test", "fix-tls-mode"),  # 465 works: the verified Gmail-only change
        ("closed.test", "open-port"),
        ("blog.test", "isp-hostname"),
        ("broken.test", "new-certificate"),
        ("twoaddr.test", "fix-dns-address"),  # one address passes: the other is stale
    ],
)
def test_the_recommended_fix(
    lab: LabInfo, lab_connection: Connection, domain: str, kind: str
) -> None:
    result = propose_lab(lab, lab_connection, domain, port=587)
    assert result.remedies[0].kind == kind, [(r.kind, r.status) for r in result.remedies]
    assert result.remedies[0].recommended


def test_a_working_port_is_verified_and_needs_no_server_change(
    lab: LabInfo, lab_connection: Connection
) -> None:
    result = propose_lab(lab, lab_connection, "sslonly.test", port=587)
    first = result.remedies[0]
    assert (first.kind, first.port, first.security, first.verified) == (
        "fix-tls-mode",
        465,
        "SSL",
        True,
    )


def test_a_stale_address_is_fixed_in_dns_before_any_certificate(
    lab: LabInfo, lab_connection: Connection, tmp_path: Path
) -> None:
    """twoaddr.test: one address serves the right certificate, the other the ISP's. The
    record of the other is the likely fault: it is named, and a new certificate (which
    the good address already has) is only available."""
    proposal = propose_lab(lab, lab_connection, "twoaddr.test", port=587)
    diagnosis = proposal.diagnosis
    chosen = diagnosis.chosen
    assert chosen is not None
    failing = [c.address for c in chosen.checks if not c.verdict.accept]
    passing = [c.address for c in chosen.checks if c.verdict.accept]
    assert failing and passing
    first = proposal.remedies[0]
    assert (first.kind, first.status) == ("fix-dns-address", "recommended")
    assert list(first.addresses) == failing
    assert all(a in first.reason for a in (*failing, *passing))
    assert proposal.get("new-certificate").status != "recommended"  # type: ignore[union-attr]
    plan = plan_from(proposal)
    assert plan.kinds == ("fix-dns-address",) and not plan.on_server
    assert plan.steps[0].where == "dns-panel"
    files = {f.path: f.content.decode() for f in bundle_files(plan, proposal)}
    assert all(f"; remove: {chosen.host}. IN A {a}" in files["dns/records.zone"] for a in failing)
    readme = files["README.md"]
    assert "remove the record of" in readme and failing[0] in readme
    assert readme.index("remove the record of") < readme.index("gmail-settings.txt")


def test_a_panels_plan_is_the_panels_own_way(lab: LabInfo, lab_connection: Connection) -> None:
    """cPanel keeps Exim's files: the plan's server step is the panel's own way (no
    certbot or Exim settings step), and the README never sends the person to gmailfix
    apply, which leaves a panel's files alone."""
    proposal = propose_lab(lab, lab_connection, "cpanel.test", port=587)
    plan = plan_from(proposal, "new-certificate")
    assert plan.stack == "cpanel"
    keys = [step.key for step in plan.steps]
    assert "panel" in keys and "certificate" not in keys and "tls-settings" not in keys
    assert keys[-2:] == ["verify", "gmail"]
    readme = next(f.content.decode() for f in bundle_files(plan, proposal) if f.path == "README.md")
    assert "cPanel" in readme and "gmailfix apply ." not in readme
