"""gmailfix doctor --watch on real Exim: what a Gmail-like client did, read from the log.

The client behaves as Gmail's "Add account" check does: EHLO as a
mail-*.google.com host, STARTTLS with SNI = the SMTP Server, and a refusal of
a certificate it does not trust with a TLS alert (Python's ssl, verifying).
"""

from __future__ import annotations

import base64
import contextlib
import io
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gmailfix.cli.main import main
from gmailfix.server.apply import apply, rollback
from gmailfix.server.system import Root
from gmailfix.server.watch import Attempt, LogParser, describe, follow, log_size, plan_watch
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
    single_macros_visible,
    snapshot,
)

pytestmark = pytest.mark.exim
GOOGLE_HELO = "mail-yw1-f170.google.com"
PASSWORD = "a password 7"


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
) -> str:
    """One connection as Gmail's check makes it; returns how it ended for the client."""
    context = ssl.create_default_context(cafile=str(trust) if trust else None)
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    sock = _connect(port)
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


def _connect(port: int) -> socket.socket:
    """Connect, also while a reloading Exim re-binds its ports (bounded)."""
    deadline = time.monotonic() + 15
    while True:
        try:
            return socket.create_connection((IFACE, port), timeout=10)
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
        if not attempt.google and attempt.ended != "tls-error":
            continue  # the harness's own "is it listening yet?" connections
        found.append(attempt)
        if len(found) == count:
            break
    return found


@pytest.fixture
def watched_blog_server() -> Iterator[tuple[Server, dict[str, tuple[str, int, int, int]]]]:
    with debian_server("debian-single") as server:
        server.add_macros(blog_certificate(server))
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
        assert attempt.google and attempt.helo == GOOGLE_HELO
        assert (attempt.sni, attempt.sni_known, attempt.server_port) == (HOST, True, 587)
        assert attempt.stopped == "tls-refused" and attempt.tls_version is None
    assert second.tls_error == "CA is unknown"  # the alert's name, over TLS 1.2
    assert other.helo == "client.example" and other.google  # named with clients=
    alone = LogParser().feed(other.lines[-1])  # Google's names only: not one of Google's
    assert alone is not None and not alone.google
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
    Exim), reports Google's connection, and turns logging off again."""
    server, original = watched_blog_server
    with single_macros_visible():
        assert main(["doctor", "--watch", "--root", str(server.root)]) == 0
    shown = capsys.readouterr().out
    assert "+MAIN_LOG_SELECTOR" in shown and "Run again with --yes" in shown
    assert changed_files(original, snapshot(server.root)) == []

    status: list[int] = []
    output = _Collected()
    with single_macros_visible(), _restarts(server) as reload:
        args = [
            "doctor",
            "--watch",
            "--yes",
            "--root",
            str(server.root),
            "--reload-command",
            reload,
            "--seconds",
            "30",
        ]
        thread = threading.Thread(target=lambda: status.append(main(args)), daemon=True)
        with _redirected(output):
            thread.start()
            output.wait_for("Now press")
            assert gmail_like().startswith("refused")
            thread.join(60)
    text = output.text()
    assert status == [1], text
    assert f"Google ({GOOGLE_HELO}) on port 587" in text
    assert f"name asked for (SNI): {HOST}" in text
    assert "TLS logging is off again" in text
    assert changed_files(original, snapshot(server.root)) == []


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
    assert attempt.client == "2001:db8::1:40000" and attempt.google  # by its PTR name
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
