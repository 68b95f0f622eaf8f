"""What the person has typed and chosen so far: kept while they move back and forth."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gmailfix.diagnose import Diagnosis
    from gmailfix.inputs import Target
    from gmailfix.login import Credentials
    from gmailfix.remedies.model import Proposal, RemedyKind
    from gmailfix.remedies.plan import Plan
    from gmailfix.stacks.recognise import StackName
    from gmailfix.vocabulary import EximLayout, Mta


@dataclass
class WizardState:
    # the details form, as typed
    address: str = ""
    smtp_host: str = ""
    port: int = 587  # 0: not sure, try all three
    smtp_prefilled: bool = False  # the demo filled the server in; the person has not touched it
    pasted: str = ""  # Gmail's error, as pasted
    # what the engine made of it
    target: Target | None = None
    credentials: Credentials | None = None
    proposal: Proposal | None = None  # the diagnosis, with every fix judged
    # the fix and its choices
    kind: RemedyKind | None = None
    aliases: str = ""
    layout: EximLayout | None = None
    mta: Mta | None = None
    stack: StackName | None = None
    plan: Plan | None = None
    export_paths: dict[str, str] = field(default_factory=dict)  # per fix
    as_zip: bool = False
    written: Path | None = None
    rechecked: Diagnosis | None = None  # the check with the fix's settings

    @property
    def diagnosis(self) -> Diagnosis | None:
        return self.proposal.diagnosis if self.proposal is not None else None

    def forget_diagnosis(self) -> None:
        self.proposal = None
        self.kind = self.plan = None
        self.written = self.rechecked = None
