"""Every wizard step as a picture, at 80x24 and 120x40 (pytest-textual-snapshot).

Review a changed snapshot before accepting it: pytest --snapshot-update.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import TextArea

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

SIZES = [(80, 24), (120, 40)]
GMAIL_SAYS = (
    "Authentication failed. Please check your username/password. Server returned error: "
    '"TLS Negotiation failed, the certificate doesn\'t match the host., code: 0"'
)
Step = Callable[[Pilot[None]], Awaitable[None]]


async def wait_for(
    pilot: Pilot[None], kind: type, ready: Callable[[object], bool] = lambda s: True
) -> None:
    for _ in range(300):
        screen = pilot.app.screen
        if isinstance(screen, kind) and ready(screen):
            await pilot.pause(0.1)
            return
        await pilot.pause(0.05)
    raise AssertionError(f"never reached {kind.__name__}")


async def welcome(pilot: Pilot[None]) -> None:
    await wait_for(pilot, WelcomeScreen)


async def paste_error(pilot: Pilot[None]) -> None:
    await welcome(pilot)
    await pilot.click("#paste")
    await wait_for(pilot, PasteErrorScreen)
    pilot.app.screen.query_one("#pasted", TextArea).text = GMAIL_SAYS
    await pilot.pause(0.1)


async def details(pilot: Pilot[None]) -> None:
    await welcome(pilot)
    await pilot.press("enter")
    await wait_for(pilot, DetailsScreen)


async def diagnosis(pilot: Pilot[None]) -> None:
    await details(pilot)
    await pilot.press("enter", "enter")
    await wait_for(pilot, DiagnosisScreen, lambda s: s.result is not None)  # type: ignore[attr-defined]


async def choose_fix(pilot: Pilot[None]) -> None:
    await diagnosis(pilot)
    await pilot.press("enter")
    await wait_for(pilot, ChooseFixScreen)


async def settings(pilot: Pilot[None]) -> None:
    await choose_fix(pilot)
    await pilot.press("enter")
    await wait_for(pilot, SettingsScreen)


async def settings_exim(pilot: Pilot[None]) -> None:
    """The new-certificate fix: Exim configuration, highlighted."""
    await choose_fix(pilot)
    await pilot.press("down", "enter")
    await wait_for(pilot, SettingsScreen)


async def export(pilot: Pilot[None]) -> None:
    await settings(pilot)
    await pilot.press("enter")
    await wait_for(pilot, ExportScreen)


async def recheck(pilot: Pilot[None]) -> None:
    await export(pilot)
    await pilot.click("#skip")
    await wait_for(pilot, RecheckScreen, lambda s: "Gmail" in str(s.query_one("#verdict").render()))  # type: ignore[attr-defined]


async def help_screen(pilot: Pilot[None]) -> None:
    await diagnosis(pilot)
    await pilot.press("question_mark")
    await pilot.pause(0.2)


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


def test_snapshot_light_theme(snap_compare, wizard: GmailfixApp) -> None:  # type: ignore[no-untyped-def]
    """Readable in a light theme too (Ctrl+P > theme)."""

    async def light_diagnosis(pilot: Pilot[None]) -> None:
        pilot.app.theme = "textual-light"
        await diagnosis(pilot)

    assert snap_compare(wizard, terminal_size=(80, 24), run_before=light_diagnosis)
