"""Real Postfix 3.7 (and Dovecot for its logins) for tests, on loopback.

Debian's postfix conflicts with exim4, so it is never installed: scripts/test
unpacks its package into ``.cache/postfix-root`` (or set GMAILFIX_POSTFIX_ROOT)
and every test instance runs from there with its own config directory, queue
and log (docs/FACTS.md, "A real Postfix next to Exim"). The ``postfix`` command
prints its errors only to a terminal or to ``maillog_file``: failures quote
the log.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from gmailfix.certs import describe
from gmailfix.lab import ca
from gmailfix.render.postfix import DEBIAN_QUEUE, DOVECOT_SOCKET
from tests.support.programs import require_program, stop_process, unavailable

ROOT_ENV = "GMAILFIX_POSTFIX_ROOT"
REPO = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = REPO / ".cache" / "postfix-root"


def postfix_root() -> Path:
    """Where Debian's postfix package is unpacked (scripts/test does it, as root)."""
    root = Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)
    if not (root / "usr/sbin/postfix").exists():
        unavailable(f"Postfix is not unpacked in {root} (scripts/test does it, as root)")
    for kind, name in (("user", "postfix"), ("group", "postdrop")):
        database = "passwd" if kind == "user" else "group"
        if subprocess.run(["getent", database, name], capture_output=True).returncode != 0:
            unavailable(f"the {kind} {name!r} is missing (scripts/test adds it)")
    if os.geteuid() != 0:
        unavailable("Postfix tests run as root (the master process needs it)")
    return root


def shared_dir() -> Path:
    """A directory Postfix's and Dovecot's users can traverse (tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="gmailfix-postfix-", dir="/tmp"))
    path.chmod(0o755)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


@dataclass(frozen=True)
class Postfix:
    """One Postfix instance: its own config directory, queue and log, one root."""

    root: Path
    conf: Path  # config_directory (main.cf, master.cf)
    queue: Path
    maillog: Path
    port: int  # the "smtp" service (STARTTLS when TLS is on), renamed to a free port

    def env(self, extra: Mapping[str, str] = {}) -> dict[str, str]:
        """Postfix's commands first on PATH; MAIL_CONFIG selects this instance."""
        return {
            **os.environ,
            "PATH": f"{self.root}/usr/sbin:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "LD_LIBRARY_PATH": str(self.root / "usr/lib/postfix"),
            "MAIL_CONFIG": str(self.conf),
            **extra,
        }

    def run(
        self, args: list[str], *, cwd: Path | None = None, extra: Mapping[str, str] = {}
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, env=self.env(extra), cwd=cwd, capture_output=True, text=True, timeout=60
        )

    def postconf(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run([str(self.root / "usr/sbin/postconf"), "-c", str(self.conf), *args])

    def log(self) -> str:
        return self.maillog.read_text(errors="replace") if self.maillog.exists() else ""

    def postfix(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``postfix -c CONF ARGS``; a failure raises with the log, where the errors are."""
        done = self.run([str(self.root / "usr/sbin/postfix"), "-c", str(self.conf), *args])
        if done.returncode != 0:
            raise RuntimeError(f"postfix {' '.join(args)} failed: {done.stderr}\n{self.log()}")
        return done

    def check(self) -> str:
        """``postfix check``; returns what it logged (warnings go only to the log)."""
        before = len(self.log())
        self.postfix("check")
        return self.log()[before:]

    def is_running(self) -> bool:
        status = [str(self.root / "usr/sbin/postfix"), "-c", str(self.conf), "status"]
        return self.run(status).returncode == 0

    def age_config(self) -> None:
        """Postfix reads main.cf only once it is a second or two old (it waits
        until then, so as not to read a file being written). Files the test
        wrote itself are complete: age them rather than wait."""
        aged = time.time() - 60
        for name in ("main.cf", "master.cf"):
            os.utime(self.conf / name, (aged, aged))

    def reloads(self) -> int:
        """How many reloads the master has carried out (it logs each one)."""
        return len(re.findall(r"/master\[\d+\]: reload -- ", self.log()))

    def wait_for_reload(self, seen: int) -> None:
        """Until the master has logged a reload after ``seen``: ``postfix reload``
        only signals it, and the test must not race the master."""
        deadline = time.monotonic() + 15
        while self.reloads() <= seen:
            if time.monotonic() > deadline:
                raise RuntimeError(f"postfix did not reload:\n{self.log()}")
            time.sleep(0.02)

    def reload(self) -> None:
        seen = self.reloads()
        self.postfix("reload")
        self.wait_for_reload(seen)


def _main_cf(root: Path, workdir: Path, snakeoil: Path) -> str:
    """Debian's own main.cf (main.cf.debian + main.cf.tls, as its postinst writes
    them) with the snakeoil certificate made by the test, plus this instance's paths."""
    share = root / "usr/share/postfix"
    debian = (share / "main.cf.debian").read_text() + (share / "main.cf.tls").read_text()
    debian = debian.replace("/etc/ssl/certs/ssl-cert-snakeoil.pem", str(snakeoil / "cert.pem"))
    debian = debian.replace("/etc/ssl/private/ssl-cert-snakeoil.key", str(snakeoil / "key.pem"))
    library = root / "usr/lib/postfix"
    return debian + "\n".join(
        [
            "",
            "# --- this test instance ---",
            "myhostname = mail.gmailfix.test",
            "mydestination =",
            "alias_maps =",
            "alias_database =",
            f"daemon_directory = {root}/usr/lib/postfix/sbin",
            f"command_directory = {root}/usr/sbin",
            f"meta_directory = {root}/etc/postfix",
            f"shlib_directory = {library}",
            f"queue_directory = {workdir}/queue",
            f"data_directory = {workdir}/data",
            "inet_interfaces = 127.0.0.1",
            "inet_protocols = ipv4",
            f"maillog_file = {workdir}/log/maillog",
            f"maillog_file_prefixes = {workdir}",
            "import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C "
            f"LD_LIBRARY_PATH={library}",
            "",
        ]
    )


def make_postfix(workdir: Path) -> Postfix:
    """A stopped instance configured like a fresh Debian install: STARTTLS with a
    self-signed snakeoil certificate (CN = host name), which Gmail refuses."""
    root = postfix_root()
    conf = workdir / "etc/postfix"  # so workdir is a --root with the instance's config in it
    workdir.mkdir(mode=0o755, exist_ok=True)
    (workdir / "etc").mkdir(mode=0o755)
    for sub in ("etc/postfix", "queue", "data", "log", "snakeoil"):
        (workdir / sub).mkdir(mode=0o755)
    shutil.chown(workdir / "data", "postfix")
    snakeoil = ca.make_leaf(None, ["mail.gmailfix.test"], org="snakeoil")
    (workdir / "snakeoil/cert.pem").write_bytes(snakeoil.cert_pem())
    key = workdir / "snakeoil/key.pem"
    key.write_bytes(snakeoil.key_pem())
    key.chmod(0o600)
    (conf / "main.cf").write_text(_main_cf(root, workdir, workdir / "snakeoil"))
    port = free_port()
    master = (root / "usr/share/postfix/master.cf.dist").read_text()
    master, count = re.subn(r"(?m)^smtp(\s+inet\s)", rf"{port}\1", master)
    assert count == 1, "master.cf.dist has no 'smtp inet' service"
    (conf / "master.cf").write_text(master)
    postfix = Postfix(root, conf, workdir / "queue", workdir / "log/maillog", port)
    postfix.age_config()
    return postfix


@contextmanager
def running(postfix: Postfix) -> Iterator[Postfix]:
    """``postfix start`` ... ``postfix stop``; the smtp service is listening on entry."""
    postfix.postfix("start")
    try:
        if not wait_for_port(postfix.port):
            raise RuntimeError(f"postfix did not listen on {postfix.port}:\n{postfix.log()}")
        yield postfix
    finally:
        _stop(postfix)


def _stop(postfix: Postfix) -> None:
    stop = [str(postfix.root / "usr/sbin/postfix"), "-c", str(postfix.conf), "stop"]
    if postfix.run(stop).returncode == 0:  # it waits for the master to go
        return
    # never leave a master behind, even when 'postfix stop' fails
    pidfile = postfix.queue / "pid/master.pid"
    with suppress(OSError, ValueError, IndexError):
        os.kill(int(pidfile.read_text().split()[0]), signal.SIGTERM)


# --- certificates, as certbot and the deploy hook lay them out ---------------------


def write_lineage(live: Path, name: str, chain_pem: bytes, key_pem: bytes) -> Path:
    """A certbot lineage (live/NAME/fullchain.pem, privkey.pem): RENEWED_LINEAGE."""
    lineage = live / name
    lineage.mkdir(parents=True, exist_ok=True)
    (lineage / "fullchain.pem").write_bytes(chain_pem)
    (lineage / "privkey.pem").write_bytes(key_pem)
    (lineage / "privkey.pem").chmod(0o600)
    return lineage


def run_hook(postfix: Postfix, hook: Path, lineage: Path) -> subprocess.CompletedProcess[str]:
    """Run a deploy hook as certbot does, against this instance (MAIL_CONFIG)."""
    return postfix.run(["sh", str(hook)], extra={"RENEWED_LINEAGE": str(lineage)})


def s_client(port: int, sni: str | None, *, starttls: bool = True) -> str:
    """openssl s_client's output for one handshake (None: send no SNI at all)."""
    args = [require_program("openssl"), "s_client", "-connect", f"127.0.0.1:{port}"]
    args += ["-starttls", "smtp"] if starttls else []
    args += ["-noservername"] if sni is None else ["-servername", sni]
    done = subprocess.run(args, input="", capture_output=True, text=True, timeout=30)
    return done.stdout + done.stderr


def served_certificate(port: int, sni: str | None, *, starttls: bool = True) -> x509.Certificate:
    output = s_client(port, sni, starttls=starttls)
    match = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", output, re.S)
    assert match, output
    return x509.load_pem_x509_certificate(match.group().encode())


def served_names(port: int, sni: str | None, *, starttls: bool = True) -> list[str]:
    info = describe(served_certificate(port, sni, starttls=starttls))
    return list(info.names) if info else []


# --- Dovecot: the login check behind smtpd_sasl_type = dovecot ---------------------


@contextmanager
def dovecot(
    workdir: Path, postfix: Postfix, snippet: str, users: Mapping[str, str]
) -> Iterator[Path]:
    """A Dovecot that only checks logins, with the rendered snippet included as is,
    except that its socket moves from Debian's queue to this instance's queue.
    Yields the socket once it exists."""
    program = require_program("dovecot")
    home = workdir / "dovecot"
    home.mkdir(mode=0o755)
    (home / "postfix-auth.conf").write_text(
        snippet.replace(f"{DEBIAN_QUEUE}/", f"{postfix.queue}/")
    )
    (home / "users").write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in users.items()))
    (home / "users").chmod(0o644)
    (home / "dovecot.conf").write_text(
        "\n".join(
            [
                f"base_dir = {home}/run",
                f"state_dir = {home}/state",
                f"instance_name = gmailfix-{home.parent.name}",
                f"log_path = {home}/dovecot.log",
                "protocols =",
                "listen = 127.0.0.1",
                "ssl = no",
                "auth_failure_delay = 0",  # a refused password answers at once
                "passdb {",
                "  driver = passwd-file",
                f"  args = scheme=PLAIN username_format=%u {home}/users",
                "}",
                "userdb {",
                "  driver = static",
                "  args = uid=nobody gid=nogroup home=/nonexistent",
                "}",
                f"!include {home}/postfix-auth.conf",
                "",
            ]
        )
    )
    socket_path = postfix.queue / DOVECOT_SOCKET
    proc = subprocess.Popen(
        [program, "-F", "-c", str(home / "dovecot.conf")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while not socket_path.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout and proc.poll() is not None else ""
                log = (home / "dovecot.log").read_text() if (home / "dovecot.log").exists() else ""
                raise RuntimeError(f"dovecot did not start: {out}{log}")
            time.sleep(0.05)
        yield socket_path
    finally:
        stop_process(proc)
