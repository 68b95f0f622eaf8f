"""Step 2: the alias address and what is typed in Gmail today."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from gmailfix.errors import InputError
from gmailfix.inputs import normalise_domain, normalise_host
from gmailfix.screens.base import WizardScreen

PORT_CHOICES = [("587 (TLS)", 587), ("465 (SSL)", 465), ("25 (TLS)", 25), ("Not sure: try all", 0)]


@dataclass(frozen=True)
class Details:
    target: str  # the address or domain as typed
    smtp_host: str | None
    port: int | None  # None: try 587, 465 and 25


class DetailsScreen(WizardScreen[Details]):
    STEP = 1
    HELP = (
        "**Your address or domain**: the address you want to send as, e.g. "
        "`me@example.com`, or just the domain.\n\n"
        "**SMTP Server**: exactly what is typed in Gmail's *Send mail as* form (Settings > "
        "Accounts and Import > edit info). Leave it blank if you do not know: gmailfix "
        "finds candidates from DNS.\n\n**Port**: as chosen in Gmail; *Not sure* tries all three."
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "continue", "Continue")]

    def __init__(self, details: Details | None = None) -> None:
        super().__init__()
        self.initial = details

    def compose(self) -> ComposeResult:
        d = self.initial
        yield from self.compose_title()
        with VerticalScroll(classes="body"):
            yield Label("Your address or domain")
            yield Input(d.target if d else "", placeholder="me@example.com", id="target")
            yield Static("", id="target-error", classes="error")
            yield Label("SMTP Server as typed in Gmail (blank if unsure)")
            yield Input(d.smtp_host or "" if d else "", placeholder="mail.example.com", id="smtp")
            yield Static("", id="smtp-error", classes="error")
            yield Label("Port as chosen in Gmail")
            yield Select(
                PORT_CHOICES, value=(d.port or 0) if d else 587, allow_blank=False, id="port"
            )
        with Horizontal(classes="nav"):
            yield Button("Diagnose", id="continue", variant="primary")
            yield Button("Back", id="back")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        for error in self.query(".error"):
            error.display = False
        self.query_one("#target", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._validate(event.input.id or "")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "target":
            self.query_one("#smtp", Input).focus()
        else:
            self.action_continue()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "back":
            self.dismiss(None)
        else:
            self.action_continue()

    def _validate(self, which: str) -> bool:
        """Check one field (or all with ''), showing the reason under it."""
        ok = True
        if which in ("", "target"):
            ok &= _check(self, "target", normalise_domain, required=True)
        if which in ("", "smtp"):
            ok &= _check(self, "smtp", normalise_host, required=False)
        return ok

    def action_continue(self) -> None:
        if not self._validate(""):
            return
        port = self.query_one("#port", Select).value
        smtp = self.query_one("#smtp", Input).value.strip()
        self.dismiss(
            Details(
                target=self.query_one("#target", Input).value.strip(),
                smtp_host=smtp or None,
                port=int(port) if isinstance(port, int) and port else None,
            )
        )


def _check(screen: DetailsScreen, field: str, parse: object, required: bool) -> bool:
    value = screen.query_one(f"#{field}", Input).value.strip()
    error = screen.query_one(f"#{field}-error", Static)
    message = ""
    if not value:
        message = "Needed: for example me@example.com" if required else ""
    else:
        try:
            parse(value)  # type: ignore[operator]
        except InputError as exc:
            message = str(exc)
    error.update(message)
    error.display = bool(message)  # no blank line under a field that is fine
    return not message
