"""The words every part of gmailfix shares: the leaf module, which imports nothing of
gmailfix.

- finding codes (a contract: add new ones, never rename one; ``Code`` is a
  ``StrEnum``, so a code compares equal to its text and serialises as it) and
  the groups of codes the rules and remedies read;
- how much a finding matters (``Severity``);
- the ports Gmail offers and how each one starts TLS, in Gmail's words too;
- the MTAs gmailfix configures and Exim's layouts;
- the exit statuses the commands share.

The fact modules (dns, smtp, certs, gmail, check) use it; ``findings`` keeps the
words and the rules.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Literal

# --- finding codes ---------------------------------------------------------------


class Code(StrEnum):
    # the certificate
    HOSTNAME_MISMATCH = "hostname-mismatch"
    SELF_SIGNED = "self-signed"
    UNTRUSTED_ROOT = "untrusted-root"
    INCOMPLETE_CHAIN = "incomplete-chain"
    INVALID_CHAIN = "invalid-chain"
    NOT_SERVER_CERTIFICATE = "not-server-certificate"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    CERTIFICATE_UNPARSEABLE = "certificate-unparseable"
    STRICT_VERIFIER_ONLY = "strict-verifier-only"
    SNI_DEPENDENT_CERTIFICATE = "sni-dependent-certificate"
    # the SMTP conversation
    NO_STARTTLS = "no-starttls"
    STARTTLS_REFUSED = "starttls-refused"
    STARTTLS_INJECTION = "starttls-injection"
    TLS_HANDSHAKE_FAILED = "tls-handshake-failed"
    WRONG_TLS_MODE = "wrong-tls-mode"
    CONNECTION_FAILED = "connection-failed"
    TIMEOUT = "timeout"
    SMTP_PROTOCOL_ERROR = "smtp-protocol-error"
    NO_AUTH = "no-auth"
    AUTH_FAILED = "auth-failed"
    OLD_TLS_VERSION = "old-tls-version"
    INCONSISTENT_ADDRESSES = "inconsistent-addresses"
    ADDRESSES_NOT_CHECKED = "addresses-not-checked"
    # DNS and the name typed in Gmail
    NXDOMAIN = "nxdomain"
    NO_MX = "no-mx"
    NULL_MX = "null-mx"
    MX_SKIPPED = "mx-skipped"
    INVALID_DNS_NAME = "invalid-dns-name"
    CNAME_SMTP_HOST = "cname-smtp-host"
    IP_SMTP_HOST = "ip-smtp-host"
    DNS_ERROR = "dns-error"
    NO_CANDIDATES = "no-candidates"
    # this computer, not the server
    CANNOT_CHECK_HERE = "cannot-check-here"
    # on the mail server itself (gmailfix doctor)
    MTA_CONFIG_INVALID = "mta-config-invalid"
    CERTIFICATE_NOT_CONFIGURED = "certificate-not-configured"
    CERTIFICATE_FILE_MISSING = "certificate-file-missing"
    CERTIFICATE_FILE_INVALID = "certificate-file-invalid"
    KEY_UNREADABLE_BY_MTA = "key-unreadable-by-mta"
    KEY_DOES_NOT_MATCH = "key-does-not-match"
    STALE_CERTIFICATE_SERVED = "stale-certificate-served"
    CERTIFICATE_EXPIRING = "certificate-expiring"
    MACROS_IN_WRONG_LAYOUT = "macros-in-wrong-layout"
    CONFIG_NOT_REGENERATED = "config-not-regenerated"
    NO_DEPLOY_HOOK = "no-deploy-hook"
    RENEWAL_FAILS = "renewal-fails"
    RENEWAL_NOT_SCHEDULED = "renewal-not-scheduled"
    RENEWAL_NOT_DEPLOYED = "renewal-not-deployed"
    MTA_NOT_LISTENING = "mta-not-listening"
    LOOPBACK_ONLY = "loopback-only"


# Codes about the certificate itself: a new or corrected certificate fixes them.
CERTIFICATE_CODES = frozenset(
    {
        Code.HOSTNAME_MISMATCH,
        Code.SELF_SIGNED,
        Code.UNTRUSTED_ROOT,
        Code.INCOMPLETE_CHAIN,
        Code.INVALID_CHAIN,
        Code.NOT_SERVER_CERTIFICATE,
        Code.EXPIRED,
        Code.NOT_YET_VALID,
        Code.CERTIFICATE_UNPARSEABLE,
    }
)

# Codes only the checks on the mail server itself (gmailfix doctor) produce. Each
# finding says what to change on the server; none is the cause of a diagnosis's
# verdict, so no remedy kind lists them in its FIXES.
SERVER_CODES = frozenset(
    {
        Code.MTA_CONFIG_INVALID,
        Code.CERTIFICATE_NOT_CONFIGURED,
        Code.CERTIFICATE_FILE_MISSING,
        Code.CERTIFICATE_FILE_INVALID,
        Code.KEY_UNREADABLE_BY_MTA,
        Code.KEY_DOES_NOT_MATCH,
        Code.STALE_CERTIFICATE_SERVED,
        Code.CERTIFICATE_EXPIRING,
        Code.MACROS_IN_WRONG_LAYOUT,
        Code.CONFIG_NOT_REGENERATED,
        Code.NO_DEPLOY_HOOK,
        Code.RENEWAL_FAILS,
        Code.RENEWAL_NOT_SCHEDULED,
        Code.RENEWAL_NOT_DEPLOYED,
        Code.MTA_NOT_LISTENING,
        Code.LOOPBACK_ONLY,
    }
)


# --- severity --------------------------------------------------------------------


class Severity(StrEnum):
    ERROR = "error"  # Gmail rejects, or will: must be fixed
    WARNING = "warning"  # works today, fragile or unconfirmed
    INFO = "info"  # context


# --- the ports Gmail offers ---------------------------------------------------------
# Gmail's form has a port drop-down (25, 465, 587) and two security choices:
# "TLS" (STARTTLS after a plain greeting, 587 and 25) and "SSL" (TLS from the
# first byte, 465).

Port = Literal[587, 465, 25]
PORTS: tuple[Port, ...] = (587, 465, 25)
Mode = Literal["starttls", "implicit"]  # how a port starts TLS
Security = Literal["TLS", "SSL"]  # the same, in the words of Gmail's form


def mode_for(port: int) -> Mode:
    return "implicit" if port == 465 else "starttls"


def security_for(port: int) -> Security:
    return "SSL" if mode_for(port) == "implicit" else "TLS"


def security_label(security: Security) -> str:
    """The radio button's text in Gmail's form."""
    if security == "SSL":
        return "Secured connection using SSL"
    return "Secured connection using TLS (recommended)"


# --- the MTAs gmailfix configures ----------------------------------------------------

Mta = Literal["exim", "postfix"]
MTAS: tuple[Mta, ...] = ("exim", "postfix")
EximLayout = Literal["debian-split", "debian-single", "plain"]
EXIM_LAYOUTS: tuple[EximLayout, ...] = ("debian-single", "debian-split", "plain")


# --- exit statuses ------------------------------------------------------------------


class Exit(IntEnum):
    """The statuses every command shares (a command documents its own meanings too)."""

    ACCEPT = 0  # Gmail would accept; or: done
    REJECT = 1  # Gmail would refuse; or: problems found, nothing recognised
    USAGE = 2  # bad input or usage, or what was asked cannot be done here
    UNKNOWN = 3  # Gmail's answer is not known from this computer
    INTERNAL = 4  # an internal error (the traceback with --debug)
    INTERRUPTED = 130
    PIPE_CLOSED = 141  # what a shell shows for a program its closed pipe stopped


EXIT_FOR_OUTCOME = {"accept": Exit.ACCEPT, "reject": Exit.REJECT, "unknown": Exit.UNKNOWN}
