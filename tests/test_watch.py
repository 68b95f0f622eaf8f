"""gmailfix doctor --watch on real Exim: what a Gmail-like client did, read from the log.

The client behaves as Gmail's "Add account" check does: EHLO as a
mail-*.google.com host, STARTTLS with SNI = the SMTP Server, and a refusal of
a certificate it does not trust with a TLS alert (Python's ssl, verifying).
It connects from its own loopback address, GOOGLE_ADDRESS, whose reverse DNS
name under google.com leads back to it in the lab's DNS server (LAB_DNS): that,
not its EHLO name, is what makes it Google. Exim itself looks up no client
names here (MAIN_HOST_LOOKUP), so nothing asks the machine's own resolver.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import os
import re
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gmailfix.cli.main import main
from gmailfix.server.apply import apply, rollback
from gmailfix.server.system import Root, ServerError
from gmailfix.server.watch import follow, plan_watch
from gmailfix.server.watch_exim import LogParser
from gmailfix.server.watch_log import Attempt, describe, log_size
from tests.support.programs import require_program
from tests.support.server_root import (
    DOMAIN,
    HOST,
    IFACE,
    RESTART,
    Pki,
    Server,
    blog_certificate,
    changed_files,
    debian_server,
    good_tls_lines,
    issue,
    make_pki,
    snapshot,
)
from tests.support.servers import dns_zone

pytestmark = pytest.mark.exim
GOOGLE_HELO = "mail-yw1-f170.google.com"
GOOGLE_ADDRESS = "127.0.13.41"  # its PTR name is GOOGLE_HELO, whose A record is this again
FORGER_ADDRESS = "127.0.13.66"  # its PTR name is GOOGLE_HELO too, which does not lead back
PASSWORD = "a password 7"
LAB_DNS = [
    ("41.13.0.127.in-addr.arpa", "PTR", f"{GOOGLE_HELO}."),
    (GOOGLE_HELO, "A", GOOGLE_ADDRESS),
    ("66.13.0.127.in-addr.arpa", "PTR", f"{GOOGLE_HELO}."),
]
NO_HOST_LOOKUP = ["MAIN_HOST_LOOKUP = 127.0.0.1"]  # /etc/hosts answers that one


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    folder.chmod(0o755)
    return make_pki(folder)


# --- a client that behaves like Gmail's check -------------------------------------------


def _reply(reader: io.BufferedReader) -> list[bytes]:
    lines = []
    while True:
        line = reader.readline(1024)
        lines.append(line)
        if line[3:4] != b"-":
            return lines


def gmail_like(
    port: int = 587,
    *,
    helo: str = GOOGLE_HELO,
    trust: Path | None = None,
    tls12: bool = False,
    login: str | None = None,
    source: str | None = None,
) -> str:
    """One connection as Gmail's check makes it (from ``source``, a loopback address);
    returns how it ended for the client."""
    context = ssl.create_default_context(cafile=str(trust) if trust else None)
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    sock = _connect(port, source)
    try:
        if port != 465:
            reader = sock.makefile("rb")
            _reply(reader)
            sock.sendall(f"EHLO {helo}\r\n".encode())
            _reply(reader)
            sock.sendall(b"STARTTLS\r\n")
            _reply(reader)
        try:
            secure = context.wrap_socket(sock, server_hostname=HOST)
        except ssl.SSLError as exc:
            return f"refused: {exc.reason}"
        reader = secure.makefile("rb")
        if port == 465:
            _reply(reader)
        secure.sendall(f"EHLO {helo}\r\n".encode())
        _reply(reader)
        if login is not None:
            token = base64.b64encode(f"\0me@{DOMAIN}\0{login}".encode()).decode()
            secure.sendall(f"AUTH PLAIN {token}\r\n".encode())
            _reply(reader)
        secure.sendall(b"QUIT\r\n")
        _reply(reader)
        return "quit"
    finally:
        sock.close()


def _connect(port: int, source: str | None = None) -> socket.socket:
    """Connect, also while a reloading Exim re-binds its ports (bounded)."""
    deadline = time.monotonic() + 15
    while True:
        try:
            bound = (source, 0) if source else None
            return socket.create_connection((IFACE, port), timeout=10, source_address=bound)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def attempts(
    server: Server, start: int, count: int, clients: tuple[str, ...] = ("google.com",)
) -> list[Attempt]:
    """The next ``count`` connections from ``clients`` (and TLS-first failures, which name
    no client) in the log, waiting at most 20 s."""
    found: list[Attempt] = []
    for attempt in follow(
        server.mainlog, start=start, clients=clients, deadline=time.monotonic() + 20, poll=0.05
    ):
        if attempt.claimed is None and attempt.ended != "tls-error":
            continue  # the harness's own "is it listening yet?" connections
        found.append(attempt)
        if len(found) == count:
            break
    return found


@pytest.fixture
def watched_blog_server() -> Iterator[tuple[Server, dict[str, tuple[str, int, int, int]]]]:
    with debian_server("debian-single") as server:
        server.add_macros([*blog_certificate(server), *NO_HOST_LOOKUP])
        server.generate()
        server.start()
        yield server, snapshot(server.root)


# --- the proof ---------------------------------------------------------------------------


def test_watch_shows_gmail_refusing_the_certificate(
    watched_blog_server: tuple[Server, dict[str, tuple[str, int, int, int]]],
) -> None:
    server, original = watched_blog_server
    root = Root(server.root)
    plan = plan_watch(root, runner=server.run, reload=RESTART)
    assert plan is not None
    diff = plan.diff()
    assert "+MAIN_LOG_SELECTOR = +smtp_protocol_error" in diff and "+tls_sni" in diff
    assert "+acl_smtp_notquit = accept logwrite = gmailfix-watch" in diff
    result = apply(plan, runner=server.run)
    assert result.outcome == "applied", result.results
    assert plan_watch(root, runner=server.run) is None  # on already: nothing to change

    start = log_size(server.mainlog)
    assert gmail_like().startswith("refused")  # TLS 1.3, as Python does by default
    assert gmail_like(tls12=True).startswith("refused")
    assert gmail_like(helo="client.example").startswith("refused")
    seen = attempts(server, start, 3, clients=("google.com", "client.example"))
    first, second, other = seen
    for attempt in (first, second):
        assert attempt.claimed == "google.com" and attempt.helo == GOOGLE_HELO
        assert attempt.verdict == "claimed" and attempt.address == "127.0.0.1"  # not proof
        assert (attempt.sni, attempt.sni_known, attempt.server_port) == (HOST, True, 587)
        assert attempt.stopped == "tls-refused" and attempt.tls_version is None
    assert second.tls_error == "CA is unknown"  # the alert's name, over TLS 1.2
    assert other.helo == "client.example" and other.claimed == "client.example"
    alone = LogParser().feed(other.lines[-1])  # Google's names only: not one of Google's
    assert alone is not None and alone.claimed is None and alone.verdict == "other"
    words = "\n".join(describe(first))
    assert f"name asked for (SNI): {HOST}" in words and "refuses the certificate" in words

    undone = rollback(root, runner=server.run, only=result.journal, reload=RESTART)
    assert undone.reload is not None and undone.reload.ok
    assert changed_files(original, snapshot(server.root)) == []


def test_watch_sees_tls_and_the_login(pki: Pki) -> None:
    """A fixed server: Gmail's check gets through TLS; a wrong password is AUTH refused,
    the right one logs in. On 465 a refused handshake leaves only Exim's TLS error."""
    with debian_server("debian-split") as server:
        server.add_macros(blog_certificate(server))  # logins after TLS, like the person's
        issue(server, pki)
        text = server.macros.read_text()
        kept = [
            ln for ln in text.splitlines() if not ln.startswith(("MAIN_TLS_", "daemon_smtp_ports"))
        ]
        server.macros.write_text("\n".join([*kept, *good_tls_lines(server)]) + "\n")
        server.generate()
        server.start()
        plan = plan_watch(Root(server.root), runner=server.run, reload=RESTART)
        assert plan is not None
        assert apply(plan, runner=server.run).outcome == "applied"
        start = log_size(server.mainlog)
        assert gmail_like(trust=pki.root_file, login="wrong") == "quit"
        assert gmail_like(trust=pki.root_file, login=PASSWORD) == "quit"
        assert gmail_like(465).startswith("refused")
        refused, logged_in, implicit = attempts(server, start, 3, clients=("google.com",))
    assert refused.stopped == "auth-refused" and refused.tls_version and refused.cipher
    assert refused.sni == HOST and refused.authenticated is None
    assert logged_in.stopped == "quit" and logged_in.authenticated == f"me@{DOMAIN}"
    assert logged_in.tls_version in ("TLS1.3", "TLS1.2")
    assert implicit.ended == "tls-error" and not implicit.sni_known
    assert "not in the log" in "\n".join(describe(implicit))


def test_cli_watch(
    watched_blog_server: tuple[Server, dict[str, tuple[str, int, int, int]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The whole command: shows the change, needs --yes, turns logging on (and restarts
    Exim), reports Google's connection as DNS confirms it, and turns logging off again."""
    server, original = watched_blog_server
    assert main(["doctor", "--watch", "--root", str(server.root)]) == 0
    shown = capsys.readouterr().out
    assert "+MAIN_LOG_SELECTOR" in shown and "Run again with --yes" in shown
    assert changed_files(original, snapshot(server.root)) == []

    status, text = _watch_cli(server, lambda: gmail_like(source=GOOGLE_ADDRESS))
    assert status == 1, text  # Google refused the certificate
    assert f"Google ({GOOGLE_HELO}) on port 587, from {GOOGLE_ADDRESS}:" in text
    assert f"confirmed by DNS: {GOOGLE_ADDRESS} is {GOOGLE_HELO}" in text
    assert f"name asked for (SNI): {HOST}" in text
    assert "not confirmed" not in text and "Any local user" not in text
    assert "TLS logging is off again" in text
    assert changed_files(original, snapshot(server.root)) == []


def test_cli_watch_does_not_believe_an_ehlo_name(
    watched_blog_server: tuple[Server, dict[str, tuple[str, int, int, int]]],
) -> None:
    """swaks calls itself mail-sor-f41.google.com and says QUIT: once 'Google got through
    TLS', exit 0. Its address's PTR name is even
    under google.com, but that name does not lead back to it: not confirmed, exit 1.
    The main log is writable by everyone here, and the report says what that means."""
    require_program("swaks")
    server, original = watched_blog_server
    server.mainlog.touch()
    server.mainlog.chmod(0o666)
    forged = "mail-sor-f41.google.com"
    swaks = [
        "swaks", "--server", IFACE, "--port", "587", "--local-interface", FORGER_ADDRESS,
        "--ehlo", forged, "--quit-after", "helo", "--to", f"me@{DOMAIN}",
        "--from", f"me@{DOMAIN}", "--timeout", "20",
    ]  # fmt: skip

    def forge() -> None:
        done = subprocess.run(swaks, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr

    status, text = _watch_cli(server, forge, seconds=20)
    assert status == 1, text
    assert f"A client that calls itself Google (not confirmed) ({forged}" in text
    assert f"not confirmed: {GOOGLE_HELO} (the reverse DNS name of {FORGER_ADDRESS})" in text
    assert "said goodbye (QUIT) without starting TLS" in text  # what it did is still told
    assert "No connection confirmed as Google's was seen: 1 client only called itself" in text
    assert "Any local user can write to" in text and "proves nothing by itself" in text
    assert changed_files(original, snapshot(server.root)) == []


def _watch_cli(
    server: Server, connect: Callable[[], object], seconds: int = 60
) -> tuple[int | None, str]:
    """``doctor --watch --yes`` in a thread, with the lab's DNS; ``connect`` once it
    watches. Returns its exit status and output."""
    status: list[int] = []
    output = _Collected()
    with dns_zone(LAB_DNS) as dns, _restarts(server) as reload:
        args = [
            "doctor", "--watch", "--yes", "--root", str(server.root), "--reload-command",
            reload, "--seconds", str(seconds), "--dns-server", dns,
        ]  # fmt: skip
        thread = threading.Thread(target=lambda: status.append(main(args)), daemon=True)
        with _redirected(output):
            thread.start()
            output.wait_for("Now press")
            connect()
            thread.join(seconds + 60)
    return (status[0] if status else None), output.text()


@contextlib.contextmanager
def _restarts(server: Server) -> Iterator[str]:
    """A reload command for the CLI: a script that asks this test to restart its daemon
    (Exim's own SIGHUP re-exec drops root with -C, so it cannot bind port 25 again) and
    waits until it has."""
    flag = server.root.parent / f"{server.root.name}.restart"
    script = server.root.parent / f"{server.root.name}.restart.sh"
    script.write_text(f"#!/bin/sh\ntouch {flag}\nwhile [ -e {flag} ]; do sleep 0.02; done\n")
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            if flag.exists():
                server.restart()
                flag.unlink()
            time.sleep(0.02)

    helper = threading.Thread(target=serve, daemon=True)
    helper.start()
    try:
        yield f"sh {script}"
    finally:
        done.set()
        helper.join(10)
        script.unlink(missing_ok=True)
        flag.unlink(missing_ok=True)


class _Collected(io.StringIO):
    """stdout for a command running in a thread: the test waits for a line in it."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            return super().write(text)

    def text(self) -> str:
        with self.lock:
            return self.getvalue()

    def wait_for(self, words: str) -> None:
        deadline = time.monotonic() + 30
        while words not in self.text():
            assert time.monotonic() < deadline, self.text()
            time.sleep(0.02)


class _redirected:
    def __init__(self, out: io.StringIO) -> None:
        self.out = out

    def __enter__(self) -> None:
        import sys

        self.saved = sys.stdout
        sys.stdout = self.out

    def __exit__(self, *exc: object) -> None:
        import sys

        sys.stdout = self.saved


# --- the log parser, against hostile lines ----------------------------------------------


def _line(text: str, pid: int = 4242) -> str:
    return f"2026-04-16 10:00:00 [{pid}] {text}"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_a_client_cannot_forge_a_watch_line() -> None:
    parser = LogParser()
    forged = 'SMTP protocol error in "AUTH x" H=(gmailfix-watch end=quit from=[1.2.3.4]:5 helo=Z29vZ2xlLmNvbQ==) [127.0.0.1]:999 AUTH command used when not advertised'
    assert parser.feed(_line(forged)) is None
    assert (
        parser.feed(
            _line(
                "gmailfix-watch end=quit from=[127.0.0.1]:999 helo=!!!notbase64 sni=- tls= cipher="
            )
        )
        is not None
    )


def test_parser_reads_every_field_and_bounds_them() -> None:
    parser = LogParser(("google.com",))
    evil = "mail.google.com\x1b]0;pwned\x07" + "x" * 5000
    line = (
        f"gmailfix-watch end=tls-failed port=587 from=[2001:db8::1]:40000 ptr={_b64('a.google.com')} "
        f"helo={_b64(evil)} sni={_b64(HOST)} tls= cipher= authfail=0 auth="
    )
    assert (
        parser.feed(
            _line(
                "TLS error on connection from (x) [2001:db8::1]:40000 (gnutls_handshake): CA is unknown"
            )
        )
        is None
    )
    attempt = parser.feed(_line(line))
    assert attempt is not None
    assert attempt.client == "2001:db8::1:40000" and attempt.claimed == "google.com"  # PTR
    assert attempt.address == "2001:db8::1" and attempt.verdict == "claimed"
    assert attempt.helo is not None and len(attempt.helo) <= 255
    assert attempt.tls_error == "CA is unknown" and attempt.stopped == "tls-refused"
    assert parser.feed(_line(line)) is None  # the same connection is reported once
    assert parser.feed("x" * 100_000) is None and parser.feed("") is None


def test_parser_memory_is_bounded() -> None:
    parser = LogParser()
    for port in range(5000):
        parser.feed(_line(f"TLS error on connection from (h) [10.0.0.1]:{port} (recv): boom"))
    assert len(parser.pending) <= 1000


def test_follow_reads_a_rotated_log(tmp_path: Path) -> None:
    log = tmp_path / "mainlog"
    log.write_text(
        _line(
            "gmailfix-watch end=quit port=587 from=[10.0.0.1]:1 ptr= helo= sni=- tls= cipher= authfail=0 auth="
        )
        + "\n"
    )
    first = next(follow(log, start=0, deadline=time.monotonic() + 5, poll=0.01))
    assert first.client == "10.0.0.1:1" and first.sni is None and first.sni_known
    log.rename(tmp_path / "mainlog.1")
    log.write_text(
        _line(
            "gmailfix-watch end=quit port=587 from=[10.0.0.2]:2 ptr= helo= sni=- tls= cipher= authfail=0 auth="
        )
        + "\n"
    )
    second = next(follow(log, start=10_000, deadline=time.monotonic() + 5, poll=0.01))
    assert second.client == "10.0.0.2:2"


def _watch_line(address: str) -> str:
    return _line(
        f"gmailfix-watch end=quit port=587 from=[{address}]:1 ptr= helo= sni=- tls= cipher= "
        "authfail=0 auth="
    )


def _follow_with(log: Path, change: Callable[[], None]) -> list[str]:
    """The clients ``follow`` reports when ``change`` happens between its first and second
    poll (``stop`` is asked between polls), with nothing else in between."""
    calls: list[int] = []

    def stop() -> bool:
        calls.append(1)
        if len(calls) == 1:
            change()
        return len(calls) > 1

    return [a.client for a in follow(log, start=0, stop=stop, poll=0)]


def test_follow_reads_a_log_cut_and_grown_again_between_polls(tmp_path: Path) -> None:
    """copytruncate, then more connections before the next poll: the file has the same
    inode and is longer than where reading stopped, but it is a new log."""
    log = tmp_path / "mainlog"
    log.write_text(_watch_line("10.0.0.1") + "\n")

    def copytruncate() -> None:
        (tmp_path / "mainlog.1").write_bytes(log.read_bytes())
        with open(log, "r+b") as handle:
            handle.truncate(0)
            handle.write(f"{_watch_line('10.0.0.2')}\n{_watch_line('10.0.0.3')}\n".encode())

    assert _follow_with(log, copytruncate) == ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"]


def test_follow_reads_a_renamed_log_to_its_end(tmp_path: Path) -> None:
    """The MTA wrote one more line to the old file just before it was renamed away: that
    line is read, then the new file from its start."""
    log = tmp_path / "mainlog"
    log.write_text(_watch_line("10.0.0.1") + "\n")

    def rotate() -> None:
        with open(log, "a") as handle:
            handle.write(_watch_line("10.0.0.2") + "\n")
        log.rename(tmp_path / "mainlog.1")
        log.write_text(_watch_line("10.0.0.3") + "\n")

    assert _follow_with(log, rotate) == ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"]


def _in_thread(path: Path, run: Callable[[], object]) -> BaseException | None:
    """What ``run`` raised, or None; a ``run`` stuck opening a FIFO is released (a writer
    opens it) and the test fails."""
    raised: list[BaseException] = []

    def target() -> None:
        try:
            run()
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(60)
    if thread.is_alive():
        with open(os.open(path, os.O_WRONLY | os.O_NONBLOCK), "wb"):
            pass
        thread.join(10)
        pytest.fail("it hung on the FIFO")
    return raised[0] if raised else None


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_follow_refuses_a_fifo_or_folder(tmp_path: Path, kind: str) -> None:
    log = tmp_path / "mainlog"
    os.mkfifo(log) if kind == "fifo" else log.mkdir()
    raised = _in_thread(log, lambda: list(follow(log, deadline=time.monotonic() + 1, poll=0.01)))
    assert isinstance(raised, ServerError), raised
    assert (
        str(raised)
        == f"{log} is {'a FIFO (named pipe)' if kind == 'fifo' else 'a folder'}, not a log file gmailfix can read"
    )


def test_follow_refuses_a_fifo_put_there_later(tmp_path: Path) -> None:
    log = tmp_path / "mainlog"
    log.write_text(_watch_line("10.0.0.1") + "\n")

    def plant() -> None:
        log.unlink()
        os.mkfifo(log)

    raised = _in_thread(log, lambda: _follow_with(log, plant))
    assert isinstance(raised, ServerError) and "FIFO" in str(raised)


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_cli_watch_refuses_a_fifo_or_folder_before_any_change(
    kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """One line, exit 2, nothing changed, and never a hang past --seconds."""
    with debian_server("debian-single") as server:
        server.add_macros(blog_certificate(server))
        server.generate()
        original = snapshot(server.root)
        log = server.mainlog
        log.unlink(missing_ok=True)
        os.mkfifo(log) if kind == "fifo" else log.mkdir()
        args = ["doctor", "--watch", "--yes", "--root", str(server.root), "--seconds", "2"]
        args += ["--reload-command", "true", "--dns-server", "127.0.0.1:9"]
        status: list[int] = []
        raised = _in_thread(log, lambda: status.append(main(args)))
        assert raised is None and status == [2]
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "not a log file gmailfix can read" in error
        assert changed_files(original, snapshot(server.root)) == []


def test_the_watch_engine_writes_no_command_line_words() -> None:
    """Command-line words live in gmailfix/cli: the watch's engine modules name no option
    of gmailfix's own in any text they make (docstrings aside)."""
    import ast

    from gmailfix.cli.main import build_parser

    options = _option_strings(build_parser())
    assert "--watch" in options and "--client" in options
    modules = ("watch", "watch_log", "watch_exim", "watch_postfix", "fcrdns", "stop_signals")
    for name in modules:
        path = Path(__file__).resolve().parents[1] / "gmailfix/server" / f"{name}.py"
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) in docstrings:
                    continue
                found = [o for o in options if re.search(rf"{o}(?![\w-])", node.value)]
                assert not found, f"{name}.py line {node.lineno}: {found}"


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    found: set[str] = set()
    for action in parser._actions:
        found |= {o for o in action.option_strings if o.startswith("--")}
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _option_strings(sub)
    return found - {"--help"}
