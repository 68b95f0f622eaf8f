"""The wizard driven with keys (Textual's Pilot) against the lab."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static, TextArea

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


async def until(pilot: Pilot[None], condition: Callable[[], bool], seconds: float = 15) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out; screen is {pilot.app.screen!r}")


def on(app: GmailfixApp, kind: type) -> Callable[[], bool]:
    return lambda: isinstance(app.screen, kind)


def text_of(app: GmailfixApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def to_diagnosis(pilot: Pilot[None], app: GmailfixApp) -> None:
    await until(pilot, on(app, WelcomeScreen))
    await pilot.press("enter")
    await until(pilot, on(app, DetailsScreen))
    await pilot.press("enter", "enter")
    await until(pilot, on(app, DiagnosisScreen))
    screen = app.screen
    assert isinstance(screen, DiagnosisScreen)
    await until(pilot, lambda: screen.result is not None)


@pytest.fixture
def app(lab: LabInfo, tmp_path: Path) -> GmailfixApp:
    wizard = demo_app(lab, export_dir=tmp_path)
    wizard.demo_note = ""
    return wizard


async def test_blog_case_to_isp_fix_export_and_passing_recheck(
    app: GmailfixApp, tmp_path: Path
) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await to_diagnosis(pilot, app)
        assert "Gmail would reject" in text_of(app, "#verdict")
        assert "doesn't match the host" in text_of(app, "#verdict")
        await pilot.press("t")  # technical detail, one key away
        assert "server42.isp.test" in text_of(app, "#evidence")
        await pilot.press("enter")
        await until(pilot, on(app, ChooseFixScreen))
        options = app.screen.query_one("#fixes", OptionList)
        assert options.get_option_at_index(0).id == "isp-hostname"
        await pilot.press("enter")
        await until(pilot, on(app, SettingsScreen))
        assert "server42.isp.test" in text_of(app, "#gmail-fields")
        await pilot.press("enter")
        await until(pilot, on(app, ExportScreen))
        await pilot.press("enter")  # Write
        bundle = tmp_path / "gmailfix-blog.test"
        await until(pilot, lambda: (bundle / "MANIFEST.json").exists())
        assert "server42.isp.test" in (bundle / "gmail-settings.txt").read_text()
        await pilot.pause(0.3)
        await pilot.press("enter")  # Continue
        await until(pilot, on(app, RecheckScreen))
        await until(pilot, lambda: "Gmail would accept" in text_of(app, "#verdict"))
        assert "server42.isp.test" in text_of(app, "#verdict")
        await pilot.press("enter")  # Finish
        await until(pilot, lambda: not app.is_running)


async def test_blog_case_to_sni_fix_and_export(app: GmailfixApp, tmp_path: Path) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await to_diagnosis(pilot, app)
        await pilot.press("enter")
        await until(pilot, on(app, ChooseFixScreen))
        await pilot.press("down", "down", "enter")
        await until(pilot, on(app, SettingsScreen))
        assert "several domains" in text_of(app, "#plan-error")
        await pilot.press(*"second.test, third.test")  # the domains field has the focus
        await pilot.pause()
        assert app.screen.query_one("#aliases", Input).value == "second.test, third.test"
        exim = app.screen.exim_text  # type: ignore[attr-defined]
        assert "MAIN_TLS_CERTIFICATE = ${lookup{$tls_in_sni}lsearch" in exim
        app.screen.query_one("#continue").focus()
        await pilot.press("enter")
        await until(pilot, on(app, ExportScreen))
        await pilot.click("#zip")
        await pilot.click("#write")
        target = tmp_path / "gmailfix-blog.test.zip"
        await until(pilot, target.exists)
        assert "Wrote" in text_of(app, "#result")


async def test_paste_the_error_path(app: GmailfixApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, on(app, WelcomeScreen))
        await pilot.click("#paste")
        await until(pilot, on(app, PasteErrorScreen))
        area = app.screen.query_one("#pasted", TextArea)
        area.text = 'Server returned error: "TLS Negotiation failed, the certificate doesn\'t match the host., code: 0"'
        await pilot.pause()
        assert "certificate" in text_of(app, "#meaning")
        assert "private authority" in text_of(app, "#meaning")
        await pilot.click("#continue")
        await until(pilot, on(app, DetailsScreen))


async def test_back_during_a_running_diagnosis_cancels_it(lab: LabInfo, tmp_path: Path) -> None:
    app = demo_app(lab, export_dir=tmp_path)
    app.demo_note = ""
    from gmailfix.screens.details import Details

    app.details = Details("silent.test", None, None)  # a server that never answers
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, on(app, WelcomeScreen))
        await pilot.press("enter")
        await until(pilot, on(app, DetailsScreen))
        await pilot.press("enter", "enter")
        await until(pilot, on(app, DiagnosisScreen))
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, DiagnosisScreen) and screen.result is None
        running = [w for w in app.workers if w.group == "diagnosis"]
        assert running and not running[0].is_finished
        await pilot.press("escape")
        await until(pilot, on(app, DetailsScreen))
        await until(pilot, lambda: running[0].is_cancelled)


async def test_bad_input_is_shown_inline_not_as_a_crash(app: GmailfixApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, on(app, WelcomeScreen))
        await pilot.press("enter")
        await until(pilot, on(app, DetailsScreen))
        app.screen.query_one("#target", Input).value = "not a domain!"
        await pilot.pause()
        await pilot.click("#continue")
        await pilot.pause()
        assert isinstance(app.screen, DetailsScreen)
        assert "spaces" in text_of(app, "#target-error")


async def test_help_opens_and_closes(app: GmailfixApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, on(app, WelcomeScreen))
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await until(pilot, on(app, WelcomeScreen))
