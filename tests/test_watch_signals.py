"""SIGHUP and SIGTERM during ``doctor --watch --yes`` undo the logging change, as Ctrl+C
does: a real ``gmailfix`` process, a real Exim, the signal sent to the process, and the
config compared byte for byte afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gmailfix.server.stop_signals import Stopped, stop_signals
from tests.support.server_root import (
    Server,
    blog_certificate,
    changed_files,
    debian_server,
    snapshot,
)
from tests.support.servers import dns_zone
from tests.test_watch import LAB_DNS, NO_HOST_LOOKUP, _restarts

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def exim_server() -> Iterator[Server]:
    with debian_server("debian-single") as server:
        server.add_macros([*blog_certificate(server), *NO_HOST_LOOKUP])
        server.generate()
        server.start()
        yield server


def _watching(server: Server, reload: str, dns: str) -> tuple[subprocess.Popen[bytes], str]:
    """``gmailfix doctor --watch --yes`` as its own process, once it watches."""
    command = [
        sys.executable, "-m", "gmailfix", "doctor", "--watch", "--yes", "--root",
        str(server.root), "--reload-command", reload, "--seconds", "600", "--dns-server", dns,
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    assert process.stdout is not None
    seen = b""
    while b"Now press" not in seen:
        line = process.stdout.readline()
        if not line:
            process.wait(30)
            pytest.fail(f"the watch ended early: {seen!r}")
        seen += line
    return process, seen.decode()


@pytest.mark.exim
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_undoes_the_logging_change(exim_server: Server, signum: int) -> None:
    """SIGHUP comes with the terminal gone (a dropped SSH session): the output is closed
    first, so every later print fails; the config is put back all the same."""
    server = exim_server
    original = snapshot(server.root)
    with dns_zone(LAB_DNS) as dns, _restarts(server) as reload:
        process, shown = _watching(server, reload, dns)
        assert "TLS logging is on." in shown
        assert changed_files(original, snapshot(server.root)) != []  # the change is made
        assert process.stdout is not None and process.stderr is not None
        if signum == signal.SIGHUP:
            process.stdout.close()
        process.send_signal(signum)
        try:
            status = process.wait(120)
        finally:
            if process.poll() is None:
                process.kill()
        rest = b"" if process.stdout.closed else process.stdout.read()
        errors = process.stderr.read().decode(errors="replace")
    assert changed_files(original, snapshot(server.root)) == [], errors
    assert "Traceback" not in errors and "internal error" not in errors
    assert status != -signum  # it was not killed by the signal: it undid the change and ended
    if signum == signal.SIGTERM:
        assert status == 1
        assert b"Stopped." in rest and b"TLS logging is off again" in rest


def test_held_signals_wait_for_the_change() -> None:
    """In the main thread: outside held() SIGTERM raises at once; inside, the change
    finishes first and the signal stops the command after it."""
    steps: list[str] = []
    with stop_signals() as signals:
        with pytest.raises(Stopped) as stopped, signals.held():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.01)  # the handler runs here, and only notes the signal
            steps.append("change made whole")
        assert stopped.value.signum == signal.SIGTERM and steps == ["change made whole"]
        with pytest.raises(Stopped):
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(5)
        with signals.held(stop_after=False):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.01)
        assert signals.pending == signal.SIGTERM  # noted, not raised: the undo goes on
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # put back


def test_a_hang_up_that_is_ignored_stays_ignored() -> None:
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with stop_signals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    finally:
        signal.signal(signal.SIGHUP, before)
