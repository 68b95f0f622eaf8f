"""Diagnose lab cases the way the CLI and the wizard do: Target + Connection."""

from __future__ import annotations

import asyncio
from typing import Any

from gmailfix.connection import Connection
from gmailfix.diagnose import Diagnosis, diagnose
from gmailfix.inputs import parse_target
from gmailfix.lab.runner import LabInfo
from gmailfix.lab.scenarios import ALL_SCENARIOS


def run_diagnosis(
    connection: Connection,
    address: str,
    smtp_host: str | None = None,
    port: int | None = None,
    **kwargs: Any,
) -> Diagnosis:
    return asyncio.run(diagnose(parse_target(address, smtp_host, port), connection, **kwargs))


def diagnose_lab(
    lab: LabInfo, connection: Connection, domain: str, port: int | None = None, **kwargs: Any
) -> Diagnosis:
    """A lab case with the SMTP Server its scenario says was typed in Gmail."""
    scenario = next((s for s in ALL_SCENARIOS if s.domain == domain), None)
    host = lab.typed_host(domain) if scenario is not None and scenario.smtp_host else None
    return run_diagnosis(connection, domain, host, port, **kwargs)
