"""The wizard driven with keys and the mouse (Textual's Pilot) against the lab."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import Button, Input, Select, Static, TextArea

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
from gmailfix.vocabulary import Code
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


async def to_fixes(pilot: Pilot[Any], app: GmailfixApp) -> None:
    await to_diagnosis(pilot, app)
    await pilot.press("enter")
    await until(pilot, on(app, ChooseFixScreen))


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
        # the demo's bundle checks against the lab it was made from
        readme = (bundle / "README.md").read_text()
        assert "CA_FILE=" in readme and "--dns-server 127.0.0.1:" in readme
        await pilot.press("ctrl+s")  # a second Ctrl+S goes on; it does not write again
        await until(pilot, on(app, RecheckScreen))
        await until(pilot, lambda: "Gmail would accept" in text_of(app, "#verdict"))
        assert "server42.isp.test" in text_of(app, "#verdict")
        # a Gmail-only fix: the check is of the new settings, not a server already fixed
        assert "With the settings from step 5" in text_of(app, "#status")
        await pilot.click("#done")
        await until(pilot, lambda: not app.is_running)
    assert app.return_value is not None
    assert "Gmail would accept server42.isp.test:587" in app.return_value
    assert str(bundle) in app.return_value


async def test_blog_case_to_sni_fix_as_zip(app: GmailfixApp, tmp_path: Path) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await to_fixes(pilot, app)
        await pilot.press("down", "down", "enter")
        await until(pilot, on(app, SettingsScreen))
        assert "several domains" in text_of(app, "#plan-error")
        await pilot.press(*"second.test, third.test")  # the domains field has the focus
        await pilot.pause()
        config = app.screen.query_one("#config", TextArea)
        assert "MAIN_TLS_CERTIFICATE = ${lookup{$tls_in_sni}lsearch" in config.text
        # lines too long for the box wrap; w shows them as they are (a hand selection is
        # then exact), x copies them exact either way
        assert config.soft_wrap == (
            max(map(len, config.text.splitlines())) > config.content_size.width
        )
        app.screen.query_one("#continue").focus()  # not the domains field: w is a letter there
        await pilot.press("w")
        await pilot.pause()
        assert not config.soft_wrap
        await pilot.press("ctrl+s")
        await until(pilot, on(app, ExportScreen))
        await pilot.click("#zip")
        await pilot.click("#continue")
        target = tmp_path / "gmailfix-blog.test-sni.zip"
        await until(pilot, target.exists)
        assert "Wrote" in text_of(app, "#result")


async def test_coming_back_keeps_the_choices(app: GmailfixApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await to_fixes(pilot, app)
        await pilot.press("down", "enter")  # new certificate
        await until(pilot, on(app, SettingsScreen))
        app.screen.query_one("#layout", Select).value = "debian-split"
        await pilot.pause()
        await pilot.press("escape")
        await until(pilot, on(app, ChooseFixScreen))
        await pilot.press("enter")
        await until(pilot, on(app, SettingsScreen))
        assert app.screen.query_one("#layout", Select).value == "debian-split"
        assert (
            "# ===== exim4/conf.d/main/000_localmacros"
            in app.screen.query_one("#config", TextArea).text
        )


async def test_one_click_on_a_fix_shows_it_a_second_chooses(app: GmailfixApp) -> None:
    async with app.run_test(size=(100, 40)) as pilot:
        await to_fixes(pilot, app)
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
        assert isinstance(app.focused, TextArea)
        await pilot.press("ctrl+s")  # from inside the text box, where Enter is a new line
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


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_the_helps_close_button_is_on_screen(app: GmailfixApp, size: tuple[int, int]) -> None:
    """Before: a long help pushed its Close button below the screen."""
    async with app.run_test(size=size) as pilot:
        await to_details(pilot, app)
        await pilot.press("f1")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        await pilot.pause()
        close = app.screen.query_one("#close", Button).region
        assert close.height > 0 and close.bottom <= size[1] - 1, close
        await pilot.click("#close")
        await until(pilot, on(app, DetailsScreen))


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
    assert app.return_value and "Gmail would refuse mail.blog.test:587" in app.return_value


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
            shown = screen_text(app)
            assert "Gmail would refuse" not in shown
            assert app.screen.query_one("#continue", Button).disabled
            # not the server's fault: a neutral "?", never a red cross
            assert "? This computer cannot check the server" in text_of(app, "#findings")
            assert "✗" not in text_of(app, "#findings")
            assert not app.screen.query_one("#checks").display  # no empty table header
            # the greyed-out button says why, beside it
            assert "check the internet connection" in text_of(app, "#nav-note").lower()
            await pilot.press("q")  # nothing to save: no question about a bundle
            await until(pilot, lambda: not app.is_running)
        assert app.return_value == "gmailfix: could not check from this computer."


async def test_r_checks_again_on_the_diagnosis(app: GmailfixApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await to_diagnosis(pilot, app)
        first = screen.result
        await pilot.press("r")
        await until(pilot, lambda: screen.result is not None and screen.result is not first)
        assert "Gmail would refuse" in text_of(app, "#verdict")
        assert not screen.query_one("#continue", Button).disabled


async def test_the_live_table_gives_the_cause_not_the_certificate(
    lab: LabInfo, tmp_path: Path
) -> None:
    """noauth.test's certificate is fine: the row says the server offers no login."""
    app = app_for(lab, tmp_path, "me@noauth.test")
    async with app.run_test(size=(80, 24)) as pilot:
        await to_diagnosis(pilot, app)
        table = screen_text(app)
        assert "refused: server does not offer login" in table
        assert "certificate" not in table.split("result", 1)[1].split("See the fixes")[0]


async def test_a_name_mismatch_names_the_certificate_and_fits_60_columns(
    app: GmailfixApp,
) -> None:
    async with app.run_test(size=(60, 20)) as pilot:
        await to_diagnosis(pilot, app)
        checks = app.screen.query_one("#checks")
        assert checks.region.right <= 60
        lines = checks.render_lines(Region(0, 0, checks.size.width, checks.size.height))
        shown = "".join("".join(strip.text.split()) for strip in lines)
        assert "refused:certificateisforserver42.isp.test" in shown
        # a focused button takes no arrow keys: they scroll the text
        assert isinstance(app.focused, Button)
        body = app.screen.query_one(".body")
        await pilot.press("pagedown")
        await until(pilot, lambda: body.scroll_y > 0)


async def test_settings_show_and_copy_every_server_file(lab: LabInfo, tmp_path: Path) -> None:
    app = app_for(lab, tmp_path, "me@noauth.test")
    async with app.run_test(size=(80, 24)) as pilot:
        await to_fixes(pilot, app)
        assert app.screen.query_one("#fixes", FixList).highlighted_option.id == "enable-auth"  # type: ignore[union-attr]
        await pilot.press("enter")
        await until(pilot, on(app, SettingsScreen))
        config = app.screen.query_one("#config", TextArea).text
        assert "# ===== exim4/exim4.conf.localmacros" in config  # the ports
        assert "# ===== exim4/auth-tls-only.conf" in config  # and the login
        assert "plain_server:" in config and "daemon_smtp_ports" in config
        await pilot.press("x")
        await pilot.pause()
        assert app.clipboard == config


async def test_settings_config_box_is_a_page_down_away_at_80x24(app: GmailfixApp) -> None:
    """The plan's steps come first; the server's configuration follows, one PageDown on."""
    async with app.run_test(size=(80, 24)) as pilot:
        await to_fixes(pilot, app)
        await pilot.press("down", "enter")  # new certificate: Exim's file
        await until(pilot, on(app, SettingsScreen))
        await pilot.press("pagedown")
        await pilot.pause()
        config = app.screen.query_one("#config", TextArea)
        visible = config.region.intersection(app.screen.query_one(".body").region)
        assert visible.height >= 5, visible


async def test_enter_goes_field_by_field_and_checks_on_the_last(app: GmailfixApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await to_details(pilot, app)
        await pilot.press("enter", "enter")  # address, then SMTP Server
        port = app.screen.query_one("#port", Select)
        assert app.focused is port
        await pilot.press("space")  # Space opens the list ...
        await until(pilot, lambda: port.expanded)
        await pilot.press("escape")
        await until(pilot, lambda: not port.expanded)
        assert isinstance(app.screen, DetailsScreen)
        await pilot.press("enter")  # ... Enter goes to the password, the last field
        await pilot.pause()
        assert isinstance(app.screen, DetailsScreen)
        assert app.screen.query_one("#password", Input).has_focus
        await pilot.press("enter")  # blank: skipped, and the check starts
        await until(pilot, lambda: getattr(app.screen, "result", None) is not None)
        assert isinstance(app.screen, DiagnosisScreen)


async def to_export(pilot: Pilot[Any], app: GmailfixApp) -> None:
    await to_diagnosis(pilot, app)
    await pilot.press("enter")
    await until(pilot, on(app, ChooseFixScreen))
    await pilot.press("enter")
    await until(pilot, on(app, SettingsScreen))
    await pilot.press("ctrl+s")
    await until(pilot, on(app, ExportScreen))


async def test_export_writes_again_when_the_place_changes(app: GmailfixApp, tmp_path: Path) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await to_export(pilot, app)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "Wrote 6 files" in text_of(app, "#result"))
        assert str(app.screen.query_one("#continue", Button).label) == "Continue"
        other = tmp_path / "elsewhere"
        app.screen.query_one("#path", Input).value = str(other)
        await pilot.pause()
        assert str(app.screen.query_one("#continue", Button).label) == "Write"
        await pilot.press("ctrl+s")  # writes at the new place; does not move on
        await until(pilot, lambda: f"to {other}" in text_of(app, "#result"))
        assert (other / "MANIFEST.json").exists()
        assert isinstance(app.screen, ExportScreen)


async def write_export(pilot: Pilot[Any], app: GmailfixApp, until_said: str) -> str:
    """Ctrl+S on the export screen; what it says once ``until_said`` shows."""
    await pilot.press("ctrl+s")
    await until(pilot, lambda: until_said in text_of(app, "#result"))
    return text_of(app, "#result")


async def test_export_takes_a_typed_place_and_forgets_what_it_said(
    app: GmailfixApp, tmp_path: Path
) -> None:
    """The place is focused: typing changes it, Enter writes there. A message about the
    old place goes once the place changes."""
    (tmp_path / "gmailfix-blog.test-isp-hostname").mkdir()  # the default place is taken
    async with app.run_test(size=(60, 20)) as pilot:
        await to_export(pilot, app)
        path = app.screen.query_one("#path", Input)
        assert app.focused is path
        await write_export(pilot, app, "Not written")
        path.focus()
        await pilot.press("end", *"-2")
        await pilot.pause()
        assert not app.screen.query_one("#result").display
        await pilot.press("enter")
        await until(pilot, lambda: "Wrote 6 files" in text_of(app, "#result"))
    assert (tmp_path / "gmailfix-blog.test-isp-hostname-2" / "README.md").exists()


async def test_export_never_offers_to_replace_a_folder_it_did_not_write(
    app: GmailfixApp, tmp_path: Path
) -> None:
    mine = tmp_path / "gmailfix-blog.test-isp-hostname"
    mine.mkdir()
    (mine / "notes.txt").write_text("the person's own file")
    async with app.run_test(size=(80, 24)) as pilot:
        await to_export(pilot, app)
        said = await write_export(pilot, app, "Not written")
        assert "not written by gmailfix" in said and "Choose another folder" in said
        assert "tick" not in said and "--" not in said  # ticking the box could not help
        await pilot.click("#force")
        await write_export(pilot, app, "Not written")
    assert (mine / "notes.txt").read_text() == "the person's own file"


async def test_export_over_an_earlier_export_names_the_box(
    app: GmailfixApp, lab: LabInfo, tmp_path: Path
) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await to_export(pilot, app)
        await write_export(pilot, app, "Wrote 6 files")
    earlier = tmp_path / "gmailfix-blog.test-isp-hostname"
    (earlier / "README.md").write_text("edited since")
    again = demo_app(lab, export_dir=tmp_path)
    again.demo_note = ""
    async with again.run_test(size=(80, 24)) as pilot:
        await to_export(pilot, again)
        said = await write_export(pilot, again, "Not written")
        assert "already exists" in said and "Replace an earlier gmailfix export" in said
        assert "--" not in said
        await pilot.click("#force")
        await write_export(pilot, again, "Wrote 6 files")
    assert (earlier / "README.md").read_text() != "edited since"


async def test_an_unavailable_fix_shows_why_and_cannot_be_chosen(app: GmailfixApp) -> None:
    async with app.run_test(size=(100, 40)) as pilot:
        await to_fixes(pilot, app)
        screen = app.screen
        assert isinstance(screen, ChooseFixScreen)
        fixes = screen.query_one("#fixes", FixList)
        unavailable = next(i for i, r in enumerate(screen.remedies) if not r.applicable)
        for _ in range(unavailable - (fixes.highlighted or 0)):
            await pilot.press("down")
        await pilot.pause()
        assert fixes.highlighted == unavailable
        remedy = screen.remedies[unavailable]
        why = text_of(app, "#why")
        assert "cannot help here" in why and remedy.reason[:40] in why
        assert screen.query_one("#continue", Button).disabled
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ChooseFixScreen)


async def test_the_demo_lists_its_domains_under_the_form_and_in_help(lab: LabInfo) -> None:
    app = demo_app(lab)  # with its note
    async with app.run_test(size=(80, 24)) as pilot:
        await to_details(pilot, app)
        assert "noauth.test" in text_of(app, "#demo-hint")
        await pilot.press("f1")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        assert "noauth.test" in str(getattr(app.screen, "text", ""))


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


def cpanel_app(lab: LabInfo, tmp_path: Path) -> GmailfixApp:
    """The lab's cPanel server, as typed in Gmail: a panel keeps its mail files."""
    return app_for(lab, tmp_path, "me@cpanel.test", "mail.cpanel.test")


async def test_a_panels_own_way_is_shown_with_a_certificate_fix(
    lab: LabInfo, tmp_path: Path
) -> None:
    app = cpanel_app(lab, tmp_path)
    async with app.run_test(size=(100, 50)) as pilot:
        await to_diagnosis(pilot, app)
        assert "Your server looks like cPanel" in screen_text(app)
        await pilot.press("enter")
        await until(pilot, on(app, ChooseFixScreen))
        await until(pilot, lambda: "Simplest:" in text_of(app, "#why"))
        assert "Manage Service SSL Certificates" in text_of(app, "#why")
        assert "not run by gmailfix" in text_of(app, "#why")
        await pilot.press("enter")
        await until(pilot, on(app, SettingsScreen))
        title = text_of(app, "#config-title")
        assert "keeps its mail settings itself" in title and "by hand" in title


@pytest.mark.parametrize("size", [(60, 20), (80, 24)], ids=["60x20", "80x24"])
async def test_the_chosen_fix_is_explained_in_view(app: GmailfixApp, size: tuple[int, int]) -> None:
    """The list takes a share of the screen, so the explanation of the highlighted fix
    (the blog case's: four lines at 60 columns) is on screen, not below the fold."""
    async with app.run_test(size=size) as pilot:
        await to_fixes(pilot, app)
        why = app.screen.query_one("#why", Static)
        body = app.screen.query_one(".body").region
        assert "server42.isp.test" in text_of(app, "#why")
        assert why.region.height >= 4
        assert body.contains_region(why.region), (why.region, body)


async def test_page_down_on_the_fix_list_scrolls_the_explanation(
    lab: LabInfo, tmp_path: Path
) -> None:
    """At 80x24 a panel's steps run below the fold; the list keeps its choice."""
    app = cpanel_app(lab, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_fixes(pilot, app)
        screen = app.screen
        fixes = screen.query_one("#fixes", FixList)
        chosen = fixes.highlighted
        body = screen.query_one(".body")
        # the focused list is scrolled into view first (a row or so, as the list grows)
        before = body.scroll_y
        await pilot.press("pagedown")
        await pilot.pause()
        assert body.scroll_y > before and fixes.highlighted == chosen


@pytest.mark.parametrize("width", [60, 80])
async def test_quit_is_in_the_footer_on_a_narrow_terminal(app: GmailfixApp, width: int) -> None:
    """Under 80 columns the palette's place in the footer goes to the step's keys."""
    from textual.widgets._footer import FooterKey

    async with app.run_test(size=(width, 20)) as pilot:
        await to_diagnosis(pilot, app)
        await pilot.pause()
        keys = list(app.screen.query(FooterKey))
        quit_key = next(k for k in keys if k.key == "q")
        assert quit_key.region.width > 0 and quit_key.region.right <= width
        palette = next(k for k in keys if k.has_class("-command-palette"))
        assert palette.display == (width >= 80)


def toasts(app: GmailfixApp) -> list[str]:
    """The passing notes on screen (Textual keeps them on the app, not as queryable
    widgets)."""
    return [note.message for note in app._notifications]


async def test_the_demo_note_is_in_the_body_and_ctrl_s_starts(lab: LabInfo, tmp_path: Path) -> None:
    """A passing note covered the Welcome buttons for seconds; the note is text now."""
    app = demo_app(lab, export_dir=tmp_path)
    async with app.run_test(size=(60, 20)) as pilot:
        await until(pilot, on(app, WelcomeScreen))
        await pilot.pause(0.3)
        assert "blog.test has the case" in text_of(app, "#demo-note")
        assert not toasts(app)
        await pilot.press("ctrl+s")  # the main button of the first step
        await until(pilot, on(app, DetailsScreen))


async def test_a_note_does_not_follow_to_the_next_step(app: GmailfixApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await to_fixes(pilot, app)
        await pilot.press("enter")
        await until(pilot, on(app, SettingsScreen))
        await pilot.press("c")  # copy Gmail's settings: a note says what happened
        await until(pilot, lambda: bool(toasts(app)))
        await pilot.press("ctrl+s")
        await until(pilot, on(app, ExportScreen))
        await pilot.pause(0.2)
        assert not toasts(app)


async def test_the_scrolling_text_shows_when_tab_reaches_it(app: GmailfixApp) -> None:
    """At 60x20 the paste step's text scrolls, and Tab stops on it: it must show."""
    async with app.run_test(size=(60, 20)) as pilot:
        await until(pilot, on(app, WelcomeScreen))
        await pilot.click("#paste")
        await until(pilot, on(app, PasteErrorScreen))
        app.screen.query_one("#pasted", TextArea).text = "Connection timed out\n" * 3
        await pilot.pause()
        body = app.screen.query_one(".body")
        assert body.styles.background_tint.a == 0
        for _ in range(4):
            if body.has_focus:
                break
            await pilot.press("tab")
        assert body.has_focus
        assert body.styles.background_tint.a > 0


@pytest.mark.parametrize("size", [(60, 20), (80, 24)], ids=["60x20", "80x24"])
async def test_every_detail_field_is_in_view(app: GmailfixApp, size: tuple[int, int]) -> None:
    """At 60x20 the port and the password were below the fold; short terminals get
    one-line fields."""
    async with app.run_test(size=size) as pilot:
        await to_details(pilot, app)
        await pilot.pause()
        body = app.screen.query_one(".body").region
        for field in ("#address", "#smtp_host", "#port", "#password"):
            region = app.screen.query_one(field).region
            assert body.contains_region(region), (field, region, body)
