"""The wizard's steps, in order: each shows its screen and says which step comes next.

Loaded after the first screen is painted, with the engine behind it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gmailfix.screens.choose_fix import ChooseFixScreen
from gmailfix.screens.details import DetailsScreen
from gmailfix.screens.diagnosis import DiagnosisScreen
from gmailfix.screens.export import ExportScreen
from gmailfix.screens.paste_error import PasteErrorScreen
from gmailfix.screens.recheck import RecheckScreen
from gmailfix.screens.settings import SettingsScreen

if TYPE_CHECKING:
    from gmailfix.screens.app import GmailfixApp, Step


async def server(app: GmailfixApp) -> Step:
    from gmailfix.screens.doctor import DoctorScreen

    await app.push_screen_wait(DoctorScreen())
    return "welcome"


async def paste(app: GmailfixApp) -> Step:
    done = await app.push_screen_wait(PasteErrorScreen())
    return "details" if done else "welcome"


async def details(app: GmailfixApp) -> Step:
    target = await app.push_screen_wait(DetailsScreen())
    if target is None:
        return "paste" if app.came_from_paste else "welcome"
    if target != app.state.target:
        app.state.forget_diagnosis()
    app.state.target = target
    return "diagnosis"


async def diagnosis(app: GmailfixApp) -> Step:
    result = await app.push_screen_wait(DiagnosisScreen(app.connection))
    if result is None:
        return "details"
    app.state.proposal = result
    return "fix"


async def fix(app: GmailfixApp) -> Step:
    kind = await app.push_screen_wait(ChooseFixScreen())
    if kind is None:
        return "diagnosis"
    if kind != app.state.kind:
        app.state.plan = None
    app.state.kind = kind
    return "settings"


async def settings(app: GmailfixApp) -> Step:
    plan = await app.push_screen_wait(SettingsScreen())
    if plan is None:
        return "fix"
    app.state.plan = plan
    return "export"


async def export(app: GmailfixApp) -> Step:
    written = await app.push_screen_wait(ExportScreen(app.export_dir))
    return "settings" if written is None else "recheck"


async def recheck(app: GmailfixApp) -> Step:
    outcome = await app.push_screen_wait(RecheckScreen(app.connection))
    return "done" if outcome == "done" else "export"
