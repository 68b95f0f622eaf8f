"""What the person has typed and chosen so far, and what the engine made of it.

Only the flow (``flow.py``) holds and changes it: each step gets what it needs
as arguments and hands back a frozen result. Whatever is derived is forgotten
with what it was derived from, so no step can show an answer to an older
question:

    address, server, port, password ─► the check (proposal) ─► the fix chosen
        ─► its choices (other domains, mail server, Exim's files) ─► the plan
        ─► where it was exported ─► the check with the fix's settings

A new value at one level forgets every level below it.
"""

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
    from gmailfix.vocabulary import EximLayout


@dataclass(frozen=True)
class Form:
    """The details form as typed (the password too: in memory only, never shown or written)."""

    address: str = ""
    smtp_host: str = ""
    port: int = 587  # 0: not sure, try all three
    smtp_prefilled: bool = False  # the demo filled the server in; the person has not touched it
    password: str = field(default="", repr=False)


@dataclass(frozen=True)
class FixChoices:
    """What the person chose on the settings step, on top of the fix."""

    aliases: str = ""  # the other domains, as typed (for one certificate per domain)
    stack: StackName | None = None  # None: what the check recognised
    layout: EximLayout | None = None  # None: not sure (the export holds every layout)


@dataclass(frozen=True)
class Place:
    """Where the export goes, as last typed."""

    path: str
    as_zip: bool = False


@dataclass
class WizardState:
    # the details form, as typed
    address: str = ""
    smtp_host: str = ""
    port: int = 587
    smtp_prefilled: bool = False
    password: str = field(default="", repr=False)
    pasted: str = ""  # Gmail's error, as pasted
    # the check: what was checked, and every fix judged for it
    target: Target | None = None
    credentials: Credentials | None = None
    proposal: Proposal | None = None
    # the fix, its choices, and what became of it
    kind: RemedyKind | None = None
    choices: FixChoices = field(default_factory=FixChoices)
    plan: Plan | None = None
    place: Place | None = None
    written: Path | None = None  # where the export went
    skipped_export: bool = False  # the person chose to write nothing
    rechecked: Diagnosis | None = None  # the check with the fix's settings

    # --- what the steps read

    @property
    def form(self) -> Form:
        return Form(self.address, self.smtp_host, self.port, self.smtp_prefilled, self.password)

    @property
    def diagnosis(self) -> Diagnosis | None:
        return self.proposal.diagnosis if self.proposal is not None else None

    @property
    def unsaved_fix(self) -> bool:
        """Is there a fix the person has neither written nor chosen to skip?

        Only when Gmail would refuse and some fix can help: after "Gmail would
        accept" (or a check that could not tell) there is nothing to lose."""
        diagnosis = self.diagnosis
        return (
            self.proposal is not None
            and diagnosis is not None
            and diagnosis.outcome == "reject"
            and bool(self.proposal.applicable)
            and self.written is None
            and not self.skipped_export
        )

    # --- what the flow records, each forgetting what it makes stale

    def keep_form(self, form: Form) -> None:
        """What the form holds, typed and not yet checked (kept while going back and forth)."""
        self.address, self.smtp_host, self.port = form.address, form.smtp_host, form.port
        self.smtp_prefilled, self.password = form.smtp_prefilled, form.password

    def check(self, target: Target, credentials: Credentials | None) -> None:
        """The details to check: another address, server, port or password forgets the check."""
        if (target, credentials) != (self.target, self.credentials):
            self.forget_check()
        self.target, self.credentials = target, credentials

    def checked(self, proposal: Proposal) -> None:
        """A check's result: a new one forgets the fix and everything after it."""
        if proposal is not self.proposal:
            self.forget_check()
        self.proposal = proposal

    def forget_check(self) -> None:
        self.proposal = None
        self.kind = None
        self.choices = FixChoices()
        self.forget_plan()

    def choose(self, kind: RemedyKind) -> None:
        if kind != self.kind:
            self.forget_plan()
        self.kind = kind

    def keep_choices(self, choices: FixChoices) -> None:
        if choices != self.choices:
            self.forget_plan()
        self.choices = choices

    def settle(self, choices: FixChoices, plan: Plan) -> None:
        """The plan the settings step made: another plan forgets where the last one went."""
        self.keep_choices(choices)
        if plan != self.plan:
            self.forget_plan()
        self.plan = plan

    def forget_plan(self) -> None:
        self.plan = self.place = self.written = self.rechecked = None
        self.skipped_export = False

    # --- the line printed when the wizard closes

    def summary(self) -> str:
        """One line for the terminal after the wizard closes."""
        from gmailfix.text import clean

        parts = []
        latest = self.rechecked or self.diagnosis
        if latest is not None:
            from gmailfix.vocabulary import Code

            verdict = latest.verdict
            where = f"{verdict.settings.smtp_server}:{verdict.settings.port}"
            parts.append(
                {
                    "accept": f"Gmail would accept {where}",
                    "reject": f"Gmail would refuse {where}",  # the wizard's word
                    "unknown": "could not check from this computer"
                    if verdict.cause != Code.ADDRESSES_NOT_CHECKED
                    else f"cannot tell what Gmail would do with {where}: {latest.why_unknown}",
                }[verdict.outcome]
            )
        if self.written is not None:
            parts.append(f"the fix is in {self.written}")
        elif self.unsaved_fix:
            parts.append("the fix was not written")
        return clean("gmailfix: " + ("; ".join(parts) or "nothing checked") + ".", limit=500)
