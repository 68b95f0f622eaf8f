"""Shared fixtures: the lab (real servers on loopback), run once per session."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from gmailfix.certs import TrustStore
from gmailfix.connection import Connection
from gmailfix.dns import make_resolver
from gmailfix.lab.runner import LabInfo, running_lab

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def require_program(name: str) -> str:
    """The path of a Debian program a test needs.

    Locally a missing program skips the test (a developer without root may not
    have Exim or Pebble); in CI, where .ci/run installs them all, it fails, so a
    CI run can never pass by skipping.
    """
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if path is None:
        message = f"{name} is not installed (.ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def stop_process(proc: subprocess.Popen[bytes], seconds: float = 10) -> None:
    """TERM, then KILL if it does not go in time: no test leaves a daemon behind."""
    proc.terminate()
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def lab() -> Iterator[LabInfo]:
    with running_lab() as info:
        yield info


@pytest.fixture(scope="session")
def lab_trust(lab: LabInfo) -> TrustStore:
    return TrustStore.with_ca_files([lab.ca_file])


@pytest.fixture
def lab_connection(lab: LabInfo, lab_trust: TrustStore) -> Connection:
    host, port = lab.dns
    return Connection(
        resolver=make_resolver(dns_server=f"{host}:{port}", timeout=3),
        trust=lab_trust,
        timeout=3,
        connect=dict(lab.connect),
        ca_files=(str(lab.ca_file),),
        dns_server=f"{host}:{port}",
    )
