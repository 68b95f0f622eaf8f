"""The technical detail of a diagnosis, in its own window: one key away, never in the way."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class TechnicalScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    TechnicalScreen { align: center middle; }
    TechnicalScreen > Vertical {
        width: 100; max-width: 98%; height: 90%;
        border: round $primary; background: $panel; padding: 0 1;
    }
    TechnicalScreen VerticalScroll { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,t,enter", "close", "Close")]

    def __init__(self, detail: Text) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Technical detail (for whoever helps you)", classes="title")
            with VerticalScroll():
                yield Static(self.detail)
            yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
