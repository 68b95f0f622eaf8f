"""Step 6: write the whole fix as a folder or a zip."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet, Static

from gmailfix.bundle import bundle_files, write_folder, write_zip
from gmailfix.diagnose import Diagnosis
from gmailfix.errors import GmailfixError
from gmailfix.remedies.fix import FixPlan
from gmailfix.screens.base import WizardScreen


class ExportScreen(WizardScreen[Path]):
    STEP = 5
    HELP = (
        "The bundle holds a README with numbered steps for your case, the Gmail settings, "
        "the Exim files, certbot scripts, DNS records, a verify script and the report. No "
        "password is ever written. **Skip** goes on without writing anything."
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+s", "export", "Write")]

    def __init__(self, plan: FixPlan, diagnosis: Diagnosis, directory: Path | None = None) -> None:
        super().__init__()
        self.plan, self.diagnosis = plan, diagnosis
        self.directory = directory or Path.home()
        self.written: Path | None = None

    def compose(self) -> ComposeResult:
        default = self.directory / f"gmailfix-{self.plan.domain}"
        yield from self.compose_title()
        with VerticalScroll(classes="body"):
            yield Label("Write the fix to")
            yield Input(str(default), id="path")
            with RadioSet(id="kind"):
                yield RadioButton("a folder", value=True, id="folder")
                yield RadioButton("a .zip file", id="zip")
            yield Checkbox("Replace it if it exists", id="force")
            yield Static("", id="result")
        with Horizontal(classes="nav"):
            yield Button("Write", id="write", variant="primary")
            yield Button("Skip", id="skip")
            yield Button("Back", id="back")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#write", Button).focus()

    def on_input_submitted(self) -> None:
        self.action_export()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "back":
            self.dismiss(None)
        elif event.button.id == "skip":
            self.dismiss(Path())
        elif self.written is not None:
            self.dismiss(self.written)
        else:
            self.action_export()

    def action_export(self) -> None:
        raw = self.query_one("#path", Input).value.strip()
        as_zip = self.query_one("#zip", RadioButton).value
        target = Path(raw).expanduser()
        if as_zip and target.suffix != ".zip":
            target = target.with_name(target.name + ".zip")
        force = self.query_one("#force", Checkbox).value
        result = self.query_one("#result", Static)
        if target.exists() and not force:
            result.update(
                f"[yellow]{target} already exists.[/yellow] Tick “Replace it if it exists”, "
                "or choose another path."
            )
            return
        try:
            files = bundle_files(self.plan, self.diagnosis)
            written = (write_zip if as_zip else write_folder)(files, target, force=force)
        except (GmailfixError, OSError) as exc:
            result.update(f"[red]Not written: {exc}[/red]")
            return
        self.written = written
        listing = "\n".join(f"  {f.path}" for f in files)
        result.update(
            f"[green]Wrote {len(files)} files to {written}[/green]\n{listing}\n\nOpen README.md there and follow its steps."
        )
        button = self.query_one("#write", Button)
        button.label = "Continue"
        button.focus()
