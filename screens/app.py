"""The wizard app: wiring only. The flow reads as one coroutine of screens.

    welcome ─► (paste the error) ─► details ─► diagnosis ─► fix ─► settings ─► export ─► re-check

Each step is a screen that dismisses with its result, or with None to go back.
Whatever goes wrong inside a step becomes a message on screen; the wizard
never dies with a traceback, and on exit it prints one line of summary.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from gmailfix.screens.state import WizardState
from gmailfix.server.system import Root, Runner, run_command

if TYPE_CHECKING:
    from gmailfix.connection import Connection
    from gmailfix.lab.runner import LabInfo

Step = str  # "welcome", "paste", "details", "diagnosis", "fix", "settings", "export", "recheck"


class GmailfixApp(App[str]):
    TITLE = "gmailfix"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit_wizard", "Quit"),
        Binding("ctrl+c", "quit_wizard", "Quit", show=False, priority=True),
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
        self.state = state or WizardState()
        self.export_dir = export_dir or Path.home()
        self.demo_note = demo_note
        self.demo_domains = demo_domains  # shown under the details form and in its help
        self._jump: Step | None = None
        self.came_from_paste = False
        # the mail server "On the mail server" checks: this computer, or a copy (tests)
        self.server_root: Root | None = None
        self.server_runner: Runner = run_command

    @property
    def connection(self) -> Connection:
        if callable(self._connection):
            self._connection = self._connection()
        return self._connection

    def on_mount(self) -> None:
        self.flow()

    @work(exclusive=True, group="flow", exit_on_error=False)
    async def flow(self) -> None:
        step: Step = "welcome"
        failed: Step | None = None
        while True:
            try:
                step = await self._run_step(step)
                failed = None
            except Exception as exc:
                if failed == step:  # the same step broke twice running: stop, never spin
                    self.exit(f"gmailfix stopped: the {step} step failed twice ({exc!r}).", 1)
                    return
                failed = step
                step = self._recover(exc, step)
            if self._jump is not None:
                step, self._jump = self._jump, None
            if step == "done":
                self.exit(self.summary())
                return

    async def _run_step(self, step: Step) -> Step:
        if step == "welcome":
            from gmailfix.screens.welcome import WelcomeScreen

            # the first screen needs nothing else: the engine loads once it is painted
            self.set_timer(0.2, self._preload)
            choice = await self.push_screen_wait(WelcomeScreen())
            self.came_from_paste = choice == "paste"
            return {"paste": "paste", "server": "server"}.get(choice or "", "details")
        from gmailfix.screens import steps

        handler: Callable[[GmailfixApp], Awaitable[Step]] = getattr(steps, step)
        return await handler(self)

    def _preload(self) -> None:
        """Load the later steps (and the engine) while the person reads the first one.

        On the UI thread, once the first screen is painted: importing from a
        thread could deadlock with Textual's own lazy imports."""
        import gmailfix.screens.steps  # noqa: F401

    def _recover(self, exc: Exception, step: Step) -> Step:
        from gmailfix.errors import GmailfixError

        if isinstance(exc, GmailfixError):
            self.notify(str(exc), title="That did not work", severity="error", timeout=10)
        else:
            self.log.error(repr(exc))
            self.notify(
                "Something went wrong inside gmailfix at this step. Your details are kept; "
                "try again, or run 'gmailfix diagnose' in a terminal.",
                title="Sorry",
                severity="error",
                timeout=10,
            )
        return {"diagnosis": "details", "welcome": "welcome"}.get(step, "details")

    def goto(self, step: Step) -> None:
        """Leave the current step for another one (the command palette's jumps)."""
        from gmailfix.screens.base import WizardScreen

        self._jump = step
        if isinstance(self.screen, WizardScreen):
            self.screen.dismiss(None)

    def summary(self) -> str:
        """One line for the terminal after the wizard closes."""
        state = self.state
        parts = []
        latest = state.rechecked or state.diagnosis
        if latest is not None:
            from gmailfix.vocabulary import Code

            verdict = latest.verdict
            where = f"{verdict.settings.smtp_server}:{verdict.settings.port}"
            parts.append(
                {
                    "accept": f"Gmail would accept {where}",
                    "reject": f"Gmail would refuse {where}",  # the wizard's word
                    "unknown": "could not check from this computer"
                    if verdict.cause != Code.ADDRESSES_NOT_CHECKED
                    else f"cannot tell what Gmail would do with {where}: {latest.why_unknown}",
                }[verdict.outcome]
            )
        if state.written is not None and state.written != Path():
            parts.append(f"the fix is in {state.written}")
        from gmailfix.text import clean

        return clean("gmailfix: " + ("; ".join(parts) or "nothing checked") + ".", limit=500)

    def action_quit_wizard(self) -> None:
        state = self.state
        # ask only when there is something to save: a diagnosis that checked something
        exportable = state.diagnosis is not None and state.diagnosis.outcome != "unknown"
        if exportable and state.written is None:
            from gmailfix.screens.confirm import ConfirmScreen

            def answered(yes: bool | None) -> None:
                if yes:
                    self.exit(self.summary())

            self.push_screen(
                ConfirmScreen("Quit now? The fix has not been written to files yet (Export)."),
                answered,
            )
            return
        self.exit(self.summary())

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help for this step", "What this step does", self._help)
        yield SystemCommand("Start over", "Back to the first step", lambda: self.goto("welcome"))
        if self.state.target is not None:
            yield SystemCommand("Check again", "Run the diagnosis again", self._check_again)
        if self.state.plan is not None:
            yield SystemCommand("Export", "Write the fix as files", lambda: self.goto("export"))

    def _help(self) -> None:
        action = getattr(self.screen, "action_help", None)
        if callable(action):
            action()

    def _check_again(self) -> None:
        self.state.forget_diagnosis()
        self.goto("diagnosis")


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


def demo_app(lab: LabInfo, export_dir: Path | None = None) -> GmailfixApp:
    """The wizard pointed at the lab, with the blog's case filled in."""
    state = WizardState(
        address="me@blog.test", smtp_host="mail.blog.test", port=587, smtp_prefilled=True
    )
    note = (
        "The offline lab: blog.test has the blog's problem. "
        "More lab domains are listed on the next step."
    )
    domains = ("selfsigned.test", "noauth.test", "good.test")
    return GmailfixApp(lambda: lab.connection(timeout=5), state, export_dir, note, domains)
