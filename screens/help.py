"""The help for a step, over the step itself."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Markdown


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 72; max-width: 95%; height: auto; max-height: 90%;
        border: round $primary; background: $panel; padding: 0 1;
    }
    HelpScreen VerticalScroll { height: auto; }
    HelpScreen #close { margin: 1 0 0 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,enter,f1", "close", "Close"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text, self.text = title, text

    def compose(self) -> ComposeResult:
        # the Close button sits outside the scrolling text: always on screen
        with Vertical():
            with VerticalScroll():
                yield Markdown(
                    f"## Help: {self.title_text}\n\n{self.text}\n\n"
                    "**Keys**: Enter goes on · Esc goes back · F1 help · q quits · "
                    "Ctrl+P lists the commands."
                )
            yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        self._fit()
        self.query_one("#close", Button).focus()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """Let the text scroll within what is left once the frame (border 2, margin 1)
        and the Close button (3) have their rows: a percentage alone let the text
        push the button off a small screen."""
        room = int(self.size.height * 0.9) - 6
        self.query_one(VerticalScroll).styles.max_height = max(room, 2)

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
