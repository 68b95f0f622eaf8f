"""Step 6: write the whole fix as a folder or a zip (in a worker, off the UI thread)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet, Static
from textual.worker import Worker, WorkerState

from gmailfix.bundle import Written, bundle_files, write_bundle
from gmailfix.errors import BundleError, GmailfixError
from gmailfix.screens.base import WizardScreen
from gmailfix.text import clean

TICK = (
    "To replace an earlier gmailfix export there, tick “Replace an earlier gmailfix "
    "export at this place”; or choose another folder."
)
ELSEWHERE = "Choose another folder."


class ExportScreen(WizardScreen[Path]):
    STEP = 5
    CSS_PATH = "export.tcss"
    HELP = (
        "The export holds a README with numbered steps for your case, the Gmail settings, "
        "the server's configuration, certbot scripts where a certificate is needed, a check "
        "script and the full report. No password is ever written. **Skip** goes on without "
        "writing anything."
    )
    BUTTONS = (
        ("continue", "Write", True),
        ("skip", "Skip", False),
        ("back", "Back", False),
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+s", "continue", "Write")]

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory
        self.written: Path | None = None
        self.wrote_with: tuple[str, bool, bool] | None = None  # the choices of that write
        self.writing: tuple[str, bool, bool] | None = None

    def choices(self) -> tuple[str, bool, bool]:
        """Where and how to write, as the form shows it now: path, zip?, replace?"""
        path = self.query_one("#path", Input).value.strip()
        return path, self.state.as_zip, self.query_one("#force", Checkbox).value

    def compose_body(self) -> ComposeResult:
        state = self.state
        assert state.plan is not None
        plan = state.plan
        default = str(self.directory / f"gmailfix-{plan.domain}-{plan.slug}")
        yield Static("", id="result")
        yield Label("Write the fix to")
        yield Input(state.export_paths.get(plan.slug, default), id="path", select_on_focus=False)
        with RadioSet(id="kind"):
            yield RadioButton("a folder", value=not state.as_zip, id="folder")
            yield RadioButton("a .zip file", value=state.as_zip, id="zip")
        yield Checkbox("Replace an earlier gmailfix export at this place", id="force")

    def on_mount(self) -> None:
        # the place first: typing changes it, Enter writes there
        self.query_one("#path", Input).focus()
        self.query_one("#result").display = False

    def on_input_changed(self, event: Input.Changed) -> None:
        plan = self.state.plan
        if plan is not None:
            self.state.export_paths[plan.slug] = event.value
        self._changed()

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        self.state.as_zip = event.pressed.id == "zip"
        self._changed()

    def on_checkbox_changed(self) -> None:
        self._changed()

    def _changed(self) -> None:
        """After a write, another place or kind must be written, not skipped over; before
        one, what was said about the old choices no longer holds."""
        if self.written is None:
            self.query_one("#result").display = False
            return
        if self.choices() == self.wrote_with:
            return
        self.written = None
        button = self.query_one("#continue", Button)
        button.label = "Write"
        button.refresh(layout=True)
        self._say(
            Text.assemble(
                (f"Already written to {clean(self.state.written or '')}.\n", "green"),
                "You changed where or how: press Write to write it there too.",
            )
        )

    @on(Input.Submitted)
    @on(Button.Pressed, "#continue")
    def action_continue(self) -> None:
        if self.written is not None:
            self.dismiss(self.written)  # already written: a second Ctrl+S goes on
            return
        raw = self.query_one("#path", Input).value.strip()
        if not raw:
            self._say(Text("Type where the fix should go.", style="yellow"))
            return
        target = Path(raw).expanduser()
        if self.state.as_zip and target.suffix != ".zip":
            target = target.with_name(target.name + ".zip")
        force = self.query_one("#force", Checkbox).value
        self.query_one("#continue", Button).disabled = True
        self.writing = self.choices()
        self.write(target, force)

    @on(Button.Pressed, "#skip")
    def _skip(self) -> None:
        self.dismiss(Path())

    @work(thread=True, exclusive=True, exit_on_error=False, group="export")
    def write(self, target: Path, force: bool) -> tuple[Written, int]:
        state = self.state
        assert state.plan is not None and state.proposal is not None
        files = bundle_files(state.plan, state.proposal)
        return write_bundle(files, target, as_zip=state.as_zip, force=force), len(files)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "export" or event.state not in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
        ):
            return
        button = self.query_one("#continue", Button)
        button.disabled = False
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            words = str(error) if isinstance(error, GmailfixError) else "it could not be written"
            if isinstance(error, BundleError):
                # the engine alone decides what may be replaced: an earlier export
                # (the CLI's --force is this screen's box), never anything else
                words += ". " + (TICK if error.replaceable else ELSEWHERE)
            self._say(Text(f"Not written: {clean(words)}", style="red"))
            return
        written, count = event.worker.result  # type: ignore[misc]
        self.written = written.path
        self.wrote_with = self.writing
        self.state.written = written.path
        readme = "README.md inside the zip" if written.path.suffix == ".zip" else "README.md there"
        message = Text.assemble(
            (f"Wrote {count} files to {clean(written.path)}\n", "green"),
            f"Open {readme} and follow its steps, then check again here.",
        )
        if written.leftover is not None:
            message.append(f"\nThe earlier export could not be removed: {clean(written.leftover)}")
        self._say(message)
        button.label = "Continue"
        button.refresh(layout=True)
        button.focus()

    def _say(self, text: Text) -> None:
        result = self.query_one("#result", Static)
        result.update(text)
        result.display = True
