"""Step 1: what the tool does, and the two ways in."""

from __future__ import annotations

from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Static

from gmailfix.screens.base import WizardScreen

Choice = Literal["start", "paste"]

INTRO = """\
[b]Gmail says "TLS Negotiation failed, the certificate doesn't match the host"?[/b]

gmailfix checks your mail server the way Gmail's "Send mail as" does, tells you in \
plain words why Gmail refuses it, and gives you settings that work.

It asks for your address and what you typed in Gmail, talks to your mail server \
(nothing is sent, no password is needed), and writes the fix as files you can use."""


class WelcomeScreen(WizardScreen[Choice]):
    STEP = 0
    HELP = (
        "Choose **Start** to check your mail server, or **I have an error message** to "
        "paste the text Gmail showed you and learn what it means first."
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "start", "Start", show=False)]
    AUTO_FOCUS = "#start"

    def compose(self) -> ComposeResult:
        yield from self.compose_title()
        with VerticalScroll(classes="body"):
            yield Static(INTRO, id="intro")
        with Horizontal(classes="nav"):
            yield Button("Start", id="start", variant="primary")
            yield Button("I have an error message", id="paste")
        yield from self.compose_footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss("paste" if event.button.id == "paste" else "start")

    def action_start(self) -> None:
        self.dismiss("start")

    def action_back(self) -> None:
        self.app.exit()
