"""Mail stacks: recognised from what a server shows, never from a guess; each
stack's own words and steps; the lab's looks. Real certificates, a real
aiosmtpd server, and Debian's real Exim for the proven case."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import shutil
import smtplib
import ssl
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from hypothesis import given, settings
from hypothesis import strategies as st

from gmailfix.certs import describe
from gmailfix.lab import ca
from gmailfix.lab.runner import LabInfo
from gmailfix.lab.scenarios import STACKS as STACK_CASES
from gmailfix.lab.scenarios import Scenario
from gmailfix.lab.servers import ServerSpec, smtp_factory
from gmailfix.lab.stack_looks import LOOKS, StackLook
from gmailfix.render.json_report import to_dict
from gmailfix.stacks import STACK_NAMES, STACKS, MailStack, Sighting, info, recognise
from gmailfix.stacks.catalog import NOT_RUN
from gmailfix.stacks.clues import QUOTE_LIMIT
from gmailfix.stacks.recognise import FAMILY, MAX_EVIDENCE
from gmailfix.stacks.subject import parse_subject
from tests.support import exim as eh
from tests.support.diagnosis import run_proposal
from tests.support.programs import require_program

HOST = "mail.stack.test"
# what aiosmtpd (the lab's server) offers after EHLO before a look adds its own
LAB_EHLO = ("SIZE 33554432", "8BITMIME", "SMTPUTF8", "STARTTLS", "HELP")
EXPECTED = {
    "exim-debian": "high",
    "exim": "medium",
    "postfix-debian": "high",
    "postfix": "medium",
    "cpanel": "high",
    "hestiacp": "high",
    "mailcow": "high",
    "docker-mailserver": "high",
    "iredmail": "high",
    "mail-in-a-box": "high",
}
NOT_FROM_OUTSIDE = {"directadmin", "plesk", "zimbra", "unknown"}
PROVEN = {"exim-debian", "exim", "postfix-debian", "postfix"}
# our own words around a quote stay short; remote text in a sentence is at most QUOTE_LIMIT
SENTENCE_LIMIT = 260 + 2 * QUOTE_LIMIT


@pytest.fixture(scope="module")
def root() -> ca.Issued:
    return ca.make_root("Stacks Test Root")


def certificate(look: StackLook, host: str, issuer: ca.Issued) -> x509.Certificate:
    """The look's default certificate, made for real: self-signed, or by the test CA."""
    key = ca.new_key()
    subject = look.x509_subject(host)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if look.self_signed else issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=90))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(look.common_name(host))]), critical=False
        )
    )
    return builder.sign(key if look.self_signed else issuer.key, hashes.SHA256())


def sighting_of(look: StackLook, host: str, issuer: ca.Issued) -> Sighting:
    """What a probe records from a lab server built from ``look``."""
    cert = describe(certificate(look, host, issuer))
    assert cert is not None
    return Sighting(
        banner=look.banner_for(host),
        ehlo=LAB_EHLO + look.ehlo_extra,
        ehlo_host=host,
        cert_subject=cert.subject,
        cert_issuer=cert.issuer,
        cert_self_signed=cert.self_signed,
        cert_names=cert.names,
    )


def assert_bounded(stack: MailStack) -> None:
    assert stack.name in STACK_NAMES
    assert stack.confidence in ("high", "medium", "low")
    assert 1 <= len(stack.evidence) <= MAX_EVIDENCE
    for sentence in stack.evidence:
        assert isinstance(sentence, str) and 0 < len(sentence) <= SENTENCE_LIMIT


# --- every look is recognised as its stack ------------------------------------------


@pytest.mark.parametrize("look", LOOKS, ids=[look.stack for look in LOOKS])
def test_each_look_is_recognised(look: StackLook, root: ca.Issued) -> None:
    stack = recognise([sighting_of(look, HOST, root)])
    assert (stack.name, stack.confidence) == (look.stack, EXPECTED[look.stack]), stack.evidence
    assert_bounded(stack)


def test_one_look_per_stack_that_can_be_recognised_from_outside() -> None:
    stacks = [look.stack for look in LOOKS]
    assert len(stacks) == len(set(stacks))
    assert set(stacks) == set(STACK_NAMES) - NOT_FROM_OUTSIDE == set(EXPECTED)


@pytest.mark.parametrize("look", LOOKS, ids=[look.stack for look in LOOKS])
def test_a_look_is_recognised_when_the_banner_lines_are_joined_with_spaces(
    look: StackLook, root: ca.Issued
) -> None:
    """The probe of today joins greeting lines with spaces; the contract says newlines."""
    seen = sighting_of(look, HOST, root)
    flat = replace(seen, banner=(seen.banner or "").replace("\n", " "))
    assert recognise([flat]).name == look.stack


def test_evidence_quotes_what_was_seen(root: ca.Issued) -> None:
    exim = next(look for look in LOOKS if look.stack == "exim-debian")
    stack = recognise([sighting_of(exim, HOST, root)])
    assert any('"ESMTP Exim 4.96"' in s for s in stack.evidence)
    assert any("O=Exim Developers" in s and "self-signed" in s for s in stack.evidence)


# --- weak and conflicting hints are said to be so ---------------------------------


def test_exim_greeting_alone_is_exim_and_says_what_it_cannot_tell() -> None:
    stack = recognise([Sighting(banner="mx.example.org ESMTP Exim 4.97 Tue, 1 Oct 2024")])
    assert (stack.name, stack.confidence) == ("exim", "medium")
    assert any("DirectAdmin" in s for s in stack.evidence)


def test_postfix_greeting_alone_is_postfix_and_names_the_look_alikes() -> None:
    stack = recognise([Sighting(banner="mx.example.org ESMTP Postfix")])
    assert (stack.name, stack.confidence) == ("postfix", "medium")
    assert any("Plesk" in s for s in stack.evidence)


def test_cpanel_notice_alone_is_only_medium_because_the_tie_is_inferred() -> None:
    banner = (
        "box.host.example ESMTP Exim 4.96.2 #2 Sat, 24 Aug 2024 12:25:53 -0400 \n"
        "We do not authorize the use of this system to transport unsolicited, \n"
        "and/or bulk e-mail."
    )
    stack = recognise([Sighting(banner=banner)])
    assert (stack.name, stack.confidence) == ("cpanel", "medium")
    assert any("inferred" in s for s in stack.evidence)


def test_cpanel_certificate_with_an_exim_greeting_is_medium() -> None:
    seen = Sighting(
        banner="box.host.example ESMTP Exim 4.96",
        cert_subject="1.2.840.113549.1.9.1=ssl@box.host.example,CN=box.host.example",
        cert_self_signed=True,
    )
    assert (recognise([seen]).name, recognise([seen]).confidence) == ("cpanel", "medium")


def test_a_bare_greeting_is_a_weak_hint_of_hestiacp() -> None:
    stack = recognise([Sighting(banner="server.example.net ESMTP")])
    assert (stack.name, stack.confidence) == ("hestiacp", "low")
    assert any("weak" in s and "no software" in s for s in stack.evidence)


def test_a_bare_greeting_with_exims_ehlo_is_medium_hestiacp() -> None:
    seen = Sighting(
        banner="server.example.net",
        ehlo_host="server.example.net Hello gmailfix.invalid [192.0.2.7]",
        ehlo=("SIZE 52428800", "8BITMIME", "PIPELINING", "CHUNKING", "STARTTLS", "HELP"),
    )
    stack = recognise([seen])
    assert (stack.name, stack.confidence) == ("hestiacp", "medium")
    assert any("Hello" in s for s in stack.evidence)


def test_a_bare_greeting_with_postfixs_ehlo_is_not_hestiacp() -> None:
    seen = Sighting(
        banner="mail.example.net ESMTP",
        ehlo_host="mail.example.net",
        ehlo=("PIPELINING", "SIZE 10240000", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES"),
    )
    assert (recognise([seen]).name, recognise([seen]).confidence) == ("postfix", "low")


def test_a_bare_greeting_gives_way_to_another_products_certificate() -> None:
    seen = Sighting(
        banner="mx.example.net ESMTP",
        ehlo_host="mx.example.net",
        ehlo=("SIZE 52428800", "PIPECONNECT", "HELP"),
        cert_subject="CN=mx.example.net,O=Exim Developers,C=UK",
        cert_self_signed=True,
    )
    assert (recognise([seen]).name, recognise([seen]).confidence) == ("exim-debian", "medium")


def test_ports_that_disagree_lower_the_confidence_and_say_why(root: ca.Issued) -> None:
    exim = sighting_of(next(lk for lk in LOOKS if lk.stack == "exim-debian"), HOST, root)
    postfix = Sighting(banner=f"{HOST} ESMTP Postfix")
    stack = recognise([exim, postfix])
    assert (stack.name, stack.confidence) == ("exim-debian", "medium")
    assert any("different software" in s for s in stack.evidence)
    assert_bounded(stack)


def test_subjects_parse_with_escapes_and_every_email_spelling() -> None:
    attrs = parse_subject(r"CN=a\,b,O=x\+y+OU=z,emailAddress=ssl@a,E=e@x,C=\55K")
    assert attrs["CN"] == ["a,b"] and attrs["O"] == ["x+y"] and attrs["OU"] == ["z"]
    assert attrs["EMAIL"] == ["ssl@a", "e@x"] and attrs["C"] == ["UK"]


# --- unfamiliar and hostile servers are unknown, never an exception ---------------


async def lab_sighting(issuer: ca.Issued, directory: Path) -> Sighting:
    """Ask a real lab server (aiosmtpd, the lab's own greeting) what it shows."""
    leaf = ca.make_leaf(issuer, [HOST])
    (directory / "c.pem").write_bytes(leaf.cert_pem())
    (directory / "k.pem").write_bytes(leaf.key_pem())
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(directory / "c.pem", directory / "k.pem")
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        smtp_factory(ServerSpec(), HOST, tls, implicit=False), "127.0.0.1", 0
    )
    try:
        port = server.sockets[0].getsockname()[1]
        return await asyncio.to_thread(look_at, port)
    finally:
        server.close()


def look_at(port: int) -> Sighting:
    """Greeting, EHLO and the certificate served without SNI, as a probe records them."""
    with smtplib.SMTP(timeout=30) as client:
        client._host = "127.0.0.1"  # type: ignore[attr-defined]  # an IP: no SNI is sent
        _, banner = client.connect("127.0.0.1", port)
        _, reply = client.ehlo("gmailfix.invalid")
        lines = reply.decode("utf-8", "replace").split("\n")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        client.starttls(context=context)
        der = client.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
    cert = describe(x509.load_der_x509_certificate(der))
    assert cert is not None
    return Sighting(
        banner=banner.decode("utf-8", "replace"),
        ehlo=tuple(lines[1:]),
        ehlo_host=lines[0],
        cert_subject=cert.subject,
        cert_issuer=cert.issuer,
        cert_self_signed=cert.self_signed,
        cert_names=cert.names,
    )


async def test_the_labs_own_server_is_unknown(root: ca.Issued, tmp_path: Path) -> None:
    seen = await lab_sighting(root, tmp_path)
    assert seen.banner is not None and "gmailfix lab ESMTP" in seen.banner
    stack = recognise([seen])
    assert (stack.name, stack.confidence) == ("unknown", "low")
    assert any("gmailfix lab ESMTP" in s for s in stack.evidence)
    assert any("matches" in s for s in stack.evidence)


@pytest.mark.parametrize(
    "seen",
    [
        [],
        [Sighting()],
        [Sighting(banner="")],
        [Sighting(banner="\x00\x1b[31m\r\n\x7f")],
        [Sighting(banner="x" * 100_000, ehlo=("A" * 100_000,) * 1000, ehlo_host="h" * 100_000)],
        [Sighting(banner="y" * 99_000 + " ESMTP Exim 4.96")],  # past what is read
        [Sighting(cert_subject="CN=" + "a\\," * 50_000, cert_self_signed=True)],
        [Sighting(cert_subject="=,=+\\", cert_names=("",) * 10_000)],
        [Sighting(banner="Microsoft ESMTP MAIL Service ready")] * 10_000,
    ],
    ids=[
        "none",
        "empty",
        "empty-banner",
        "control",
        "100kb",
        "late-exim",
        "huge-cn",
        "junk",
        "many",
    ],
)
def test_hostile_input_is_unknown_and_bounded(seen: list[Sighting]) -> None:
    stack = recognise(seen)
    assert stack.name == "unknown" and stack.confidence == "low"
    assert_bounded(stack)


TEXT = st.text(max_size=400)
SIGHTINGS = st.builds(
    Sighting,
    banner=st.one_of(st.none(), TEXT),
    ehlo=st.lists(TEXT, max_size=8).map(tuple),
    ehlo_host=st.one_of(st.none(), TEXT),
    cert_subject=st.one_of(st.none(), TEXT),
    cert_issuer=st.one_of(st.none(), TEXT),
    cert_self_signed=st.booleans(),
    cert_names=st.lists(TEXT, max_size=4).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(SIGHTINGS, max_size=4))
def test_any_sighting_gives_a_bounded_answer(seen: list[Sighting]) -> None:
    assert_bounded(recognise(seen))


@settings(max_examples=300, deadline=None)
@given(st.lists(SIGHTINGS, min_size=1, max_size=4))
def test_random_text_after_a_greeting_word_matches_nothing(seen: list[Sighting]) -> None:
    # a leading word keeps the greeting and the EHLO lines from being, by chance, a
    # real fingerprint (a bare host name; an EHLO keyword such as ETRN)
    worded = [
        replace(
            s,
            banner=f"welcome to {s.banner}",
            ehlo_host=None if s.ehlo_host is None else f"welcome to {s.ehlo_host}",
            ehlo=tuple(f"welcome {line}" for line in s.ehlo),
        )
        for s in seen
    ]
    stack = recognise(worded)
    assert stack.name == "unknown", stack.evidence
    assert_bounded(stack)


# --- the proven case: Debian's own Exim, as installed -------------------------------


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = eh.shared_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.exim
def test_debians_stock_exim_is_recognised(workdir: Path) -> None:
    """Debian's generated config, untouched but for log and spool paths."""
    require_program("update-exim4.conf")
    done, output = eh.debian_update(workdir, "debian-single", "")
    assert done.returncode == 0, done.stderr
    text = re.sub(r"(?m)^(spool_directory|log_file_path)\s*=.*$", "", output.read_text())
    for sub in ("log", "spool"):
        (workdir / sub).mkdir()
        shutil.chown(workdir / sub, eh.EXIM_USER, eh.EXIM_USER)
    paths = f"spool_directory = {workdir}/spool\nlog_file_path = {workdir}/log/%slog\n"
    conf = workdir / "exim.conf"
    conf.write_text(paths + text)
    with eh.exim_daemon(conf, workdir) as port:
        seen = look_at(port)
    stack = recognise([seen])
    assert (stack.name, stack.confidence) == ("exim-debian", "high"), (seen, stack)
    assert any("offers PIPECONNECT" in s for s in stack.evidence)


# --- the catalog -------------------------------------------------------------------


def test_every_stack_has_words() -> None:
    assert set(STACKS) == set(STACK_NAMES)
    for name in STACK_NAMES:
        entry = info(name)
        assert entry.name == name and entry.label and entry.certificate_home
        assert entry.simplest_fix and entry.own_steps
        assert all(step.endswith(".") for step in entry.own_steps), name


def test_only_what_gmailfix_runs_is_proven() -> None:
    assert {name for name, e in STACKS.items() if e.source == "proven"} == PROVEN
    for name, entry in STACKS.items():
        assert (NOT_RUN in entry.note) == (entry.source == "documented"), name


def test_catalog_mta_agrees_with_recognition() -> None:
    for name, entry in STACKS.items():
        assert entry.mta == FAMILY.get(name, "other"), name


def test_what_facts_leave_unconfirmed_is_said_to_be() -> None:
    for name in ("directadmin", "plesk", "zimbra"):
        assert "not confirmed" in info(name).certificate_home, name
    assert "inferred" in info("cpanel").note


@pytest.mark.parametrize("scenario", STACK_CASES, ids=lambda s: s.domain)
def test_each_lab_stack_is_recognised_end_to_end(lab: LabInfo, scenario: Scenario) -> None:
    """A real server on loopback with the stack's greeting, EHLO and certificate,
    through the whole diagnosis and its JSON."""
    result = run_proposal(lab.connection(timeout=3), scenario.domain, port=587)
    assert scenario.look is not None and result.diagnosis.mail_stack is not None
    assert result.diagnosis.mail_stack.name == scenario.look.stack, result.diagnosis.mail_stack
    data = to_dict(result)
    assert data["mail_stack"]["name"] == scenario.look.stack
    assert data["mail_stack"]["evidence"]


def test_an_unfamiliar_lab_server_is_unknown(lab: LabInfo) -> None:
    result = run_proposal(lab.connection(timeout=3), "good.test", port=587)
    assert result.diagnosis.mail_stack is not None and result.diagnosis.mail_stack.name == "unknown"
    assert result.diagnosis.mail_stack.confidence == "low"


@pytest.mark.parametrize("scenario", STACK_CASES, ids=lambda s: s.domain)
def test_the_cli_says_the_stack_and_a_panels_own_way(lab: LabInfo, scenario: Scenario) -> None:
    """'How to fix it' in the CLI: a panel's own steps under a certificate fix (its files
    are not edited by hand); a hand-kept Exim or Postfix gets none."""

    from gmailfix.render.terminal import Terminal, render

    result = run_proposal(lab.connection(timeout=3), scenario.domain, port=587)
    text = render(result, terminal=Terminal(width=200))
    assert scenario.look is not None
    entry = info(scenario.look.stack)
    assert f"Your server looks like {entry.label}" in text
    certificate_fix = any(
        r.applicable and r.kind in ("new-certificate", "serve-full-chain") for r in result.remedies
    )
    shown = f"Simplest: {entry.simplest_fix}" in text
    assert shown == (entry.managed and certificate_fix), (entry.name, certificate_fix)
    if shown:
        assert entry.own_steps[0] in text and NOT_RUN in text
