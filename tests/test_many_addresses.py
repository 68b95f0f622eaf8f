"""Every address counts: a host with many addresses, on real servers on loopback.

Gmail dials any of the SMTP host's addresses (A and AAAA), so each is probed,
up to a limit far above real hosts (dns.MAX_ADDRESSES, 64). One bad address
among many is a rejection that names it; addresses past the limit are counted
and reported, and the verdict is then "unknown", never "accept".

The crowd: 70 good servers on 127.0.9.1-70 (one certificate from the test CA
naming every mail host below) and one self-signed server on ::1.

    nine.test      mail.nine.test: 9 A (good) + AAAA ::1 (self-signed)   -> reject at ::1
    crowd.test     mail.crowd.test: 66 A (good)                          -> unknown, 2 not checked
    crowdbad.test  mail.crowdbad.test: 70 A (good) + AAAA ::1            -> reject at ::1, 7 not checked
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import pytest
from textual.widgets import Button

from gmailfix.batch import BatchItem, json_line, text_line
from gmailfix.connection import Connection, build
from gmailfix.dns import MAX_ADDRESSES, keep_addresses
from gmailfix.lab import ca
from gmailfix.lab.dns_server import DnsServer, Zone
from gmailfix.lab.runner import _server_context
from gmailfix.lab.servers import ServerSpec, serve
from gmailfix.remedies.model import Proposal
from gmailfix.render.markdown_report import markdown_report
from gmailfix.render.terminal import Terminal, render
from gmailfix.screens.app import GmailfixApp
from gmailfix.screens.details import DetailsScreen
from gmailfix.screens.diagnosis import DiagnosisScreen
from gmailfix.screens.state import WizardState
from gmailfix.screens.welcome import WelcomeScreen
from gmailfix.smtp import Endpoint
from gmailfix.vocabulary import Code
from tests.support.diagnosis import run_proposal
from tests.support.pilot import on, screen_text, text_of, until

SCHEMA = json.loads((Path(__file__).parent.parent / "schema" / "diagnosis-1.json").read_text())
GOOD = [f"127.0.9.{n}" for n in range(1, 71)]
BAD = "::1"
HOSTS = {  # mail host -> its addresses in DNS
    "mail.nine.test": [*GOOD[:9], BAD],
    "mail.crowd.test": GOOD[:66],
    "mail.crowdbad.test": [*GOOD, BAD],
}


@dataclass
class Crowd:
    dns: Endpoint
    ca_file: Path
    connect: dict[Endpoint, Endpoint] = field(default_factory=dict)

    def connection(self, timeout: float = 10.0) -> Connection:
        host, port = self.dns
        return build(
            dns_server=f"{host}:{port}",
            ca_files=[str(self.ca_file)],
            connect=dict(self.connect),
            timeout=timeout,
        )

    def args(self) -> list[str]:
        host, port = self.dns
        args = ["--dns-server", f"{host}:{port}", "--ca-file", str(self.ca_file)]
        for (a, p), (b, q) in self.connect.items():
            a, b = (f"[{x}]" if ":" in x else x for x in (a, b))
            args += ["--connect", f"{a}:{p}={b}:{q}"]
        return args


async def _start(directory: Path, servers: list[asyncio.Server], dns: DnsServer) -> Crowd:
    root = ca.make_root()
    intermediate = ca.make_intermediate(root)
    good = ca.make_leaf(intermediate, list(HOSTS))
    bad = ca.make_leaf(None, list(HOSTS))
    good_tls = _server_context(good.cert_pem() + intermediate.cert_pem(), good.key_pem())
    bad_tls = _server_context(bad.cert_pem(), bad.key_pem())
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(root.cert_pem())
    crowd = Crowd(await dns.start(), ca_file)
    for address in [*GOOD, BAD]:
        tls = bad_tls if address == BAD else good_tls
        server = await serve(
            ServerSpec(), host=address, port=0, hostname="mx.crowd.test", tls=tls, implicit=False
        )
        servers.append(server)
        crowd.connect[(address, 587)] = (address, server.sockets[0].getsockname()[1])
    return crowd


@contextlib.contextmanager
def running_crowd(directory: Path) -> Iterator[Crowd]:
    """The crowd's DNS server and SMTP servers on their own event loop, in a thread."""
    zone = Zone()
    for host, addresses in HOSTS.items():
        zone.add(host.removeprefix("mail."), "MX", f"10 {host}.")
        for address in addresses:
            zone.add(host, "AAAA" if ":" in address else "A", address)
    dns = DnsServer(zone)
    servers: list[asyncio.Server] = []
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield asyncio.run_coroutine_threadsafe(_start(directory, servers, dns), loop).result(30)
    finally:

        async def stop() -> None:
            for server in servers:
                server.close()
            await dns.stop()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


@pytest.fixture(scope="module")
def crowd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crowd]:
    with running_crowd(tmp_path_factory.mktemp("crowd")) as running:
        yield running


def gmailfix(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gmailfix", "diagnose", *args, "--timeout", "10"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=90,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},  # one report line per line
    )


def test_one_bad_address_among_ten_refuses_and_is_named(crowd: Crowd) -> None:
    """Before: only the first 8 addresses (all A) were probed, and this was 'accept'."""
    result = run_proposal(crowd.connection(), "nine.test", "mail.nine.test", 587)
    assert result.diagnosis.outcome == "reject"
    assert (result.diagnosis.verdict.cause, result.diagnosis.verdict.address) == (
        Code.SELF_SIGNED,
        BAD,
    )
    assert result.diagnosis.chosen is not None
    assert {c.address for c in result.diagnosis.chosen.checks} == set(HOSTS["mail.nine.test"])
    assert result.diagnosis.addresses_not_checked == 0
    found = {f.code: f for f in result.diagnosis.findings}
    assert Code.ADDRESSES_NOT_CHECKED not in found
    assert found[Code.SELF_SIGNED].address == BAD
    mixed = found[Code.INCONSISTENT_ADDRESSES]
    assert mixed.address == BAD
    # a few of the passing addresses in words, every one in the evidence
    assert re.search(
        r"mail\.nine\.test has 10 addresses: ::1 fails, (127\.0\.9\.\d, ){3}127\.0\.9\.\d "
        r"and 5 more passes\.$",
        mixed.detail,
    ), mixed.detail
    assert sorted(mixed.evidence["passes"].split(", ")) == sorted(GOOD[:9])


def test_past_the_limit_is_unknown_and_the_json_counts_what_was_not_checked(
    crowd: Crowd,
) -> None:
    """The host comes from MX here: its entry and the DNS facts both carry the count."""
    done = gmailfix("crowd.test", "--port", "587", "--json", *crowd.args())
    assert done.returncode == 3, done.stderr
    data = json.loads(done.stdout)
    jsonschema.validate(data, SCHEMA, format_checker=jsonschema.FormatChecker())
    gmail = data["gmail"]
    assert (gmail["verdict"], gmail["cause"], gmail["error"]) == (
        "unknown",
        "addresses-not-checked",
        None,
    )
    assert [(m["host"], m["addresses_not_checked"]) for m in data["mx"]] == [("mail.crowd.test", 2)]
    assert data["dns"]["addresses_not_checked"] == {"mail.crowd.test": 2}
    assert len(data["dns"]["addresses"]["mail.crowd.test"]) == MAX_ADDRESSES
    item = next(f for f in data["findings"] if f["code"] == "addresses-not-checked")
    assert (item["host"], item["port"]) == ("mail.crowd.test", 587)
    assert item["evidence"] == {"addresses in DNS": "66", "checked": "64", "not checked": "2"}
    assert "66 addresses: 64 were checked, 2 were not" in item["detail"]
    assert "Gmail may connect to any of them" in item["detail"]
    # every address within the limit was really probed, and passed
    with_sni = {p["address"] for p in data["probes"] if p["sni"]}
    assert with_sni == set(data["dns"]["addresses"]["mail.crowd.test"])
    assert all(p["error"] is None for p in data["probes"])
    assert data["remedies"] == []


@pytest.fixture(scope="module")
def crowd_unknown(crowd: Crowd) -> Proposal:
    """crowd.test as typed, 66 addresses: one diagnosis that several tests read."""
    return run_proposal(crowd.connection(), "me@crowd.test", "mail.crowd.test", 587)


@pytest.fixture(scope="module")
def crowdbad_reject(crowd: Crowd) -> Proposal:
    return run_proposal(crowd.connection(), "crowdbad.test", "mail.crowdbad.test", 587)


def test_the_text_report_says_how_many_were_not_checked(crowd_unknown: Proposal) -> None:
    out = render(crowd_unknown, terminal=Terminal(width=200))
    assert (
        "? gmailfix cannot tell what Gmail would do: 2 of the server's addresses were not "
        "checked." in out
    )
    assert "this computer could not check" not in out
    assert "Some of the server's addresses were not checked (mail.crowd.test:587)" in out
    assert "Gmail would accept" not in out
    assert out.count(": accept") == MAX_ADDRESSES  # one line per address checked
    report = markdown_report(crowd_unknown)
    assert "2 of the server's addresses were not checked" in report


def test_a_bad_address_past_the_limit_still_refuses(crowdbad_reject: Proposal) -> None:
    """70 A and one AAAA: IPv6 keeps its share of the 64 probed, and it is the bad one."""
    result = crowdbad_reject
    assert result.diagnosis.outcome == "reject"
    assert (result.diagnosis.verdict.cause, result.diagnosis.verdict.address) == (
        Code.SELF_SIGNED,
        BAD,
    )
    assert result.diagnosis.addresses_not_checked == 7
    assert (
        result.diagnosis.chosen is not None and len(result.diagnosis.chosen.checks) == MAX_ADDRESSES
    )
    left = next(f for f in result.diagnosis.findings if f.code == Code.ADDRESSES_NOT_CHECKED)
    assert left.evidence["not checked"] == "7"
    assert left.host == "mail.crowdbad.test"
    line = text_line(BatchItem(3, "crowdbad.test", proposal=result))
    assert line.endswith("mail.crowdbad.test:587 at ::1  self-signed  (7 addresses not checked)")
    row = json.loads(json_line(BatchItem(3, "crowdbad.test", proposal=result)))
    jsonschema.validate(row, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert row["dns"]["addresses_not_checked"] == {"mail.crowdbad.test": 7}
    assert row["gmail"]["address"] == BAD


def test_batch_shows_the_addresses_not_checked_and_exits_3(crowd: Crowd) -> None:
    """An unknown alone in the list: exit 3, as for one domain (not known, not refused)."""
    done = gmailfix("--from", "-", "--port", "587", *crowd.args(), stdin="crowd.test\n")
    assert done.returncode == 3, done.stderr
    (line,) = done.stdout.splitlines()
    assert line.split()[:3] == ["?", "unknown", "crowd.test"]
    assert "mail.crowd.test:587  2 addresses not checked" in line
    assert "cannot check from this computer" not in line


async def test_the_wizard_table_shows_the_addresses_not_checked(
    crowd: Crowd, tmp_path: Path
) -> None:
    state = WizardState(address="me@crowd.test", smtp_host="mail.crowd.test", port=587)
    app = GmailfixApp(crowd.connection, state, tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, on(app, WelcomeScreen))
        await pilot.press("enter")
        await until(pilot, on(app, DetailsScreen))
        await pilot.press("ctrl+s")  # the details are filled in: check
        await until(pilot, lambda: getattr(app.screen, "result", None) is not None)
        assert isinstance(app.screen, DiagnosisScreen)
        verdict = text_of(app, "#verdict")
        assert "cannot tell what Gmail would do" in verdict
        assert "2 of the server's addresses were not checked" in verdict
        table = text_of(app, "#checks")
        assert table.count("passes Gmail's check") == MAX_ADDRESSES
        assert "2 more" in table
        assert "not checked: the server has too many addresses" in table
        shown = screen_text(app)
        assert "addresses-not-checked" not in shown  # no finding code in the wizard
        assert "Some of the server's addresses were not checked" in shown
        assert app.screen.query_one("#continue", Button).disabled
        note = text_of(app, "#nav-note")
        assert "Not every address of the server could be checked" in note
        assert "internet connection" not in note
        await pilot.press("q")
    assert "2 of the server's addresses were not checked" in (app.return_value or "")


def test_past_the_limit_both_families_keep_a_share() -> None:
    v4 = [f"192.0.2.{n}" for n in range(1, 101)]
    v6 = [f"2001:db8::{n}" for n in range(1, 4)]
    kept = keep_addresses(v4, v6)
    assert len(kept) == MAX_ADDRESSES
    assert kept == (*v4[: MAX_ADDRESSES - 3], *v6)  # A first, then every AAAA
    many6 = [f"2001:db8::{n:x}" for n in range(1, 101)]
    half = keep_addresses(v4, many6)
    assert half == (*v4[:32], *many6[:32])
    assert keep_addresses(v4[:5], v6) == (*v4[:5], *v6)  # under the limit: all, in order
