"""Step 6: write the whole fix as a folder or a zip (in a worker, off the UI thread)."""

from __future__ import annotations

from dataclasses import dataclass
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
from gmailfix.remedies.model import Proposal
from gmailfix.remedies.plan import Plan
from gmailfix.screens.base import WizardScreen
from gmailfix.screens.state import Place
from gmailfix.screens.steps import Step
from gmailfix.text import clean

TICK = (
    "To replace an earlier gmailfix export there, tick “Replace an earlier gmailfix "
    "export at this place”; or choose another folder."
)
ELSEWHERE = "Choose another folder."


@dataclass(frozen=True)
class Exported:
    """Where the export was to go, and what became of it."""

    place: Place
    written: Path | None = None  # where it was written (also when the person went back)
    skipped: bool = False  # the person chose to write nothing
    back: bool = False


@dataclass(frozen=True)
class Request:
    """One write, as the form showed it when Write was pressed: the thread reads only this."""

    target: Path
    as_zip: bool
    force: bool


class ExportScreen(WizardScreen[Exported]):
    STEP = Step.EXPORT
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

    def __init__(self, plan: Plan, proposal: Proposal, place: Place) -> None:
        super().__init__()
        self.plan, self.proposal = plan, proposal
        self.place = place
        self.written: Path | None = None  # written with the choices the form shows now
        self.wrote_to: Path | None = None  # the last place written, whatever the form shows
        self.wrote_with: tuple[str, bool, bool] | None = None  # the choices of that write
        self.writing: tuple[str, bool, bool] | None = None

    @staticmethod
    def default_place(plan: Plan, directory: Path) -> Place:
        return Place(str(directory / f"gmailfix-{plan.domain}-{plan.slug}"))

    def choices(self) -> tuple[str, bool, bool]:
        """Where and how to write, as the form shows it now: path, zip?, replace?"""
        path = self.query_one("#path", Input).value.strip()
        return path, self.place.as_zip, self.query_one("#force", Checkbox).value

    def compose_body(self) -> ComposeResult:
        place = self.place
        yield Static("", id="result")
        yield Label("Write the fix to")
        yield Input(place.path, id="path", select_on_focus=False)
        with RadioSet(id="kind"):
            yield RadioButton("a folder", value=not place.as_zip, id="folder")
            yield RadioButton("a .zip file", value=place.as_zip, id="zip")
        yield Checkbox("Replace an earlier gmailfix export at this place", id="force")

    def on_mount(self) -> None:
        # the place first: typing changes it, Enter writes there
        self.query_one("#path", Input).focus()
        self.query_one("#result").display = False

    def on_input_changed(self, event: Input.Changed) -> None:
        self.place = Place(event.value, self.place.as_zip)
        self._changed()

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        self.place = Place(self.place.path, event.pressed.id == "zip")
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
                (f"Already written to {clean(self.wrote_to or '')}.\n", "green"),
                "You changed where or how: press Write to write it there too.",
            )
        )

    @on(Input.Submitted)
    @on(Button.Pressed, "#continue")
    def action_continue(self) -> None:
        if self.written is not None:
            # already written: a second Ctrl+S goes on
            self.dismiss(Exported(self.place, self.written))
            return
        path, as_zip, force = self.writing = self.choices()
        if not path:
            self._say(Text("Type where the fix should go.", style="yellow"))
            return
        target = Path(path).expanduser()
        if as_zip and target.suffix != ".zip":
            target = target.with_name(target.name + ".zip")
        self.query_one("#continue", Button).disabled = True
        self.write(Request(target, as_zip, force))

    @on(Button.Pressed, "#skip")
    def _skip(self) -> None:
        self.dismiss(Exported(self.place, self.wrote_to, skipped=self.wrote_to is None))

    def kept(self) -> Exported:
        return Exported(self.place, self.wrote_to, back=True)

    @work(thread=True, exclusive=True, exit_on_error=False, group="export")
    def write(self, request: Request) -> tuple[Written, int]:
        # the choices come with the request, read once on the UI thread: a change made
        # while this runs cannot give a zip a folder's name
        files = bundle_files(self.plan, self.proposal)
        written = write_bundle(files, request.target, as_zip=request.as_zip, force=request.force)
        return written, len(files)

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
        self.written = self.wrote_to = written.path
        self.wrote_with = self.writing
        self.post_message(self.Known())
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
