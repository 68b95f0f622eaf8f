"""Paste Gmail's error text: the tool says what it means before diagnosing."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import Button, Static, TextArea

from gmailfix.gmail import explain_error
from gmailfix.screens.base import WizardScreen
from gmailfix.screens.steps import Step


@dataclass(frozen=True)
class Pasted:
    """What was pasted, kept when the person goes back too."""

    text: str
    back: bool = False


class PasteErrorScreen(WizardScreen[Pasted]):
    STEP = Step.PASTE
    CSS_PATH = "paste_error.tcss"
    HELP = (
        "Paste the whole message Gmail showed, or the bounce Gmail sent you (your terminal's "
        "paste, often Ctrl+Shift+V). What it means and what to do appear below as you paste. "
        "**Continue** goes on to the check; coming back here keeps what you pasted."
    )

    def __init__(self, pasted: str = "") -> None:
        super().__init__()
        self.pasted = pasted

    def compose_body(self) -> ComposeResult:
        yield Static("Paste the message Gmail showed you, or the bounce it sent:")
        yield TextArea(self.pasted, id="pasted", soft_wrap=True)
        yield Static("", id="meaning")

    def on_mount(self) -> None:
        self.query_one("#pasted", TextArea).focus()
        self._explain(self.pasted)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._explain(event.text_area.text)

    def _explain(self, text: str) -> None:
        self.query_one("#meaning", Static).update(meaning_of(text))

    def kept(self) -> Pasted:
        return Pasted(self.query_one("#pasted", TextArea).text, back=True)

    @on(Button.Pressed, "#continue")
    def action_continue(self) -> None:
        self.dismiss(Pasted(self.query_one("#pasted", TextArea).text))


def meaning_of(text: str) -> Text:
    """What each known part of the pasted text means and what to do, in plain words.

    Only gmailfix's own sentences are shown (as Text, never markup): the pasted
    text, which is outside text, stays in the text box."""
    if not text.strip():
        return Text("")
    matches = explain_error(text)
    if not matches:
        return Text.assemble(
            ("gmailfix does not know this message. ", "yellow"),
            "Paste all of it, a bounce's 'The response was:' line too. The check will still "
            "look at everything Gmail checks.",
        )
    out = Text()
    for entry in matches:
        out.append(f"“{entry.phrase}”\n", style="bold")
        out.append(entry.meaning + "\n")
        out.append("What to do: ", style="bold")
        out.append(entry.todo + "\n\n")
    out.rstrip()
    return out
