"""Real Exim 4.96 for tests: config checks and a throwaway daemon on loopback."""

from __future__ import annotations

import grp
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.programs import require_program, stop_process

EXIM_USER = "Debian-exim"


def exim() -> str:
    return require_program("exim")


def shared_dir() -> Path:
    """A directory Exim's user can traverse (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="gmailfix-exim-", dir="/tmp"))
    path.chmod(0o755)
    return path


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    """``exim -bV -C``: parses the whole config (not expansions, docs/FACTS.md)."""
    path.chmod(0o644)
    return subprocess.run(
        [exim(), "-bV", "-C", str(path)], capture_output=True, text=True, timeout=30
    )


def minimal_config(
    workdir: Path,
    includes: list[Path],
    authenticators: Path | None,
    *,
    before: list[str] = (),  # type: ignore[assignment]
    interface: str | None = None,
) -> Path:
    """A tiny exim.conf that loads main-section files, like a user's own config.

    ``before`` are main-section lines placed ahead of the includes (the state of
    the server before the fix); ``interface`` makes the daemon listen there on
    the config's own daemon_smtp_ports.
    """
    for sub in ("log", "spool"):
        (workdir / sub).mkdir(exist_ok=True)
        shutil.chown(workdir / sub, EXIM_USER, EXIM_USER)
    lines = [
        "primary_hostname = mail.gmailfix.test",
        f"log_file_path = {workdir}/log/%slog",
        f"spool_directory = {workdir}/spool",
        "acl_smtp_rcpt = accept",
        *([f"local_interfaces = <; {interface}"] if interface else []),
        *before,
        *[f".include {p}" for p in includes],
    ]
    if authenticators is not None:
        lines += ["begin authenticators", f".include {authenticators}"]
    conf = workdir / "exim.conf"
    conf.write_text("\n".join(lines) + "\n")
    conf.chmod(0o644)
    return conf


def debian_update(
    workdir: Path,
    layout: str,
    macros: str,
    files: dict[str, str] | None = None,
    *,
    place_as: str | None = None,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run Debian's update-exim4.conf on a copy of /etc/exim4 with our macros file.

    ``layout`` is what update-exim4.conf.conf says; ``place_as`` is where the
    macros file is put (default: the same layout; the other one is the trap).
    ``files`` are bundle files; a split-config authenticator file is installed too,
    and for the single file the authenticators are pasted into the template.
    """
    confdir = workdir / "etc-exim4"
    shutil.copytree("/etc/exim4", confdir)
    conf_conf = confdir / "update-exim4.conf.conf"
    text = conf_conf.read_text()
    split = "true" if layout == "debian-split" else "false"
    lines = [ln for ln in text.splitlines() if not ln.startswith("dc_use_split_config=")]
    conf_conf.write_text("\n".join([*lines, f"dc_use_split_config='{split}'"]) + "\n")
    if (place_as or layout) == "debian-split":
        (confdir / "conf.d/main/000_localmacros").write_text(macros)
    else:
        (confdir / "exim4.conf.localmacros").write_text(macros)
    files = files or {}
    if "exim4/conf.d/auth/30_gmailfix_tls_auth" in files and layout == "debian-split":
        (confdir / "conf.d/auth/30_gmailfix_tls_auth").write_text(
            files["exim4/conf.d/auth/30_gmailfix_tls_auth"]
        )
    if "exim4/auth-tls-only.conf" in files and layout == "debian-single":
        template = confdir / "exim4.conf.template"
        body = template.read_text().replace(
            "begin authenticators\n",
            "begin authenticators\n" + files["exim4/auth-tls-only.conf"],
            1,
        )
        template.write_text(body)
    output = workdir / "exim4.conf.generated"
    # update-exim4.conf reads /etc/exim4/exim4.conf.localmacros by its fixed path, whatever
    # --confdir says: it runs where the copy is /etc/exim4 (a private mount namespace),
    # so this computer's own /etc/exim4 is never read or touched
    done = subprocess.run(
        [
            require_program("unshare"),
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            'mount --bind "$1" /etc/exim4 && exec "$2" --output "$3"',
            "sh",
            str(confdir),
            require_program("update-exim4.conf"),
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def exim_daemon(conf: Path, workdir: Path, *, interface: str | None = None) -> Iterator[int]:
    """``exim -bdf`` on a free loopback port; yields the port, stops it after.

    With ``interface``, the config's own daemon_smtp_ports are used on that
    address (the config must set local_interfaces to it); yields 587. Exim
    writes its pid file once its sockets listen: that is the signal to go on.
    """
    pidfile = workdir / "exim.pid"
    pidfile.unlink(missing_ok=True)
    if interface is None:
        port, host = free_port(), "127.0.0.1"
        listen = ["-oX", f"127.0.0.1.{port}"]
    else:
        port, host, listen = 587, interface, []
    proc = subprocess.Popen(
        [exim(), "-C", str(conf), "-bdf", *listen, "-oP", str(pidfile)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while not _listening(host, port, pidfile if interface else None):
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_process(proc)  # before reading its output, which ends only then
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"exim did not start: {out} {read_logs(workdir)}")
            time.sleep(0.05)
        yield port
    finally:
        stop_process(proc)


def _listening(host: str, port: int, pidfile: Path | None) -> bool:
    if pidfile is not None:
        return pidfile.exists() and pidfile.stat().st_size > 0
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0


def read_logs(workdir: Path) -> str:
    logs = workdir / "log"
    return (
        "".join(p.read_text(errors="replace") for p in sorted(logs.glob("*log")))
        if logs.exists()
        else ""
    )


def install_cert(tls_dir: Path, name: str, chain_pem: bytes, key_pem: bytes) -> None:
    """Lay out a certificate the way the deploy hook does: root:Debian-exim, key 0640."""
    directory = tls_dir / name
    directory.mkdir(parents=True, exist_ok=True)
    for path, data, mode in (
        (directory / "fullchain.pem", chain_pem, 0o644),
        (directory / "privkey.pem", key_pem, 0o640),
    ):
        path.write_bytes(data)
        os.chown(path, 0, _gid())
        path.chmod(mode)
    os.chown(directory, 0, _gid())
    directory.chmod(0o750)


def _gid() -> int:
    return grp.getgrnam(EXIM_USER).gr_gid
