"""Step 5: the plan, in the order it is done, with the server's configuration and what
to type in Gmail, each copyable and saveable.

A plan that changes the server (or DNS) lists its steps first, where each is
done, then the server's part, and Gmail's form last: the Gmail settings fail
until the server part is done, so they are never shown as the first thing to
type. A plan that is only Gmail's settings shows them at the top.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from gmailfix.connection import Connection
from gmailfix.errors import GmailfixError, reason
from gmailfix.remedies.model import Proposal, RemedyKind, panel_way, recognised_stack
from gmailfix.remedies.plan import Choices, Plan, PlanStep, make_plan
from gmailfix.render.exim import LAYOUT_LABELS, exim_files
from gmailfix.render.gmail_settings import gmail_settings_text, password_words, settings_for
from gmailfix.render.postfix import postfix_files
from gmailfix.screens.base import WizardScreen
from gmailfix.screens.clipboard import Clipboard
from gmailfix.screens.state import FixChoices
from gmailfix.screens.steps import Step
from gmailfix.screens.widgets import name, stack_words
from gmailfix.stacks.catalog import STACKS
from gmailfix.text import clean

NOT_SURE = "not-sure"
GMAIL_FORM = "Settings > Accounts and Import > Send mail as"
WHERE = {
    "dns-panel": "In your DNS provider's panel (where your domain's records are kept)",
    "server": "On your mail server (its settings are below)",
    "anywhere": "From any computer",
    "gmail": "In Gmail, last",
}
AFTER = {  # what the wizard adds to a step's title
    "verify": " (this wizard's last step does it)",
    "gmail": " (the settings are at the bottom)",
}


@dataclass(frozen=True)
class Settled:
    """The choices made here and, when the person went on, the plan they make."""

    choices: FixChoices
    plan: Plan | None = None  # None: the person went back


class SettingsScreen(WizardScreen[Settled]):
    STEP = Step.SETTINGS
    CSS_PATH = "settings.tcss"
    HELP = (
        "When the fix changes your mail server, its steps come first, in order, each saying "
        "where it is done (your mail server, your DNS provider's panel, Gmail); then the "
        "configuration for your mail server (pick how your server is set up, and the file "
        "follows); and what to type in Gmail comes last, because Gmail refuses it until the "
        "server part is done. When the fix is only Gmail's settings, they are at the top.\n\n"
        "**c** copies the Gmail settings, **x** the configuration, **s** saves both to a "
        "file; **w** wraps or unwraps the configuration's long lines. The next step writes "
        "every file of the fix."
    )
    BUTTONS = (
        ("continue", "Continue", True),
        ("copy-gmail", "Copy Gmail", False),
        ("copy-config", "Copy config", False),
        ("save", "Save", False),
        ("back", "Back", False),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "continue", "Continue", show=False),  # the button is in view
        Binding("c", "copy_gmail", "Copy Gmail"),
        Binding("x", "copy_config", "Copy config"),
        Binding("s", "save", "Save"),
        Binding("w", "wrap", "Wrap lines", show=False),  # said above the box
    ]

    def __init__(
        self,
        proposal: Proposal,
        kind: RemedyKind,
        choices: FixChoices,
        connection: Connection,
        save_dir: Path,
        clipboard: Clipboard,
    ) -> None:
        super().__init__()
        self.proposal, self.kind, self.choices = proposal, kind, choices
        self.connection = connection  # where the check ran: the bundle's checks run there too
        self.save_dir = save_dir
        self.clipboard = clipboard
        self.plan: Plan | None = None
        self.gmail_text = ""
        self.config_text = ""
        self.config_title = ""
        self.wrap: bool | None = None  # None: wrap when the lines do not fit

    def compose_body(self) -> ComposeResult:
        if self.kind == "sni":
            yield Label("Your other domains on this server (comma separated)")
            yield Input(
                self.choices.aliases, placeholder="second.example, third.example", id="aliases"
            )
        yield Static("", id="plan-error", classes="error")
        yield Static("", id="steps")
        with Vertical(id="gmail-part"):
            yield Static("", id="gmail-title", classes="part")
            yield Static("", id="gmail-fields")
        with Vertical(id="server-part"):
            yield Static("The settings for your mail server", id="server-title", classes="part")
            yield Static("", id="stack")
            with Horizontal(classes="row", id="stack-row"):
                yield Label("Mail server: ", classes="inline")
                yield Select(
                    [(_stack_choice(key, info.label), key) for key, info in STACKS.items()],
                    value=self.choices.stack or recognised_stack(self.proposal.diagnosis),
                    allow_blank=False,
                    id="stack-choice",
                    compact=True,  # one line each: the config box below stays near
                )
            with Horizontal(classes="row", id="layout-row"):
                yield Label("Exim's files: ", classes="inline")
                yield Select(
                    [("Not sure: the export holds every layout", NOT_SURE)]
                    + [(LAYOUT_LABELS[k], k) for k in LAYOUT_LABELS],
                    value=self.choices.layout or NOT_SURE,
                    allow_blank=False,
                    id="layout",
                    compact=True,
                )
            yield Static("", id="config-title")
            yield TextArea("", id="config", read_only=True, soft_wrap=False)

    def on_mount(self) -> None:
        self._refresh()
        first = "#aliases" if self.kind == "sni" else "#continue"
        self.query_one(first).focus()

    def on_resize(self) -> None:
        self._fit_config()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("copy_config", "wrap") and not self.config_text:
            return False
        return not (action in ("copy_gmail", "save") and self.plan is None)

    def _aliases(self) -> tuple[str, ...]:
        text = self.choices.aliases
        return tuple(a.strip() for a in text.replace(" ", ",").split(",") if a.strip())

    def _make_plan(self) -> Plan:
        proposal = self.proposal
        # the recommended fix stands for the whole plan: every recommended part
        recommended = tuple(r.kind for r in proposal.recommended)
        kinds = recommended if self.kind in recommended else (self.kind,)
        return make_plan(
            proposal,
            Choices(
                kinds=kinds,
                alias_domains=self._aliases() if self.kind == "sni" else (),
                exim_layout=self.choices.layout,
                stack=self.choices.stack,
                ca_files=self.connection.ca_files,
                connect=self.connection.connect,
                dns_server=self.connection.dns_server,
            ),
        )

    def _refresh(self) -> None:
        error = self.query_one("#plan-error", Static)
        error.display = False
        try:
            self.plan = self._make_plan()
        except GmailfixError as exc:
            self.plan = None
            error.update(Text(clean(str(exc)[:1].upper() + str(exc)[1:])))
            error.display = True
            for part in ("#steps", "#gmail-part", "#server-part"):
                self.query_one(part).display = False
            self.query_one("#copy-config").display = False
            self.refresh_bindings()
            return
        plan = self.plan
        elsewhere = any(step.where in ("server", "dns-panel") for step in plan.steps)
        steps = self.query_one("#steps", Static)
        steps.update(steps_text(plan) if elsewhere else "")
        steps.display = elsewhere
        self._show_gmail(plan, last=elsewhere)
        self._show_server(plan)
        self.refresh_bindings()

    def _show_gmail(self, plan: Plan, last: bool) -> None:
        self.gmail_text = gmail_settings_text(plan)
        title = (
            f"In Gmail, last, once the check says Gmail would accept ({GMAIL_FORM}):"
            if last
            else f"Type this in Gmail ({GMAIL_FORM}):"
        )
        self.query_one("#gmail-title", Static).update(title)
        self.query_one("#gmail-fields", Static).update(gmail_fields(plan))
        gmail = self.query_one("#gmail-part")
        gmail.display = True
        # Gmail's part goes where it is done: after the server's part, or first
        body, server = self.query_one(".body"), self.query_one("#server-part")
        if last:
            body.move_child(gmail, after=server)
        else:
            body.move_child(gmail, before=server)

    def _show_server(self, plan: Plan) -> None:
        self.query_one("#server-part").display = True
        for part in ("#server-title", "#stack-row"):
            self.query_one(part).display = plan.on_server
        stack = stack_words(self.proposal.diagnosis)
        self.query_one("#stack", Static).update(stack or "")
        self.query_one("#stack", Static).display = stack is not None and plan.on_server
        self.query_one("#layout-row").display = plan.on_server and plan.mta == "exim"
        title, self.config_text = self._config(plan)
        self.config_title = title
        own = next((w for k in plan.kinds if (w := panel_way(plan.stack, k))), None)
        if own is not None:  # the panel keeps these files: its own way comes first
            title = (
                f"{own.label} keeps its mail settings itself: use its own way (shown with "
                "the fix, and first in the export's README). Only if you keep "
                f"{'Postfix' if plan.mta == 'postfix' else 'Exim'} by hand: {title[:1].lower()}"
                f"{title[1:]}"
            )
        if self.config_text:
            title += "\nx copies it, s saves it to a file, w wraps or unwraps long lines."
        self.query_one("#config-title", Static).update(title)
        area = self.query_one("#config", TextArea)
        area.load_text(self.config_text)
        area.display = bool(self.config_text)
        self.query_one("#copy-config").display = bool(self.config_text)
        self._fit_config()

    def _fit_config(self) -> None:
        """Long lines wrap when they do not fit (none is cut), unless the person chose."""
        area = self.query_one("#config", TextArea)
        widest = max((len(line) for line in self.config_text.splitlines()), default=0)
        room = area.content_size.width or self.size.width - 6
        area.soft_wrap = self.wrap if self.wrap is not None else widest > room

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
            self.choices = replace(self.choices, aliases=event.value)
            self._refresh()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "layout" and isinstance(event.value, str):
            layout = None if event.value == NOT_SURE else event.value
            self.choices = replace(self.choices, layout=layout)  # type: ignore[arg-type]
        elif event.select.id == "stack-choice" and isinstance(event.value, str):
            self.choices = replace(self.choices, stack=event.value)  # type: ignore[arg-type]
        else:
            return
        if self.is_mounted:
            self._refresh()

    @on(Button.Pressed, "#copy-gmail")
    def action_copy_gmail(self) -> None:
        self._copy(self.gmail_text, "The Gmail settings were copied.")

    @on(Button.Pressed, "#copy-config")
    def action_copy_config(self) -> None:
        if self.config_text:
            self._copy(self.config_text, "The configuration was copied.")

    def _copy(self, text: str, done: str) -> None:
        self.app.copy_to_clipboard(text)
        words = self.clipboard.words or done
        if self.clipboard.reach == "no":
            self.notify(words, title="Copy", severity="warning", timeout=10)
        else:
            self.notify(words, title="Copy", timeout=10)

    def action_wrap(self) -> None:
        self.wrap = not self.query_one("#config", TextArea).soft_wrap
        self._fit_config()

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        plan = self.plan
        if plan is None:
            return
        try:
            path = save_text(
                self.save_dir, f"gmailfix-{plan.domain}-{plan.slug}", self._saved(plan)
            )
        except OSError as exc:
            self.notify(f"Not saved: {clean(reason(exc))}", severity="error", timeout=10)
            return
        self.notify(f"Saved to {clean(str(path))}", title="Save", timeout=10)

    def _saved(self, plan: Plan) -> str:
        """The plan's steps, the Gmail settings and the configuration, as one text file."""
        parts = [f"gmailfix: the fix for {plan.domain}\n\n{steps_plain(plan)}"]
        if self.config_text:
            parts.append(f"On your mail server: {self.config_title}\n\n{self.config_text}")
        parts.append(f"In Gmail ({GMAIL_FORM}):\n\n{self.gmail_text}")
        return "\n\n".join(part.rstrip() for part in parts) + "\n"

    def kept(self) -> Settled:
        return Settled(self.choices)

    @on(Button.Pressed, "#continue")
    def action_continue(self) -> None:
        if self.plan is not None:
            self.dismiss(Settled(self.choices, self.plan))
        else:
            self.notify("Fix the problem shown at the top first", severity="warning")


def steps_text(plan: Plan) -> Group:
    """Every step of the plan in the order it is done, under where it is done."""
    parts: list[RenderableType] = [Text("Your fix, in order:", style="bold")]
    grid: Table | None = None
    where: str | None = None
    for number, step in enumerate(plan.steps, 1):
        if step.where != where:
            where, grid = step.where, Table.grid(padding=(0, 1))
            grid.add_column(justify="right", width=3)
            grid.add_column(ratio=1)
            parts += [Text(WHERE[where], style="bold"), grid]
        assert grid is not None
        grid.add_row(f"{number}.", Text(clean(_step_words(step))))
    return Group(*parts)


def steps_plain(plan: Plan) -> str:
    """The same, for a text file."""
    lines = ["Your fix, in order:"]
    where: str | None = None
    for number, step in enumerate(plan.steps, 1):
        if step.where != where:
            where = step.where
            lines.append(WHERE[where])
        lines.append(f"  {number}. {_step_words(step)}")
    return "\n".join(lines)


def _step_words(step: PlanStep) -> str:
    return step.title + AFTER.get(step.key, "")


def gmail_fields(plan: Plan) -> Table:
    """The form's fields that matter, one per line, for each address (a long value wraps
    under itself)."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", width=15, justify="left")
    grid.add_column(style="bold", ratio=1)
    for address, settings in settings_for(plan):
        grid.add_row("  Email address", clean(address))
        grid.add_row("  SMTP Server", name(settings.smtp_server))
        grid.add_row("  Port", str(settings.port))
        grid.add_row(
            "  Username", clean(settings.username or "your login (often the full address)")
        )
        grid.add_row("  Password", password_words(plan, short=True))
        grid.add_row("  Security", settings.security_label)
    return grid


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


def save_text(folder: Path, stem: str, text: str) -> Path:
    """``text`` in a new file ``stem-settings.txt`` in ``folder`` (-2, -3, ... when taken).

    Never replaces or follows anything already there: the file is created anew."""
    for attempt in range(1, 100):
        suffix = "" if attempt == 1 else f"-{attempt}"
        path = folder / f"{stem}-settings{suffix}.txt"
        try:
            with path.open("x", encoding="utf-8") as handle:
                handle.write(text)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(0, "too many earlier copies there; choose another folder", str(folder))


def _stack_choice(key: str, label: str) -> str:
    """A stack as a choice in the list: the unknown one asks the person to choose."""
    return "not recognised (choose yours if you know it)" if key == "unknown" else label
