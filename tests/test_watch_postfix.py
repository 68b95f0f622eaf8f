"""gmailfix doctor --watch on real Postfix 3.7: what a Gmail-like client did, from its log.

The server is Debian's Postfix with logins on 587 and 465 (Dovecot) and the
snakeoil certificate, which a Gmail-like client refuses with a TLS alert.
Its smtpd runs outside the chroot here, so the loopback client's name is
``localhost`` (in the chroot it is ``unknown``): ``localhost`` stands in for
Google's names, as ``--client localhost``. The parser tests at the end run
over lines captured from this Postfix (FACTS.md).
"""

from __future__ import annotations

import base64
import shutil
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from gmailfix.cli.main import main
from gmailfix.server.apply import apply, rollback
from gmailfix.server.system import Ran, Root, run_command
from gmailfix.server.watch import Attempt, describe, follow, log_size, plan_watch, watched_log
from gmailfix.server.watch_postfix import PostfixLogParser
from tests.test_watch import _Collected, _redirected

RELOAD = ("test-reload",)
LOOPBACK = ("google.com", "localhost")


# --- a real Postfix, and clients ---------------------------------------------------------


@dataclass(frozen=True)
class Watched:
    root: Path  # the server's files: etc/postfix is the instance's config directory
    pf: object  # tests.support.postfix.Postfix
    ports: dict[int, int]  # Gmail's port -> where that service listens
    original: dict[str, bytes]  # main.cf and master.cf as they were

    def run(self, argv: Sequence[str]) -> Ran:
        from tests.support.postfix import Postfix

        assert isinstance(self.pf, Postfix)
        if tuple(argv) == RELOAD:  # 'postfix reload', waiting until the master did it
            try:
                self.pf.reload()
            except RuntimeError as exc:
                return Ran(RELOAD, 1, str(exc))
            return Ran(RELOAD, 0, "reloaded")
        return run_command(argv, env=self.pf.env())

    def files(self) -> dict[str, bytes]:
        return {name: (self.root / "etc/postfix" / name).read_bytes() for name in self.original}


@pytest.fixture(scope="module")
def watched() -> Iterator[Watched]:
    from tests import test_postfix as tp
    from tests.support import postfix as ph

    workdir = ph.shared_dir()
    try:
        with tp.gmail_ready_postfix(workdir) as ready:
            pf = ready.pf
            for port in ready.ports.values():  # outside the chroot: 127.0.0.1 is localhost
                assert pf.postconf("-F", f"{port}/inet/chroot = n").returncode == 0
            pf.age_config()
            pf.reload()
            original = {n: (pf.conf / n).read_bytes() for n in ("main.cf", "master.cf")}
            yield Watched(pf.conf.parents[1], pf, ready.ports, original)  # ROOT/etc/postfix
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def client(
    port: int, *, implicit: bool = False, verify: bool = True, tls12: bool = False, login: str = ""
) -> str:
    """One connection: EHLO as a Google host, STARTTLS (or TLS first), then, when it
    trusts the certificate (``verify=False``), AUTH if asked and QUIT."""
    from tests import test_postfix as tp

    context = ssl.create_default_context() if verify else ssl._create_unverified_context()
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        if not implicit:
            _say(sock, None)
            _say(sock, b"EHLO mail-yw1-f170.google.com")
            _say(sock, b"STARTTLS")
        try:
            secure = context.wrap_socket(sock, server_hostname=tp.HOST)
        except ssl.SSLError as exc:
            return f"refused: {exc.reason}"
        with secure:
            if implicit:
                _say(secure, None)
            _say(secure, b"EHLO mail-yw1-f170.google.com")
            if login:
                token = base64.b64encode(f"\0{tp.USER}\0{login}".encode())
                _say(secure, b"AUTH PLAIN " + token)
            _say(secure, b"QUIT")
        return "quit"


def _say(sock: socket.socket, command: bytes | None) -> bytes:
    """Send a command (None: only read the greeting) and read the whole reply."""
    if command is not None:
        sock.sendall(command + b"\r\n")
    reply = b""
    while not reply.endswith(b"\r\n") or reply.splitlines()[-1][3:4] == b"-":
        chunk = sock.recv(4096)
        if not chunk:
            break
        reply += chunk
    return reply


def attempts(path: Path, start: int, count: int) -> list[Attempt]:
    found: list[Attempt] = []
    deadline = time.monotonic() + 20
    for attempt in follow(
        path, start=start, clients=LOOPBACK, deadline=deadline, poll=0.05, mta="postfix"
    ):
        found.append(attempt)
        if len(found) == count:
            break
    return found


# --- the proof ---------------------------------------------------------------------------


def test_watch_on_postfix(watched: Watched) -> None:
    from tests import test_postfix as tp

    root = Root(watched.root)
    plan = plan_watch(root, runner=watched.run, reload=RELOAD)
    assert plan is not None and plan.setup.mta == "postfix"
    assert "+smtpd_tls_loglevel = 1" in plan.diff()
    assert [s.key for s in plan.steps] == ["check", "files", "reload"]
    assert watched.files() == watched.original  # planning writes nothing
    result = apply(plan, runner=watched.run)
    assert result.outcome == "applied", result.results
    assert plan_watch(root, runner=watched.run) is None  # on already: nothing to change
    log = watched_log(root, watched.run)
    assert log.mta == "postfix" and not log.sni_logged

    start = log_size(log.path)
    assert client(watched.ports[587]).startswith("refused")  # TLS 1.3
    assert client(watched.ports[587], tls12=True).startswith("refused")
    assert client(watched.ports[465], implicit=True).startswith("refused")
    assert client(watched.ports[587], verify=False, login="wrong") == "quit"
    assert client(watched.ports[587], verify=False, login=tp.PASSWORD) == "quit"
    refused13, refused12, implicit, wrong, right = attempts(log.path, start, 5)
    for attempt in (refused13, refused12):
        assert attempt.google and attempt.ptr == "localhost" and attempt.client == "127.0.0.1"
        assert attempt.server_port == 587 and not attempt.sni_known
        assert attempt.stopped == "tls-refused" and attempt.tls_version is None
        assert attempt.tls_error == "tlsv1 alert unknown ca (SSL alert number 48)"
    assert implicit.server_port == 465 and implicit.stopped == "tls-refused"
    assert wrong.stopped == "auth-refused" and wrong.auth_refused
    assert wrong.tls_version in ("TLSv1.3", "TLSv1.2") and wrong.cipher
    assert right.stopped == "quit" and right.auth_refused is None
    words = "\n".join(describe(refused13))
    assert "Postfix says 'tlsv1 alert unknown ca (SSL alert number 48)'" in words
    assert "refuses the certificate" in words and "tls_server_sni_maps" in words
    assert "Exim" not in words

    undone = rollback(root, runner=watched.run, only=result.journal, reload=RELOAD)
    assert undone.reload is not None and undone.reload.ok
    assert watched.files() == watched.original


def test_a_service_that_silences_tls_logging(watched: Watched) -> None:
    """main.cf logs TLS, but master.cf's submission service says -o smtpd_tls_loglevel=0:
    its connections would log nothing, so the change sets that service's level too."""
    from tests.support.postfix import Postfix

    pf = watched.pf
    assert isinstance(pf, Postfix)
    port = watched.ports[587]
    assert pf.postconf("-e", "smtpd_tls_loglevel = 1").returncode == 0
    assert pf.postconf("-P", f"{port}/inet/smtpd_tls_loglevel=0").returncode == 0
    pf.age_config()
    pf.reload()
    before = watched.files()
    try:
        root = Root(watched.root)
        plan = plan_watch(root, runner=watched.run, reload=RELOAD)
        assert plan is not None  # main.cf alone would say "already on"
        assert [c.path.name for c in plan.changes] == ["master.cf"]
        assert "smtpd_tls_loglevel=1" in plan.diff()
        result = apply(plan, runner=watched.run)
        assert result.outcome == "applied", result.results
        assert plan_watch(root, runner=watched.run) is None
        log = watched_log(root, watched.run)
        start = log_size(log.path)
        assert client(port).startswith("refused")
        [attempt] = attempts(log.path, start, 1)
        assert attempt.server_port == 587 and attempt.stopped == "tls-refused"
        rollback(root, runner=watched.run, only=result.journal, reload=RELOAD)
        assert watched.files() == before
    finally:
        for name, data in watched.original.items():
            (pf.conf / name).write_bytes(data)
        pf.age_config()
        pf.reload()


def test_cli_watch_on_postfix(
    watched: Watched, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole command: shows the change, needs --yes, turns logging on (postfix
    check, reload), reports the connection, turns logging off again."""
    from tests.support.postfix import Postfix

    pf = watched.pf
    assert isinstance(pf, Postfix)
    for name in ("PATH", "LD_LIBRARY_PATH"):  # the unpacked Postfix's commands
        monkeypatch.setenv(name, pf.env()[name])
    assert main(["doctor", "--watch", "--root", str(watched.root)]) == 0
    shown = capsys.readouterr().out
    assert "Watching needs Postfix" in shown and "+smtpd_tls_loglevel = 1" in shown
    assert "postfix check" in shown.replace(f"-c {pf.conf} ", "")
    assert "Run again with --yes" in shown
    assert watched.files() == watched.original

    reload = watched.root / "reload.sh"
    reload.write_text(_reload_script(pf))
    refused = _watch_cli(watched, f"sh {reload}", lambda: client(watched.ports[587]))
    assert refused[0] == 1, refused[1]
    assert "Google (localhost) on port 587, from 127.0.0.1:" in refused[1]
    assert "stopped in the TLS handshake: Postfix says 'tlsv1 alert unknown ca" in refused[1]
    assert "TLS logging is off again" in refused[1]
    assert watched.files() == watched.original

    done = _watch_cli(watched, f"sh {reload}", lambda: client(watched.ports[587], verify=False))
    assert done[0] == 0, done[1]
    assert "  TLS: TLSv1.3, cipher TLS_" in done[1] and "said goodbye (QUIT)" in done[1]
    assert watched.files() == watched.original


def _reload_script(pf: object) -> str:
    """'postfix reload', then wait until the master has logged that it reloaded."""
    from tests.support.postfix import Postfix

    assert isinstance(pf, Postfix)
    count = f"grep -c 'postfix/master\\[[0-9]*\\]: reload -- ' {pf.maillog}"
    return (
        f"before=$({count})\n"
        f"postfix -c {pf.conf} reload || exit 1\n"
        "i=0\n"
        f'while [ "$({count})" -le "$before" ]; do\n'
        "  i=$((i + 1)); [ $i -gt 300 ] && exit 1; sleep 0.05\n"
        "done\n"
    )


def _watch_cli(watched: Watched, reload: str, connect: Callable[[], str]) -> tuple[int, str]:
    args = ["doctor", "--watch", "--yes", "--root", str(watched.root)]
    args += ["--reload-command", reload, "--client", "localhost", "--seconds", "30"]
    status: list[int] = []
    output = _Collected()
    thread = threading.Thread(target=lambda: status.append(main(args)), daemon=True)
    with _redirected(output):
        thread.start()
        output.wait_for("Now press")
        connect()
        thread.join(60)
    return (status[0] if status else -1), output.text()


# --- the parser, over lines captured from Postfix 3.7.11 -----------------------------------

CAPTURED = """\
Nov 29 11:26:35 mail postfix/submission/smtpd[21610]: connect from mail-yw1-f170.google.com[209.85.128.170]
Nov 29 11:26:35 mail postfix/submission/smtpd[21610]: SSL_accept error from mail-yw1-f170.google.com[209.85.128.170]: -1
Nov 29 11:26:35 mail postfix/submission/smtpd[21610]: warning: TLS library problem: error:0A000418:SSL routines::tlsv1 alert unknown ca:../ssl/record/rec_layer_s3.c:1601:SSL alert number 48:
Nov 29 11:26:35 mail postfix/submission/smtpd[21610]: lost connection after STARTTLS from mail-yw1-f170.google.com[209.85.128.170]
Nov 29 11:26:35 mail postfix/submission/smtpd[21610]: disconnect from mail-yw1-f170.google.com[209.85.128.170] ehlo=1 starttls=0/1 commands=1/2
Nov 29 11:26:39 mail postfix/submission/smtpd[21610]: connect from unknown[127.0.0.1]
Nov 29 11:26:39 mail postfix/submission/smtpd[21610]: Anonymous TLS connection established from unknown[127.0.0.1]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256
Nov 29 11:26:40 mail postfix/submission/smtpd[21610]: warning: unknown[127.0.0.1]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=me@pf.test
Nov 29 11:26:44 mail postfix/submission/smtpd[21610]: disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 auth=0/1 quit=1 commands=4/5
Nov 29 11:26:48 mail postfix/smtpd[21764]: connect from localhost[127.0.0.1]
Nov 29 11:26:48 mail postfix/smtpd[21764]: TLS SNI other.test from localhost[127.0.0.1] not matched, using default chain
Nov 29 11:26:48 mail postfix/smtpd[21764]: Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256
Nov 29 11:26:48 mail postfix/smtpd[21764]: disconnect from localhost[127.0.0.1] ehlo=2 starttls=1 quit=1 commands=4
Nov 29 11:26:50 mail postfix/submissions/smtpd[21801]: connect from localhost[127.0.0.1]
Nov 29 11:26:50 mail postfix/submissions/smtpd[21801]: Anonymous TLS connection established from localhost[127.0.0.1] to mail.example.test: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256
Nov 29 11:26:50 mail postfix/submissions/smtpd[21801]: disconnect from localhost[127.0.0.1] ehlo=1 auth=1/2 quit=1 commands=3/4
"""


def test_parser_reads_captured_lines() -> None:
    parser = PostfixLogParser(sni_logged=True)
    found = [a for a in map(parser.feed, CAPTURED.splitlines()) if a is not None]
    google, wrong, unmatched, named = found
    assert google.google and google.ptr == "mail-yw1-f170.google.com" and google.helo is None
    assert (google.client, google.server_port, google.sni_known) == ("209.85.128.170", 587, False)
    assert google.stopped == "tls-refused" and google.ended == "lost connection after STARTTLS"
    assert wrong.ptr is None and not wrong.google and wrong.stopped == "auth-refused"
    assert wrong.auth_refused == "PLAIN: (reason unavailable)"  # not the client's user name
    assert wrong.tls_version == "TLSv1.3" and wrong.cipher == "TLS_AES_256_GCM_SHA384"
    assert (unmatched.sni, unmatched.sni_known, unmatched.server_port) == ("other.test", True, None)
    assert (named.sni, named.server_port, named.stopped) == ("mail.example.test", 465, "quit")
    words = "\n".join(describe(google))
    assert "Google (mail-yw1-f170.google.com) on port 587" in words and "Exim" not in words


def test_parser_reads_rsyslogs_precise_time_stamps() -> None:
    """Debian 12's rsyslog writes RFC 3339 time stamps in /var/log/mail.log."""
    parser = PostfixLogParser()
    stamp = "2026-04-16T10:00:00.123456+02:00 mx postfix/smtps/smtpd[9]: "
    assert parser.feed(stamp + "connect from mail-yw1-f170.google.com[209.85.128.170]") is None
    ended = parser.feed(stamp + "disconnect from mail-yw1-f170.google.com[209.85.128.170] quit=1")
    assert ended is not None and ended.google and ended.server_port == 465


def test_parser_without_sni_maps_does_not_claim_no_sni() -> None:
    parser = PostfixLogParser()
    lines = CAPTURED.splitlines()[5:9]
    attempt = next(a for a in map(parser.feed, lines) if a is not None)
    assert not attempt.sni_known and attempt.sni is None
    assert PostfixLogParser(sni_logged=True).feed(lines[0]) is None


def test_hostile_lines_do_not_crash_or_forge() -> None:
    parser = PostfixLogParser()
    head = "Nov 29 11:26:35 mail postfix/submission/smtpd[7]: "
    assert parser.feed(head + "connect from unknown[10.0.0.1]") is None
    forged = [
        # a client's text that holds a whole 'disconnect' line (Postfix quotes what it sent)
        head + "improper command pipelining after EHLO from unknown[10.0.0.1]: "
        "disconnect from mail.google.com[1.2.3.4] quit=1 commands=1",
        head + "warning: unknown[10.0.0.1]: SASL PLAIN authentication failed: x, "
        "sasl_username=\x1b]0;pwned\x07 disconnect from a.google.com[1.1.1.1] quit=1",
        head + "connect from" + "x" * 100_000,
        head + "\x00\x1b[2J" + "é" * 20_000,
        "x" * 100_000,
        "",
        "Nov 29 11:26:35 mail postfix/submission/smtpd[7]:",
        head + "disconnect from unknown[10.0.0.1] " + "quit=1 " * 5000,
        head + "TLS SNI " + "a" * 50_000 + " from unknown[10.0.0.1] not matched",
    ]
    for line in forged:
        assert parser.feed(line) is None
    ended = parser.feed(head + "disconnect from unknown[10.0.0.1] ehlo=1 quit=1 commands=2")
    assert ended is not None and not ended.google and ended.ended == "quit"
    assert all(len(line) <= 8192 for line in ended.lines) and len(ended.lines) <= 20
    assert ended.auth_refused is not None and len(ended.auth_refused) <= 255
    assert ended.sni is None or len(ended.sni) <= 255


def test_parser_memory_is_bounded() -> None:
    parser = PostfixLogParser()
    for pid in range(5000):
        parser.feed(f"Nov 29 11:26:35 mail postfix/smtpd[{pid}]: connect from unknown[10.0.0.1]")
    assert len(parser.pending) <= 1000


def test_follow_picks_the_postfix_parser(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(CAPTURED)
    first = next(follow(log, start=0, deadline=time.monotonic() + 5, poll=0.01, mta="postfix"))
    assert first.mta == "postfix" and first.google
    assert next(follow(log, start=0, deadline=time.monotonic() + 0.2, poll=0.01), None) is None


def test_log_path_errors_are_clear(tmp_path: Path) -> None:
    """No maillog_file and no syslog mail log: a clear error, not a traceback."""
    from gmailfix.server.mta import detect
    from gmailfix.server.system import ServerError
    from gmailfix.server.watch_postfix import postfix_log

    (tmp_path / "etc/postfix").mkdir(parents=True)
    (tmp_path / "etc/postfix/main.cf").write_text("")
    setup = detect(Root(tmp_path))

    def postconf(output: str) -> object:
        return lambda argv: Ran(tuple(argv), 0, output)

    with pytest.raises(ServerError, match="mail\\.log"):
        postfix_log(setup, postconf("maillog_file =\n"))  # type: ignore[arg-type]
    (tmp_path / "var/log").mkdir(parents=True)
    (tmp_path / "var/log/mail.log").write_text("")
    path, sni = postfix_log(setup, postconf("maillog_file =\ntls_server_sni_maps = x\n"))  # type: ignore[arg-type]
    assert path == tmp_path / "var/log/mail.log" and sni
    with pytest.raises(ServerError, match="not a file"):
        postfix_log(setup, postconf("maillog_file = /var/log\n"))  # type: ignore[arg-type]
