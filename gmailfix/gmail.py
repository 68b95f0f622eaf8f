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
intermediate is a rejection because strict validators fail it (FACTS.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from gmailfix.certs import ChainAnalysis
from gmailfix.findings.codes import Code
from gmailfix.ports import Security, security_for, security_label
from gmailfix.smtp import LoginResult, ProbeResult

CERT_ERROR = (
    "Authentication failed. Please check your username/password. Server returned error: "
    '"TLS Negotiation failed, the certificate doesn\'t match the host., code: 0"'
)
CERT_ERROR_SHORT = "TLS Negotiation failed, the certificate doesn't match the host."
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
    """A text Gmail shows, what it means, and the finding codes behind it."""

    phrase: str  # matched case-insensitively in pasted text
    meaning: str
    codes: tuple[Code, ...] = ()


# Every known Gmail text: the wizard's "I have an error message" path.
KNOWN_ERRORS: tuple[KnownError, ...] = (
    KnownError(
        "the certificate doesn't match the host",
        "Gmail refused the server's certificate: it is for another name, self-signed, or from "
        "a private authority. The check tells which.",
        (Code.HOSTNAME_MISMATCH, Code.SELF_SIGNED, Code.UNTRUSTED_ROOT),
    ),
    KnownError(
        "STARTTLS not supported",
        "You chose 'Secured connection using TLS' but the server does not offer encryption "
        "(STARTTLS) on that port.",
        (Code.NO_STARTTLS,),
    ),
    KnownError(
        "Couldn't reach server",
        "Nothing answered on that server and port, or the port speaks the other kind of "
        "encryption (465 needs SSL, 587 needs TLS).",
        (Code.CONNECTION_FAILED, Code.TIMEOUT, Code.WRONG_TLS_MODE),
    ),
    KnownError(
        "timed out",
        "The server did not answer Gmail in time: it is down, or a firewall drops the connection.",
        (Code.TIMEOUT,),
    ),
    KnownError(
        "does not advertise AUTH",
        "The server does not offer login after encryption, so Gmail cannot send with your "
        "password.",
        (Code.NO_AUTH,),
    ),
    KnownError(
        "Username and Password not accepted",
        "The server refused the username or password. Use the full address as username if "
        "your provider expects it, and check the password.",
        (Code.AUTH_FAILED,),
    ),
    KnownError(
        "authentication failed",
        "The server refused the login (a 535 reply means a wrong username or password). Check "
        "both; many providers want the full address as username.",
        (Code.AUTH_FAILED,),
    ),
    KnownError(
        "misconfigured or out of date",
        "An alias that used to work now fails: Gmail re-checks the server on every send "
        "since April 2020. The check tells what changed.",
    ),
    KnownError(
        "TLS currently unavailable",
        "The server offers encryption but cannot load its certificate or key (often a file "
        "permission or a wrong path in the mail server's settings).",
        (Code.STARTTLS_REFUSED,),
    ),
    KnownError(
        WORKSPACE_BLOCKED,
        "This is Google Workspace, not your mail server: your Workspace administrator has not "
        "allowed sending through outside servers. They can turn on 'Allow per-user outbound "
        "gateways' in the Admin console (Apps > Google Workspace > Gmail > End User Access). "
        "No change on your mail server helps until then.",
    ),
)


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
    r"authentication failed\.\s*please check your username/password\.?(\s*server returned "
    r"error:)?"
)


def explain_error(text: str) -> list[KnownError]:
    """Which known Gmail messages appear in pasted text (case-insensitive).

    Gmail's "Authentication failed. Please check your username/password."
    prefix means a refused login only when nothing else explains the error."""
    lowered = text.lower().replace("’", "'")
    body = _GMAIL_PREFIX.sub(" ", lowered)
    found = [entry for entry in KNOWN_ERRORS if entry.phrase.lower() in body]
    if not found and body != lowered:
        found = [entry for entry in KNOWN_ERRORS if entry.phrase == "authentication failed"]
    return found
