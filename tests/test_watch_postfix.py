"""gmailfix doctor --watch on real Postfix 3.7: what a Gmail-like client did, from its log.

The server is Debian's Postfix with logins on 587 and 465 (Dovecot) and the
snakeoil certificate, which a Gmail-like client refuses with a TLS alert.
Its smtpd runs outside the chroot here, so the loopback client's name in
its log is ``localhost`` (in the chroot it is ``unknown``). Who the client
is, gmailfix asks the lab's DNS server (LAB_DNS): there 127.0.0.1's reverse
DNS name is a Google name that leads back to it, which makes it Google; a
name in Postfix's log alone (``--client localhost``) does not. The parser
tests at the end run over lines captured from this Postfix (docs/FACTS.md).
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
from gmailfix.dns import make_resolver
from gmailfix.server.apply import apply, rollback
from gmailfix.server.fcrdns import Confirmer
from gmailfix.server.system import Ran, Root, run_command
from gmailfix.server.watch import follow, plan_watch, watched_log
from gmailfix.server.watch_log import Attempt, describe, log_size
from gmailfix.server.watch_postfix import PostfixLogParser
from tests.support.servers import dns_zone
from tests.test_watch import _Collected, _redirected

RELOAD = ("test-reload",)
LOOPBACK = ("google.com", "localhost")
GOOGLE_NAME = "mail-yw1-f170.google.com"
LAB_DNS = [("1.0.0.127.in-addr.arpa", "PTR", f"{GOOGLE_NAME}."), (GOOGLE_NAME, "A", "127.0.0.1")]


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
    with dns_zone(LAB_DNS) as dns:
        confirm = Confirmer(make_resolver(dns_server=dns, timeout=5), LOOPBACK, 5)
        identity = confirm("127.0.0.1")
    assert identity.confirmed == GOOGLE_NAME and identity.domain == "google.com"
    for attempt in (refused13, refused12):
        assert attempt.claimed == "localhost" and attempt.verdict == "claimed"  # a logged name
        assert attempt.with_identity(identity).confirmed == "google.com"  # DNS of its address
        assert attempt.ptr == "localhost" and attempt.client == attempt.address == "127.0.0.1"
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
    assert f"confirmed by DNS: 127.0.0.1 is {GOOGLE_NAME}" in refused[1]
    assert "stopped in the TLS handshake: Postfix says 'tlsv1 alert unknown ca" in refused[1]
    assert "TLS logging is off again" in refused[1]
    assert watched.files() == watched.original

    done = _watch_cli(watched, f"sh {reload}", lambda: client(watched.ports[587], verify=False))
    assert done[0] == 0, done[1]
    assert "  TLS: TLSv1.3, cipher TLS_" in done[1] and "said goodbye (QUIT)" in done[1]
    assert watched.files() == watched.original


def test_cli_watch_on_postfix_does_not_believe_its_logged_name(
    watched: Watched, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Postfix logs the client as 'localhost' and the client gets through TLS and says
    QUIT; watched for with --client localhost, that was exit 0. DNS has no name for
    127.0.0.1 here: the logged name is only a claim, so not confirmed, exit 1."""
    from tests.support.postfix import Postfix

    pf = watched.pf
    assert isinstance(pf, Postfix)
    for name in ("PATH", "LD_LIBRARY_PATH"):
        monkeypatch.setenv(name, pf.env()[name])
    reload = watched.root / "reload.sh"
    reload.write_text(_reload_script(pf))
    status, text = _watch_cli(
        watched,
        f"sh {reload}",
        lambda: client(watched.ports[587], verify=False),
        records=[],
        seconds=15,
    )
    assert status == 1, text
    assert "A client that calls itself localhost (not confirmed) (localhost)" in text
    assert "not confirmed: 127.0.0.1 has no reverse DNS name" in text
    assert "No connection confirmed as Google's was seen: 1 client only called itself" in text
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


def _watch_cli(
    watched: Watched,
    reload: str,
    connect: Callable[[], str],
    records: Sequence[tuple[str, str, str]] = LAB_DNS,
    seconds: int = 30,
) -> tuple[int, str]:
    """``doctor --watch --yes`` in a thread, asking the lab's DNS server with ``records``
    (watching for 'localhost' too, the name Postfix logs)."""
    status: list[int] = []
    output = _Collected()
    with dns_zone(records) as dns:
        args = ["doctor", "--watch", "--yes", "--root", str(watched.root), "--dns-server", dns]
        args += ["--reload-command", reload, "--client", "localhost", "--seconds", str(seconds)]
        thread = threading.Thread(target=lambda: status.append(main(args)), daemon=True)
        with _redirected(output):
            thread.start()
            output.wait_for("Now press")
            connect()
            thread.join(seconds + 60)
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
    assert google.claimed == "google.com" and google.verdict == "claimed"  # a logged name
    assert google.ptr == "mail-yw1-f170.google.com" and google.helo is None
    assert (google.client, google.server_port, google.sni_known) == ("209.85.128.170", 587, False)
    assert google.stopped == "tls-refused" and google.ended == "lost connection after STARTTLS"
    assert wrong.ptr is None and wrong.claimed is None and wrong.stopped == "auth-refused"
    assert wrong.auth_refused == "PLAIN: (reason unavailable)"  # not the client's user name
    assert wrong.tls_version == "TLSv1.3" and wrong.cipher == "TLS_AES_256_GCM_SHA384"
    assert (unmatched.sni, unmatched.sni_known, unmatched.server_port) == ("other.test", True, None)
    assert (named.sni, named.server_port, named.stopped) == ("mail.example.test", 465, "quit")
    words = "\n".join(describe(google))
    assert "calls itself Google (not confirmed) (mail-yw1-f170.google.com) on port 587" in words
    assert "its address was not checked in DNS" in words and "Exim" not in words


def test_parser_reads_rsyslogs_precise_time_stamps() -> None:
    """Debian 12's rsyslog writes RFC 3339 time stamps in /var/log/mail.log."""
    parser = PostfixLogParser()
    stamp = "2026-04-16T10:00:00.123456+02:00 mx postfix/smtps/smtpd[9]: "
    assert parser.feed(stamp + "connect from mail-yw1-f170.google.com[209.85.128.170]") is None
    ended = parser.feed(stamp + "disconnect from mail-yw1-f170.google.com[209.85.128.170] quit=1")
    assert ended is not None and ended.claimed == "google.com" and ended.server_port == 465


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
    assert ended is not None and ended.claimed is None and ended.ended == "quit"
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
    assert first.mta == "postfix" and first.claimed == "google.com"
    assert next(follow(log, start=0, deadline=time.monotonic() + 0.2, poll=0.01), None) is None


def _postfix_copy(root: Path) -> Callable[[str], object]:
    """A Postfix config under ``root``, and a runner whose postconf prints ``output``."""
    (root / "etc/postfix").mkdir(parents=True)
    (root / "etc/postfix/main.cf").write_text("")

    def postconf(output: str) -> object:
        return lambda argv: Ran(tuple(argv), 0, output)

    return postconf


def test_log_path_errors_are_clear(tmp_path: Path) -> None:
    """No maillog_file and no syslog mail log, or something other than a file at the log's
    path: a clear error, not a traceback or a hang."""
    import os

    from gmailfix.server.mta import detect
    from gmailfix.server.system import ServerError
    from gmailfix.server.watch_postfix import postfix_log

    postconf = _postfix_copy(tmp_path)
    setup = detect(Root(tmp_path))
    with pytest.raises(ServerError, match="mail\\.log"):
        postfix_log(setup, postconf("maillog_file =\n"))  # type: ignore[arg-type]
    (tmp_path / "var/log").mkdir(parents=True)
    (tmp_path / "var/log/mail.log").write_text("")
    log = postfix_log(setup, postconf("maillog_file =\ntls_server_sni_maps = x\n"))  # type: ignore[arg-type]
    assert log.path == tmp_path / "var/log/mail.log" and log.sni_logged
    with pytest.raises(ServerError, match="is a folder, not a log file"):
        postfix_log(setup, postconf("maillog_file = /var/log\n"))  # type: ignore[arg-type]
    os.mkfifo(tmp_path / "var/log/postfix.log")
    with pytest.raises(ServerError, match="is a FIFO \\(named pipe\\), not a log file"):
        postfix_log(setup, postconf("maillog_file = /var/log/postfix.log\n"))  # type: ignore[arg-type]


def test_a_log_any_local_user_can_write_is_named(tmp_path: Path) -> None:
    """Through syslog anyone can add Postfix-looking lines (logger); a maillog_file that is
    writable by everyone, in a folder anyone can write, or fed by a set-gid postlog, too."""
    from gmailfix.server.mta import detect
    from gmailfix.server.watch_postfix import postfix_log

    postconf = _postfix_copy(tmp_path)
    setup = detect(Root(tmp_path))
    logs = tmp_path / "var/log"
    logs.mkdir(parents=True)
    (logs / "mail.log").write_text("")
    syslog = postfix_log(setup, postconf("maillog_file =\n"))  # type: ignore[arg-type]
    assert syslog.forgeable is not None and "logger command" in syslog.forgeable

    own = postconf("maillog_file = /var/log/postfix.log\ncommand_directory = /usr/sbin\n")
    (logs / "postfix.log").write_text("")
    (logs / "postfix.log").chmod(0o640)
    assert postfix_log(setup, own).forgeable is None  # type: ignore[arg-type]
    (logs / "postfix.log").chmod(0o646)
    assert "writable by everyone" in (postfix_log(setup, own).forgeable or "")  # type: ignore[arg-type]
    (logs / "postfix.log").chmod(0o640)
    logs.chmod(0o777)
    assert "its folder is writable" in (postfix_log(setup, own).forgeable or "")  # type: ignore[arg-type]
    logs.chmod(0o1777)  # sticky, as /tmp: others cannot replace the file
    assert postfix_log(setup, own).forgeable is None  # type: ignore[arg-type]
    logs.chmod(0o755)
    postlog = tmp_path / "usr/sbin/postlog"
    postlog.parent.mkdir(parents=True)
    postlog.write_text("")
    postlog.chmod(0o2755)  # as Postfix 3.7 installs it (postfix-files: 2755, group postdrop)
    assert "postlog command" in (postfix_log(setup, own).forgeable or "")  # type: ignore[arg-type]


def test_a_line_anyone_wrote_is_not_google(tmp_path: Path) -> None:
    """Lines as ``logger -t postfix/submission/smtpd[PID]`` writes them into mail.log, naming
    Google's name and one of its real addresses: a claim only, since DNS (the lab's, which
    has no name for that address) does not confirm it."""
    log = tmp_path / "mail.log"
    log.write_text("\n".join(CAPTURED.splitlines()[:5]) + "\n")
    forged = next(follow(log, start=0, deadline=time.monotonic() + 5, poll=0.01, mta="postfix"))
    with dns_zone([]) as dns:
        confirm = Confirmer(make_resolver(dns_server=dns, timeout=5), ("google.com",), 5)
        assert forged.address is not None
        identified = forged.with_identity(confirm(forged.address))
    assert identified.claimed == "google.com" and identified.verdict == "claimed"
    words = "\n".join(describe(identified))
    assert "calls itself Google (not confirmed)" in words
    assert "not confirmed: 209.85.128.170 has no reverse DNS name" in words
