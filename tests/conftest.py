"""Shared fixtures: the lab (real servers on loopback), started once per session, and a
guard that no test changes this machine's /etc."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from gmailfix.connection import Connection
from gmailfix.lab.runner import LabInfo, running_lab


@pytest.fixture(scope="session")
def lab() -> Iterator[LabInfo]:
    with running_lab() as info:
        yield info


@pytest.fixture
def lab_connection(lab: LabInfo) -> Connection:
    return lab.connection(timeout=3)


def _etc_state(top: Path = Path("/etc")) -> dict[str, tuple[object, ...]]:
    """Every entry under /etc: kind, mode, owner and a hash of each regular file."""
    state: dict[str, tuple[object, ...]] = {}
    for folder, dirs, files in os.walk(top, onerror=lambda error: None):
        for name in dirs + files:
            path = os.path.join(folder, name)
            try:
                found = os.lstat(path)
            except OSError:
                continue
            digest = ""
            if stat.S_ISREG(found.st_mode):
                try:
                    with open(path, "rb") as handle:
                        digest = hashlib.sha256(handle.read()).hexdigest()
                except OSError:
                    digest = "unreadable"
            elif stat.S_ISLNK(found.st_mode):
                digest = os.readlink(path)
            state[path] = (stat.S_IFMT(found.st_mode), found.st_mode, found.st_uid, digest)
    return state


@pytest.fixture(scope="session", autouse=True)
def this_machines_etc_never_changes() -> Iterator[None]:
    """The tests run real daemons and apply/rollback, some as root: on copies, in private
    namespaces. Whatever a test does, this machine's own /etc is the same afterwards."""
    before = _etc_state()
    yield
    after = _etc_state()
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    assert not changed, f"the tests changed this machine's /etc: {changed[:20]}"
