"""What every wizard step shares: the frame (title, body, buttons, keys), Back, and a
safety net.

A step composes only its body (``compose_body``) and names its buttons
(``BUTTONS``); the base lays out the frame, so every step looks and behaves
the same. A step gets what it needs as arguments and dismisses a frozen
result; Back dismisses ``kept()`` (None, or what the person typed here, marked
as not done), so nothing typed is lost by going back.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from gmailfix.screens.steps import Step

ResultT = TypeVar("ResultT")
# a terminal with fewer rows is "short": steps tighten so nothing needs scrolling past
SHORT_BELOW = 24
UNEXPECTED = (
    "Something went wrong inside gmailfix here. Nothing you typed is lost: try again, "
    "go back with Esc, or quit with q."
)


def report_unexpected(screen: Screen[Any], error: Exception) -> None:
    """A plain message instead of a traceback that would end the wizard."""
    screen.log.error(repr(error))
    screen.app.notify(UNEXPECTED, title="Sorry", severity="error", timeout=10)


class WizardScreen(Screen[ResultT | None], Generic[ResultT]):
    """A step of the wizard: Esc goes back, F1 or ? shows HELP."""

    STEP: ClassVar[Step] = Step.WELCOME
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

    def compose(self) -> ComposeResult:
        yield Static(f"gmailfix · {self.STEP.heading}", id="step")
        with VerticalScroll(classes="body"):
            yield from self.compose_body()
        with Horizontal(classes="nav"):
            for button_id, label, primary in self.BUTTONS:
                yield Button(label, id=button_id, variant="primary" if primary else "default")
            yield Static("", id="nav-note")
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        yield from ()

    class Known(Message):
        """The step found out something that outlasts it (a check's result, a write): the
        flow keeps ``kept()`` now, so quitting from here knows it too."""

    def kept(self) -> ResultT | None:
        """What Back (or a jump from the command palette) leaves with: None, or what the
        person typed and found on this step, marked as not done."""
        return None

    def note_beside_buttons(self, text: str) -> None:
        """A few words next to the buttons, e.g. why the main one is greyed out ('' hides)."""
        note = self.query_one("#nav-note", Static)
        note.update(text)
        note.display = bool(text)

    def action_go_on(self) -> None:
        """What the main button does, when it is shown and not greyed out."""
        main = next(button_id for button_id, _, primary in self.BUTTONS if primary)
        for button in self.query(f"#{main}").results(Button):
            if button.display and not button.disabled:
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
        self.dismiss(self.kept())

    def action_help(self) -> None:
        from gmailfix.screens.help import HelpScreen  # Markdown is heavy: load on demand

        self.app.push_screen(HelpScreen(self.STEP.title, self.help_text()))

    async def _on_message(self, message: Message) -> None:
        # Textual ends the app on any exception in a handler (and stops this screen's
        # messages). A step's handlers are ours: one that fails shows a plain message
        # and the step stays usable. (Key bindings are guarded in the app's run_action.)
        try:
            await super()._on_message(message)
        except Exception as error:
            report_unexpected(self, error)
