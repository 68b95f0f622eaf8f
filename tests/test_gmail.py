"""Gmail's own words, pasted by a person: what each means and what to do."""

from __future__ import annotations

import re

import pytest

from gmailfix import gmail
from gmailfix.gmail import (
    AUTH_REFUSED_RESPONSE,
    BOUNCE,
    CERT_ERROR,
    KNOWN_ERRORS,
    MISCONFIGURED,
    NO_AUTH_RESPONSE,
    NO_STARTTLS,
    NOT_THE_PASSWORD,
    PREFIX_ONLY,
    UNREACHABLE,
    WORKSPACE_NOT_ALLOWED,
    KnownError,
    bounce_response,
    explain_error,
)
from gmailfix.vocabulary import Code

PREFIX = "Authentication failed. Please check your username/password. Server returned error: "
CERTIFICATE = "the certificate doesn't match the host"
# Google Workspace, word for word (docs/FACTS.md), with a real domain and address in it
WORKSPACE = (
    "You must send through example.com SMTP servers when you send as me@example.com. "
    "However, this functionality is not available for your account."
)


def bounce(response: str, quote: str = "") -> str:
    """A bounce as it arrives in the mailbox: wrapped lines, curly quotes, a link."""
    lines = [
        "Delivery to the following recipient failed permanently:",
        "",
        "     friend@example.org",
        "",
        "Technical details of permanent failure:",
        "The settings for your \u2018Send mail as\u2019 account are misconfigured or out",
        "of date. Check those settings and try resending. Learn more at",
        "support.google.com/mail/?p=CustomFromDenied",  # as quoted; never contacted
        f"The response was: {response}",
        "",
        "----- Original message -----",
        "Subject: hello",
    ]
    return "\n".join(quote + line for line in lines)


def phrases(text: str) -> list[str]:
    return [entry.phrase for entry in explain_error(text)]


def test_gmails_prefix_does_not_make_a_certificate_error_a_password_error() -> None:
    found = explain_error(CERT_ERROR)
    assert found == [NOT_THE_PASSWORD, explain_error(CERTIFICATE)[0]]
    assert "password is not the problem" in NOT_THE_PASSWORD.todo


@pytest.mark.parametrize(
    "text",
    [
        CERT_ERROR,
        CERT_ERROR.replace("code: 0", "code: 550"),  # also seen (docs/FACTS.md)
        CERT_ERROR.replace("'", "\u2019").replace('"', "\u201c", 1),  # curly quotes
        CERT_ERROR.replace(". ", ".\n"),  # wrapped over lines
    ],
    ids=["code-0", "code-550", "curly-quotes", "wrapped"],
)
def test_the_certificate_error_in_every_form(text: str) -> None:
    assert phrases(text) == [NOT_THE_PASSWORD.phrase, CERTIFICATE]


@pytest.mark.parametrize(
    "text",
    [
        PREFIX + '"535 5.7.8 Username and Password not accepted"',
        "535 5.7.8 Username and Password not accepted",
    ],
)
def test_a_refused_password_is_a_refused_password(text: str) -> None:
    assert phrases(text) == ["Username and Password not accepted"]  # not "not the password"


def test_a_servers_own_authentication_failed_is_a_refused_login() -> None:
    text = PREFIX + '"535 5.7.8 Error: authentication failed: UGFzc3dvcmQ6, code: 535"'
    assert phrases(text) == ["authentication failed"]


@pytest.mark.parametrize(
    "text",
    [
        "Authentication failed. Please check your username/password.",
        PREFIX,
        PREFIX + '"421 4.3.2 Service shutting down, code: 421"',  # an answer gmailfix does not know
    ],
)
def test_the_prefix_alone_does_not_blame_the_password(text: str) -> None:
    assert explain_error(text) == [PREFIX_ONLY]
    assert "do not change the password" in PREFIX_ONLY.todo.lower()


@pytest.mark.parametrize(
    "text",
    [
        WORKSPACE,
        WORKSPACE.upper(),
        "You must send through example.com SMTP servers when you send as me@example.com.",
        "However, this functionality is not available for your account.",
        WORKSPACE.replace(" when", "\nwhen").replace("However", "\n  However"),
    ],
    ids=["full", "upper-case", "first-sentence", "last-sentence", "wrapped"],
)
def test_google_workspace_not_allowing_outside_servers(text: str) -> None:
    assert explain_error(text) == [WORKSPACE_NOT_ALLOWED]


def test_what_a_workspace_user_is_told() -> None:
    entry = WORKSPACE_NOT_ALLOWED
    assert "Google Workspace, not from your mail server" in entry.meaning
    for words in (
        "Allow per-user outbound gateways",
        "Admin console, Apps > Google Workspace > Gmail > End user access",
        "up to an hour",
        "Nothing you change on your mail server helps",
        "A personal Gmail account has no such setting",
    ):
        assert words in entry.todo
    assert not entry.check_server


@pytest.mark.parametrize("text", [NO_STARTTLS, PREFIX + f'"{NO_STARTTLS}"', NO_STARTTLS.upper()])
def test_starttls_not_offered(text: str) -> None:
    found = [entry for entry in explain_error(text) if entry is not NOT_THE_PASSWORD]
    assert [entry.codes for entry in found] == [(Code.NO_STARTTLS,)]
    assert "465" in found[0].todo and "Secured connection using SSL" in found[0].todo


@pytest.mark.parametrize(
    ("response", "code"),
    [
        ('TLS Negotiation failed, the certificate doesn\u2019t match the host., code: 0"', None),
        (NO_AUTH_RESPONSE, Code.NO_AUTH),
        (AUTH_REFUSED_RESPONSE, Code.AUTH_FAILED),
        ("454 4.7.0 TLS currently unavailable", Code.STARTTLS_REFUSED),
        (NO_STARTTLS, Code.NO_STARTTLS),
    ],
    ids=["certificate", "no-auth", "login-refused", "tls-unavailable", "no-starttls"],
)
@pytest.mark.parametrize("quote", ["", "> "], ids=["as-received", "quoted-in-a-reply"])
def test_a_bounce_is_explained_with_its_cause(response: str, code: Code | None, quote: str) -> None:
    found = explain_error(bounce(response, quote))
    assert found[0] is BOUNCE  # first, as in the bounce
    assert len(found) == 2
    cause = found[1]
    assert (Code.HOSTNAME_MISMATCH if code is None else code) in cause.codes
    assert bounce_response(bounce(response, quote)) == response


def test_a_bounce_says_gmail_checks_on_every_send() -> None:
    assert "every time you send" in BOUNCE.meaning
    assert "certificate that ran out" in BOUNCE.meaning
    assert "renewed one your mail server never started using" in BOUNCE.meaning
    assert "not as an error in Gmail's settings" in BOUNCE.meaning


def test_a_bounces_response_over_several_lines() -> None:
    text = bounce("TLS Negotiation failed, the certificate doesn't match\n  the host., code: 0")
    assert (
        bounce_response(text)
        == "TLS Negotiation failed, the certificate doesn't match the host., code: 0"
    )
    assert phrases(text) == [BOUNCE.phrase, CERTIFICATE]


def test_a_bounce_without_a_known_response_is_still_a_bounce() -> None:
    assert explain_error(bounce("451 4.3.0 Something new")) == [BOUNCE]
    assert bounce_response("no bounce here") is None


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (CERT_ERROR, Code.HOSTNAME_MISMATCH),
        (NO_STARTTLS, Code.NO_STARTTLS),
        (UNREACHABLE, Code.CONNECTION_FAILED),
        (MISCONFIGURED.format(response=NO_AUTH_RESPONSE), Code.NO_AUTH),
        (MISCONFIGURED.format(response=AUTH_REFUSED_RESPONSE), Code.AUTH_FAILED),
        (
            MISCONFIGURED.format(response="454 4.7.0 TLS currently unavailable"),
            Code.STARTTLS_REFUSED,
        ),
    ],
)
def test_every_text_a_verdict_shows_is_explained(error: str, cause: Code) -> None:
    """What gmailfix says Gmail will show is what a person pastes back."""
    assert any(cause in entry.codes for entry in explain_error(error))


def test_one_cause_is_explained_once() -> None:
    # "Couldn't reach server" already explains a timeout
    assert phrases(UNREACHABLE + " Connection timed out.") == ["Couldn't reach server"]
    assert phrases("Connection timed out, code: 110") == ["timed out"]


def test_curly_quotes_and_case() -> None:
    assert phrases("tls negotiation failed, THE CERTIFICATE DOESN\u2019T MATCH THE HOST") == [
        CERTIFICATE
    ]


def test_timeouts() -> None:
    assert phrases(PREFIX + '"Connection timed out, code: 110"') == [
        NOT_THE_PASSWORD.phrase,
        "timed out",
    ]


def test_unknown_text_explains_nothing() -> None:
    assert phrases("hello") == []
    assert phrases("") == []


def test_only_the_first_64_kib_is_read() -> None:
    assert phrases("x" * gmail.MAX_PASTE + NO_STARTTLS) == []
    assert phrases(NO_STARTTLS + "x" * 10 * gmail.MAX_PASTE) == ["STARTTLS not supported"]


EVERY_ENTRY: tuple[KnownError, ...] = (*KNOWN_ERRORS, NOT_THE_PASSWORD, PREFIX_ONLY)


@pytest.mark.parametrize("entry", EVERY_ENTRY, ids=[e.phrase[:30] for e in EVERY_ENTRY])
def test_the_words_are_for_a_person_not_an_expert(entry: KnownError) -> None:
    """The wizard shows these: no command-line flags, no finding codes, never empty."""
    words = f"{entry.phrase} {entry.meaning} {entry.todo}"
    assert entry.meaning and entry.todo
    assert not re.search(r"(?<![\w-])--[a-z]", words)
    plain_words = {Code.SELF_SIGNED}  # a code that is also the everyday word
    assert not [code for code in Code if "-" in code and code in words and code not in plain_words]
