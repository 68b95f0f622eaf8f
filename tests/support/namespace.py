"""End-to-end tests as a person runs gmailfix: as root, on the machine's own paths
(no ``--root``), in a machine of the test's own.

``run_inside(scenario, **kwargs)`` runs ``scenario(**kwargs)`` as root in
private mount, network and PID namespaces (``unshare``; see
``namespace_driver`` for what the machine is made of): /etc and /var are
overlays whose writes land in a throwaway folder, /run is a tmpfs, Debian's
/etc/exim4 and /etc/dovecot are fresh copies, and only ``lo`` is up. So
``invoke-rc.d exim4 restart`` starts a real daemon on 127.0.0.1:25, and
``gmailfix apply`` writes the real /etc/exim4 — of that machine only. The
scenario's return value (JSON) comes back; an exception in it fails the test
with its traceback.

The rest of this module is for scenarios, inside: the gmailfix CLI as a
person types it, services, a DNS server on loopback, a private CA and the
deploy hook, and byte-for-byte snapshots (content, mode, owner).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gmailfix.lab import ca
from tests.support.programs import require_program, unavailable
from tests.support.servers import dns_zone

REPO = Path(__file__).resolve().parents[2]
UNSHARE = (
    "unshare",
    "--mount",
    "--net",
    "--pid",
    "--fork",
    "--kill-child",
    "--mount-proc",
    "--propagation",
    "private",
    "--",
)
MARK = "GMAILFIX_TEST_MACHINE"


# --- outside: pytest's side -------------------------------------------------------------


def run_inside(scenario: Callable[..., Any], *, timeout: float = 300, **kwargs: Any) -> Any:
    """``scenario(**kwargs)`` in a machine of its own; its JSON-able return value."""
    if os.geteuid() != 0:
        unavailable("end-to-end tests run as root (they start real daemons in namespaces)")
    for program in ("unshare", "ip", "mount", "exim", "update-exim4.conf", "invoke-rc.d"):
        require_program(program)
    scratch = Path(tempfile.mkdtemp(prefix="gmailfix-machine-", dir="/tmp"))
    scratch.chmod(0o755)  # daemons' users reach the PKI and bundles kept here
    try:
        spec = scratch / "spec.json"
        result = scratch / "result.json"
        spec.write_text(
            json.dumps(
                {
                    "target": f"{scenario.__module__}:{scenario.__qualname__}",
                    "kwargs": kwargs,
                    "scratch": str(scratch),
                    "result": str(result),
                }
            )
        )
        done = subprocess.run(
            [*UNSHARE, sys.executable, "-m", "tests.support.namespace_driver", str(spec)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if not result.exists():
            raise AssertionError(
                f"the test machine did not start (exit {done.returncode}):\n"
                f"{done.stdout}\n{done.stderr}"
            )
        answer = json.loads(result.read_text())
        if "error" in answer:
            raise AssertionError(f"inside the test machine:\n{answer['error']}")
        return answer["value"]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# --- inside: what a scenario uses ---------------------------------------------------------


def scratch() -> Path:
    """The test's own folder (outside the machine's /etc and /var); refuses outside."""
    where = os.environ.get(MARK)
    if not where or not _overlaid("/etc"):
        raise RuntimeError("this runs only inside run_inside's machine")
    return Path(where)


def _overlaid(point: str) -> bool:
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) > 4 and fields[4] == point and " - overlay " in line:
                return True
    return False


@dataclass(frozen=True)
class Ran:
    argv: tuple[str, ...]
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"$ {' '.join(self.argv)}\nexit {self.code}\n{self.out}\n{self.err}"

    def json(self) -> Any:
        return json.loads(self.out)


def run(*argv: str, env: dict[str, str] | None = None, timeout: float = 120) -> Ran:
    """A command's exit status and output. The output goes through files, not pipes: a
    daemon an init script starts may keep them open for as long as it runs."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        done = subprocess.run(
            argv,
            stdout=out,
            stderr=err,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
        )
        texts = []
        for handle in (out, err):
            handle.seek(0)
            texts.append(handle.read().decode("utf-8", "replace"))
    return Ran(tuple(argv), done.returncode, *texts)


def gmailfix(*args: str, env: dict[str, str] | None = None) -> Ran:
    """The gmailfix command, as the person types it (as root, on this machine's paths)."""
    scratch()
    return run(sys.executable, "-m", "gmailfix", *args, env=env, timeout=300)


def listening(port: int, address: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((address, port)) == 0


def wait_for_port(port: int, address: str = "127.0.0.1", seconds: float = 15) -> None:
    """Until something listens there (a daemon just started)."""
    deadline = time.monotonic() + seconds
    while not listening(port, address):
        assert time.monotonic() < deadline, f"nothing listens on {address}:{port}"
        time.sleep(0.05)


def settles(check: Callable[[], bool], seconds: float = 15) -> bool:
    """Whether ``check`` becomes true, waiting for a daemon that was just signalled to reload
    (``postfix reload`` and ``doveadm reload`` return before it has); False after
    ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def smtp_banner(port: int, address: str = "127.0.0.1") -> str:
    """Connect, read the greeting, say QUIT: the daemon has started its process for the port."""
    with socket.create_connection((address, port), timeout=15) as sock:
        banner = sock.recv(1024).decode("ascii", "replace")
        sock.sendall(b"QUIT\r\n")
        sock.recv(1024)
    return banner


def service(name: str, action: str) -> None:
    """``invoke-rc.d NAME ACTION``, as Debian's packages and gmailfix do."""
    done = run("invoke-rc.d", name, action)
    assert done.code == 0, str(done)


# --- the world around the server: DNS and a private CA ----------------------------------


@contextmanager
def dns(domain: str, host: str, address: str = "127.0.0.1") -> Iterator[str]:
    """A DNS server on loopback: ``domain``'s MX is ``host``, which is at ``address``."""
    records = [(domain, "MX", f"10 {host}."), (host, "A", address)]
    with dns_zone(records) as server:
        yield server


@dataclass(frozen=True)
class Pki:
    root: ca.Issued
    intermediate: ca.Issued
    root_file: Path  # what diagnose and apply get with --ca-file

    def leaf(self, host: str, **kwargs: Any) -> ca.Issued:
        return ca.make_leaf(self.intermediate, [host], **kwargs)


def make_pki() -> Pki:
    root = ca.make_root("E2E Test Root")
    intermediate = ca.make_intermediate(root, "E2E Test Intermediate")
    path = scratch() / "root.pem"
    path.write_bytes(root.cert_pem())
    path.chmod(0o644)
    return Pki(root, intermediate, path)


def lineage(host: str, chain: bytes, key: bytes) -> Path:
    """A certbot lineage (live/NAME with fullchain.pem and privkey.pem), as certbot leaves it."""
    folder = scratch() / "live" / host
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fullchain.pem").write_bytes(chain)
    (folder / "privkey.pem").write_bytes(key)
    (folder / "privkey.pem").chmod(0o600)
    return folder


def run_deploy_hook(bundle: Path, folder: Path) -> Ran:
    """The bundle's deploy hook, as certbot runs it after an issue (README's certificate
    step, before apply)."""
    done = run("sh", str(bundle / "certbot/deploy-hook.sh"), env={"RENEWED_LINEAGE": str(folder)})
    assert done.code == 0, str(done)
    return done


# --- byte for byte --------------------------------------------------------------------------

Snapshot = dict[str, tuple[str, ...]]


def snapshot(tops: Iterable[str], *, leave_out: Iterable[str] = ()) -> Snapshot:
    """Every file, folder and link under ``tops``: content (SHA-256) or link target, mode,
    owner and group."""
    skipped = tuple(leave_out)
    found: Snapshot = {}
    for top in tops:
        for folder, folders, files in os.walk(top):
            folders[:] = [f for f in folders if not os.path.join(folder, f).startswith(skipped)]
            for name in [*folders, *files]:
                path = os.path.join(folder, name)
                if path.startswith(skipped):
                    continue
                info = os.lstat(path)
                if os.path.islink(path):
                    what = "link " + os.readlink(path)
                elif os.path.isdir(path):
                    what = "folder"
                else:
                    with open(path, "rb") as handle:
                        what = hashlib.sha256(handle.read()).hexdigest()
                found[path] = (what, oct(info.st_mode), str(info.st_uid), str(info.st_gid))
    return found


def differences(before: Snapshot, after: Snapshot) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
