"""Step 7: diagnose again with the new settings and say whether Gmail accepts them."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, Literal

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, LoadingIndicator, Static
from textual.worker import Worker, WorkerState

from gmailfix.diagnose import Diagnosis
from gmailfix.diagnosis_request import Request, run_request
from gmailfix.remedies.fix import FixPlan
from gmailfix.screens.base import WizardScreen
from gmailfix.screens.widgets import findings_text, verdict_text

Next = Literal["again", "done"]


class RecheckScreen(WizardScreen[Next]):
    STEP = 6
    HELP = (
        "gmailfix checks the server again with the SMTP Server and port you will type in "
        "Gmail. If you changed the server (a new certificate), do this after the change. "
        "**Check again** repeats it; **Finish** quits."
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "recheck", "Check again")]

    def __init__(self, request: Request, plan: FixPlan) -> None:
        super().__init__()
        self.request = replace(request, smtp_host=plan.smtp_host, ports=(plan.port,))
        self.plan = plan

    def compose(self) -> ComposeResult:
        yield from self.compose_title()
        with VerticalScroll(classes="body"):
            yield Static(
                f"Checking {self.plan.smtp_host} port {self.plan.port} as Gmail would…", id="status"
            )
            yield LoadingIndicator(id="spinner")
            yield Static("", id="verdict")
            yield Static("", id="findings")
        with Horizontal(classes="nav"):
            yield Button("Finish", id="done", variant="primary")
            yield Button("Check again", id="again")
            yield Button("Back", id="back")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.action_recheck()

    def action_recheck(self) -> None:
        self.query_one("#spinner").display = True
        self.query_one("#verdict", Static).update("")
        self.check()

    @work(exclusive=True, exit_on_error=False, group="recheck")
    async def check(self) -> Diagnosis:
        return await run_request(self.request)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "recheck" or event.state not in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
        ):
            return
        self.query_one("#spinner").display = False
        if event.state == WorkerState.ERROR:
            self.query_one("#status", Static).update(
                f"[red]The check stopped: {event.worker.error}[/red]"
            )
            return
        result = event.worker.result
        assert isinstance(result, Diagnosis)
        self.query_one("#status", Static).update("Done." if result.accepted else _advice(self.plan))
        self.query_one("#verdict", Static).update(verdict_text(result))
        self.query_one("#findings", Static).update(findings_text(result))
        self.query_one("#done", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "back":
            self.dismiss(None)
        elif event.button.id == "again":
            self.action_recheck()
        else:
            self.dismiss("done")


def _advice(plan: FixPlan) -> str:
    if plan.kind == "isp-hostname":
        return "Still failing: see below."
    return "Not yet: apply the fix on the server (README.md in the bundle), then check again."
