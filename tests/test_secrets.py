"""A password given to gmailfix appears nowhere: not in any output, file, report or bundle.

It comes from GMAILFIX_PASSWORD or a no-echo prompt (never the command line),
is sent only after a verified handshake, and never written. A server that repeats
the login in its refusal (tests/support/echo_smtp.py) gets it hidden: as typed, in
capitals, and in every form it travelled in.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gmailfix.lab.runner import LabInfo
from gmailfix.login import HIDDEN, Credentials, LoginResult, login
from gmailfix.screens.app import GmailfixApp
from gmailfix.screens.diagnosis import DiagnosisScreen
from gmailfix.screens.export import ExportScreen
from gmailfix.screens.settings import SettingsScreen
from gmailfix.screens.state import WizardState
from gmailfix.smtp import ProbeTarget
from gmailfix.vocabulary import Code
from tests.support import echo_smtp
from tests.support.echo_smtp import Echo, EchoServer, decoded, echo_server, repeat_everything
from tests.support.pilot import on, screen_text, until

PASSWORD = "Tr0ub4dor&3-gmailfix-never-shown"
USER = "me@good.test"
# its base64 has '/' (URL-safe '_') and padding, and no character that JSON, Markdown
# or the terminal would escape: a copy that got out is found by a plain search
ECHO_PASSWORD = "Hunter2-secret???"
ECHO_USER = f"me@{echo_smtp.DOMAIN}"


def forms(user: str = USER, password: str = PASSWORD) -> list[str]:
    """The password, and every form it travels in: AUTH PLAIN's \\0user\\0password and
    AUTH LOGIN's password, each base64, standard or URL-safe, with or without padding."""
    plain = f"\0{user}\0{password}"
    found = [password, plain]
    for raw in (password.encode(), plain.encode()):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(raw).decode()
            found += [text, text.rstrip("=")]
    return found


def assert_absent(text: str, where: str, user: str = USER, password: str = PASSWORD) -> None:
    lowered = text.lower()  # a server may repeat it in capitals
    for form in forms(user, password):
        assert form.lower() not in lowered, f"the password shows in {where}"


def gmailfix(*args: str, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GMAILFIX_PASSWORD": password, "COLUMNS": "200"}
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


# --- a server that repeats the login in its refusal ---------------------------------------


def _upper(received: list[bytes]) -> bytes:
    return b"535 5.7.8 NO SUCH LOGIN: " + decoded(received[-1]).upper() + b"\r\n"


def _url_safe(received: list[bytes]) -> bytes:
    word = received[-1].split()[-1]
    return (
        b"535 5.7.8 refused " + word.replace(b"/", b"_").replace(b"+", b"-").rstrip(b"=") + b"\r\n"
    )


def _several_lines(received: list[bytes]) -> bytes:
    return b"535-you sent\r\n535-" + received[-1] + b"\r\n535 " + decoded(received[-1]) + b"\r\n"


def _cut(received: list[bytes]) -> bytes:
    """The password where the kept reply (200 characters) ends."""
    return b"535 " + b"x" * 190 + decoded(received[-1]).split(b"\0")[-1] + b"\r\n"


def _not_smtp(received: list[bytes]) -> bytes:
    return b"your password " + decoded(received[-1]).split(b"\0")[-1] + b" is wrong\r\n"


ECHOES: dict[str, tuple[Echo, bytes]] = {
    "plain, as sent and decoded": (repeat_everything, b"PLAIN LOGIN"),
    "login, as sent and decoded": (repeat_everything, b"LOGIN"),
    "in capitals": (_upper, b"PLAIN"),
    "url-safe, unpadded": (_url_safe, b"PLAIN"),
    "url-safe, unpadded, login": (_url_safe, b"LOGIN"),
    "over several lines": (_several_lines, b"PLAIN"),
    "where the reply is cut": (_cut, b"PLAIN"),
    "not an SMTP reply": (_not_smtp, b"PLAIN"),
}


def _log_in(server: EchoServer) -> LoginResult:
    target = ProbeTarget(echo_smtp.HOST, 587, echo_smtp.HOST, server.smtp)
    return asyncio.run(
        login(
            target,
            Credentials(ECHO_USER, ECHO_PASSWORD),
            trust_pem=server.connection().trust.pem(),
            timeout=5,
        )
    )


@pytest.mark.parametrize("how", list(ECHOES))
def test_a_repeated_login_is_hidden_in_the_result(tmp_path: Path, how: str) -> None:
    echo, mechanisms = ECHOES[how]
    with echo_server(tmp_path, echo, mechanisms) as server:
        result = _log_in(server)
    assert server.received, "the password was really sent"
    assert not result.ok and result.reply is not None
    expected = Code.SMTP_PROTOCOL_ERROR if how == "not an SMTP reply" else Code.AUTH_FAILED
    assert result.code == expected, result
    assert_absent(repr(result), "the login's result", ECHO_USER, ECHO_PASSWORD)
    marker = HIDDEN[:6] if how == "where the reply is cut" else HIDDEN  # cut after hiding
    assert marker in result.reply, "the server's words are kept, the password hidden"


def test_a_repeated_login_shows_nowhere_in_the_cli_or_a_bundle(tmp_path: Path) -> None:
    with echo_server(tmp_path) as server:
        args = [*server.cli_args(), "--auth-user", ECHO_USER]
        shown = []
        for extra in ([], ["--json"]):
            done = gmailfix("diagnose", ECHO_USER, *args, *extra, password=ECHO_PASSWORD)
            assert done.returncode == 1, done.stderr
            shown.append(done.stdout + done.stderr)
        out = tmp_path / "fix"
        done = gmailfix(
            "export",
            ECHO_USER,
            "--remedy",
            "enable-auth",
            "--out",
            str(out),
            *args,
            password=ECHO_PASSWORD,
        )
        assert done.returncode == 0, done.stderr
        shown.append(done.stdout + done.stderr)
    assert len(server.received) == 3, "each run logged in"
    assert_absent("\n".join(shown), "the output", ECHO_USER, ECHO_PASSWORD)
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            assert_absent(text, str(path), ECHO_USER, ECHO_PASSWORD)
    found = json.loads(shown[1])["findings"]
    said = [f["evidence"]["reply"] for f in found if f["code"] == "auth-failed"]
    assert said and HIDDEN in said[0], "the refusal was received, and hidden"
    assert HIDDEN in (out / "report.md").read_text() + (out / "report.json").read_text()


async def test_a_repeated_login_shows_nowhere_in_the_wizard(tmp_path: Path) -> None:
    with echo_server(tmp_path) as server:
        state = WizardState(address=ECHO_USER, smtp_host=echo_smtp.HOST, port=587)
        app = GmailfixApp(lambda: server.connection(timeout=3), state, tmp_path / "out")
        shown: list[str] = []
        async with app.run_test(size=(100, 40)) as pilot:
            await until(pilot, lambda: type(app.screen).__name__ == "WelcomeScreen")
            await pilot.press("enter")
            await until(pilot, lambda: type(app.screen).__name__ == "DetailsScreen")
            app.screen.query_one("#password").value = ECHO_PASSWORD  # type: ignore[attr-defined]
            await pilot.press("ctrl+s")
            await until(pilot, lambda: getattr(app.screen, "result", None) is not None)
            assert isinstance(app.screen, DiagnosisScreen)
            shown.append(screen_text(app))
            await pilot.press("t")
            await until(pilot, lambda: type(app.screen).__name__ == "TechnicalScreen")
            shown.append(screen_text(app))
    assert server.received, "the wizard logged in"
    assert state.diagnosis is not None and state.diagnosis.verdict.cause == Code.AUTH_FAILED
    assert_absent("\n".join(shown), "the wizard's screens", ECHO_USER, ECHO_PASSWORD)
    assert_absent(repr(state.diagnosis), "the wizard's state", ECHO_USER, ECHO_PASSWORD)
    assert HIDDEN in shown[-1], "the technical detail has the server's words, hidden"
