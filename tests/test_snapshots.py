"""Every wizard step as a picture, at 80x24 and 120x40 (pytest-textual-snapshot); the
steps whose content follows the plan (settings, export) at 60x20 too.

Review a changed snapshot before accepting it: pytest --snapshot-update. The
cursor blink is frozen so pictures do not depend on timing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from gmailfix.lab.runner import LabInfo
from gmailfix.screens.app import GmailfixApp, demo_app
from gmailfix.screens.choose_fix import ChooseFixScreen
from gmailfix.screens.details import DetailsScreen
from gmailfix.screens.diagnosis import DiagnosisScreen
from gmailfix.screens.export import ExportScreen
from gmailfix.screens.paste_error import PasteErrorScreen
from gmailfix.screens.recheck import RecheckScreen
from gmailfix.screens.settings import SettingsScreen
from gmailfix.screens.welcome import WelcomeScreen
from tests.support.pilot import on, until

SIZES = [(80, 24), (120, 40)]
GMAIL_SAYS = (
    "Authentication failed. Please check your username/password. Server returned error: "
    '"TLS Negotiation failed, the certificate doesn\'t match the host., code: 0"'
)
Step = Callable[[Pilot[None]], Awaitable[None]]


async def settle(pilot: Pilot[None]) -> None:
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    for area in pilot.app.screen.query(TextArea):
        area.cursor_blink = False
    await pilot.pause(0.2)


async def welcome(pilot: Pilot[None]) -> None:
    await until(pilot, on(pilot.app, WelcomeScreen))
    await settle(pilot)


async def paste_error(pilot: Pilot[None]) -> None:
    await welcome(pilot)
    await pilot.click("#paste")
    await until(pilot, on(pilot.app, PasteErrorScreen))
    pilot.app.screen.query_one("#pasted", TextArea).text = GMAIL_SAYS
    await settle(pilot)


async def details(pilot: Pilot[None]) -> None:
    await welcome(pilot)
    await pilot.press("enter")
    await until(pilot, on(pilot.app, DetailsScreen))
    await settle(pilot)


async def diagnosis(pilot: Pilot[None]) -> None:
    await details(pilot)
    await pilot.press("ctrl+s")
    await until(pilot, lambda: getattr(pilot.app.screen, "result", None) is not None)
    assert isinstance(pilot.app.screen, DiagnosisScreen)
    await settle(pilot)


async def choose_fix(pilot: Pilot[None]) -> None:
    await diagnosis(pilot)
    await pilot.press("enter")
    await until(pilot, on(pilot.app, ChooseFixScreen))
    await settle(pilot)


async def settings(pilot: Pilot[None]) -> None:
    await choose_fix(pilot)
    await pilot.press("enter")
    await until(pilot, on(pilot.app, SettingsScreen))
    await settle(pilot)


async def settings_exim(pilot: Pilot[None]) -> None:
    """The new-certificate fix: the Exim configuration, unwrapped."""
    await choose_fix(pilot)
    await pilot.press("down", "enter")
    await until(pilot, on(pilot.app, SettingsScreen))
    await settle(pilot)


async def export(pilot: Pilot[None]) -> None:
    await settings(pilot)
    await pilot.press("ctrl+s")
    await until(pilot, on(pilot.app, ExportScreen))
    await settle(pilot)


async def recheck(pilot: Pilot[None]) -> None:
    await export(pilot)
    await pilot.click("#skip")
    await until(
        pilot,
        lambda: (
            isinstance(pilot.app.screen, RecheckScreen)
            and "Gmail" in str(pilot.app.screen.query_one("#verdict").render())
        ),
    )
    await settle(pilot)


async def help_screen(pilot: Pilot[None]) -> None:
    await diagnosis(pilot)
    await pilot.press("f1")
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "HelpScreen")
    await settle(pilot)


STEPS: dict[str, Step] = {
    "welcome": welcome,
    "paste_error": paste_error,
    "details": details,
    "diagnosis": diagnosis,
    "choose_fix": choose_fix,
    "settings": settings,
    "settings_exim": settings_exim,
    "export": export,
    "recheck": recheck,
    "help": help_screen,
}


@pytest.fixture
def wizard(lab: LabInfo) -> GmailfixApp:
    app = demo_app(lab, export_dir=Path("/home/you"))
    app.demo_note = ""
    return app


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("step", list(STEPS))
def test_snapshot(snap_compare, wizard: GmailfixApp, step: str, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(wizard, terminal_size=size, run_before=STEPS[step])


# the steps whose content follows the plan: a Gmail-only plan (settings), a plan on the
# server (settings_exim: its steps first, Gmail last), and the export of a plan
PLAN_STEPS = ("settings", "settings_exim", "export")


@pytest.mark.parametrize("step", PLAN_STEPS)
def test_snapshot_60x20(snap_compare, wizard: GmailfixApp, step: str) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(wizard, terminal_size=(60, 20), run_before=STEPS[step])


def test_snapshot_light_theme(snap_compare, wizard: GmailfixApp) -> None:  # type: ignore[no-untyped-def]
    """Readable in a light theme too (Ctrl+P > theme)."""

    async def light_diagnosis(pilot: Pilot[None]) -> None:
        pilot.app.theme = "textual-light"
        await diagnosis(pilot)

    assert snap_compare(wizard, terminal_size=(80, 24), run_before=light_diagnosis)
