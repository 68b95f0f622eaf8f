"""The wizard app: wiring only. The flow reads as one coroutine of screens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType

from gmailfix.screens.details import Details
from gmailfix.screens.welcome import WelcomeScreen

if TYPE_CHECKING:
    from gmailfix.connection import Connection
    from gmailfix.diagnosis_request import Request
    from gmailfix.lab.runner import LabInfo


class GmailfixApp(App[None]):
    TITLE = "gmailfix"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        connection: Connection | Callable[[], Connection],
        details: Details | None = None,
        export_dir: Path | None = None,
        demo_note: str = "",
    ) -> None:
        super().__init__()
        # a factory defers the resolver and trust store until the first diagnosis
        self._connection = connection
        self.details = details
        self.export_dir = export_dir
        self.demo_note = demo_note

    def on_mount(self) -> None:
        if self.demo_note:
            self.notify(self.demo_note, title="Demo", timeout=8)
        self.flow()

    @work(exclusive=True, group="flow")
    async def flow(self) -> None:
        """welcome → details → diagnosis → fix → settings → export → re-check; Esc steps back."""
        first = self.push_screen(WelcomeScreen(), wait_for_dismiss=True)
        # the later steps (and the engine behind them) load once the first screen is painted
        await asyncio.sleep(0.05)
        from gmailfix.diagnose import Diagnosis
        from gmailfix.remedies.fix import FixPlan
        from gmailfix.remedies.plan import RemedyKind
        from gmailfix.screens.choose_fix import ChooseFixScreen
        from gmailfix.screens.details import DetailsScreen
        from gmailfix.screens.diagnosis import DiagnosisScreen
        from gmailfix.screens.export import ExportScreen
        from gmailfix.screens.paste_error import PasteErrorScreen
        from gmailfix.screens.recheck import RecheckScreen
        from gmailfix.screens.settings import SettingsScreen

        choice = await first
        step = "paste" if choice == "paste" else "details"
        diagnosis: Diagnosis | None = None
        kind: RemedyKind | None = None
        plan: FixPlan | None = None
        while True:
            if step == "welcome":
                choice = await self.push_screen_wait(WelcomeScreen())
                step = "paste" if choice == "paste" else "details"
            elif step == "paste":
                step = "details" if await self.push_screen_wait(PasteErrorScreen()) else "welcome"
            elif step == "details":
                details = await self.push_screen_wait(DetailsScreen(self.details))
                if details is None:
                    step = "welcome"
                    continue
                if details != self.details:
                    diagnosis = None
                self.details, step = details, "diagnosis"
            elif step == "diagnosis":
                diagnosis = await self.push_screen_wait(DiagnosisScreen(self._request(), diagnosis))
                step = "fix" if diagnosis is not None else "details"
            elif step == "fix":
                assert diagnosis is not None
                kind = await self.push_screen_wait(ChooseFixScreen(diagnosis))
                step = "settings" if kind is not None else "diagnosis"
            elif step == "settings":
                assert diagnosis is not None and kind is not None
                plan = await self.push_screen_wait(SettingsScreen(diagnosis, kind))
                step = "export" if plan is not None else "fix"
            elif step == "export":
                assert diagnosis is not None and plan is not None
                written = await self.push_screen_wait(
                    ExportScreen(plan, diagnosis, self.export_dir)
                )
                step = "recheck" if written is not None else "settings"
            elif step == "recheck":
                assert plan is not None
                outcome = await self.push_screen_wait(RecheckScreen(self._request(), plan))
                if outcome == "done":
                    self.exit()
                    return
                step = "export"

    @property
    def connection(self) -> Connection:
        if callable(self._connection):
            self._connection = self._connection()
        return self._connection

    def _request(self) -> Request:
        from gmailfix.diagnosis_request import make_request
        from gmailfix.inputs import PORTS

        assert self.details is not None
        d = self.details
        ports = (d.port,) if d.port else PORTS
        return make_request(d.target, self.connection, smtp_host=d.smtp_host, ports=ports)


def run_wizard(demo: bool = False) -> int:
    """Start the wizard; with ``demo`` against the built-in lab, offline."""
    from gmailfix.connection import build

    if not demo:
        GmailfixApp(build).run()
        return 0
    from gmailfix.lab.runner import running_lab

    with running_lab() as lab:
        app = demo_app(lab)
        app.run()
    return 0


def demo_app(lab: LabInfo, export_dir: Path | None = None) -> GmailfixApp:
    """The wizard pointed at the lab, with the blog's case filled in."""
    from gmailfix.connection import build

    connection = build(
        dns_server=f"{lab.dns[0]}:{lab.dns[1]}",
        ca_files=[str(lab.ca_file)],
        connect=[f"{h}:{p}={a}:{q}" for (h, p), (a, q) in lab.connect.items()],
        timeout=5,
    )
    details = Details("me@blog.test", "mail.blog.test", 587)
    note = (
        "This is the offline lab: blog.test has the blog's problem (the ISP's certificate). "
        "Try other lab domains too, e.g. selfsigned.test or good.test."
    )
    return GmailfixApp(connection, details, export_dir, note)
