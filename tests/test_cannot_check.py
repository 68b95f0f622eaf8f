"""'Can't check from here' is its own outcome: exit 3, verdict unknown, no bundle.

Tested for real: a network namespace with only loopback (no route to the
system's resolver), and a DNS server on loopback that never answers.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.programs import require_program, unavailable

ROOT = Path(__file__).resolve().parent.parent


def gmailfix(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "gmailfix", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )


def offline() -> tuple[str, ...]:
    """Run a command in a new network namespace where only loopback is up."""
    unshare = require_program("unshare")
    if os.geteuid() != 0:
        unavailable("a network namespace needs root (CI runs as root)")
    return (unshare, "--net", "--", "sh", "-c", 'ip link set lo up 2>/dev/null; exec "$@"', "sh")


@pytest.fixture
def silent_dns() -> Iterator[str]:
    """A DNS server address on loopback that receives queries and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def test_no_network_is_unknown_not_reject() -> None:
    done = gmailfix("diagnose", "me@example.com", "--json", "--timeout", "3", prefix=offline())
    assert done.returncode == 3, done.stderr
    data = json.loads(done.stdout)
    assert data["gmail"]["verdict"] == "unknown"
    assert data["gmail"]["error"] is None
    assert [f["code"] for f in data["findings"]] == ["cannot-check-here"]
    assert "this computer" in data["findings"][0]["detail"].lower()
    assert data["remedies"] == []
    assert data["probes"] == []
    # what each server did, in words that do not claim it answered (dnspython's did)
    evidence = " ".join(data["findings"][0]["evidence"].values())
    assert "unreachable" in evidence.lower() and "answered" not in evidence


def test_no_network_text_says_what_to_try() -> None:
    done = gmailfix("diagnose", "example.com", "--timeout", "3", prefix=offline())
    assert done.returncode == 3
    assert "cannot tell what Gmail would do" in done.stdout
    assert "Gmail would reject" not in done.stdout
    assert "--dns-server" in done.stdout and "--doh" in done.stdout
    assert "Traceback" not in done.stderr


def test_export_refuses_when_nothing_could_be_checked(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    done = gmailfix("export", "example.com", "--out", str(out), "--timeout", "3", prefix=offline())
    assert done.returncode == 3
    assert "no bundle written" in done.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_resolver_that_never_answers(silent_dns: str) -> None:
    done = gmailfix(
        "diagnose", "example.com", "--json", "--timeout", "2", "--dns-server", silent_dns
    )
    assert done.returncode == 3, done.stdout
    data = json.loads(done.stdout)
    assert data["gmail"]["verdict"] == "unknown"
    (finding,) = data["findings"]
    assert finding["code"] == "cannot-check-here"
    assert "did not answer" in finding["detail"]
    assert finding["evidence"], "the resolver's own words are kept as evidence"


def test_the_text_claims_nothing_it_did_not_see(silent_dns: str) -> None:
    """Before: the header said the server was "chosen from DNS" though DNS gave nothing,
    and the finding named the resolver without the port it was given."""
    done = gmailfix("diagnose", "example.com", "--timeout", "2", "--dns-server", silent_dns)
    assert done.returncode == 3
    assert "chosen from DNS" not in done.stdout
    assert "a guess (DNS gave nothing)" in done.stdout
    assert f"({silent_dns})" in done.stdout.replace("\n", " ").replace("  ", " ")
