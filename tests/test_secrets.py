"""A password given to gmailfix appears nowhere: not in any output, file, report or bundle.

It comes from GMAILFIX_PASSWORD or a no-echo prompt (never the command line),
is sent only after a verified handshake, and never written.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

from gmailfix.lab.runner import LabInfo
from gmailfix.screens.app import GmailfixApp
from gmailfix.screens.diagnosis import DiagnosisScreen
from gmailfix.screens.export import ExportScreen
from gmailfix.screens.settings import SettingsScreen
from gmailfix.screens.state import WizardState
from tests.support.pilot import on, screen_text, until

PASSWORD = "Tr0ub4dor&3-gmailfix-never-shown"
USER = "me@good.test"


def forms(password: str = PASSWORD) -> list[str]:
    """The password, and the ways it travels on the wire."""
    plain = f"\0{USER}\0{password}".encode()
    return [
        password,
        base64.b64encode(plain).decode(),
        base64.b64encode(password.encode()).decode(),
    ]


def assert_absent(text: str, where: str) -> None:
    for form in forms():
        assert form not in text, f"the password shows in {where}"


def gmailfix(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GMAILFIX_PASSWORD": PASSWORD}
    return subprocess.run(
        [sys.executable, "-m", "gmailfix", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def test_no_flag_takes_a_password() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gmailfix", "diagnose", "--help"], capture_output=True, text=True
    )
    assert "--auth-user" in done.stdout and "--password" not in done.stdout


def test_diagnose_and_export_never_show_or_write_it(lab: LabInfo, tmp_path: Path) -> None:
    args = [*lab.diagnose_args("good.test"), "--auth-user", USER, "--port", "587"]
    for extra in (["--json"], []):
        done = gmailfix("diagnose", USER, *args, *extra)
        assert done.returncode in (0, 1), done.stderr
        assert_absent(done.stdout + done.stderr, "diagnose's output")
    data = gmailfix("diagnose", USER, *args, "--json").stdout
    assert '"auth-failed"' in data, "the login was really tried (the lab refuses every login)"
    out = tmp_path / "fix"
    done = gmailfix(
        "export",
        "good.test",
        "--remedy",
        "sni",
        "--alias-domain",
        "b.test",
        "--out",
        str(out),
        *args,
    )
    assert done.returncode in (0, 1), done.stderr
    assert_absent(done.stdout + done.stderr, "export's output")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert_absent(path.read_bytes().decode("utf-8", "replace"), str(path))


async def test_the_wizard_never_shows_or_writes_it(lab: LabInfo, tmp_path: Path) -> None:
    state = WizardState(address=USER, smtp_host="mail.good.test", port=587)
    app = GmailfixApp(lambda: lab.connection(timeout=3), state, tmp_path)
    shown: list[str] = []
    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, lambda: type(app.screen).__name__ == "WelcomeScreen")
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "DetailsScreen")
        app.screen.query_one("#password").value = PASSWORD  # type: ignore[attr-defined]
        await pilot.pause()
        shown.append(screen_text(app))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: getattr(app.screen, "result", None) is not None)
        assert isinstance(app.screen, DiagnosisScreen)
        assert state.diagnosis is not None
        assert any(c.login is not None for e in state.diagnosis.endpoints for c in e.checks)
        shown.append(screen_text(app))
        await pilot.press("t")
        await until(pilot, lambda: type(app.screen).__name__ == "TechnicalScreen")
        shown.append(screen_text(app))
        await pilot.press("escape")
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "ChooseFixScreen")
        await pilot.press("enter")
        await until(pilot, on(app, SettingsScreen))
        shown.append(screen_text(app))
        await pilot.press("ctrl+s")
        await until(pilot, on(app, ExportScreen))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: state.written is not None)
    assert_absent("\n".join(shown), "the wizard's screens")
    assert_absent(repr(state.diagnosis) + repr(state.credentials), "the wizard's state")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert_absent(path.read_bytes().decode("utf-8", "replace"), str(path))
