"""The wizard's flow against the lab: every answer is to the question asked now, and every
way out asks the same question and prints the summary (issue 20's stumbles, one test each)."""

from __future__ import annotations

import json
import threading
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import pytest
from textual import on as handles
from textual.app import App
from textual.binding import Binding, BindingType
from textual.pilot import Pilot
from textual.widgets import Button, Input, Select, TextArea

from gmailfix.lab.runner import LabInfo
from gmailfix.screens.app import GmailfixApp, demo_app
from gmailfix.screens.base import WizardScreen
from gmailfix.screens.choose_fix import ChooseFixScreen
from gmailfix.screens.details import DetailsScreen
from gmailfix.screens.diagnosis import DiagnosisScreen
from gmailfix.screens.doctor import DoctorScreen
from gmailfix.screens.export import ExportScreen
from gmailfix.screens.paste_error import PasteErrorScreen
from gmailfix.screens.settings import SettingsScreen
from gmailfix.screens.state import WizardState
from gmailfix.screens.welcome import WelcomeScreen
from tests.support.pilot import on, screen_text, text_of, until
from tests.support.tmux import private_tmux


def app_for(
    lab: LabInfo, tmp_path: Path, address: str, host: str = "", timeout: float = 3
) -> GmailfixApp:
    state = WizardState(address=address, smtp_host=host, port=587 if host else 0)
    return GmailfixApp(lambda: lab.connection(timeout=timeout), state, tmp_path)


async def check(pilot: Pilot[Any], app: GmailfixApp) -> str:
    """Ctrl+S on the details: the verdict, once the check is done."""
    await pilot.press("ctrl+s")
    await until(pilot, lambda: getattr(app.screen, "result", None) is not None)
    assert isinstance(app.screen, DiagnosisScreen)
    return text_of(app, "#verdict")


async def to_details(pilot: Pilot[Any], app: GmailfixApp) -> None:
    await until(pilot, on(app, WelcomeScreen))
    await pilot.press("enter")
    await until(pilot, on(app, DetailsScreen))


def field(app: App[Any], name: str) -> Input:
    return app.screen.query_one(f"#{name}", Input)


# --- a changed input is a new question


async def test_a_new_password_is_a_new_check(lab: LabInfo, tmp_path: Path) -> None:
    """good.test accepts; with a password (the lab's servers refuse every login) Gmail
    would not. Before, going back and adding the password still showed the first answer."""
    app = app_for(lab, tmp_path, "me@good.test", "mail.good.test")
    async with app.run_test(size=(80, 24)) as pilot:
        await to_details(pilot, app)
        assert "Gmail would accept" in await check(pilot, app)
        await pilot.press("escape")
        await until(pilot, on(app, DetailsScreen))
        field(app, "password").value = "not-the-password"
        verdict = await check(pilot, app)
        assert "Gmail would refuse" in verdict and "Username and Password not accepted" in verdict
        # and back: without the password it is the first question again
        await pilot.press("escape")
        await until(pilot, on(app, DetailsScreen))
        assert field(app, "password").value == "not-the-password"  # kept while going back
        field(app, "password").value = ""
        assert "Gmail would accept" in await check(pilot, app)


async def test_the_mail_server_choice_does_not_follow_to_another_domain(
    lab: LabInfo, tmp_path: Path
) -> None:
    """cpanel.test's settings, three Esc, then selfsigned.test: cPanel is named nowhere,
    neither on screen nor in the export (README, MANIFEST's stack)."""
    app = app_for(lab, tmp_path, "me@cpanel.test", "mail.cpanel.test")
    async with app.run_test(size=(100, 40)) as pilot:
        await to_details(pilot, app)
        await check(pilot, app)
        await pilot.press("enter")
        await until(pilot, on(app, ChooseFixScreen))
        await pilot.press("enter")
        await until(pilot, on(app, SettingsScreen))
        assert app.screen.query_one("#stack-choice", Select).value == "cpanel"
        await pilot.press("escape", "escape")
        await until(pilot, on(app, DiagnosisScreen))
        await pilot.press("escape")
        await until(pilot, on(app, DetailsScreen))
        field(app, "address").value = "me@selfsigned.test"
        field(app, "smtp_host").value = ""
        await check(pilot, app)
        await pilot.press("enter")
        await until(pilot, on(app, ChooseFixScreen))
        await pilot.press("enter")
        await until(pilot, on(app, SettingsScreen))
        shown = screen_text(app)
        assert "cPanel" not in shown and "cpanel" not in shown
        assert app.screen.query_one("#stack-choice", Select).value != "cpanel"
        await pilot.press("ctrl+s")
        await until(pilot, on(app, ExportScreen))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.state.written is not None)
    bundle = app.state.written
    assert bundle is not None and "selfsigned.test" in bundle.name
    assert "cPanel" not in (bundle / "README.md").read_text()
    assert json.loads((bundle / "MANIFEST.json").read_text())["stack"] != "cpanel"


# --- every way out


async def quit_with(pilot: Pilot[Any], way: str) -> None:
    if way == "palette":
        await pilot.press("ctrl+p")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "CommandPalette")
        await pilot.press(*"Quit")
        await pilot.pause(0.3)
        await pilot.press("enter")
    else:
        await pilot.press(way)


@pytest.mark.parametrize("way", ["q", "ctrl+q", "ctrl+c", "palette"])
async def test_every_way_out_asks_about_an_unwritten_fix(lab: LabInfo, way: str) -> None:
    app = demo_app(lab)
    app.demo_note = ""
    async with app.run_test(size=(80, 24)) as pilot:
        await to_details(pilot, app)
        assert "Gmail would refuse" in await check(pilot, app)
        await quit_with(pilot, way)
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running)
    assert app.return_value is not None
    assert app.return_value.startswith("gmailfix: Gmail would refuse mail.blog.test:587")
    assert "the fix was not written" in app.return_value


async def test_quitting_after_gmail_would_accept_asks_nothing(lab: LabInfo, tmp_path: Path) -> None:
    app = app_for(lab, tmp_path, "me@good.test", "mail.good.test")
    async with app.run_test(size=(80, 24)) as pilot:
        await to_details(pilot, app)
        assert "Gmail would accept" in await check(pilot, app)
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running)
    assert app.return_value == "gmailfix: Gmail would accept mail.good.test:587."


async def test_start_over_with_a_window_open_leaves_no_jump_behind(lab: LabInfo) -> None:
    """Help open over the diagnosis, then the palette's Start over: the wizard is on
    Welcome at once. Before, the jump waited and fired at the next step."""
    app = demo_app(lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_details(pilot, app)
        await check(pilot, app)
        await pilot.press("f1")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: type(app.screen).__name__ == "CommandPalette")
        await pilot.press(*"Start over")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, on(app, WelcomeScreen))
        assert len(app.screen_stack) == 2  # the default screen and Welcome: help is gone
        await pilot.press("enter")  # the next step is the one asked for, not a jump
        await until(pilot, on(app, DetailsScreen))
        await pilot.pause(0.3)
        assert isinstance(app.screen, DetailsScreen)


# --- what the screens say


async def test_titles_name_the_screen_shown(lab: LabInfo) -> None:
    app = demo_app(lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, on(app, WelcomeScreen))
        await pilot.click("#paste")
        await until(pilot, on(app, PasteErrorScreen))
        title = text_of(app, "#step")
        assert "Welcome" not in title and "Gmail's message" in title
        await pilot.press("escape")
        await until(pilot, on(app, WelcomeScreen))
        await pilot.click("#server")
        await until(pilot, on(app, DoctorScreen))
        await pilot.press("f1")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        help_text = getattr(app.screen, "title_text", "")
        assert help_text == "On the mail server"


async def test_offline_there_is_no_dead_button(tmp_path: Path) -> None:
    """Nothing could be checked: 'See the fixes' is gone, 'Check again' is offered."""
    import socket

    from gmailfix.connection import build

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        state = WizardState(address="me@example.com", port=587)
        app = GmailfixApp(lambda: build(dns_server=f"127.0.0.1:{port}", timeout=1), state, tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await to_details(pilot, app)
            assert "cannot tell" in await check(pilot, app)
            buttons = [b for b in app.screen.query(Button) if b.display]
            assert "See the fixes" not in {str(b.label) for b in buttons}
            again = app.screen.query_one("#again", Button)
            assert again.display and app.focused is again


async def test_a_slow_server_is_never_promised_a_time_it_overruns(
    lab: LabInfo, tmp_path: Path
) -> None:
    """silent.test never greets. Each stage said "(at most 5 s)", and looking for a fix
    took 10 s: the wizard promises only what holds (each answer's wait) and counts."""
    app = app_for(lab, tmp_path, "me@silent.test", "mail.silent.test", timeout=0.5)
    said: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await to_details(pilot, app)
        await pilot.press("ctrl+s")
        # not ``until``: it lets the check finish first, and the stages are gone by then
        for _ in range(500):
            await pilot.pause(0.02)
            if not isinstance(app.screen, DiagnosisScreen):
                continue
            said.append(text_of(app, "#status"))
            if "Looking for a fix" in said[-1] or app.screen.result is not None:
                break
    stages = [s for s in said if "…" in s and "Checking" not in s]
    assert stages, said
    for status in stages:
        assert "(at most" not in status
        assert "waits at most 0.5 s for each answer" in status


async def test_the_tls_case_says_the_password_is_not_the_problem(lab: LabInfo) -> None:
    app = demo_app(lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_details(pilot, app)
        verdict = await check(pilot, app)
        assert "check your username/password" in verdict
        assert "The password is not the problem" in verdict


async def test_the_demo_explains_the_blogs_case(lab: LabInfo) -> None:
    app = demo_app(lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, on(app, WelcomeScreen))
        note = text_of(app, "#demo-note")
        assert "the blog's problem" not in note
        assert "server42.isp.test" in note and "mail.blog.test" in note


# --- never a traceback


async def test_a_failing_handler_shows_a_message_and_the_wizard_goes_on(lab: LabInfo) -> None:
    """A step's handler or key that raises something unexpected: a plain message, the
    step stays usable. Before, Textual ended the app with a traceback."""

    class Faulty(WizardScreen[None]):
        BINDINGS: ClassVar[list[BindingType]] = [Binding("b", "boom")]

        def action_boom(self) -> None:  # a key's action
            raise RuntimeError("a bug")

        @handles(Button.Pressed, "#continue")
        def _boom(self) -> None:  # a message handler
            raise RuntimeError("a bug")

    app = demo_app(lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, on(app, WelcomeScreen))
        faulty = Faulty()
        app.push_screen(faulty)
        await until(pilot, lambda: app.screen is faulty)
        await pilot.press("b")
        await pilot.pause()
        await pilot.click("#continue")
        await pilot.pause()
        assert app.is_running and app.screen is faulty
        notes = [n.message for n in app._notifications]
        assert notes and all("Something went wrong inside gmailfix" in n for n in notes)
        assert not any("a bug" in n or "RuntimeError" in n for n in notes)
        await pilot.press("q")  # and still answers
        await until(pilot, lambda: not app.is_running)


# --- the export


async def test_the_export_takes_the_zip_choice_once(
    lab: LabInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The zip box changed while the write runs: the file is what its name says."""
    import gmailfix.screens.export as export
    from gmailfix.bundle import bundle_files

    started, go_on = threading.Event(), threading.Event()
    real = bundle_files

    def held(*args: Any, **kwargs: Any) -> Any:
        started.set()
        assert go_on.wait(20)  # the write waits here while the person changes the box
        return real(*args, **kwargs)

    monkeypatch.setattr(export, "bundle_files", held)
    app = demo_app(lab, export_dir=tmp_path)
    app.demo_note = ""
    async with app.run_test(size=(80, 24)) as pilot:
        await to_details(pilot, app)
        await check(pilot, app)
        await pilot.press("enter")
        await until(pilot, on(app, ChooseFixScreen))
        await pilot.press("enter")
        await until(pilot, on(app, SettingsScreen))
        await pilot.press("ctrl+s")
        await until(pilot, on(app, ExportScreen))
        await pilot.press("ctrl+s")  # a folder
        while not started.is_set():  # not ``until``: it would wait for the write itself
            await pilot.pause(0.02)
        await pilot.click("#zip")
        await pilot.pause()
        go_on.set()
        await until(pilot, lambda: app.state.written is not None)
    folder = tmp_path / "gmailfix-blog.test-isp-hostname"
    assert folder.is_dir() and (folder / "MANIFEST.json").exists()
    assert not zipfile.is_zipfile(folder)


# --- the plan, in the order it is done


async def test_a_server_fix_shows_its_steps_first_and_gmail_last(lab: LabInfo) -> None:
    """The blog case's new certificate: DNS panel, then the server, Gmail's form last.
    Before, 'Type this in Gmail' with settings that still fail came first."""
    app = demo_app(lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_details(pilot, app)
        await check(pilot, app)
        await pilot.press("enter")
        await until(pilot, on(app, ChooseFixScreen))
        await pilot.press("down", "enter")  # a new certificate
        await until(pilot, on(app, SettingsScreen))
        steps = text_of(app, "#steps")
        assert steps.index("In your DNS provider's panel") < steps.index("On your mail server")
        assert steps.index("Get a certificate") < steps.index("In Gmail, last")
        assert "Type this in Gmail" not in screen_text(app)
        body = app.screen.query_one(".body")
        steps_box = app.screen.query_one("#steps").region
        assert body.region.contains_region(steps_box.intersection(body.region))
        order = [
            app.screen.query_one(f"#{part}").region.y
            for part in ("steps", "server-part", "gmail-part")
        ]
        assert order == sorted(order), order


async def test_a_gmail_only_fix_shows_the_settings_first(lab: LabInfo) -> None:
    app = demo_app(lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_details(pilot, app)
        await check(pilot, app)
        await pilot.press("enter")
        await until(pilot, on(app, ChooseFixScreen))
        await pilot.press("enter")  # the name the certificate covers
        await until(pilot, on(app, SettingsScreen))
        assert not app.screen.query_one("#steps").display
        assert text_of(app, "#gmail-title").startswith("Type this in Gmail")
        gmail = app.screen.query_one("#gmail-part").region
        server = app.screen.query_one("#server-part").region
        assert gmail.y < server.y
        assert "Nothing changes on your mail server" in text_of(app, "#config-title")


async def test_at_60_columns_no_config_line_is_cut(lab: LabInfo) -> None:
    """Wrapped for reading; w shows the lines as they are, x copies them exact."""
    app = demo_app(lab)
    async with app.run_test(size=(60, 20)) as pilot:
        await to_details(pilot, app)
        await check(pilot, app)
        await pilot.press("enter")
        await until(pilot, on(app, ChooseFixScreen))
        await pilot.press("down", "enter")
        await until(pilot, on(app, SettingsScreen))
        await pilot.pause()
        config = app.screen.query_one("#config", TextArea)
        assert max(len(line) for line in config.text.splitlines()) > config.content_size.width
        assert config.soft_wrap
        await pilot.press("w")
        await pilot.pause()
        assert not config.soft_wrap
        await pilot.press("x")
        await pilot.pause()
        assert app.clipboard == config.text
        dropdown = app.screen.query_one("#stack-choice", Select)
        overlay = dropdown.query_one("SelectOverlay")
        assert overlay.styles.border_top[0] != "", "an open list is framed"


# --- copy that tells the truth, and saving beside it


async def test_copy_inside_tmux_says_it_cannot_and_save_writes_the_file(
    lab: LabInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tmux as it comes drops a program's copy: the wizard says so plainly (it used to say
    the text 'may not have reached' the clipboard) and s saves it to a file instead."""
    with private_tmux(tmp_path) as tmux:
        for name in ("TMUX", "TMUX_PANE"):
            monkeypatch.setenv(name, tmux.env[name])
        app = demo_app(lab, export_dir=tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await to_details(pilot, app)
            await check(pilot, app)
            await pilot.press("enter")
            await until(pilot, on(app, ChooseFixScreen))
            await pilot.press("down", "enter")  # a new certificate: a config to copy
            await until(pilot, on(app, SettingsScreen))
            await pilot.press("x")
            await until(pilot, lambda: bool(app._notifications))
            said = " ".join(n.message for n in app._notifications)
            assert "cannot work inside tmux" in said and "save it to a file" in said
            assert "may not" not in said and " were " not in said
            app.clear_notifications()
            await pilot.press("s")
            await until(pilot, lambda: bool(app._notifications))
            said = " ".join(n.message for n in app._notifications)
    (saved,) = tmp_path.glob("gmailfix-blog.test-new-certificate-settings*.txt")
    assert str(saved) in said
    text = saved.read_text()
    assert text.index("In your DNS provider's panel") < text.index("MAIN_TLS_CERTIFICATE")
    assert text.index("MAIN_TLS_CERTIFICATE") < text.index("In Gmail (Settings")


async def test_copying_where_it_works_says_copied_in_good_grammar(
    lab: LabInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TMUX", "TMUX_PANE", "STY", "SSH_TTY", "SSH_CONNECTION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM_PROGRAM", "WezTerm")
    app = demo_app(lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_details(pilot, app)
        await check(pilot, app)
        await pilot.press("enter")
        await until(pilot, on(app, ChooseFixScreen))
        await pilot.press("down", "enter")
        await until(pilot, on(app, SettingsScreen))
        await pilot.press("x")
        await until(pilot, lambda: bool(app._notifications))
        assert [n.message for n in app._notifications] == ["The configuration was copied."]
        assert app.clipboard == app.screen.query_one("#config", TextArea).text
