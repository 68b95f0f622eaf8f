"""Gmail's own words, pasted by a person: what each means."""

from __future__ import annotations

import pytest

from gmailfix.gmail import CERT_ERROR, WORKSPACE_BLOCKED, explain_error

PREFIX = "Authentication failed. Please check your username/password. Server returned error: "


def phrases(text: str) -> list[str]:
    return [entry.phrase for entry in explain_error(text)]


def test_gmails_prefix_does_not_make_a_certificate_error_a_password_error() -> None:
    assert phrases(CERT_ERROR) == ["the certificate doesn't match the host"]


@pytest.mark.parametrize(
    "text",
    [
        PREFIX + '"535 5.7.8 Username and Password not accepted"',
        "535 5.7.8 Username and Password not accepted",
    ],
)
def test_a_refused_password(text: str) -> None:
    assert phrases(text) == ["Username and Password not accepted"]


def test_a_servers_own_authentication_failed_is_a_refused_login() -> None:
    text = PREFIX + '"535 5.7.8 Error: authentication failed: UGFzc3dvcmQ6, code: 535"'
    assert phrases(text) == ["authentication failed"]


def test_the_prefix_alone_is_a_refused_login() -> None:
    assert phrases("Authentication failed. Please check your username/password.") == [
        "authentication failed"
    ]


def test_curly_quotes_and_case() -> None:
    assert phrases("tls negotiation failed, THE CERTIFICATE DOESN’T MATCH THE HOST") == [
        "the certificate doesn't match the host"
    ]


def test_workspace_and_timeouts() -> None:
    assert phrases(f"Sorry, {WORKSPACE_BLOCKED}.") == [WORKSPACE_BLOCKED]
    assert phrases(PREFIX + '"Connection timed out, code: 110"') == ["timed out"]


def test_unknown_text_explains_nothing() -> None:
    assert phrases("hello") == []
