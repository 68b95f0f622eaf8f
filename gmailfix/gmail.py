"""A small, explicit model of what Gmail "Send mail as" checks.

Gmail connects to the SMTP server typed in its form, on the chosen port, with
"TLS" (STARTTLS, ports 587/25) or "SSL" (implicit TLS, port 465), and refuses
the account unless, in this order:

1. something answers SMTP on that host and port in that TLS mode
   ("Couldn't reach server");
2. with TLS chosen, the server offers STARTTLS ("STARTTLS not supported");
3. the TLS handshake completes;
4. the certificate chains to a public root, is within its dates and covers the
   host name exactly as typed; CNAMEs are not followed, self-signed and
   private-CA certificates fail with the same words as a name mismatch;
5. after TLS the server offers AUTH, so Gmail can log in.

Unconfirmed for Gmail and so reported, not used for the verdict: a minimum TLS
version, and whether SNI is sent. A missing intermediate is treated as a
rejection because strict validators fail it (FACTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gmailfix.certs import ChainAnalysis
from gmailfix.smtp import ProbeResult

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

Security = Literal["TLS", "SSL"]

# Every known Gmail text, with what it means: the wizard's "I have an error message" path.
KNOWN_ERRORS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "the certificate doesn't match the host",
        "Gmail refused the server's certificate: it is for another name, self-signed, or from a "
        "private authority. The diagnosis tells which.",
        ("hostname-mismatch", "self-signed", "untrusted-root"),
    ),
    (
        "STARTTLS not supported",
        "You chose 'Secured connection using TLS' but the server does not offer STARTTLS on "
        "that port.",
        ("no-starttls",),
    ),
    (
        "Couldn't reach server",
        "Nothing answered on that host and port, or the port speaks the other kind of TLS "
        "(465 needs SSL, 587 needs TLS).",
        ("connection-failed", "timeout", "wrong-tls-mode"),
    ),
    (
        "does not advertise AUTH",
        "The server does not offer login after encryption, so Gmail cannot send with your "
        "password.",
        ("no-auth",),
    ),
    (
        "Username and Password not accepted",
        "The server refused the username or password. Use the full address as username if "
        "your provider expects it, and check the password.",
        (),
    ),
    (
        "misconfigured or out of date",
        "An alias that used to work now fails: Gmail re-checks the server on every send "
        "since April 2020. The diagnosis tells what changed.",
        (),
    ),
    (
        "TLS currently unavailable",
        "The server offers encryption but cannot load its certificate or key (often a file "
        "permission or a wrong path in the mail server's config).",
        ("starttls-refused",),
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
        if self.security == "SSL":
            return "Secured connection using SSL"
        return "Secured connection using TLS (recommended)"


@dataclass(frozen=True)
class Verdict:
    accept: bool
    error: str | None  # exactly what Gmail would show, None on accept
    cause: str | None  # the finding code behind a rejection
    settings: GmailSettings


def security_for(port: int) -> Security:
    return "SSL" if port == 465 else "TLS"


def judge(
    probe: ProbeResult, analysis: ChainAnalysis | None, username: str | None = None
) -> Verdict:
    """Would Gmail accept this host and port as typed? And with which words if not."""
    settings = GmailSettings(probe.host, probe.port, security_for(probe.port), username)
    error, cause = _rejection(probe, analysis)
    return Verdict(error is None, error, cause, settings)


def _rejection(probe: ProbeResult, analysis: ChainAnalysis | None) -> tuple[str | None, str | None]:
    code = probe.error_code
    if code in ("connection-failed", "timeout", "wrong-tls-mode", "smtp-protocol-error"):
        return UNREACHABLE, code
    if code == "no-starttls":
        return NO_STARTTLS, code
    if code == "starttls-refused":
        reply = (probe.error or "").partition("'")[2].rstrip("'") or "454 TLS currently unavailable"
        return MISCONFIGURED.format(response=reply), code
    if code == "tls-handshake-failed" or analysis is None:
        return CERT_ERROR, code or "tls-handshake-failed"
    cert_cause = certificate_cause(analysis)
    if cert_cause is not None:
        return CERT_ERROR, cert_cause
    if code == "no-auth":
        return MISCONFIGURED.format(response=NO_AUTH_RESPONSE), code
    return None, None


def certificate_cause(analysis: ChainAnalysis) -> str | None:
    """The finding code that makes Gmail refuse this certificate, most basic first."""
    if analysis.self_signed and not analysis.trusted:
        return "self-signed"
    if analysis.incomplete_chain:
        return "incomplete-chain"
    if not analysis.trusted:
        return "untrusted-root"
    if analysis.expired:
        return "expired"
    if analysis.not_yet_valid:
        return "not-yet-valid"
    if not analysis.name_ok:
        return "hostname-mismatch"
    return None


def explain_error(text: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """Which known Gmail messages appear in pasted text (case-insensitive)."""
    lowered = text.lower().replace("’", "'")
    return [entry for entry in KNOWN_ERRORS if entry[0].lower() in lowered]
