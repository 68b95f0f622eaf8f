"""Step 7: check again with the new settings and say whether Gmail would accept them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, LoadingIndicator, Static
from textual.worker import Worker, WorkerState

from gmailfix.connection import Connection
from gmailfix.diagnose import Diagnosis, diagnose
from gmailfix.inputs import Target
from gmailfix.login import Credentials
from gmailfix.remedies.plan import Plan
from gmailfix.screens.base import WizardScreen
from gmailfix.screens.steps import Step
from gmailfix.screens.widgets import findings_text, name, verdict_text


@dataclass(frozen=True)
class Rechecked:
    """The last check with the fix's settings (None: none finished), and whether to finish."""

    diagnosis: Diagnosis | None
    finish: bool = False


class RecheckScreen(WizardScreen[Rechecked]):
    STEP = Step.RECHECK
    HELP = (
        "gmailfix checks the server again with the SMTP Server and port you will type in "
        "Gmail. If the fix changes the server (a new certificate), do this after the change. "
        "**Check again** repeats it; **Finish** closes gmailfix."
    )
    BUTTONS = (("done", "Finish", True), ("again", "Check again", False), ("back", "Back", False))
    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "recheck", "Check again")]

    def __init__(
        self, connection: Connection, target: Target, credentials: Credentials | None, plan: Plan
    ) -> None:
        super().__init__()
        self.connection, self.target, self.credentials = connection, target, credentials
        self.plan = plan
        self.result: Diagnosis | None = None

    def compose_body(self) -> ComposeResult:
        plan = self.plan
        yield Static(
            Text(f"Checking {name(plan.smtp_host)} port {plan.port} as Gmail would…"), id="status"
        )
        yield LoadingIndicator(id="spinner")
        yield Static("", id="verdict")
        yield Static("", id="findings")

    def on_mount(self) -> None:
        self.action_recheck()

    @on(Button.Pressed, "#again")
    def action_recheck(self) -> None:
        self.query_one("#spinner").display = True
        self.query_one("#verdict", Static).update("")
        self.check()

    @work(exclusive=True, exit_on_error=False, group="recheck")
    async def check(self) -> Diagnosis:
        target = self.target.with_server(self.plan.smtp_host, self.plan.port)  # type: ignore[arg-type]
        return await diagnose(target, self.connection, credentials=self.credentials)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "recheck" or event.state not in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
        ):
            return
        self.query_one("#spinner").display = False
        status = self.query_one("#status", Static)
        if event.state == WorkerState.ERROR:
            status.update(
                Text("The check stopped because of a problem inside gmailfix.", style="red")
            )
            return
        result = event.worker.result
        assert isinstance(result, Diagnosis)
        self.result = result
        self.post_message(self.Known())
        status.update(self._accepted() if result.accepted else self._advice())
        self.query_one("#verdict", Static).update(verdict_text(result))
        self.query_one("#findings", Static).update(findings_text(result))
        self.query_one("#done", Button).focus()

    def _accepted(self) -> str:
        if self.plan.on_server:
            return "Done: your server passes Gmail's check now. Type the settings from step 5 in Gmail."
        return (
            "With the settings from step 5, Gmail would accept your server: type them in "
            "Gmail's 'Send mail as' and save."
        )

    def _advice(self) -> str:
        if self.plan.on_server:
            return "Not yet: follow the README in the export on the server, then check again."
        return "Still refused: see below."

    def kept(self) -> Rechecked:
        return Rechecked(self.result)

    @on(Button.Pressed, "#done")
    def _done(self) -> None:
        self.dismiss(Rechecked(self.result, finish=True))
