"""Step 2: the alias address and what is typed in Gmail today.

The form validates with the engine's own front door (``inputs.parse_target``)
and dismisses the Target it returns, so nothing is parsed twice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.validation import ValidationResult, Validator
from textual.widgets import Button, Input, Label, Select, Static

from gmailfix.errors import Field, InputError
from gmailfix.inputs import Target, parse_domain, parse_smtp_server, parse_target
from gmailfix.login import Credentials
from gmailfix.screens.base import SHORT_BELOW, WizardScreen
from gmailfix.screens.state import Form
from gmailfix.screens.steps import Step

PORT_CHOICES = [("587 (TLS)", 587), ("465 (SSL)", 465), ("25 (TLS)", 25), ("Not sure: try all", 0)]
FIELDS: tuple[Field, ...] = ("address", "smtp_host")


class _Parses(Validator):
    """Valid when the engine's own parser accepts the text (blank allowed if optional)."""

    def __init__(self, field: Field, required: bool) -> None:
        super().__init__()
        self.field, self.required = field, required

    def validate(self, value: str) -> ValidationResult:
        if not value.strip():
            return (
                self.failure("Needed: for example me@example.com")
                if self.required
                else self.success()
            )
        try:
            if self.field == "address":
                parse_target(value)
            else:
                parse_smtp_server(value)
        except InputError as exc:
            return self.failure(_sentence(str(exc)))
        return self.success()


class PortSelect(Select[int], inherit_bindings=False):
    """The port dropdown: Enter goes to the next field (as in every field); Space, Up or
    Down open the list."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space,down,up", "show_overlay", "Show menu", show=False),
        Binding("enter", "submit", "Next field", show=False),
    ]

    class Submitted(Message):
        """Enter on the closed dropdown."""

    def action_submit(self) -> None:
        self.post_message(self.Submitted())


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Details:
    """The form as typed and, when the person went on, what to check and the login."""

    form: Form
    target: Target | None = None  # None: the person went back
    credentials: Credentials | None = None


class DetailsScreen(WizardScreen[Details]):
    STEP = Step.DETAILS
    CSS_PATH = "details.tcss"
    HELP = (
        "**Your address**: the address you want to send as, e.g. `me@example.com`, or just "
        "the domain.\n\n**SMTP Server**: exactly what is typed in Gmail's *Send mail as* form "
        "(Settings > Accounts and Import > edit info). Leave it blank if you do not know: "
        "gmailfix finds candidates.\n\n**Port**: as chosen in Gmail; *Not sure* tries all "
        "three (Space or the arrow keys open the list).\n\n**Password** (optional, Tab to "
        "reach it): lets gmailfix log in as Gmail does. It stays in memory for this check "
        "only and is never written anywhere.\n\nEnter moves to the next field; on the password "
        "(the last one, blank to skip) it starts the check, as Ctrl+S does anywhere."
    )
    BUTTONS = (("continue", "Check my server", True), ("back", "Back", False))
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "continue", "Check", show=True),
    ]

    def __init__(self, form: Form, demo_domains: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.form = form  # as typed so far: this step's own copy
        self.demo_domains = demo_domains  # the demo's lab domains, listed under the form

    def compose_body(self) -> ComposeResult:
        form = self.form
        if self.demo_domains:  # the demo's note goes away; this stays
            yield Static(self._demo_words(), id="demo-hint")
        yield Label("Your address (or just the domain)")
        yield Input(
            form.address,
            placeholder="me@example.com",
            id="address",
            validators=[_Parses("address", required=True)],
            select_on_focus=False,
        )
        yield Static("", id="address-error", classes="error")
        yield Label("SMTP Server as typed in Gmail (blank if unsure)")
        yield Input(
            form.smtp_host,
            placeholder="mail.example.com",
            id="smtp_host",
            validators=[_Parses("smtp_host", required=False)],
            select_on_focus=False,
        )
        yield Static("", id="smtp_host-error", classes="error")
        yield Label("Port as chosen in Gmail")
        yield PortSelect(PORT_CHOICES, value=form.port, allow_blank=False, id="port")
        yield Label("Password (optional: to test the login as Gmail does; never stored)")
        yield Input(form.password, password=True, id="password", placeholder="leave blank to skip")

    def _demo_words(self) -> str:
        return "Demo: other lab domains to try: " + ", ".join(self.demo_domains) + "."

    def help_text(self) -> str:
        if not self.demo_domains:
            return self.HELP
        return f"{self.HELP}\n\n**{self._demo_words()}**"

    def on_mount(self) -> None:
        for error in self.query(".error"):
            error.display = False
        self.query_one("#address", Input).focus()

    def on_resize(self) -> None:
        # a short terminal gets one-line fields (Textual's compact style, a widget
        # setting), so every field and the buttons fit without scrolling
        short = self.size.height < SHORT_BELOW
        for field in self.query(Input):
            field.compact = short
        self.query_one("#port", PortSelect).compact = short

    def on_input_changed(self, event: Input.Changed) -> None:
        field = event.input.id or ""
        if field == "address":
            self.form = replace(self.form, address=event.value)
            self._forget_demo_server(event.value)
        elif field == "smtp_host" and event.value != self.form.smtp_host:
            # the person typed here
            self.form = replace(self.form, smtp_host=event.value, smtp_prefilled=False)
        elif field == "password":
            self.form = replace(self.form, password=event.value)
        if event.validation_result is not None and field in FIELDS:
            self._show(field, event.validation_result)

    def _forget_demo_server(self, address: str) -> None:
        """A server filled in for another domain (the demo's) must not follow a new address."""
        form = self.form
        if not form.smtp_prefilled or not form.smtp_host:
            return
        try:
            domain = parse_domain(address)
        except InputError:
            return
        if not form.smtp_host.endswith("." + domain) and form.smtp_host != domain:
            # first, so the Changed event below is not taken as typing
            self.form = replace(form, smtp_host="")
            self.query_one("#smtp_host", Input).value = ""

    def _show(self, field: str, result: ValidationResult) -> None:
        error = self.query_one(f"#{field}-error", Static)
        message = result.failure_descriptions[0] if not result.is_valid else ""
        error.update(message)
        error.display = bool(message)

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        """Enter moves to the next field, every time; on the last one it checks."""
        order = ["address", "smtp_host", "port", "password"]
        current = event.input.id or ""
        if current == "password":
            self.action_continue()
            return
        following = order[order.index(current) + 1]
        self.query_one(f"#{following}").focus()

    @on(PortSelect.Submitted)
    def _port_submitted(self) -> None:
        self.query_one("#password", Input).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, int):
            self.form = replace(self.form, port=event.value)

    def kept(self) -> Details:
        return Details(self.form)

    @on(Button.Pressed, "#continue")
    def action_continue(self) -> None:
        form = self.form
        for error in self.query(".error"):
            error.display = False
        try:
            target = parse_target(form.address, form.smtp_host or None, form.port or None)
        except InputError as exc:
            field = exc.field if exc.field in FIELDS else "address"
            error = self.query_one(f"#{field}-error", Static)
            error.update(_sentence(str(exc)))
            error.display = True
            self.query_one(f"#{field}", Input).focus()
            return
        user = target.username or form.address.strip()
        login = Credentials(user, form.password) if form.password else None
        self.dismiss(Details(form, target, login))
