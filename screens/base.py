"""What every wizard step shares: a step title, the keys, and a help text."""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Markdown, Static

ResultT = TypeVar("ResultT")

STEPS = (
    "Welcome",
    "Your details",
    "Diagnosis",
    "Choose a fix",
    "Your settings",
    "Export",
    "Check again",
)


class WizardScreen(Screen[ResultT | None], Generic[ResultT]):
    """A step of the wizard: Esc goes back (dismiss with None), ? shows HELP."""

    STEP = 0
    HELP = "Enter continues, Esc goes back, q quits."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("question_mark", "help", "Help", key_display="?"),
    ]

    def compose_title(self) -> ComposeResult:
        yield Static(
            f"gmailfix  ·  step {self.STEP + 1} of {len(STEPS)}: {STEPS[self.STEP]}", id="step"
        )

    def compose_footer(self) -> ComposeResult:
        yield Footer()

    def action_back(self) -> None:
        self.dismiss(None)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(STEPS[self.STEP], self.HELP))


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,enter", "close", "Close"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text, self.text = title, text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(
                f"## Help: {self.title_text}\n\n{self.text}\n\n"
                "**Keys**: Enter continues · Esc goes back · ? help · q or Ctrl+C quits · "
                "Ctrl+P opens the command palette."
            )
            with Horizontal(classes="nav"):
                yield Button("Close", id="close", variant="primary")

    def on_button_pressed(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
