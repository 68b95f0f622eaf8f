"""Step 5: what to type in Gmail, field by field, and the server's config, each copyable.

The config is shown unwrapped, in a read-only text area that scrolls sideways,
so a hand selection is exactly the file. Choices (layout, stack, other domains)
are kept when the person comes back.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from gmailfix.errors import GmailfixError
from gmailfix.remedies.model import panel_way
from gmailfix.remedies.plan import Choices, Plan, make_plan
from gmailfix.render.exim import LAYOUT_LABELS, exim_files
from gmailfix.render.gmail_settings import gmail_settings_text, password_words, settings_for
from gmailfix.render.postfix import postfix_files
from gmailfix.screens.base import WizardScreen
from gmailfix.screens.widgets import clipboard_trusted, name, stack_words
from gmailfix.stacks.catalog import STACKS
from gmailfix.text import clean

NOT_SURE = "not-sure"


class SettingsScreen(WizardScreen[Plan]):
    STEP = 4
    CSS_PATH = "settings.tcss"
    HELP = (
        "The top is what to type in Gmail, field by field. Below it is the configuration "
        "for your mail server, when the fix changes the server: pick how your server is set "
        "up, and the file follows. **c** copies the Gmail settings, **x** the configuration. "
        "If copying does not work in your terminal, select the text with the mouse (often "
        "with Shift held), or use the files the next step writes."
    )
    BUTTONS = (
        ("continue", "Continue", True),
        ("copy-gmail", "Copy Gmail", False),
        ("copy-config", "Copy config", False),
        ("back", "Back", False),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "continue", "Continue"),
        Binding("c", "copy_gmail", "Copy Gmail"),
        Binding("x", "copy_config", "Copy config"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.plan: Plan | None = None
        self.gmail_text = ""
        self.config_text = ""

    def compose_body(self) -> ComposeResult:
        state = self.state
        if state.kind == "sni":
            yield Label("Your other domains on this server (comma separated)")
            yield Input(state.aliases, placeholder="second.example, third.example", id="aliases")
        yield Static("", id="plan-error", classes="error")
        yield Static("Type this in Gmail (Settings > Accounts and Import > Send mail as)")
        yield Static("", id="gmail-fields")
        yield Static("", id="stack")
        with Horizontal(classes="row", id="stack-row"):
            yield Label("Mail server: ", classes="inline")
            yield Select(
                [(_stack_choice(key, info.label), key) for key, info in STACKS.items()],
                value=state.stack or self._recognised(),
                allow_blank=False,
                id="stack-choice",
                compact=True,  # one line each: the config box below stays in view at 80x24
            )
        with Horizontal(classes="row", id="layout-row"):
            yield Label("Exim's files: ", classes="inline")
            yield Select(
                [("Not sure: the export holds every layout", NOT_SURE)]
                + [(LAYOUT_LABELS[k], k) for k in LAYOUT_LABELS],
                value=state.layout or NOT_SURE,
                allow_blank=False,
                id="layout",
                compact=True,
            )
        yield Static("", id="config-title")
        yield TextArea("", id="config", read_only=True, soft_wrap=False, show_line_numbers=False)

    def _recognised(self) -> str:
        diagnosis = self.state.diagnosis
        found = diagnosis.mail_stack if diagnosis else None
        return found.name if found is not None and found.confidence != "low" else "unknown"

    def on_mount(self) -> None:
        self._refresh()
        first = "#aliases" if self.state.kind == "sni" else "#continue"
        self.query_one(first).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "copy_config" and not self.config_text)

    def _aliases(self) -> tuple[str, ...]:
        text = self.state.aliases
        return tuple(a.strip() for a in text.replace(" ", ",").split(",") if a.strip())

    def _refresh(self) -> None:
        state = self.state
        assert state.diagnosis is not None and state.kind is not None
        error = self.query_one("#plan-error", Static)
        error.display = False
        try:
            proposal = state.proposal
            assert proposal is not None
            # the recommended fix stands for the whole plan: every recommended part
            recommended = tuple(r.kind for r in proposal.recommended)
            kinds = recommended if state.kind in recommended else (state.kind,)
            self.plan = make_plan(
                proposal,
                Choices(
                    kinds=kinds,
                    alias_domains=self._aliases() if state.kind == "sni" else (),
                    exim_layout=state.layout,
                    stack=state.stack,
                    mta=state.mta,
                    # what this check used (the demo's lab): the bundle's own checks use it too
                    ca_files=self.wizard.connection.ca_files,
                    connect=self.wizard.connection.connect,
                    dns_server=self.wizard.connection.dns_server,
                ),
            )
        except GmailfixError as exc:
            self.plan = None
            error.update(Text(clean(str(exc)[:1].upper() + str(exc)[1:])))
            error.display = True
            return
        plan = self.plan
        self.gmail_text = gmail_settings_text(plan)
        self.query_one("#gmail-fields", Static).update(gmail_fields(plan))
        stack = stack_words(state.diagnosis)
        self.query_one("#stack", Static).update(stack or "")
        self.query_one("#stack", Static).display = stack is not None and plan.on_server
        self.query_one("#stack-row").display = plan.on_server
        self.query_one("#layout-row").display = plan.on_server and plan.mta == "exim"
        title, self.config_text = self._config(plan)
        own = next((w for k in plan.kinds if (w := panel_way(plan.stack, k))), None)
        if own is not None:  # the panel keeps these files: its own way comes first
            title = (
                f"{own.label} keeps its mail settings itself: use its own way (shown with "
                "the fix, and first in the export's README). Only if you keep "
                f"{'Postfix' if plan.mta == 'postfix' else 'Exim'} by hand: {title[:1].lower()}"
                f"{title[1:]}"
            )
        self.query_one("#config-title", Static).update(title)
        area = self.query_one("#config", TextArea)
        area.load_text(self.config_text)
        area.display = bool(self.config_text)
        self.query_one("#copy-config", Button).display = bool(self.config_text)
        self.refresh_bindings()

    def _config(self, plan: Plan) -> tuple[str, str]:
        """Every server file of the plan, each under a comment naming it: shown and copied."""
        if not plan.on_server:
            return "Nothing changes on your mail server.", ""
        if plan.mta == "postfix":
            files = postfix_files(plan)
            return "Postfix settings (each file named above its lines):", joined(files)
        note = ""
        if plan.exim_layout is None:  # show Debian's default; the export holds every layout
            plan = replace(plan, exim_layout="debian-single")
            note = " for Debian's default layout (the export has every layout)"
        return f"Exim settings{note}:", joined(exim_files(plan))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "aliases":
            self.state.aliases = event.value
            self._refresh()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "layout" and isinstance(event.value, str):
            self.state.layout = None if event.value == NOT_SURE else event.value  # type: ignore[assignment]
        elif event.select.id == "stack-choice" and isinstance(event.value, str):
            self.state.stack = event.value  # type: ignore[assignment]
            self.state.mta = None  # follows the stack
        else:
            return
        self._refresh()

    @on(Button.Pressed, "#copy-gmail")
    def action_copy_gmail(self) -> None:
        self._copy(self.gmail_text, "The Gmail settings", "gmail-settings.txt")

    @on(Button.Pressed, "#copy-config")
    def action_copy_config(self) -> None:
        if self.config_text:
            self._copy(self.config_text, "The configuration", "the export's files")

    def _copy(self, text: str, what: str, where: str) -> None:
        self.app.copy_to_clipboard(text)
        if clipboard_trusted():
            self.notify(f"{what} copied.", timeout=4)
        else:
            self.notify(
                f"{what} were sent to your terminal's clipboard, but this terminal may not "
                "take them (tmux and SSH often don't). Select the text with the mouse "
                f"instead, or use {where} after the export.",
                title="Copy",
                timeout=10,
            )

    @on(Button.Pressed, "#continue")
    def action_continue(self) -> None:
        if self.plan is not None:
            self.dismiss(self.plan)
        else:
            self.notify("Fix the problem shown at the top first", severity="warning")


def gmail_fields(plan: Plan) -> Text:
    """The form's fields that matter, one per line, for each address."""
    out = Text()
    for address, settings in settings_for(plan):
        rows = [
            ("Email address", clean(address)),
            ("SMTP Server", name(settings.smtp_server)),
            ("Port", str(settings.port)),
            ("Username", clean(settings.username or "your login (often the full address)")),
            ("Password", password_words(plan, short=True)),
            ("Security", settings.security_label),
        ]
        for label, value in rows:
            out.append(f"  {label:<14}", style="dim")
            out.append(f"{value}\n", style="bold")
    out.rstrip()
    return out


def joined(files: dict[str, str]) -> str:
    """Config files as one text, each under a comment line naming it; the same text once."""
    paths: dict[str, list[str]] = {}
    for path, text in files.items():
        paths.setdefault(text, []).append(path)
    parts = []
    for text, names in paths.items():
        also = f" (the same as {', '.join(names[1:])})" if len(names) > 1 else ""
        parts.append(f"# ===== {names[0]}{also} =====\n{text.rstrip()}\n")
    return "\n".join(parts)


def _stack_choice(key: str, label: str) -> str:
    """A stack as a choice in the list: the unknown one asks the person to choose."""
    return "not recognised (choose yours if you know it)" if key == "unknown" else label
