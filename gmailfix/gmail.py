"""A small, explicit model of what Gmail "Send mail as" checks.

Gmail connects to the SMTP server typed in its form, on the chosen port, with
"TLS" (STARTTLS, ports 587/25) or "SSL" (implicit TLS, port 465), to one of the
host's addresses, and refuses the account unless, in this order:

1. something answers SMTP on that host and port in that TLS mode
   ("Couldn't reach server");
2. with TLS chosen, the server offers STARTTLS ("STARTTLS not supported");
3. the TLS handshake completes;
4. the certificate chains to a public root by a valid path, is within its
   dates, is a server certificate and covers the host name exactly as typed;
   CNAMEs are not followed; self-signed and private-CA certificates fail with
   the same words as a name mismatch;
5. after TLS the server offers AUTH, and (when a login was tried) accepts it.

Since Gmail picks any of the host's addresses, every address must pass. When
this computer could not check (no resolver, no file handles), the verdict is
``unknown``: never a guess. Unconfirmed for Gmail and so reported, not used
for the verdict: a minimum TLS version, and whether SNI is sent. A missing
intermediate is a rejection because strict validators fail it (docs/FACTS.md).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from gmailfix.certs import ChainAnalysis
from gmailfix.login import LoginResult
from gmailfix.smtp import ProbeResult
from gmailfix.vocabulary import Code, Security, security_for, security_label

CERT_ERROR = (
    "Authentication failed. Please check your username/password. Server returned error: "
    '"TLS Negotiation failed, the certificate doesn\'t match the host., code: 0"'
)
NO_STARTTLS = "STARTTLS not supported and the user requires enforcement., code: 500"
UNREACHABLE = "Couldn't reach server. Please double-check the server and port number."
MISCONFIGURED = (
    "The settings for your 'Send mail as' account are misconfigured or out of date. "
    "The response was: {response}"
)
NO_AUTH_RESPONSE = "Smtp server does not advertise AUTH capability"
AUTH_REFUSED_RESPONSE = "535 5.7.8 Username and Password not accepted"
WORKSPACE_BLOCKED = "this functionality is not available for your account"

Outcome = Literal["accept", "reject", "unknown"]
_UNREACHABLE_CODES = frozenset(
    {
        Code.CONNECTION_FAILED,
        Code.TIMEOUT,
        Code.WRONG_TLS_MODE,
        Code.SMTP_PROTOCOL_ERROR,
        Code.STARTTLS_INJECTION,
    }
)


@dataclass(frozen=True)
class KnownError:
    """A text Gmail shows: what it means and what to do, in plain words, and the
    finding codes behind it (for the CLI; the wizard shows no codes)."""

    phrase: str  # Gmail's words, matched case-insensitively in pasted text; also its title
    meaning: str
    todo: str  # what to do, for a person who is not a mail server expert
    codes: tuple[Code, ...] = ()
    also: tuple[str, ...] = ()  # other words of the same text, matched the same way
    check_server: bool = True  # False: no check or change on the mail server helps


LOGIN_REFUSED = KnownError(
    "Username and Password not accepted",
    "The server refused the username or the password: this one really is about the login.",
    "Type the password again in Gmail's form. Many providers want the whole address "
    "(you@example.com) as the username. If your provider has two-step sign-in, make an app "
    "password for Gmail and use that.",
    (Code.AUTH_FAILED,),
)
WORKSPACE_NOT_ALLOWED = KnownError(
    WORKSPACE_BLOCKED,
    "This comes from Google Workspace, not from your mail server: the administrator of your "
    "organisation's Google Workspace has not allowed sending through outside mail servers.",
    "Ask your Workspace administrator to turn on 'Allow per-user outbound gateways': in the "
    "Admin console, Apps > Google Workspace > Gmail > End user access. It can take up to an "
    "hour to apply; then add the address in Gmail again. Nothing you change on your mail "
    "server helps until then. A personal Gmail account has no such setting: only Workspace "
    "accounts show this message.",
    also=("you must send through",),
    check_server=False,
)
BOUNCE = KnownError(
    "misconfigured or out of date",
    "This is a bounce: Gmail checks your mail server again every time you send from this "
    "address, and this time the server failed, though it worked when you added it. A "
    "certificate that ran out, or a renewed one your mail server never started using, "
    "arrives like this, as a bounce, not as an error in Gmail's settings.",
    "Nothing needs changing in Gmail. The words after 'The response was:' say what failed "
    "(explained here when gmailfix knows them), and the check finds what changed on the "
    "server. After a certificate is renewed, the mail server must be reloaded to use it. "
    "The password is not the problem unless the response says the login was refused.",
    also=("customfromdenied",),
)

# Every known Gmail text: the wizard's "I have an error message" path and
# ``gmailfix explain``. When two match, the one earlier here explains it.
KNOWN_ERRORS: tuple[KnownError, ...] = (
    KnownError(
        "the certificate doesn't match the host",
        "Gmail refused your mail server's certificate. Despite the words, the name is only "
        "one possible cause: Gmail says the same for a self-signed certificate or one from a "
        "private authority, and a certificate that has run out is refused too.",
        "The check tells which it is and prepares the fix. Often it is enough to type, in "
        "Gmail's 'SMTP Server' box, the name the certificate is made out for; otherwise the "
        "server needs a certificate for the name typed there.",
        (Code.HOSTNAME_MISMATCH, Code.SELF_SIGNED, Code.UNTRUSTED_ROOT, Code.EXPIRED),
        also=("tls negotiation failed", "certificate has expired", "certificate verify failed"),
    ),
    KnownError(
        "STARTTLS not supported",
        "You chose 'Secured connection using TLS', so Gmail asked the server to start "
        "encryption (STARTTLS), and on that port the server does not offer it.",
        "If the port is 465, choose 'Secured connection using SSL' instead. Otherwise the mail "
        "server must offer STARTTLS on that port (it needs a certificate for it), or use the "
        "port your provider gives for sending with TLS, usually 587. The check shows which "
        "ports offer it.",
        (Code.NO_STARTTLS,),
        also=("the user requires enforcement",),
    ),
    KnownError(
        "Couldn't reach server",
        "Nothing answered on that server and port, or the port speaks the other kind of "
        "encryption (465 needs SSL, 587 needs TLS).",
        "Check the 'SMTP Server' and 'Port' in Gmail's form, and that 465 goes with SSL, 587 "
        "and 25 with TLS. If they are right, the server is down or a firewall blocks that "
        "port from the internet; the check tries every port.",
        (Code.CONNECTION_FAILED, Code.TIMEOUT, Code.WRONG_TLS_MODE),
    ),
    KnownError(
        "timed out",
        "The server did not answer Gmail in time: it is down, or a firewall drops the connection.",
        "Make sure the mail server is running and that its firewall lets that port in from "
        "the internet; the check tries every port.",
        (Code.TIMEOUT,),
    ),
    KnownError(
        "does not advertise AUTH",
        "After encryption started, the server did not offer a login, so Gmail has no way to "
        "send with your username and password.",
        "The mail server must offer login (SMTP AUTH) on that port once encryption has "
        "started; many servers offer it only on port 587. The check shows what the server "
        "offers.",
        (Code.NO_AUTH,),
    ),
    LOGIN_REFUSED,
    KnownError(
        "authentication failed",
        "The server refused the login (a 535 reply means a wrong username or password).",
        "Check both in Gmail's form; many providers want the whole address as the username, "
        "and those with two-step sign-in want an app password.",
        (Code.AUTH_FAILED,),
    ),
    KnownError(
        "TLS currently unavailable",
        "The server offers encryption but cannot start it: it cannot read its certificate or "
        "its key.",
        "On the mail server, the certificate and key files named in its settings must exist "
        "and be readable by the mail server (a renewal can leave a new path, or a key only the "
        "administrator can read); then restart it. Its log names the file.",
        (Code.STARTTLS_REFUSED,),
    ),
    WORKSPACE_NOT_ALLOWED,
    BOUNCE,
)

# Gmail's prefix, explained on its own: "Authentication failed. Please check your
# username/password. Server returned error:" comes before every error it shows.
NOT_THE_PASSWORD = KnownError(
    "Authentication failed. Please check your username/password.",
    "Gmail puts these words in front of every error it shows, whatever went wrong.",
    "The password is not the problem here: the rest of the message names another cause, "
    "explained below. Changing the password will not help.",
    check_server=False,  # the causes beside it decide
)
PREFIX_ONLY = KnownError(
    NOT_THE_PASSWORD.phrase,
    NOT_THE_PASSWORD.meaning + " They alone do not say the password is wrong.",
    "The server's own answer follows 'Server returned error:' and says what really went "
    "wrong: paste the whole message. Do not change the password because of these words "
    "alone; the check finds the cause.",
)

MAX_PASTE = 64 * 1024  # characters of pasted text looked at; the rest is ignored


@dataclass(frozen=True)
class GmailSettings:
    """The "Send mail as" form, field by field."""

    smtp_server: str
    port: int
    security: Security
    username: str | None

    @property
    def security_label(self) -> str:
        return security_label(self.security)


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    error: str | None  # exactly what Gmail would show; None on accept and unknown
    cause: Code | None  # the finding code behind a rejection (or behind "unknown")
    settings: GmailSettings
    address: str | None = None  # the server address that decided it, when one did

    @property
    def accept(self) -> bool:
        return self.outcome == "accept"


def settings_for(host: str, port: int, username: str | None) -> GmailSettings:
    return GmailSettings(host, port, security_for(port), username)


def judge(
    probe: ProbeResult,
    analysis: ChainAnalysis | None,
    username: str | None = None,
    login: LoginResult | None = None,
) -> Verdict:
    """Would Gmail accept this host and port, at this address? With which words if not."""
    settings = settings_for(probe.host, probe.port, username)
    outcome, error, cause = _rejection(probe, analysis, login)
    return Verdict(outcome, error, cause, settings, probe.address)


def combine(verdicts: Sequence[Verdict], settings: GmailSettings) -> Verdict:
    """One host and port over all its addresses: Gmail may dial any of them."""
    for outcome in ("reject", "unknown"):
        found = next((v for v in verdicts if v.outcome == outcome), None)
        if found is not None:
            return Verdict(found.outcome, found.error, found.cause, settings, found.address)
    return Verdict("accept", None, None, settings)


def unknown(settings: GmailSettings, cause: Code = Code.CANNOT_CHECK_HERE) -> Verdict:
    return Verdict("unknown", None, cause, settings)


def unreachable(settings: GmailSettings, cause: Code) -> Verdict:
    return Verdict("reject", UNREACHABLE, cause, settings)


def _rejection(
    probe: ProbeResult, analysis: ChainAnalysis | None, login: LoginResult | None
) -> tuple[Outcome, str | None, Code | None]:
    code = probe.error_code
    if code == Code.CANNOT_CHECK_HERE:
        return "unknown", None, code
    if code in _UNREACHABLE_CODES:
        return "reject", UNREACHABLE, code
    if code == Code.NO_STARTTLS:
        return "reject", NO_STARTTLS, code
    if code == Code.STARTTLS_REFUSED:
        reply = (probe.error or "").partition("'")[2].rstrip("'") or "454 TLS currently unavailable"
        return "reject", MISCONFIGURED.format(response=reply), code
    if code == Code.TLS_HANDSHAKE_FAILED or analysis is None:
        return "reject", CERT_ERROR, code or Code.TLS_HANDSHAKE_FAILED
    if analysis.cause is not None:
        return "reject", CERT_ERROR, analysis.cause
    if code == Code.NO_AUTH:
        return "reject", MISCONFIGURED.format(response=NO_AUTH_RESPONSE), code
    if login is not None and not login.ok:
        if login.code == Code.AUTH_FAILED:
            return "reject", MISCONFIGURED.format(response=AUTH_REFUSED_RESPONSE), login.code
        if login.code == Code.CANNOT_CHECK_HERE:
            return "unknown", None, login.code
        return (
            "reject",
            CERT_ERROR if login.code == Code.TLS_HANDSHAKE_FAILED else UNREACHABLE,
            login.code,
        )
    return "accept", None, None


# Gmail puts these words in front of every error, whatever the server said.
_GMAIL_PREFIX = re.compile(
    r"authentication failed\. ?please check your username/password\.?( ?server returned error:)?"
)
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"'})
_MAIL_QUOTING = re.compile(r"^[ \t>]+", re.MULTILINE)  # "> " before the lines of a quoted bounce
_RESPONSE = re.compile(r"the response was:(.*)", re.IGNORECASE)


def _normalised(text: str) -> str:
    """Pasted text as one lower-case line: curly quotes straight, a quoted or wrapped
    bounce joined up, every run of spaces and newlines one space."""
    unquoted = _MAIL_QUOTING.sub("", text[:MAX_PASTE])
    return " ".join(unquoted.lower().translate(_QUOTES).split())


def explain_error(text: str) -> list[KnownError]:
    """The known Gmail texts in pasted text, in the order they appear in it.

    Gmail's "Authentication failed. Please check your username/password." prefix
    comes before every error, so it means a refused login only when the server's
    answer says so; with another cause it is explained as not the password."""
    lowered = _normalised(text)
    body = _GMAIL_PREFIX.sub(" ", lowered)
    found: list[tuple[int, KnownError]] = []
    for entry in KNOWN_ERRORS:
        places = [body.find(words.lower()) for words in (entry.phrase, *entry.also)]
        place = min((p for p in places if p >= 0), default=-1)
        if place < 0 or any(_covers(earlier, entry) for _, earlier in found):
            continue
        found.append((place, entry))
    entries = [entry for _, entry in sorted(found, key=lambda pair: pair[0])]
    if body == lowered:  # no prefix
        return entries
    if not entries:
        return [PREFIX_ONLY]
    if any(Code.AUTH_FAILED in entry.codes for entry in entries):
        return entries
    return [NOT_THE_PASSWORD, *entries]


def _covers(earlier: KnownError, later: KnownError) -> bool:
    """An earlier entry already explains every cause a later one names."""
    return bool(later.codes) and set(later.codes) <= set(earlier.codes)


def bounce_response(text: str) -> str | None:
    """The server's answer a bounce quotes after "The response was:", its lines joined up
    to the next empty line: outside text, to show only through gmailfix.text."""
    lines = _MAIL_QUOTING.sub("", text[:MAX_PASTE]).splitlines()
    for number, line in enumerate(lines):
        match = _RESPONSE.search(line)
        if match is None:
            continue
        rest = itertools.takewhile(str.strip, lines[number + 1 :])
        words = " ".join([match.group(1), *rest]).split()
        return " ".join(words)[:1000] or None
    return None
