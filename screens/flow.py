"""The wizard as one coroutine: show a step, await its result, record it, go on.

    welcome ─► (paste the error) ─► details ─► diagnosis ─► fix ─► settings ─► export ─► re-check
       └─► (on the mail server)

The flow alone holds the state (``WizardState``): each step's screen gets what
it needs as arguments and dismisses a frozen result (or what the person typed,
marked as going back). Recording a result forgets whatever it makes stale, so a
step never shows an answer to an older question. Whatever goes wrong inside a
step becomes a message on screen; the wizard never dies with a traceback.

Screens past the first are imported when their step comes: the first screen
paints before the engine loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from gmailfix.screens.state import WizardState
from gmailfix.screens.steps import Step

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from gmailfix.screens.app import GmailfixApp
    from gmailfix.screens.base import WizardScreen

ResultT = TypeVar("ResultT")


class Flow:
    def __init__(self, app: GmailfixApp, state: WizardState) -> None:
        self.app, self.state = app, state
        self.shown: WizardScreen[Any] | None = None  # the step on screen, while awaited
        self.keeping: Callable[[Any], None] | None = None  # how its result is kept
        self.jump: Step | None = None  # where the command palette asked to go
        self.fresh_check = False  # with the jump: forget the check first
        self.came_from_paste = False

    async def run(self) -> None:
        """Every step in turn until the last one finishes; then the app exits with the summary."""
        steps: dict[Step, Callable[[], Awaitable[Step | None]]] = {
            Step.WELCOME: self.welcome,
            Step.PASTE: self.paste,
            Step.SERVER: self.server,
            Step.DETAILS: self.details,
            Step.DIAGNOSIS: self.diagnosis,
            Step.FIX: self.fix,
            Step.SETTINGS: self.settings,
            Step.EXPORT: self.export,
            Step.RECHECK: self.recheck,
        }
        step: Step | None = Step.WELCOME
        failed: Step | None = None
        while step is not None:
            try:
                following = await steps[step]()
                failed = None
            except Exception as exc:
                if failed is step:  # the same step broke twice running: stop, never spin
                    self.app.exit(f"gmailfix stopped: the {step.title} step failed twice.", 1)
                    return
                failed = step
                following = self._recover(exc, step)
            if self.jump is not None:
                following, self.jump = self.jump, None
                if self.fresh_check:
                    self.state.forget_check()
                    self.fresh_check = False
            step = following
        self.app.exit(self.state.summary())

    async def show(
        self,
        screen: WizardScreen[ResultT],
        keep: Callable[[ResultT | None], None] | None = None,
    ) -> ResultT | None:
        """The step's result. ``keep`` records it: when the screen tells what it found
        (``WizardScreen.Known``), and once more with what it dismissed."""
        self.shown, self.keeping = screen, keep
        try:
            got = await self.app.push_screen_wait(screen)
        finally:
            self.shown = self.keeping = None
        if keep is not None:
            keep(got)
        return got

    def keep(self) -> None:
        """The step on screen found out something (``WizardScreen.Known``): keep it now."""
        if self.shown is not None and self.keeping is not None:
            self.keeping(self.shown.kept())

    def goto(self, step: Step, *, fresh_check: bool = False) -> None:
        """Leave the step on screen for another (the command palette's jumps).

        Whatever is open over the step (help, a question) closes first, so the
        jump happens now or not at all: none is left pending for a later step."""
        shown = self.shown
        if shown is None:
            return
        while self.app.screen is not shown and len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        if self.app.screen is not shown:
            return
        self.jump, self.fresh_check = step, fresh_check
        shown.dismiss(shown.kept())

    def _recover(self, exc: Exception, step: Step) -> Step:
        from gmailfix.errors import GmailfixError

        if isinstance(exc, GmailfixError):
            self.app.notify(str(exc), title="That did not work", severity="error", timeout=10)
        else:
            self.app.log.error(repr(exc))
            self.app.notify(
                "Something went wrong inside gmailfix at this step. Your details are kept; "
                "try again, or check from a terminal with gmailfix diagnose.",
                title="Sorry",
                severity="error",
                timeout=10,
            )
        return Step.WELCOME if step in (Step.WELCOME, Step.PASTE, Step.SERVER) else Step.DETAILS

    # --- the steps: each shows its screen, keeps its result, says which step is next

    async def welcome(self) -> Step:
        from gmailfix.screens.welcome import Way, WelcomeScreen

        # the first screen needs nothing else: the engine loads once it is painted
        self.app.set_timer(0.2, _preload)
        way = await self.show(WelcomeScreen(self.app.demo_note))
        self.came_from_paste = way is Way.PASTE
        if way is None:  # only a jump leaves Welcome without a choice
            return Step.WELCOME
        return {Way.START: Step.DETAILS, Way.PASTE: Step.PASTE, Way.SERVER: Step.SERVER}[way]

    async def paste(self) -> Step:
        from gmailfix.screens.paste_error import PasteErrorScreen

        pasted = await self.show(PasteErrorScreen(self.state.pasted))
        if pasted is None:
            return Step.WELCOME
        self.state.pasted = pasted.text
        return Step.WELCOME if pasted.back else Step.DETAILS

    async def server(self) -> Step:
        from gmailfix.screens.doctor import DoctorScreen

        app = self.app
        await self.show(
            DoctorScreen(
                self.state.smtp_host, lambda: app.connection, app.server_root, app.server_runner
            )
        )
        return Step.WELCOME

    async def details(self) -> Step:
        from gmailfix.screens.details import DetailsScreen

        state = self.state
        got = await self.show(DetailsScreen(state.form, self.app.demo_domains))
        back = Step.PASTE if self.came_from_paste else Step.WELCOME
        if got is None:
            return back
        state.keep_form(got.form)
        if got.target is None:
            return back
        state.check(got.target, got.credentials)
        return Step.DIAGNOSIS

    async def diagnosis(self) -> Step:
        from gmailfix.screens.diagnosis import Checked, DiagnosisScreen

        state = self.state
        assert state.target is not None

        def keep(got: Checked | None) -> None:
            if got is not None and got.proposal is not None:
                state.checked(got.proposal)

        screen = DiagnosisScreen(
            self.app.connection, state.target, state.credentials, state.proposal
        )
        got = await self.show(screen, keep)
        return Step.FIX if got is not None and not got.back else Step.DETAILS

    async def fix(self) -> Step:
        from gmailfix.screens.choose_fix import ChooseFixScreen

        state = self.state
        assert state.proposal is not None
        kind = await self.show(ChooseFixScreen(state.proposal, state.kind, state.choices.stack))
        if kind is None:
            return Step.DIAGNOSIS
        state.choose(kind)
        return Step.SETTINGS

    async def settings(self) -> Step:
        from gmailfix.screens.settings import SettingsScreen

        state, app = self.state, self.app
        assert state.proposal is not None and state.kind is not None
        screen = SettingsScreen(
            state.proposal, state.kind, state.choices, app.connection, app.export_dir, app.copying
        )
        got = await self.show(screen)
        if got is None:
            return Step.FIX
        if got.plan is None:
            state.keep_choices(got.choices)
            return Step.FIX
        state.settle(got.choices, got.plan)
        return Step.EXPORT

    async def export(self) -> Step:
        from gmailfix.screens.export import Exported, ExportScreen

        state = self.state
        assert state.plan is not None and state.proposal is not None

        def keep(got: Exported | None) -> None:
            if got is None:
                return
            state.place = got.place
            if got.written is not None:
                state.written = got.written
            state.skipped_export = got.skipped

        place = state.place or ExportScreen.default_place(state.plan, self.app.export_dir)
        got = await self.show(ExportScreen(state.plan, state.proposal, place), keep)
        return Step.RECHECK if got is not None and not got.back else Step.SETTINGS

    async def recheck(self) -> Step | None:
        from gmailfix.screens.recheck import Rechecked, RecheckScreen

        state = self.state
        assert state.plan is not None and state.target is not None

        def keep(got: Rechecked | None) -> None:
            if got is not None and got.diagnosis is not None:
                state.rechecked = got.diagnosis

        screen = RecheckScreen(self.app.connection, state.target, state.credentials, state.plan)
        got = await self.show(screen, keep)
        return None if got is not None and got.finish else Step.EXPORT


def _preload() -> None:
    """Load the later steps (and the engine) while the person reads the first one.

    On the UI thread, once the first screen is painted: importing from a thread
    could deadlock with Textual's own lazy imports."""
    import gmailfix.screens.choose_fix
    import gmailfix.screens.details
    import gmailfix.screens.diagnosis
    import gmailfix.screens.export
    import gmailfix.screens.recheck
    import gmailfix.screens.settings  # noqa: F401
