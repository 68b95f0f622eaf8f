"""Step 1: what the tool does, and the ways in."""

from __future__ import annotations

from typing import ClassVar, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, Static

from gmailfix.screens.base import WizardScreen

Choice = Literal["start", "paste", "server"]

INTRO = """\
[b]Gmail says "TLS Negotiation failed, the certificate doesn't match the host"?[/b]

gmailfix checks your mail server the way Gmail's "Send mail as" does, tells you in \
plain words why Gmail refuses it, and gives you settings that work.

It asks for your address and what you typed in Gmail, talks to your mail server \
(no mail is sent, no password is needed), and writes the fix as files you can use."""


class WelcomeScreen(WizardScreen[Choice]):
    STEP = 0
    CSS_PATH = "welcome.tcss"
    HELP = (
        "Choose **Start** to check your mail server, or **I have an error message** to "
        "paste the text Gmail showed you and learn what it means first. **On the mail "
        "server** checks the mail server on this very computer (run gmailfix there, as "
        "root). **q** quits."
    )
    BUTTONS = (
        ("start", "Start", True),
        ("paste", "I have an error message", False),
        ("server", "On the mail server", False),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "start", "Start", show=False),
        # the first step has nowhere to go back to: Esc does nothing rather than quit
        Binding("escape", "nothing", show=False),
    ]
    AUTO_FOCUS = "#start"

    def compose_body(self) -> ComposeResult:
        yield Static(INTRO, id="intro")  # our own text: markup is fine here
        if self.wizard.demo_note:  # in the body: a passing note would cover the buttons
            yield Static(f"Demo: {self.wizard.demo_note}", id="demo-note")

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        self.dismiss("start")

    @on(Button.Pressed, "#paste")
    def _paste(self) -> None:
        self.dismiss("paste")

    @on(Button.Pressed, "#server")
    def _server(self) -> None:
        self.dismiss("server")

    def action_nothing(self) -> None:
        self.notify("This is the first step. Press q to quit.", timeout=3)
