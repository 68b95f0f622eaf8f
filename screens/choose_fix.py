"""Step 4: the three fixes, the recommended one first; those that do not apply greyed out."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from gmailfix.diagnose import Diagnosis
from gmailfix.remedies.plan import Remedy, RemedyKind
from gmailfix.screens.base import WizardScreen

OTHER_FIXES: tuple[tuple[RemedyKind, str], ...] = (
    ("new-certificate", "Get a free certificate for your mail server's name"),
    ("sni", "One certificate per domain on your own Exim server (SNI)"),
)


class ChooseFixScreen(WizardScreen[RemedyKind]):
    STEP = 3
    HELP = (
        "**Use the name the certificate covers**: nothing changes on the server; you type "
        "another SMTP Server in Gmail. Only offered when gmailfix verified that name.\n\n"
        "**New certificate**: for people who run the mail server (Let's Encrypt, free).\n\n"
        "**SNI**: for an Exim server that serves several domains."
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "choose", "Choose", show=False)]

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.diagnosis = diagnosis
        self.remedies = list(diagnosis.remedies) or _when_accepted(diagnosis)

    def compose(self) -> ComposeResult:
        yield from self.compose_title()
        with VerticalScroll(classes="body"):
            yield Static(self._intro(), id="intro")
            yield OptionList(*[_option(r) for r in self.remedies], id="fixes")
            yield Static("", id="why")
        with Horizontal(classes="nav"):
            yield Button("Use this fix", id="choose", variant="primary")
            yield Button("Back", id="back")
        yield from self.compose_footer()

    def _intro(self) -> str:
        if self.diagnosis.accepted:
            return "Gmail already accepts this server. You can still prepare settings for more domains:"
        if not self.diagnosis.remedies:
            return (
                "This problem is not about the certificate, so no certificate fix applies: "
                "the findings on the previous step say what to change. You can still prepare:"
            )
        return "Choose how to fix it (the recommended fix is first):"

    def on_mount(self) -> None:
        options = self.query_one("#fixes", OptionList)
        options.highlighted = next((i for i, r in enumerate(self.remedies) if r.applicable), 0)
        options.focus()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        remedy = self.remedies[event.option_index]
        self.query_one("#why", Static).update(Text(remedy.reason))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._pick(event.option_index)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "back":
            self.dismiss(None)
        else:
            self.action_choose()

    def action_choose(self) -> None:
        index = self.query_one("#fixes", OptionList).highlighted
        if index is not None:
            self._pick(index)

    def _pick(self, index: int) -> None:
        remedy = self.remedies[index]
        if remedy.applicable:
            self.dismiss(remedy.kind)
        else:
            self.notify(remedy.reason, title="This fix does not apply", severity="warning")


def _option(remedy: Remedy) -> Option:
    label = Text(remedy.title)
    if remedy.recommended:
        label.append("  (recommended)", style="bold green")
    if not remedy.applicable:
        label.append(f"  (not available)\n  {remedy.reason}", style="dim")
    return Option(label, id=remedy.kind, disabled=not remedy.applicable)


def _when_accepted(diagnosis: Diagnosis) -> list[Remedy]:
    chosen = diagnosis.chosen
    host = chosen.host if chosen else f"mail.{diagnosis.domain}"
    port = chosen.port if chosen else 587
    security = diagnosis.verdict.settings.security
    return [
        Remedy(
            kind,
            False,
            True,
            title,
            "Prepare this even though Gmail accepts the server today.",
            host,
            port,
            security,
        )
        for kind, title in OTHER_FIXES
    ]
