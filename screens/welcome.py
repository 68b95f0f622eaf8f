"""Step 1: what the tool does, and the ways in."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, Static

from gmailfix.screens.base import WizardScreen
from gmailfix.screens.steps import Step


class Way(Enum):
    """The way in the person chose."""

    START = "start"  # check my server
    PASTE = "paste"  # I have an error message
    SERVER = "server"  # I am on the mail server


INTRO = """\
[b]Gmail says "TLS Negotiation failed, the certificate doesn't match the host"?[/b]

gmailfix checks your mail server the way Gmail's "Send mail as" does, tells you in \
plain words why Gmail refuses it, and gives you settings that work.

It asks for your address and what you typed in Gmail, talks to your mail server \
(no mail is sent, no password is needed), and writes the fix as files you can use."""


class WelcomeScreen(WizardScreen[Way]):
    STEP = Step.WELCOME
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

    def __init__(self, demo_note: str = "") -> None:
        super().__init__()
        self.demo_note = demo_note

    def compose_body(self) -> ComposeResult:
        yield Static(INTRO, id="intro")  # our own text: markup is fine here
        if self.demo_note:  # in the body: a passing note would cover the buttons
            yield Static(f"Demo: {self.demo_note}", id="demo-note", markup=False)

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        self.dismiss(Way.START)

    @on(Button.Pressed, "#paste")
    def _paste(self) -> None:
        self.dismiss(Way.PASTE)

    @on(Button.Pressed, "#server")
    def _server(self) -> None:
        self.dismiss(Way.SERVER)

    def action_nothing(self) -> None:
        self.notify("This is the first step. Press q to quit.", timeout=3)
