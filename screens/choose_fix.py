"""Step 4: every fix the engine judged, the recommended one first; those that
cannot help are greyed out, and highlighting one shows why. The screen only reads them."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from gmailfix.remedies.model import Proposal, Remedy, RemedyKind, panel_way, recognised_stack
from gmailfix.screens.base import WizardScreen
from gmailfix.screens.steps import Step
from gmailfix.stacks.catalog import own_way_lines
from gmailfix.stacks.recognise import StackName
from gmailfix.text import clean


class FixList(OptionList):
    """A click shows a fix's explanation; choosing takes Enter, a second click, or the button.

    Fixes that cannot help are greyed out but not disabled, so the arrow keys and a
    click reach them and show why; choosing one only says why again. The list is short:
    PageDown and PageUp scroll the explanation below it instead."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("pagedown", "screen.scroll_body('page_down')", show=False),
        Binding("pageup", "screen.scroll_body('page_up')", show=False),
    ]

    async def _on_click(self, event: events.Click) -> None:
        event.prevent_default()  # OptionList's own handler would choose at the first click
        clicked = event.style.meta.get("option")
        if clicked is None:
            return
        if clicked == self.highlighted:
            self.action_select()
        else:
            self.highlighted = clicked


class ChooseFixScreen(WizardScreen[RemedyKind]):
    STEP = Step.FIX
    CSS_PATH = "choose_fix.tcss"
    HELP = (
        "Each fix says what it changes and why it helps. **Recommended** fixes were checked "
        "by gmailfix where it could (a name or a port it tried as Gmail would). Greyed-out "
        "fixes cannot help with what was found: highlight one to see why.\n\nClick a fix (or "
        "use the arrow keys) to read about it; Enter, a second click or **Use this fix** "
        "chooses it."
    )
    BUTTONS = (("continue", "Use this fix", True), ("back", "Back", False))
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "choose", "Choose", show=False)]

    def __init__(
        self, proposal: Proposal, kind: RemedyKind | None = None, stack: StackName | None = None
    ) -> None:
        super().__init__()
        self.proposal = proposal
        self.remedies = list(proposal.remedies)
        self.kind = kind  # chosen before: highlighted again
        self.stack = stack or recognised_stack(proposal.diagnosis)  # whose own way is shown

    def compose_body(self) -> ComposeResult:
        diagnosis = self.proposal.diagnosis
        intro = (
            "Gmail already accepts this server; nothing needs fixing. You can still prepare "
            "certificates for more domains:"
            if diagnosis.accepted
            else "How to fix it (the recommended fix first):"
        )
        yield Static(intro, id="intro")
        yield FixList(*[_option(r) for r in self.remedies], id="fixes")
        yield Static("", id="why")

    def on_mount(self) -> None:
        options = self.query_one("#fixes", FixList)
        kinds = [r.kind for r in self.remedies]
        usable = [i for i, r in enumerate(self.remedies) if r.applicable]
        previous = kinds.index(self.kind) if self.kind in kinds else None
        options.highlighted = previous if previous in usable else (usable[0] if usable else None)
        options.focus()
        self.query_one("#continue", Button).disabled = not usable

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        remedy = self.remedies[event.option_index]
        why = Text.assemble((remedy.title + "\n", "bold"))
        if not remedy.applicable:
            why.append("This fix cannot help here. ", style="bold yellow")
        why.append(clean(remedy.reason, limit=1500))
        own = panel_way(self.stack, remedy.kind)
        if remedy.applicable and own is not None:  # a panel keeps the files: its way first
            why.append(
                "\n\n" + clean("\n".join(own_way_lines(own)), limit=3000, keep_newlines=True)
            )
        self.query_one("#why", Static).update(why)
        self.query_one("#continue", Button).disabled = not remedy.applicable

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._pick(event.option_index)

    @on(Button.Pressed, "#continue")
    def action_choose(self) -> None:
        index = self.query_one("#fixes", FixList).highlighted
        if index is not None:
            self._pick(index)

    def _pick(self, index: int) -> None:
        remedy = self.remedies[index]
        if remedy.applicable:
            self.dismiss(remedy.kind)
        else:
            self.notify(clean(remedy.reason), title="This fix cannot help here", severity="warning")


def _option(remedy: Remedy) -> Option:
    label = Text(remedy.title)
    if remedy.recommended:
        label.append("  (recommended)", style="bold green")
    if not remedy.applicable:
        label.stylize("dim")
        label.append("  (cannot help here)", style="dim")
    return Option(label, id=remedy.kind)
