"""What every wizard step shares: a step title, the keys, and a help text."""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

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
        Binding("question_mark,f1", "help", "Help", key_display="?"),
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
        from gmailfix.screens.help import HelpScreen  # Markdown is heavy: load on demand

        self.app.push_screen(HelpScreen(STEPS[self.STEP], self.HELP))
