"""'I am on the mail server': check this computer's own mail server (gmailfix doctor).

What outside checks cannot see: whether the MTA's user can read the key, whether
the running daemon serves the certificate on disk, whether the settings sit in
the file the active layout reads, and whether renewals reach the MTA.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Button, Input, Label, LoadingIndicator, Static
from textual.worker import Worker, WorkerState

from gmailfix.errors import GmailfixError, InputError
from gmailfix.screens.base import WizardScreen
from gmailfix.screens.steps import Step
from gmailfix.screens.widgets import MARKS
from gmailfix.text import clean

if TYPE_CHECKING:
    from gmailfix.connection import Connection
    from gmailfix.server.doctor import DoctorReport
    from gmailfix.server.system import Root, Runner


class DoctorScreen(WizardScreen[None]):
    STEP = Step.SERVER
    CSS_PATH = "doctor.tcss"
    HELP = (
        "Run this on the mail server itself, as root (sudo gmailfix). gmailfix reads the "
        "mail server's own settings (Exim or Postfix), checks the certificate and key files, "
        "asks each port what it serves, and looks at certbot's renewal. Nothing is changed. "
        "To change the server, export a fix and run `gmailfix apply` on the bundle."
    )
    BUTTONS = (("continue", "Check this server", True), ("back", "Back", False))

    def __init__(
        self,
        smtp_host: str,
        connection: Callable[[], Connection],
        root: Root | None = None,
        runner: Runner | None = None,
    ) -> None:
        super().__init__()
        self.smtp_host = smtp_host  # as typed in the details form, if it was
        self.connection = connection  # made at the first check, not before
        self.root, self.runner = root, runner  # this computer (None), or a copy (tests)

    def compose_body(self) -> ComposeResult:
        yield Static(
            "gmailfix checks the mail server on this computer: its settings, its certificate "
            "files, what each port serves, and whether renewals reach it. Nothing is changed.",
            id="intro",
        )
        yield Label("The SMTP Server typed in Gmail (blank: the server's own name)")
        yield Input(self.smtp_host, placeholder="mail.example.com", id="host")
        yield LoadingIndicator(id="spinner")
        yield Static("", id="report")

    def on_mount(self) -> None:
        self.query_one("#spinner").display = False
        self.query_one("#continue", Button).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#continue")
    def action_continue(self) -> None:
        self.query_one("#spinner").display = True
        self.query_one("#report", Static).update("")
        self.check(self.query_one("#host", Input).value.strip() or None)

    @work(exclusive=True, exit_on_error=False, group="doctor")
    async def check(self, host: str | None) -> DoctorReport:
        from gmailfix.server.doctor import run_doctor

        if self.runner is None:
            return await run_doctor(self.root, host=host, connection=self.connection())
        return await run_doctor(
            self.root, host=host, runner=self.runner, connection=self.connection()
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "doctor" or event.state not in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
        ):
            return
        self.query_one("#spinner").display = False
        report = self.query_one("#report", Static)
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            if isinstance(error, GmailfixError | InputError):
                report.update(Text(f"Nothing to check: {clean(str(error))}", style="yellow"))
            else:
                report.update(
                    Text("The check stopped because of a problem inside gmailfix.", style="red")
                )
            return
        result = event.worker.result
        assert result is not None
        report.update(doctor_words(result))


def doctor_words(report: DoctorReport) -> RenderableType:
    parts: list[RenderableType] = []
    if report.ok:
        parts.append(
            Text("✓ Nothing is wrong with this server's encryption set-up.", style="bold green")
        )
    else:
        count = len(report.problems)
        parts.append(Text(f"Found {count} thing{'s' * (count != 1)} to fix:", style="bold"))
    for item in report.findings:
        mark, style = MARKS[item.severity]
        parts.append(Text.assemble((f"{mark} ", style), (clean(item.title), "bold")))
        parts.append(Padding(Text(clean(item.detail, limit=1500)), (0, 0, 1, 2)))
    for note in report.notes:
        parts.append(Text(clean(note, limit=500), style="dim"))
    if not report.ok:
        parts.append(
            Text(
                "To get the fix as files: Back, then Start. gmailfix checks this server as "
                "Gmail does and writes the settings that fix it."
            )
        )
    return Group(*parts)
