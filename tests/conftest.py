"""Shared fixtures: the lab (real servers on loopback), started once per session."""

from __future__ import annotations

from collections.abc import Iterator

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
