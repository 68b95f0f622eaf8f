"""Diagnose lab cases the way the CLI and the wizard do: Target + Connection; and judge
every fix for them (a Proposal), as ``gmailfix diagnose`` and the wizard show them."""

from __future__ import annotations

import asyncio
from typing import Any

from gmailfix.connection import Connection
from gmailfix.diagnose import Diagnosis, diagnose
from gmailfix.inputs import parse_target
from gmailfix.lab.runner import LabInfo
from gmailfix.lab.scenarios import ALL_SCENARIOS
from gmailfix.remedies.model import Proposal
from gmailfix.remedies.propose import diagnose_and_propose


def run_diagnosis(
    connection: Connection,
    address: str,
    smtp_host: str | None = None,
    port: int | None = None,
    **kwargs: Any,
) -> Diagnosis:
    return asyncio.run(diagnose(parse_target(address, smtp_host, port), connection, **kwargs))


def run_proposal(
    connection: Connection,
    address: str,
    smtp_host: str | None = None,
    port: int | None = None,
    **kwargs: Any,
) -> Proposal:
    target = parse_target(address, smtp_host, port)
    return asyncio.run(diagnose_and_propose(target, connection, **kwargs))


def _typed_host(lab: LabInfo, domain: str) -> str | None:
    scenario = next((s for s in ALL_SCENARIOS if s.domain == domain), None)
    return lab.typed_host(domain) if scenario is not None and scenario.smtp_host else None


def diagnose_lab(
    lab: LabInfo, connection: Connection, domain: str, port: int | None = None, **kwargs: Any
) -> Diagnosis:
    """A lab case with the SMTP Server its scenario says was typed in Gmail."""
    return run_diagnosis(connection, domain, _typed_host(lab, domain), port, **kwargs)


def propose_lab(
    lab: LabInfo, connection: Connection, domain: str, port: int | None = None, **kwargs: Any
) -> Proposal:
    """The same, with every fix judged."""
    return run_proposal(connection, domain, _typed_host(lab, domain), port, **kwargs)
