"""Step 3: the diagnosis, live, then the verdict in Gmail's words."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from rich import box
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Button, LoadingIndicator, Static
from textual.worker import Worker, WorkerState

from gmailfix.connection import Connection
from gmailfix.diagnose import DnsDone, Event, ProbeDone, Stage
from gmailfix.inputs import Target
from gmailfix.login import Credentials
from gmailfix.remedies.model import Proposal
from gmailfix.remedies.propose import diagnose_and_propose
from gmailfix.screens.base import WizardScreen
from gmailfix.screens.steps import Step
from gmailfix.screens.widgets import (
    check_words,
    evidence_text,
    findings_text,
    name,
    probe_words,
    stack_words,
    verdict_text,
)
from gmailfix.vocabulary import Code


@dataclass
class Progress(Message):
    """One engine event, posted from the diagnosis worker."""

    event: Event


@dataclass(frozen=True)
class Checked:
    """The latest check's result (kept when going back too), and whether to go on."""

    proposal: Proposal | None
    back: bool = False


class DiagnosisScreen(WizardScreen[Checked]):
    STEP = Step.DIAGNOSIS
    CSS_PATH = "diagnosis.tcss"
    HELP = (
        "gmailfix looks up your domain, then connects to each of your mail server's "
        "addresses on the ports Gmail uses, all at once, the way Gmail does. Each row appears "
        "as its check finishes.\n\nThe verdict uses Gmail's own words. Press **t** for the "
        "technical detail (certificates, addresses, what the server said) to show whoever "
        "helps you. **r** checks again. Esc stops the checks and goes back."
    )
    BUTTONS = (
        ("continue", "See the fixes", True),
        ("again", "Check again", False),
        ("back", "Back", False),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "technical", "Technical detail"),
        Binding("r", "check_again", "Check again"),
    ]
    NOTHING_CHECKED = (
        "Nothing could be checked from here. Check the internet connection, then press r."
    )
    NOT_ALL_CHECKED = "Not every address of the server could be checked, so no fix is offered."

    def __init__(
        self,
        connection: Connection,
        target: Target,
        credentials: Credentials | None = None,
        proposal: Proposal | None = None,
    ) -> None:
        super().__init__()
        self.connection, self.target, self.credentials = connection, target, credentials
        self.result: Proposal | None = proposal  # shown again as it was, unless None
        self.rows: list[tuple[Text, str, Text, Text]] = []
        self.stage: Stage | None = None
        self.stage_began = 0.0

    def compose_body(self) -> ComposeResult:
        domain = name(self.target.domain)
        yield Static(Text(f"Checking {domain} as Gmail would…"), id="status")
        yield LoadingIndicator(id="spinner")
        yield Static("", id="verdict")
        yield Static("", id="stack")
        yield Static("", id="findings")
        yield Static("", id="checks")

    def on_mount(self) -> None:
        self.query_one("#checks").display = False
        self.query_one("#continue", Button).disabled = True
        self.query_one("#again").display = False
        self.set_interval(1, self._show_stage)
        if self.result is not None:
            self._show(self.result)
        else:
            self.run_diagnosis()

    def _show_rows(self) -> None:
        """The checks as a table whose result column takes the width left (and wraps)."""
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True)
        table.add_column("server", style="bold", overflow="fold")
        table.add_column("port", no_wrap=True)
        table.add_column("address", overflow="fold")
        table.add_column("result", ratio=1, min_width=12, overflow="fold")
        for row in self.rows:
            table.add_row(*row)
        checks = self.query_one("#checks", Static)
        checks.update(table)
        checks.display = bool(self.rows)  # no empty header when nothing could be checked

    @work(exclusive=True, exit_on_error=False, group="diagnosis")
    async def run_diagnosis(self) -> Proposal:
        return await diagnose_and_propose(
            self.target, self.connection, on_event=self._post, credentials=self.credentials
        )

    def _post(self, event: Event) -> None:
        self.post_message(Progress(event))

    def on_progress(self, message: Progress) -> None:
        event = message.event
        if isinstance(event, Stage):
            self.stage, self.stage_began = event, time.monotonic()
            self._show_stage()
        elif isinstance(event, DnsDone):
            servers = ", ".join(name(h) for h in event.candidates[:4]) or "no mail server found"
            self.query_one("#status", Static).update(Text(f"Talking to {servers}…"))
        elif isinstance(event, ProbeDone) and event.result.sni is not None:
            probe = event.result
            names = probe.chain.leaf.names if probe.chain.leaf else ()
            self.rows.append(
                (
                    Text(name(probe.host)),
                    str(probe.port),
                    Text(name(probe.address or "-")),
                    Text(probe_words(probe.error_code, names)),
                )
            )
            self._show_rows()

    def _show_stage(self) -> None:
        """The stage, how long it has taken so far, and the one bound that holds: each
        answer is waited for at most the connection's timeout (a stage may wait for
        several answers in turn, so it can take longer than that)."""
        stage = self.stage
        if stage is None or self.result is not None:
            return
        words = Text(f"{stage.text}… {time.monotonic() - self.stage_began:.0f} s")
        if stage.seconds:
            words.append(f"\ngmailfix waits at most {stage.seconds:g} s for each answer.", "dim")
        self.query_one("#status", Static).update(words)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "diagnosis":
            return
        if event.state == WorkerState.SUCCESS and isinstance(event.worker.result, Proposal):
            self._show(event.worker.result)
        elif event.state == WorkerState.ERROR:
            self.query_one("#spinner").display = False
            self.query_one("#status", Static).update(
                Text(
                    "The check stopped because of a problem inside gmailfix. Press Esc to go "
                    "back and try again.",
                    style="red",
                )
            )

    def _show(self, proposal: Proposal) -> None:
        self.result = proposal
        diagnosis = proposal.diagnosis
        self.query_one("#spinner").display = False
        # rows came in as probes finished; now in a stable order, with verdicts
        self.rows = []
        for endpoint in diagnosis.endpoints:
            for check in endpoint.checks:
                self.rows.append(
                    (
                        Text(name(endpoint.host)),
                        str(endpoint.port),
                        Text(name(check.address or "-")),
                        Text(check_words(check), style=_style(check.verdict.outcome)),
                    )
                )
            if endpoint.not_checked:  # never silent: the addresses past the limit
                self.rows.append(
                    (
                        Text(name(endpoint.host)),
                        str(endpoint.port),
                        Text(f"{endpoint.not_checked} more"),
                        Text(_not_checked_words(endpoint.not_checked), style="yellow"),
                    )
                )
        self._show_rows()
        self.query_one("#status", Static).update("Done. Press t for the technical detail.")
        self.query_one("#verdict", Static).update(verdict_text(diagnosis))
        stack = stack_words(diagnosis)
        self.query_one("#stack", Static).update(stack or "")
        self.query_one("#stack", Static).display = stack is not None
        self.query_one("#findings", Static).update(findings_text(diagnosis))
        # nothing to fix without an answer: no dead "See the fixes", "Check again" instead
        unknown = diagnosis.outcome == "unknown"
        button = self.query_one("#continue", Button)
        button.disabled = unknown
        button.display = not unknown
        again = self.query_one("#again", Button)
        again.display = unknown
        note = self.NOTHING_CHECKED if unknown else ""
        if diagnosis.verdict.cause == Code.ADDRESSES_NOT_CHECKED:
            note = self.NOT_ALL_CHECKED
        self.note_beside_buttons(note)
        (again if unknown else button).focus()
        self.post_message(self.Known())

    @on(Button.Pressed, "#continue")
    def action_continue(self) -> None:
        if self.result is not None and self.result.diagnosis.outcome != "unknown":
            self.dismiss(Checked(self.result))

    def kept(self) -> Checked:
        return Checked(self.result, back=True)

    @on(Button.Pressed, "#again")
    def action_check_again(self) -> None:
        if self.result is None:
            return  # still checking
        self.result = None
        self.stage = None
        self.rows = []
        self._show_rows()
        for widget in ("#verdict", "#stack", "#findings"):
            self.query_one(widget, Static).update("")
        self.query_one("#spinner").display = True
        button = self.query_one("#continue", Button)
        button.disabled, button.display = True, True
        self.query_one("#again").display = False
        self.note_beside_buttons("")
        self.run_diagnosis()

    def action_back(self) -> None:
        self.workers.cancel_group(self, "diagnosis")
        super().action_back()

    def action_technical(self) -> None:
        if self.result is None:
            self.notify("The technical detail appears when the check is done.", timeout=3)
            return
        from gmailfix.screens.technical import TechnicalScreen

        self.app.push_screen(TechnicalScreen(evidence_text(self.result.diagnosis)))


def _not_checked_words(count: int) -> str:
    """The addresses past the limit, for the table: plain words, no code."""
    these = "this address was" if count == 1 else "these addresses were"
    return f"not checked: the server has too many addresses, {these} left out"


def _style(outcome: str) -> str:
    return {"accept": "green", "reject": "red"}.get(outcome, "yellow")
