"""The wizard driven with keys and the mouse (Textual's Pilot) against the lab."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input, Select, TextArea

from gmailfix.findings.codes import Code
from gmailfix.lab.runner import LabInfo
from gmailfix.lab.scenarios import SCENARIOS, TRICKY
from gmailfix.screens.app import GmailfixApp, demo_app
from gmailfix.screens.choose_fix import ChooseFixScreen, FixList
from gmailfix.screens.details import DetailsScreen
from gmailfix.screens.diagnosis import DiagnosisScreen
from gmailfix.screens.export import ExportScreen
from gmailfix.screens.paste_error import PasteErrorScreen
from gmailfix.screens.recheck import RecheckScreen
from gmailfix.screens.settings import SettingsScreen
from gmailfix.screens.state import WizardState
from gmailfix.screens.welcome import WelcomeScreen
from tests.support.pilot import on, screen_text, text_of, until


@pytest.fixture
def app(lab: LabInfo, tmp_path: Path) -> GmailfixApp:
    wizard = demo_app(lab, export_dir=tmp_path)
    wizard.demo_note = ""
    return wizard


def app_for(lab: LabInfo, tmp_path: Path, address: str, host: str = "") -> GmailfixApp:
    state = WizardState(address=address, smtp_host=host, port=0 if not host else 587)
    wizard = GmailfixApp(lambda: lab.connection(timeout=3), state, tmp_path)
    return wizard


async def to_details(pilot: Pilot[Any], app: GmailfixApp) -> None:
    await until(pilot, on(app, WelcomeScreen))
    await pilot.press("enter")
    await until(pilot, on(app, DetailsScreen))


async def to_diagnosis(pilot: Pilot[Any], app: GmailfixApp) -> DiagnosisScreen:
    await to_details(pilot, app)
    await pilot.press("ctrl+s")
    await until(pilot, lambda: getattr(app.screen, "result", None) is not None)
    screen = app.screen
    assert isinstance(screen, DiagnosisScreen)
    return screen


async def test_blog_case_to_isp_fix_export_and_passing_recheck(
    app: GmailfixApp, tmp_path: Path
) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await to_diagnosis(pilot, app)
        assert "Gmail would refuse" in text_of(app, "#verdict")
        assert "doesn't match the host" in text_of(app, "#verdict")
        await pilot.press("t")  # technical detail, one key away, in its own window
        await until(pilot, lambda: type(app.screen).__name__ == "TechnicalScreen")
        assert "server42.isp.test" in screen_text(app)
        await pilot.press("escape")
        await until(pilot, on(app, DiagnosisScreen))
        await pilot.press("enter")
        await until(pilot, on(app, ChooseFixScreen))
        options = app.screen.query_one("#fixes", FixList)
        assert options.get_option_at_index(0).id == "isp-hostname"
        await pilot.press("enter")
        await until(pilot, on(app, SettingsScreen))
        assert "server42.isp.test" in text_of(app, "#gmail-fields")
        await pilot.press("ctrl+s")
        await until(pilot, on(app, ExportScreen))
        await pilot.press("ctrl+s")  # Write
        bundle = tmp_path / "gmailfix-blog.test-isp-hostname"
        await until(pilot, lambda: (bundle / "MANIFEST.json").exists())
        await until(pilot, lambda: "Wrote 6 files" in text_of(app, "#result"))
        assert "server42.isp.test" in (bundle / "gmail-settings.txt").read_text()
        await pilot.press("ctrl+s")  # a second Ctrl+S goes on; it does not write again
        await until(pilot, on(app, RecheckScreen))
        await until(pilot, lambda: "Gmail would accept" in text_of(app, "#verdict"))
        assert "server42.isp.test" in text_of(app, "#verdict")
        await pilot.click("#done")
        await until(pilot, lambda: not app.is_running)
    assert app.return_value is not None
    assert "Gmail would accept server42.isp.test:587" in app.return_value
    assert str(bundle) in app.return_value


async def test_blog_case_to_sni_fix_as_zip(app: GmailfixApp, tmp_path: Path) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await to_diagnosis(pilot, app)
        await pilot.press("enter")
        await until(pilot, on(app, ChooseFixScreen))
        await pilot.press("down", "down", "enter")
        await until(pilot, on(app, SettingsScreen))
        assert "several domains" in text_of(app, "#plan-error")
        await pilot.press(*"second.test, third.test")  # the domains field has the focus
        await pilot.pause()
        config = app.screen.query_one("#config", TextArea)
        assert "MAIN_TLS_CERTIFICATE = ${lookup{$tls_in_sni}lsearch" in config.text
        assert not config.soft_wrap, "config is shown unwrapped: a hand selection is exact"
        await pilot.press("ctrl+s")
        await until(pilot, on(app, ExportScreen))
        await pilot.click("#zip")
        await pilot.click("#continue")
        target = tmp_path / "gmailfix-blog.test-sni.zip"
        await until(pilot, target.exists)
        assert "Wrote" in text_of(app, "#result")


async def test_coming_back_keeps_the_choices(app: GmailfixApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await to_diagnosis(pilot, app)
        await pilot.press("enter")
        await until(pilot, on(app, ChooseFixScreen))
        await pilot.press("down", "enter")  # new certificate
        await until(pilot, on(app, SettingsScreen))
        app.screen.query_one("#layout", Select).value = "debian-split"
        await pilot.pause()
        await pilot.press("escape")
        await until(pilot, on(app, ChooseFixScreen))
        await pilot.press("enter")
        await until(pilot, on(app, SettingsScreen))
        assert app.screen.query_one("#layout", Select).value == "debian-split"
        assert "000_localmacros" in text_of(app, "#config-title")


async def test_one_click_on_a_fix_shows_it_a_second_chooses(app: GmailfixApp) -> None:
    async with app.run_test(size=(100, 40)) as pilot:
        await to_diagnosis(pilot, app)
        await pilot.press("enter")
        await until(pilot, on(app, ChooseFixScreen))
        await pilot.click("#fixes", offset=(5, 2))  # the second fix
        await pilot.pause()
        assert isinstance(app.screen, ChooseFixScreen)
        assert "Let's Encrypt" in text_of(app, "#why")
        await pilot.click("#fixes", offset=(5, 2))
        await until(pilot, on(app, SettingsScreen))


async def test_paste_the_error_and_come_back_to_it(app: GmailfixApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, on(app, WelcomeScreen))
        await pilot.click("#paste")
        await until(pilot, on(app, PasteErrorScreen))
        pasted = "535 5.7.8 Error: authentication failed: Invalid user or password"
        app.screen.query_one("#pasted", TextArea).text = pasted
        await pilot.pause()
        assert "wrong username or password" in text_of(app, "#meaning")
        await pilot.click("#continue")
        await until(pilot, on(app, DetailsScreen))
        await pilot.press("escape")
        await until(pilot, on(app, PasteErrorScreen))
        assert app.screen.query_one("#pasted", TextArea).text == pasted


@pytest.mark.parametrize(
    ("pasted", "words"),
    [
        ("Connection timed out", "did not answer Gmail in time"),
        (
            "You must send through (my domain) SMTP servers when you send as me. However, "
            "this functionality is not available for your account.",
            "per-user outbound gateways",
        ),
    ],
)
async def test_paste_knows_more_gmail_messages(app: GmailfixApp, pasted: str, words: str) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, on(app, WelcomeScreen))
        await pilot.click("#paste")
        await until(pilot, on(app, PasteErrorScreen))
        app.screen.query_one("#pasted", TextArea).text = pasted
        await pilot.pause()
        assert words in text_of(app, "#meaning")


async def test_back_during_a_running_diagnosis_cancels_it(lab: LabInfo, tmp_path: Path) -> None:
    app = app_for(lab, tmp_path, "silent.test")  # a server that never answers
    async with app.run_test(size=(80, 24)) as pilot:
        await to_details(pilot, app)
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, DiagnosisScreen) and screen.result is None
        running = [w for w in app.workers if w.group == "diagnosis"]
        assert running and not running[0].is_finished
        await pilot.press("escape")
        await until(pilot, on(app, DetailsScreen))
        assert running[0].is_cancelled


@pytest.mark.parametrize("typed", ["(me)@blog.test", "@blog.test", "not a domain!", "a?b.test"])
async def test_bad_input_is_shown_inline_never_a_crash(app: GmailfixApp, typed: str) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await to_details(pilot, app)
        app.screen.query_one("#address", Input).value = typed
        await pilot.pause()
        await pilot.click("#continue")
        await pilot.pause()
        assert isinstance(app.screen, DetailsScreen)
        error = text_of(app, "#address-error")
        assert error and "Codepoint" not in error and "U+" not in error
        assert app.is_running


async def test_question_mark_in_a_field_is_just_a_character(app: GmailfixApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await to_details(pilot, app)
        await pilot.press("end", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, DetailsScreen)
        assert app.screen.query_one("#address", Input).value == "me@blog.test?"
        await pilot.press("f1")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")


async def test_the_demo_server_does_not_follow_another_domain(app: GmailfixApp) -> None:
    """The demo fills in mail.blog.test; typing good.test must not check it there."""
    async with app.run_test(size=(80, 24)) as pilot:
        await to_details(pilot, app)
        app.screen.query_one("#address", Input).value = "me@good.test"
        await pilot.pause()
        assert app.screen.query_one("#smtp_host", Input).value == ""
        await pilot.press("ctrl+s")
        await until(pilot, lambda: getattr(app.screen, "result", None) is not None)
        assert "Gmail would accept" in text_of(app, "#verdict")


async def test_quitting_a_finished_diagnosis_asks_first(app: GmailfixApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await to_diagnosis(pilot, app)
        await pilot.press("q")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        await pilot.press("n")
        await until(pilot, on(app, DiagnosisScreen))
        assert app.is_running
        await pilot.press("q")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running)
    assert app.return_value and "Gmail would reject mail.blog.test:587" in app.return_value


async def test_escape_on_welcome_does_not_quit(app: GmailfixApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, on(app, WelcomeScreen))
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, WelcomeScreen)


async def test_the_palette_has_the_wizards_commands(app: GmailfixApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await to_diagnosis(pilot, app)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Help for this step", "Start over", "Check again"} <= titles
        check_again = next(
            c for c in app.get_system_commands(app.screen) if c.title == "Check again"
        )
        check_again.callback()
        await until(pilot, lambda: getattr(app.screen, "result", None) is not None)
        assert isinstance(app.screen, DiagnosisScreen)


async def test_no_network_is_said_plainly_and_offers_no_fix(lab: LabInfo, tmp_path: Path) -> None:
    """A DNS server that never answers: the wizard says it cannot check, and stops there."""
    import socket

    from gmailfix.connection import build

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        state = WizardState(address="me@example.com", port=587)
        app = GmailfixApp(lambda: build(dns_server=f"127.0.0.1:{port}", timeout=2), state, tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await to_diagnosis(pilot, app)
            assert "cannot tell what Gmail would do" in text_of(app, "#verdict")
            assert "Gmail would refuse" not in screen_text(app)
            assert app.screen.query_one("#continue", Button).disabled


# Words that must never reach a person in the wizard: flags, codes, library texts.
# "self-signed" is both a code and the everyday word the wizard explains.
CODES = {str(code) for code in Code} - {"self-signed"}
LEAKS = re.compile(
    r"(?<![\w-])--\w|Errno|Traceback|_ssl\.c|SERVFAIL|EHLO|RFC \d|xn--|Connect call failed"
)


@pytest.mark.parametrize("scenario", SCENARIOS + TRICKY, ids=lambda s: s.domain)
async def test_no_engine_words_on_any_step(lab: LabInfo, tmp_path: Path, scenario) -> None:  # type: ignore[no-untyped-def]
    host = lab.typed_host(scenario.domain) if scenario.smtp_host else ""
    app = app_for(lab, tmp_path, f"me@{scenario.domain}", host)
    shown: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await to_diagnosis(pilot, app)
        shown.append(screen_text(app))
        await pilot.press("enter")
        await until(pilot, on(app, ChooseFixScreen))
        shown.append(screen_text(app))
        await pilot.press("enter")
        await until(pilot, on(app, SettingsScreen))
        shown.append(screen_text(app))
    text = "\n".join(shown)
    assert not LEAKS.search(text), LEAKS.search(text)
    words = set(re.findall(r"[a-z]+(?:-[a-z]+)+", text))
    assert not (words & CODES), words & CODES


@pytest.mark.parametrize("size", [(60, 20), (80, 24)], ids=["60x20", "80x24"])
async def test_every_button_is_on_screen(app: GmailfixApp, size: tuple[int, int]) -> None:
    width, height = size
    seen = []
    async with app.run_test(size=size) as pilot:

        async def buttons_fit() -> None:
            for button in app.screen.query(Button):
                if button.display and button.parent is not None and "nav" in button.parent.classes:
                    region = button.region
                    assert region.right <= width and region.bottom <= height, (
                        type(app.screen).__name__,
                        button.id,
                        region,
                    )
            seen.append(type(app.screen).__name__)

        await until(pilot, on(app, WelcomeScreen))
        await buttons_fit()
        await to_diagnosis(pilot, app)
        await buttons_fit()
        await pilot.press("enter")
        await until(pilot, on(app, ChooseFixScreen))
        await buttons_fit()
        await pilot.press("down", "enter")  # new certificate: the config is shown
        await until(pilot, on(app, SettingsScreen))
        await buttons_fit()
        await pilot.press("ctrl+s")
        await until(pilot, on(app, ExportScreen))
        await buttons_fit()
        await pilot.press("f1")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        close = app.screen.query_one("#close", Button)
        assert close.region.bottom <= height and close.region.right <= width
    assert len(seen) == 5
