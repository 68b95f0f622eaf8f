"""dnsmasq from Debian as a test DNS server with the records a test gives (docs/FACTS.md
"dnsmasq as a test DNS server"): any record type with ``--dns-rr=NAME,TYPE,HEX``."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest

from tests.support.programs import require_program, stop_process


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_dnsmasq(records: Sequence[str]) -> Iterator[str]:
    """dnsmasq on 127.0.0.1 answering ``records`` (its own options, e.g.
    ``--mx-host=...``) and NXDOMAIN for every other name; yields ``127.0.0.1:PORT``."""
    program = require_program("dnsmasq")
    port = _free_port()
    args = [
        program,
        "-k",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        f"--port={port}",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--pid-file=",
        "--user=root",
        "--group=root",
        *records,
        "--address=/#/",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                said = (
                    proc.stderr.read().decode() if proc.stderr and proc.poll() is not None else ""
                )
                pytest.fail(f"dnsmasq did not start: {said}")
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        stop_process(proc)
