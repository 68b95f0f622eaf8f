"""Step 5: the Gmail settings field by field and the Exim config, each copyable."""

from __future__ import annotations

from typing import ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from gmailfix.diagnose import Diagnosis
from gmailfix.errors import GmailfixError
from gmailfix.remedies.fix import EXIM_LAYOUTS, EximLayout, FixPlan, plan_fix
from gmailfix.remedies.plan import RemedyKind
from gmailfix.render.exim import exim_files
from gmailfix.render.gmail_settings import gmail_settings_text, settings_for
from gmailfix.screens.base import WizardScreen

LAYOUT_FILE = {
    "debian-split": "exim4/conf.d/main/000_localmacros",
    "debian-single": "exim4/exim4.conf.localmacros",
    "plain": "exim4/tls-main.conf",
}
LAYOUT_LABEL = {
    "debian-split": "Debian, split config (conf.d)",
    "debian-single": "Debian, single file",
    "plain": "Any exim.conf (.include)",
}


class SettingsScreen(WizardScreen[FixPlan]):
    STEP = 4
    HELP = (
        "The top box is what to type in Gmail, field by field. The bottom box is the Exim "
        "configuration for your server (pick your layout). **c** copies the Gmail settings, "
        "**x** copies the Exim config. For the SNI fix, list your other domains first."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "continue", "Continue"),
        Binding("c", "copy_gmail", "Copy Gmail settings"),
        Binding("x", "copy_exim", "Copy Exim config"),
    ]

    def __init__(
        self, diagnosis: Diagnosis, kind: RemedyKind, aliases: tuple[str, ...] = ()
    ) -> None:
        super().__init__()
        self.diagnosis, self.kind = diagnosis, kind
        self.aliases = aliases
        self.exim_layout: EximLayout = "debian-split"
        self.plan: FixPlan | None = None
        self.gmail_text = ""
        self.exim_text = ""

    def compose(self) -> ComposeResult:
        yield from self.compose_title()
        with VerticalScroll(classes="body"):
            if self.kind == "sni":
                yield Label("Your other domains on this server (comma separated)")
                yield Input(
                    ", ".join(self.aliases),
                    placeholder="second.example, third.example",
                    id="aliases",
                )
            yield Static("", id="plan-error", classes="error")
            yield Label("Type this in Gmail (Settings > Accounts and Import > Send mail as)")
            yield Static("", id="gmail-fields")
            if self.kind != "isp-hostname":
                with Horizontal(classes="row"):
                    yield Label("Exim layout ", classes="inline")
                    yield Select(
                        [(LAYOUT_LABEL[k], k) for k in EXIM_LAYOUTS],
                        value=self.exim_layout,
                        allow_blank=False,
                        id="layout",
                    )
                yield Static("", id="exim", classes="code")
        with Horizontal(classes="nav"):
            yield Button("Continue", id="continue", variant="primary")
            yield Button("Copy Gmail settings", id="copy-gmail")
            if self.kind != "isp-hostname":
                yield Button("Copy Exim config", id="copy-exim")
            yield Button("Back", id="back")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self._refresh()
        first = "#aliases" if self.kind == "sni" else "#continue"
        self.query_one(first).focus()

    def _alias_list(self) -> tuple[str, ...]:
        if self.kind != "sni":
            return ()
        text = self.query_one("#aliases", Input).value
        return tuple(a.strip() for a in text.replace(" ", ",").split(",") if a.strip())

    def _refresh(self) -> None:
        error = self.query_one("#plan-error", Static)
        error.display = False
        try:
            self.plan = plan_fix(
                self.diagnosis,
                self.kind,
                alias_domains=self._alias_list(),
                exim_layout=self.exim_layout,
            )
        except GmailfixError as exc:
            self.plan = None
            error.update(str(exc))
            error.display = True
            return
        error.update("")
        self.gmail_text = gmail_settings_text(self.plan)
        self.query_one("#gmail-fields", Static).update(gmail_fields(self.plan))
        if self.kind != "isp-hostname":
            self.exim_text = exim_files(self.plan)[LAYOUT_FILE[self.exim_layout]]
            # Pygments has no Exim lexer; "ini" colours its "option = value" lines and comments
            highlighted = Syntax(self.exim_text, "ini", theme="ansi_dark", word_wrap=True)
            self.query_one("#exim", Static).update(highlighted)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._refresh()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "layout" and isinstance(event.value, str):
            self.exim_layout = event.value  # type: ignore[assignment]
            self._refresh()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "back": self.action_back,
            "copy-gmail": self.action_copy_gmail,
            "copy-exim": self.action_copy_exim,
            "continue": self.action_continue,
        }
        actions[event.button.id or "continue"]()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "copy_exim" and self.kind == "isp-hostname")

    def action_copy_gmail(self) -> None:
        self._copy(self.gmail_text, "Gmail settings")

    def action_copy_exim(self) -> None:
        self._copy(self.exim_text, "Exim config")

    def _copy(self, text: str, what: str) -> None:
        self.app.copy_to_clipboard(text)
        self.notify(f"{what} copied to the clipboard")

    def action_continue(self) -> None:
        if self.plan is not None:
            self.dismiss(self.plan)
        else:
            self.notify("Fix the problem shown at the top first", severity="warning")


def gmail_fields(plan: FixPlan) -> Text:
    """The form's fields that matter, one per line, for each address."""
    out = Text()
    for address, settings in settings_for(plan):
        rows = [
            ("Email address", address),
            ("SMTP Server", settings.smtp_server),
            ("Port", str(settings.port)),
            ("Username", settings.username or address),
            ("Password", "your mailbox password"),
            ("Security", settings.security_label),
        ]
        for label, value in rows:
            out.append(f"  {label:<15}", style="dim")
            out.append(f"{value}\n", style="bold")
        out.append("\n")
    return out
