"""The guard for inbound mail: DANE (TLSA) and MTA-STS before a new certificate reaches port 25.

The lab's selfsigned.test serves a self-signed certificate on every port, as a
DANE user's server may: DANE-EE (TLSA 3 1 1) needs no public authority. Its DNS
comes from dnsmasq, which serves the TLSA record pinning the key port 25 serves
today, and an ``_mta-sts`` TXT record; the policy is served over HTTPS on
loopback with a test CA. ``gmailfix export`` must then plan the guard step, the
README must say what to do first, the manifest must carry it, and ``gmailfix
apply`` must refuse the bundle until the step is said to be done.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gmailfix.cli.main import main
from gmailfix.connection import build
from gmailfix.errors import InputError
from gmailfix.inbound import (
    InboundFacts,
    InboundRisk,
    MtaStsPolicy,
    Tlsa,
    TlsaFacts,
    fetch_policy,
    inbound_risks,
    matches,
    parse_policy,
)
from gmailfix.lab import ca
from gmailfix.lab.runner import LabInfo, _server_context
from gmailfix.remedies.manifest import Manifest, ManifestError, parse_manifest
from gmailfix.server.plan import InboundStepPending, plan_apply
from gmailfix.server.system import Root
from tests.support.diagnosis import run_diagnosis
from tests.support.dnsmasq import running_dnsmasq
from tests.support.plans import make_plan
from tests.support.servers import in_thread
from tests.support.udp_dns import answering

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "selfsigned.test"
MX = f"mail.{DOMAIN}"
POLICY = f"version: STSv1\r\nmode: enforce\r\nmx: {MX}\r\nmax_age: 86400\r\n"


@dataclass
class World:
    dns: str  # dnsmasq, HOST:PORT
    https_ca: Path  # the policy server's CA
    policy_port: int
    args: list[str]  # export's options: DNS, CAs, where the lab's servers are
    key_hash: str  # SHA-256 of the key port 25 serves today


def spki_sha256(lab: LabInfo) -> str:
    """The key mail.selfsigned.test serves on port 25 today (the lab's own DNS)."""
    diagnosis = run_diagnosis(lab.connection(timeout=3, domain=DOMAIN), DOMAIN, MX, 25)
    assert diagnosis.chosen is not None
    leaf = diagnosis.chosen.probe.chain.certs[0]
    spki = leaf.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


@contextmanager
def policy_server(
    directory: Path, body: str, *, trusted: bool = True
) -> Iterator[tuple[Path, int]]:
    """An HTTPS server for ``mta-sts.selfsigned.test`` on loopback; yields (CA file, port)."""
    root = ca.make_root("Policy Test Root")
    signer = root if trusted else ca.make_root("Someone Else")
    leaf = ca.make_leaf(signer, [f"mta-sts.{DOMAIN}"])
    ca_file = directory / ("policy-ca.pem" if trusted else "other-ca.pem")
    ca_file.write_bytes(root.cert_pem())
    tls = _server_context(leaf.cert_pem(), leaf.key_pem())
    answer = body.encode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (await reader.readline()).strip():
                pass  # the request and its headers
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                + f"Content-Length: {len(answer)}\r\n\r\n".encode()
                + answer
            )
            await writer.drain()
        finally:
            writer.close()

    async def start() -> asyncio.Server:
        return await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)

    with in_thread(start) as server:
        yield ca_file, server.sockets[0].getsockname()[1]


@pytest.fixture(scope="module")
def world(lab: LabInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("inbound")
    key_hash = spki_sha256(lab)
    address = lab.addresses[DOMAIN]
    records = [
        f"--mx-host={DOMAIN},{MX},10",
        f"--host-record={MX},{address}",
        f"--host-record=smtp.{DOMAIN},{address}",
        f"--dns-rr=_25._tcp.{MX},52,030101{key_hash}",
        f"--txt-record=_mta-sts.{DOMAIN},v=STSv1; id=20261207",
    ]
    with (
        running_dnsmasq(records) as dns,
        policy_server(folder, POLICY) as (https_ca, port),
    ):
        args = ["--dns-server", dns, "--ca-file", str(lab.ca_file), "--ca-file", str(https_ca)]
        for (host, p), (a, q) in sorted(lab.by_domain[DOMAIN].items()):
            args += ["--connect", f"{host}:{p}={a}:{q}"]
            if host == MX:
                args += ["--connect", f"smtp.{DOMAIN}:{p}={a}:{q}"]
        args += ["--connect", f"mta-sts.{DOMAIN}:443=127.0.0.1:{port}"]
        yield World(dns, https_ca, port, args, key_hash)


def export(world: World, out: Path, *more: str) -> subprocess.CompletedProcess[str]:
    words = ["export", DOMAIN, "--out", str(out), "--timeout", "3", *world.args, *more]
    done = subprocess.run(
        [sys.executable, "-m", "gmailfix", *words],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def guarded(world: World, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The bundle for selfsigned.test's new certificate, with the DANE record in DNS."""
    out = tmp_path_factory.mktemp("guarded") / "fix"
    done = export(world, out)
    return out, done.stdout


# --- export: the facts, the step, the manifest, the README ----------------------------------


@pytest.mark.dnsmasq
def test_the_tlsa_record_pinning_todays_key_is_found(guarded: tuple[Path, str]) -> None:
    _, said = guarded
    assert (
        f"inbound mail: DANE: TLSA 3 1 1 at _25._tcp.{MX} (not DNSSEC-validated here) "
        "matches the certificate port 25 serves today"
    ) in said
    assert f"inbound mail: MTA-STS: mode enforce, mx: {MX}" in said


@pytest.mark.dnsmasq
def test_the_manifest_carries_the_guard(guarded: tuple[Path, str]) -> None:
    bundle, _ = guarded
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    assert manifest["inbound"] == [{"kind": "dane-key", "host": MX, "validated": False}]
    plan = parse_manifest(manifest).plan()
    keys = [step.key for step in plan.steps]
    assert keys.index("certificate") < keys.index("inbound-guard") < keys.index("tls-settings")
    step = next(s for s in plan.steps if s.key == "inbound-guard")
    assert step.title == (
        f"Keep inbound mail to {MX} working: publish a DANE (TLSA) record for the new key "
        "before the switch"
    )


@pytest.mark.dnsmasq
def test_the_readme_says_what_to_do_first(guarded: tuple[Path, str]) -> None:
    bundle, _ = guarded
    readme = (bundle / "README.md").read_text()
    first = readme.index("Before the switch, keep mail to you arriving")
    assert first < readme.index("   sh certbot/issue.sh\n") < readme.index("   gmailfix apply .\n")
    assert f"`_25._tcp.{MX}` has a DANE record (TLSA, the resolver gmailfix asked" in readme
    assert "sh certbot/issue.sh standalone --reuse-key" in readme
    assert "openssl pkey -pubin -outform DER | sha256sum" in readme
    assert "`gmailfix apply . --inbound-done`" in readme
    assert "587 and 465 only" in readme


@pytest.mark.dnsmasq
def test_a_certificate_that_does_not_cover_the_mx_breaks_mta_sts(
    world: World, tmp_path: Path
) -> None:
    """Typed smtp.selfsigned.test: the new certificate is for that name, while the policy
    (enforce) lists mail.selfsigned.test, on the same server."""
    done = export(world, tmp_path / "fix", "--smtp-host", f"smtp.{DOMAIN}", "--port", "587")
    manifest = json.loads((tmp_path / "fix" / "MANIFEST.json").read_text())
    assert {(r["kind"], r["host"]) for r in manifest["inbound"]} == {
        ("dane-key", MX),
        ("mta-sts", MX),
    }
    readme = (tmp_path / "fix" / "README.md").read_text()
    assert f"(`sh certbot/issue.sh standalone -d {MX}`)" in readme
    assert "inbound mail: the README's step 'Before the switch, keep mail" in done.stdout


@pytest.mark.dnsmasq
def test_no_guard_without_records(lab: LabInfo, tmp_path: Path) -> None:
    """The lab's own DNS has no TLSA or MTA-STS: the same fix has no guard step."""
    words = ["export", DOMAIN, "--out", str(tmp_path / "fix"), "--timeout", "3"]
    done = subprocess.run(
        [sys.executable, "-m", "gmailfix", *words, *lab.diagnose_args(DOMAIN)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "fix" / "MANIFEST.json").read_text())
    assert "inbound" not in manifest
    assert "inbound-guard" not in {s.key for s in parse_manifest(manifest).plan().steps}
    assert f"DANE: no TLSA record at _25._tcp.{MX}" in done.stdout
    assert "Before the switch" not in (tmp_path / "fix" / "README.md").read_text()


# --- apply refuses until the step is said to be done -----------------------------------------


@pytest.mark.dnsmasq
@pytest.mark.exim
def test_apply_refuses_until_the_guard_step_is_done(
    guarded: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.server_root import debian_server

    bundle, _ = guarded
    with debian_server("debian-single") as server:
        with pytest.raises(InboundStepPending):
            plan_apply(bundle, Root(server.root), runner=server.run)
        assert main(["apply", str(bundle), "--root", str(server.root), "--yes"]) == 2
        said = capsys.readouterr().err
        assert f"first: keep inbound mail to {MX} working: publish a DANE (TLSA)" in said
        assert said.rstrip().endswith("add --inbound-done")
        assert main(["apply", str(bundle), "--root", str(server.root), "--inbound-done"]) == 0
        assert "Nothing was written" in capsys.readouterr().out
        shown = plan_apply(bundle, Root(server.root), runner=server.run, inbound_done=True)
        assert shown.changes


# --- the facts, one by one -------------------------------------------------------------------


@pytest.mark.dnsmasq
def test_a_policy_server_with_an_untrusted_certificate_is_unread(
    world: World, tmp_path: Path
) -> None:
    with policy_server(tmp_path, POLICY, trusted=False) as (_, port):
        connection = build(
            dns_server=world.dns,
            ca_files=[str(world.https_ca)],
            connect=[f"mta-sts.{DOMAIN}:443=127.0.0.1:{port}"],
            timeout=3,
        )
        policy = asyncio.run(fetch_policy(DOMAIN, connection, time.monotonic() + 3))
    assert policy.mode is None
    assert policy.error == f"its certificate is not valid for mta-sts.{DOMAIN}"


@pytest.mark.dnsmasq
def test_the_policy_as_fetched(world: World) -> None:
    connection = build(
        dns_server=world.dns,
        ca_files=[str(world.https_ca)],
        connect=[f"mta-sts.{DOMAIN}:443=127.0.0.1:{world.policy_port}"],
        timeout=3,
    )
    policy = asyncio.run(fetch_policy(DOMAIN, connection, time.monotonic() + 3))
    assert policy == MtaStsPolicy(mode="enforce", mx=(MX,))


def test_policy_lines_are_checked() -> None:
    body = (
        b"version: STSv1\nmode: enforce\nmx: Mail.Example.TEST.\nmx: *.example.net\n"
        b"mx: bad..name\nmx: *.*.x\nmx: \x1b[31mred\nmax_age: 1\nextra: ignored\n"
    )
    assert parse_policy(body) == MtaStsPolicy(
        mode="enforce", mx=("mail.example.test", "*.example.net")
    )
    assert parse_policy(b"version: STSv2\nmode: enforce\n").error == "it is not an STSv1 policy"
    two = parse_policy(b"version: STSv1\nmode: enforce\nmode: none\n")
    assert two.error == "its mode is not enforce, testing or none"
    assert parse_policy(b"\xff" * 100_000).error is not None


def test_tlsa_matching_by_usage_selector_and_type() -> None:
    root = ca.make_root()
    issuer = ca.make_intermediate(root)
    leaf = ca.make_leaf(issuer, ["mail.example.test"])
    chain = (leaf.cert, issuer.cert)
    der = leaf.cert.public_bytes(Encoding.DER)
    spki = leaf.cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    issuer_spki = issuer.cert.public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    )
    assert matches(3, 1, 1, hashlib.sha256(spki).digest(), chain)
    assert matches(3, 1, 2, hashlib.sha512(spki).digest(), chain)
    assert matches(3, 0, 1, hashlib.sha256(der).digest(), chain)
    assert matches(3, 0, 0, der, chain)
    assert matches(2, 1, 1, hashlib.sha256(issuer_spki).digest(), chain)
    assert not matches(3, 1, 1, hashlib.sha256(issuer_spki).digest(), chain)  # not the leaf's
    assert not matches(3, 1, 1, hashlib.sha256(der).digest(), chain)  # selector 0's data
    assert not matches(3, 1, 9, hashlib.sha256(spki).digest(), chain)  # no such type


def test_risks_from_facts() -> None:
    plan = make_plan("new-certificate", "example.test", "mail.example.test")
    dane = TlsaFacts(
        "mail.example.test",
        (
            Tlsa(3, 1, 1, b"x", True),
            Tlsa(3, 0, 1, b"y", False),
            Tlsa(1, 1, 1, b"z"),
            Tlsa(2, 0, 1, b"w"),
        ),
        validated=True,
    )
    covered = MtaStsPolicy(mode="enforce", mx=("*.example.test",))
    facts = InboundFacts("example.test", ("mail.example.test",), (dane,), covered)
    assert inbound_risks(plan, facts) == (
        InboundRisk("dane-certificate", "mail.example.test", True),
        InboundRisk("dane-issuer", "mail.example.test", True),
        InboundRisk("dane-key", "mail.example.test", True),
    )
    other = replace(plan, remedies=(replace(plan.remedies[0], names=("smtp.example.test",)),))
    nothing = TlsaFacts("mail.example.test", (), validated=False)
    assert inbound_risks(other, replace(facts, tlsa=(nothing,))) == (
        InboundRisk("mta-sts", "mail.example.test"),
    )
    testing = replace(facts, tlsa=(nothing,), mta_sts=replace(covered, mode="testing"))
    assert inbound_risks(other, testing) == ()  # testing mode only reports
    failed = TlsaFacts("mail.example.test", (), validated=False, error="no answer in time")
    unread = replace(facts, tlsa=(failed,), mta_sts=MtaStsPolicy(error="no answer in time"))
    assert {r.kind for r in inbound_risks(plan, unread)} == {"dane-unread", "mta-sts-unread"}
    assert inbound_risks(plan, None) == ()


def test_the_manifest_refuses_a_risk_it_does_not_know() -> None:
    plan = replace(
        make_plan("new-certificate", "example.test"),
        inbound=(InboundRisk("dane-key", "mail.example.test"),),
    )
    data = Manifest.of(plan, ()).data()
    assert parse_manifest(data).plan().inbound == plan.inbound
    for bad in (
        [{"kind": "dane-everything", "host": "mail.example.test"}],
        [{"kind": "dane-key", "host": "bad host"}],
        [{"kind": "dane-key", "host": "mail.example.test", "validated": "yes"}],
        "dane-key",
    ):
        with pytest.raises(ManifestError):
            parse_manifest({**data, "inbound": bad})
    with pytest.raises(InputError):
        replace(plan, inbound=(InboundRisk("dane-key", "Not A Name!"),))


def test_the_readmes_command_computes_the_record_the_matcher_accepts(
    guarded: tuple[Path, str], tmp_path: Path
) -> None:
    """The README's openssl line, run on a real certificate, prints the 3 1 1 hash."""
    bundle, _ = guarded
    readme = (bundle / "README.md").read_text()
    line = next(x.strip() for x in readme.splitlines() if "openssl x509 -in" in x)
    issued = ca.make_leaf(ca.make_root(), [MX])
    fullchain = tmp_path / "fullchain.pem"
    fullchain.write_bytes(issued.cert_pem())
    command = line.replace(f"/etc/exim4/tls/{MX}/fullchain.pem", str(fullchain))
    assert command != line
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30)
    printed = done.stdout.split()[0]
    assert matches(3, 1, 1, bytes.fromhex(printed), (issued.cert,))


def validating_resolver(name: str, rdata: str) -> AbstractContextManager[str]:
    """A DNS server on loopback that answers ``name`` TLSA with the AD flag set, as a
    validating resolver does for a signed zone; yields ``127.0.0.1:PORT``."""
    import dns.flags
    import dns.message
    import dns.rrset

    def reply(query: dns.message.Message) -> dns.message.Message:
        answer = dns.message.make_response(query)
        question = query.question[0]
        if question.name.to_text() == name + "." and question.rdtype == 52:
            answer.answer.append(dns.rrset.from_text(name + ".", 300, "IN", "TLSA", rdata))
            answer.flags |= dns.flags.AD
        return answer

    return answering(reply)


def test_a_validated_answer_is_said_to_be(tmp_path: Path) -> None:
    from gmailfix.inbound import ask_tlsa

    name = f"_25._tcp.{MX}"
    with validating_resolver(name, "3 1 1 " + "ab" * 32) as server:
        connection = build(dns_server=server, timeout=3)
        records, validated, error = asyncio.run(ask_tlsa(connection, name, time.monotonic() + 3))
        assert (records, validated, error) == ((Tlsa(3, 1, 1, b"\xab" * 32),), True, None)
        other = asyncio.run(ask_tlsa(connection, f"_25._tcp.other.{DOMAIN}", time.monotonic() + 3))
        assert other == ((), False, None)  # no record: a fact, not a failure
    assert connection.resolver.flags is None  # the question's AD flag was on a copy


def test_the_readme_step_names_each_mx_once_and_says_when_validated() -> None:
    from gmailfix.render.bundle_readme import _inbound_step

    plan = replace(
        make_plan("new-certificate", "example.test"),
        inbound=(
            InboundRisk("dane-certificate", "mail.example.test", True),
            InboundRisk("dane-key", "mail.example.test", True),
            InboundRisk("mta-sts-unread", "mail.example.test"),
        ),
    )
    text = _inbound_step(plan)
    assert text.count("has a DANE record (TLSA, the answer was DNSSEC-validated)") == 1
    assert "add to `_25._tcp.mail.example.test.` a record `TLSA 3 1 1 HASH`" in text
    assert "an MTA-STS policy that gmailfix could not read" in text
