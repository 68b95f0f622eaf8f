"""The wizard app: wiring only. The steps and their order are the flow's (flow.py).

Every way out (q, Ctrl+Q, Ctrl+C, the palette's Quit) asks first when a fix
was found and not written, and ends with one line of summary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.actions import ActionParseResult
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.screen import Screen

from gmailfix.screens.base import WizardScreen, report_unexpected
from gmailfix.screens.flow import Flow
from gmailfix.screens.state import WizardState
from gmailfix.screens.steps import Step

if TYPE_CHECKING:
    from gmailfix.connection import Connection
    from gmailfix.lab.runner import LabInfo
    from gmailfix.screens.clipboard import Clipboard
    from gmailfix.server.system import Root, Runner

QUIT_QUESTION = "Quit now? The fix has not been written to files yet (Export)."


class GmailfixApp(App[str]):
    TITLE = "gmailfix"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        connection: Connection | Callable[[], Connection],
        state: WizardState | None = None,
        export_dir: Path | None = None,
        demo_note: str = "",
        demo_domains: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        # a factory defers the resolver and trust store until the first diagnosis
        self._connection = connection
        self.export_dir = export_dir or Path.home()
        self.demo_note = demo_note
        self.demo_domains = demo_domains  # shown under the details form and in its help
        # the mail server "On the mail server" checks: this computer, or a copy (tests)
        self.server_root: Root | None = None
        self.server_runner: Runner | None = None
        self.flow = Flow(self, state or WizardState())

    @property
    def state(self) -> WizardState:
        return self.flow.state

    @property
    def connection(self) -> Connection:
        if callable(self._connection):
            self._connection = self._connection()
        return self._connection

    @cached_property
    def copying(self) -> Clipboard:
        """What copying can do in this terminal (asked once, at the first need)."""
        from gmailfix.screens.clipboard import find_clipboard

        return find_clipboard()

    def on_mount(self) -> None:
        self.run_flow()

    @work(exclusive=True, group="flow", exit_on_error=False)
    async def run_flow(self) -> None:
        await self.flow.run()

    @on(WizardScreen.Known)
    def _keep(self) -> None:
        self.flow.keep()

    def copy_to_clipboard(self, text: str) -> None:
        """OSC 52 as this terminal can take it: wrapped for tmux, or not sent when it
        would be dropped (Textual's own paste keeps the text either way)."""
        self._clipboard = text  # what App.clipboard returns
        sequence = self.copying.sequence(text)
        if sequence and self._driver is not None:
            self._driver.write(sequence)

    async def action_quit(self) -> None:
        """Every way out: asks first when a fix was found and not written."""
        from gmailfix.screens.confirm import ConfirmScreen

        if not self.state.unsaved_fix or isinstance(self.screen, ConfirmScreen):
            self.exit(self.state.summary())  # asked already: a second quit answers yes
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit(self.state.summary())

        self.push_screen(ConfirmScreen(QUIT_QUESTION), answered)

    async def run_action(
        self,
        action: str | ActionParseResult,
        default_namespace: DOMNode | None = None,
        namespaces: Mapping[str, DOMNode] | None = None,
    ) -> bool:
        # a key's action that fails shows a plain message; Textual would end the app
        try:
            return await super().run_action(action, default_namespace, namespaces)
        except Exception as error:
            report_unexpected(self.screen, error)
            return True

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help for this step", "What this step does", self._help)
        yield SystemCommand(
            "Start over", "Back to the first step", lambda: self.flow.goto(Step.WELCOME)
        )
        if self.state.target is not None:
            yield SystemCommand(
                "Check again",
                "Run the diagnosis again",
                lambda: self.flow.goto(Step.DIAGNOSIS, fresh_check=True),
            )
        if self.state.plan is not None:
            yield SystemCommand(
                "Export", "Write the fix as files", lambda: self.flow.goto(Step.EXPORT)
            )

    def _help(self) -> None:
        action = getattr(self.screen, "action_help", None)
        if callable(action):
            action()


def system_connection() -> Connection:
    """This computer's resolver and Mozilla's roots: built at the first check, not at start."""
    from gmailfix.connection import build

    return build()


def run_wizard(demo: bool = False) -> int:
    """Start the wizard; with ``demo`` against the built-in lab, offline."""
    if not demo:
        app = GmailfixApp(system_connection)
        summary = app.run()
    else:
        from gmailfix.lab.runner import running_lab

        with running_lab() as lab:
            app = demo_app(lab)
            summary = app.run()
    if summary:
        print(summary)
    return app.return_code or 0


DEMO_NOTE = (
    "The offline lab. blog.test has the case gmailfix was made for: its mail server shows "
    "the ISP's certificate (for server42.isp.test), not one for mail.blog.test, so Gmail "
    "refuses it. More lab domains are listed on the next step."
)


def demo_app(lab: LabInfo, export_dir: Path | None = None) -> GmailfixApp:
    """The wizard pointed at the lab, with the blog's case filled in."""
    state = WizardState(
        address="me@blog.test", smtp_host="mail.blog.test", port=587, smtp_prefilled=True
    )
    domains = ("selfsigned.test", "noauth.test", "good.test")
    return GmailfixApp(lambda: lab.connection(timeout=5), state, export_dir, DEMO_NOTE, domains)
