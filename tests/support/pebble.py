"""Pebble (a test ACME CA) and a DNS server for it, on loopback, for certbot tests."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from gmailfix.lab import ca
from tests.support.programs import require_program, stop_process

ACME_DIRECTORY = "https://127.0.0.1:14000/dir"
MANAGEMENT = "https://127.0.0.1:15000"
HTTP_01_PORT = 5002
# certbot's standalone http-01 server where Pebble checks it (not port 80)
STANDALONE = ("--http-01-port", str(HTTP_01_PORT), "--http-01-address", "127.0.0.1")


def certbot_state(config: Path, work: Path | None = None, logs: Path | None = None) -> list[str]:
    """certbot's state folders (as root it would use /etc, /var/lib and /var/log)."""
    return [
        "--config-dir", str(config),
        "--work-dir", str(work or config),
        "--logs-dir", str(logs or config),
    ]  # fmt: skip


@dataclass(frozen=True)
class Pebble:
    api_ca: Path  # trust this to talk to Pebble's API (REQUESTS_CA_BUNDLE)
    root: Path  # the root that signs what Pebble issues (fetched at start)


def _wait_port(port: int, proc: subprocess.Popen[bytes], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    out = proc.stdout.read().decode() if proc.stdout and proc.poll() is not None else ""
    raise RuntimeError(f"pebble did not start: {out}")


@contextmanager
def pebble(workdir: Path, dns_server: str, http_port: int = HTTP_01_PORT) -> Iterator[Pebble]:
    """Pebble on loopback; it checks http-01 on ``http_port`` (80 where a test has a network
    of its own, as Let's Encrypt does)."""
    program = require_program("pebble")
    api_root = ca.make_root("Pebble API Test Root")
    api = ca.make_leaf(api_root, ["localhost"], ips=["127.0.0.1"])
    (workdir / "api.pem").write_bytes(api.cert_pem())
    (workdir / "api.key").write_bytes(api.key_pem())
    (workdir / "api-ca.pem").write_bytes(api_root.cert_pem())
    config = {
        "pebble": {
            "listenAddress": "127.0.0.1:14000",
            "managementListenAddress": "127.0.0.1:15000",
            "certificate": str(workdir / "api.pem"),
            "privateKey": str(workdir / "api.key"),
            "httpPort": http_port,
            "tlsPort": 5001,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    (workdir / "pebble.json").write_text(json.dumps(config))
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    proc = subprocess.Popen(
        [program, "-config", str(workdir / "pebble.json"), "-dnsserver", dns_server],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        _wait_port(14000, proc)
        _wait_port(15000, proc)
        trust = ssl.create_default_context(cafile=str(workdir / "api-ca.pem"))
        root = httpx.get(f"{MANAGEMENT}/roots/0", verify=trust, timeout=10)
        root.raise_for_status()
        (workdir / "pebble-root.pem").write_bytes(root.content)
        yield Pebble(workdir / "api-ca.pem", workdir / "pebble-root.pem")
    finally:
        stop_process(proc)
