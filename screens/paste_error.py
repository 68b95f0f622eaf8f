"""Paste Gmail's error text: the tool says what it means before diagnosing."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Static, TextArea

from gmailfix.gmail import explain_error
from gmailfix.screens.base import WizardScreen


class PasteErrorScreen(WizardScreen[bool]):
    STEP = 0
    HELP = (
        "Paste the whole message Gmail showed (Ctrl+V or your terminal's paste). The "
        "meaning appears below as you paste. **Continue** goes on to the diagnosis."
    )

    def compose(self) -> ComposeResult:
        yield from self.compose_title()
        with VerticalScroll(classes="body"):
            yield Static("Paste the message Gmail showed you:")
            yield TextArea(id="pasted", soft_wrap=True)
            yield Static("", id="meaning")
        with Horizontal(classes="nav"):
            yield Button("Continue", id="continue", variant="primary")
            yield Button("Back", id="back")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#pasted", TextArea).focus()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self.query_one("#meaning", Static).update(meaning_of(event.text_area.text))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "back" else True)


def meaning_of(text: str) -> str:
    if not text.strip():
        return ""
    matches = explain_error(text)
    if not matches:
        return (
            "[yellow]gmailfix does not know this message.[/yellow] The diagnosis will still "
            "check everything Gmail checks."
        )
    return "\n\n".join(f"[b]“{phrase}”[/b]\n{meaning}" for phrase, meaning, _ in matches)
