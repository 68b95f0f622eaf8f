"""The wizard's "I have an error message" step: Gmail's words explained for a person.

The step checks nothing, so its app is given a connection that fails the test
if it is ever built.
"""

from __future__ import annotations

import re

import pytest
from textual.widgets import TextArea

from gmailfix.connection import Connection
from gmailfix.gmail import CERT_ERROR
from gmailfix.screens.app import GmailfixApp
from gmailfix.screens.paste_error import PasteErrorScreen
from gmailfix.screens.welcome import WelcomeScreen
from gmailfix.vocabulary import Code
from tests.support.pilot import on, screen_text, text_of, until
from tests.test_gmail import WORKSPACE, bounce


def no_connection() -> Connection:
    raise AssertionError("the paste step checked a server")


async def meaning_shown(pasted: str, size: tuple[int, int] = (80, 24)) -> tuple[str, str]:
    """What the step says about ``pasted``, and every word on the screen."""
    app = GmailfixApp(no_connection)
    async with app.run_test(size=size) as pilot:
        await until(pilot, on(app, WelcomeScreen))
        await pilot.click("#paste")
        await until(pilot, on(app, PasteErrorScreen))
        app.screen.query_one("#pasted", TextArea).text = pasted
        await pilot.pause()
        return " ".join(text_of(app, "#meaning").split()), screen_text(app)


def no_codes_or_flags(shown: str) -> None:
    assert not re.search(r"(?<![\w-])--[a-z]", shown)
    codes = [code for code in Code if "-" in code and code != Code.SELF_SIGNED]
    assert not [code for code in codes if code in shown]


async def test_workspace_tells_what_the_administrator_turns_on() -> None:
    meaning, shown = await meaning_shown(WORKSPACE)
    assert "Google Workspace, not from your mail server" in meaning
    assert "Allow per-user outbound gateways" in meaning
    assert "Apps > Google Workspace > Gmail > End user access" in meaning
    assert "up to an hour" in meaning
    no_codes_or_flags(shown)


async def test_the_certificate_error_says_the_password_is_not_the_problem() -> None:
    meaning, shown = await meaning_shown(CERT_ERROR)
    assert "the password is not the problem" in meaning.lower()
    assert "Gmail refused your mail server's certificate" in meaning
    no_codes_or_flags(shown)


async def test_a_pasted_bounce_explains_the_bounce_and_the_cause() -> None:
    meaning, shown = await meaning_shown(bounce("454 4.7.0 TLS currently\n unavailable", "> "))
    assert meaning.index("This is a bounce") < meaning.index("cannot read its certificate")
    no_codes_or_flags(shown)


@pytest.mark.parametrize("size", [(60, 20), (80, 24)], ids=["60x20", "80x24"])
async def test_pasted_markup_and_escapes_are_not_shown(size: tuple[int, int]) -> None:
    meaning, _ = await meaning_shown("[bold red]\x1b[2J STARTTLS not supported[/]", size)
    assert meaning.startswith("“STARTTLS not supported” You chose")
    assert "[" not in meaning and "\x1b" not in meaning
