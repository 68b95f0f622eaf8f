"""What every wizard step shares: the frame (title, body, buttons, keys) and Back.

A step composes only its body (``compose_body``) and names its buttons
(``BUTTONS``); the base lays out the frame, so every step looks and behaves
the same, and Back is handled once, here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

if TYPE_CHECKING:
    from gmailfix.screens.app import GmailfixApp
    from gmailfix.screens.state import WizardState

ResultT = TypeVar("ResultT")
# a terminal with fewer rows is "short": steps tighten so nothing needs scrolling past
SHORT_BELOW = 24

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
    """A step of the wizard: Esc goes back (dismiss with None), F1 or ? shows HELP."""

    STEP = 0
    HELP = "Enter continues, Esc goes back, q quits."
    # (id, label, primary?) of the buttons under the body; "back" is handled here
    BUTTONS: ClassVar[tuple[tuple[str, str, bool], ...]] = (
        ("continue", "Continue", True),
        ("back", "Back", False),
    )
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (80, "-wide")]  # noqa: RUF012 - as Screen types it
    VERTICAL_BREAKPOINTS = [(0, "-short"), (SHORT_BELOW, "-tall")]  # noqa: RUF012
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        # Ctrl+S goes on from anywhere (a step may name it in its footer)
        Binding("ctrl+s", "go_on", "Continue", show=False),
        Binding("f1,question_mark", "help", "Help", key_display="F1"),
        # a focused button takes no arrow keys: let them scroll the step's text
        Binding("pagedown", "scroll_body('page_down')", show=False),
        Binding("pageup", "scroll_body('page_up')", show=False),
        Binding("down", "scroll_body('down')", show=False),
        Binding("up", "scroll_body('up')", show=False),
    ]

    @property
    def wizard(self) -> GmailfixApp:
        from gmailfix.screens.app import GmailfixApp

        app = self.app
        assert isinstance(app, GmailfixApp)
        return app

    @property
    def state(self) -> WizardState:
        return self.wizard.state

    def compose(self) -> ComposeResult:
        yield Static(self.step_title(), id="step")
        with VerticalScroll(classes="body"):
            yield from self.compose_body()
        with Horizontal(classes="nav"):
            for button_id, label, primary in self.BUTTONS:
                yield Button(label, id=button_id, variant="primary" if primary else "default")
            yield Static("", id="nav-note")
        yield Footer(compact=True)

    def step_title(self) -> str:
        return f"gmailfix · step {self.STEP + 1} of {len(STEPS)}: {STEPS[self.STEP]}"

    def compose_body(self) -> ComposeResult:
        yield from ()

    def note_beside_buttons(self, text: str) -> None:
        """A few words next to the buttons, e.g. why the main one is greyed out ('' hides)."""
        note = self.query_one("#nav-note", Static)
        note.update(text)
        note.display = bool(text)

    def action_go_on(self) -> None:
        """What the main button does, when it is not greyed out."""
        main = next(button_id for button_id, _, primary in self.BUTTONS if primary)
        for button in self.query(f"#{main}").results(Button):
            if not button.disabled:
                button.press()

    def on_screen_suspend(self) -> None:
        # a passing note belongs to the step that showed it: it does not follow the
        # person to the next step, where it would cover the buttons
        self.app.clear_notifications()

    def action_scroll_body(self, how: str) -> None:
        body = self.query_one(".body", VerticalScroll)
        {
            "page_down": body.scroll_page_down,
            "page_up": body.scroll_page_up,
            "down": body.scroll_down,
            "up": body.scroll_up,
        }[how]()

    def help_text(self) -> str:
        """The F1 help for this step."""
        return self.HELP

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()

    def action_back(self) -> None:
        self.dismiss(None)

    def action_help(self) -> None:
        from gmailfix.screens.help import HelpScreen  # Markdown is heavy: load on demand

        self.app.push_screen(HelpScreen(STEPS[self.STEP], self.help_text()))
