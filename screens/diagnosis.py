"""Step 3: the diagnosis, live, then the verdict in Gmail's words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, DataTable, LoadingIndicator, Static
from textual.worker import Worker, WorkerState

from gmailfix.certs import dns_names
from gmailfix.diagnose import Diagnosis, DnsDone, Event, ProbeDone, Stage
from gmailfix.diagnosis_request import Request, run_request
from gmailfix.screens.base import WizardScreen
from gmailfix.screens.widgets import Evidence, evidence_text, findings_text, verdict_text
from gmailfix.smtp import ProbeResult


@dataclass
class Progress(Message):
    """One engine event, posted from the diagnosis worker."""

    event: Event


class DiagnosisScreen(WizardScreen[Diagnosis]):
    STEP = 2
    HELP = (
        "gmailfix looks up your domain in DNS, then connects to each candidate server on "
        "ports 587, 465 and 25 at once, the way Gmail does. Each row appears as its check "
        "finishes.\n\nThe verdict uses Gmail's own words. Press **t** for the technical detail "
        "(certificates, chain, TLS version). Esc stops the checks and goes back."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "continue", "Continue"),
        Binding("t", "toggle_evidence", "Technical detail"),
    ]

    def __init__(self, request: Request, previous: Diagnosis | None = None) -> None:
        super().__init__()
        self.request = request
        self.result = previous
        self.probes_done = 0

    def compose(self) -> ComposeResult:
        yield from self.compose_title()
        with VerticalScroll(classes="body"):
            yield Static(f"Checking {self.request.domain} as Gmail would…", id="status")
            yield LoadingIndicator(id="spinner")
            yield Static("", id="dns")
            yield DataTable(id="probes", cursor_type="none", zebra_stripes=True)
            yield Static("", id="verdict")
            yield Static("", id="findings")
            yield Evidence(id="evidence")
        with Horizontal(classes="nav"):
            yield Button("Continue", id="continue", variant="primary", disabled=True)
            yield Button("Back", id="back")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        table = self.query_one("#probes", DataTable)
        table.add_columns("server", "port", "SNI", "result")
        if self.result is not None:
            self._show(self.result)
        else:
            self.diagnose()

    @work(exclusive=True, exit_on_error=False, group="diagnosis")
    async def diagnose(self) -> Diagnosis:
        return await run_request(self.request, on_event=self._post_event)

    def _post_event(self, event: Event) -> None:
        self.post_message(Progress(event))

    def on_progress(self, message: Progress) -> None:
        event = message.event
        status = self.query_one("#status", Static)
        if isinstance(event, Stage):
            status.update(f"{event.text}…")
        elif isinstance(event, DnsDone):
            hosts = ", ".join(event.candidates) or "no server found"
            mx = ", ".join(m.host for m in event.facts.mx) or "none"
            self.query_one("#dns", Static).update(f"DNS: MX {mx}; checking {hosts}")
        elif isinstance(event, ProbeDone):
            self._add_row(event.result)

    def _add_row(self, probe: ProbeResult) -> None:
        self.probes_done += 1
        names = ", ".join(dns_names(probe.chain[0])) if probe.chain else ""
        result = probe.error_code or f"{probe.tls_version}, certificate for {names}"
        self.query_one("#probes", DataTable).add_row(
            probe.host, str(probe.port), "yes" if probe.sni else "no", result
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "diagnosis":
            return
        if event.state == WorkerState.SUCCESS and isinstance(event.worker.result, Diagnosis):
            self._show(event.worker.result)
        elif event.state == WorkerState.ERROR:
            self.query_one("#spinner").display = False
            self.query_one("#status", Static).update(
                f"[red]The diagnosis stopped: {event.worker.error}[/red]\nPress Esc to go back."
            )

    def _show(self, diagnosis: Diagnosis) -> None:
        self.result = diagnosis
        self.query_one("#spinner").display = False
        # rows came in as probes finished; now show them in a stable order
        self.query_one("#probes", DataTable).clear()
        for endpoint in diagnosis.endpoints:
            for probe in (endpoint.probe, endpoint.probe_no_sni):
                if probe is not None:
                    self._add_row(probe)
        self.query_one("#status", Static).update("Done.")
        self.query_one("#verdict", Static).update(verdict_text(diagnosis))
        self.query_one("#findings", Static).update(findings_text(diagnosis))
        self.query_one("#evidence", Evidence).update(evidence_text(diagnosis))
        button = self.query_one("#continue", Button)
        button.disabled = False
        button.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "back":
            self.action_back()
        else:
            self.action_continue()

    def action_continue(self) -> None:
        if self.result is not None:
            self.dismiss(self.result)

    def action_back(self) -> None:
        self.workers.cancel_group(self, "diagnosis")
        self.dismiss(None)

    def action_toggle_evidence(self) -> None:
        self.query_one("#evidence", Evidence).toggle_class("shown")
