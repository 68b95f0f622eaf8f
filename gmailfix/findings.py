"""Findings: one problem each, with a stable code and words for a non-expert.

Codes are a contract (DESIGN.md): add new ones, never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"  # Gmail rejects, or will: must be fixed
    WARNING = "warning"  # works today, fragile or unconfirmed
    INFO = "info"  # context


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    title: str
    detail: str
    host: str | None = None
    port: int | None = None
    evidence: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Kind:
    severity: Severity
    title: str
    why: str  # what is wrong and why Gmail cares; the detail adds the evidence


CATALOG: dict[str, _Kind] = {
    "hostname-mismatch": _Kind(
        Severity.ERROR,
        "The certificate is for another name",
        "Gmail checks that the server's certificate covers exactly the name typed in "
        "'SMTP Server'. It does not, so Gmail refuses to send. Type a name the certificate "
        "covers, or get a certificate for this name.",
    ),
    "self-signed": _Kind(
        Severity.ERROR,
        "The certificate is self-signed",
        "The server made its own certificate. Gmail only trusts certificates from public "
        "authorities, and reports this as 'the certificate doesn't match the host'. "
        "A free Let's Encrypt certificate fixes it.",
    ),
    "untrusted-root": _Kind(
        Severity.ERROR,
        "The certificate is not from a public authority",
        "The certificate chains to an authority that Gmail does not trust (a private or "
        "company CA). Gmail reports this as 'the certificate doesn't match the host'.",
    ),
    "incomplete-chain": _Kind(
        Severity.ERROR,
        "The server does not send its intermediate certificate",
        "Servers must send the certificate that links theirs to a trusted authority. "
        "Strict clients refuse the connection without it. Configure the server with the "
        "full chain (fullchain.pem), not only the certificate.",
    ),
    "expired": _Kind(
        Severity.ERROR,
        "The certificate has expired",
        "An expired certificate is refused. Renew it (certbot renew) and make sure the "
        "mail server loads the renewed file.",
    ),
    "not-yet-valid": _Kind(
        Severity.ERROR,
        "The certificate is not valid yet",
        "The certificate's start date is in the future (or the server's clock is wrong). "
        "It is refused until then.",
    ),
    "no-starttls": _Kind(
        Severity.ERROR,
        "The server does not offer encryption (STARTTLS) on this port",
        "With 'Secured connection using TLS' Gmail insists on STARTTLS. This port does not "
        "offer it, so Gmail stops with 'STARTTLS not supported'.",
    ),
    "tls-handshake-failed": _Kind(
        Severity.ERROR,
        "The encrypted connection could not be set up",
        "The server accepted the connection but the TLS handshake failed. Often the mail "
        "server cannot read its certificate or key file.",
    ),
    "wrong-tls-mode": _Kind(
        Severity.ERROR,
        "This port speaks the other kind of TLS",
        "Port 465 expects 'SSL' (encryption from the first byte); ports 587 and 25 expect "
        "'TLS' (STARTTLS). This server does the opposite, so Gmail cannot reach it.",
    ),
    "connection-failed": _Kind(
        Severity.ERROR,
        "Nothing answers on this host and port",
        "The connection was refused or the host could not be found. Gmail shows "
        "'Couldn't reach server'. Check the name, the port and the server's firewall.",
    ),
    "timeout": _Kind(
        Severity.ERROR,
        "The server did not answer in time",
        "The server did not finish the conversation before the time limit. Gmail gives up "
        "too. A firewall dropping packets or a stuck server is the usual cause.",
    ),
    "no-auth": _Kind(
        Severity.ERROR,
        "The server does not offer login (AUTH)",
        "Gmail logs in with your username and password. This server does not advertise AUTH "
        "after encryption, so Gmail cannot send through it.",
    ),
    "old-tls-version": _Kind(
        Severity.WARNING,
        "The server uses an old TLS version",
        "TLS 1.0 and 1.1 are obsolete. Gmail's minimum is not documented; enable TLS 1.2 "
        "or 1.3 to be safe.",
    ),
    "nxdomain": _Kind(
        Severity.ERROR,
        "The name does not exist in DNS",
        "DNS says this name does not exist. Check the spelling, or add the DNS records.",
    ),
    "no-mx": _Kind(
        Severity.WARNING,
        "The domain has no MX record",
        "Without an MX record mail for the domain goes to its address record (RFC 5321). "
        "The mail server's name had to be guessed.",
    ),
    "null-mx": _Kind(
        Severity.WARNING,
        "The domain says it accepts no mail (null MX)",
        "The domain publishes a 'null MX' (RFC 7505): it receives no mail. Sending through "
        "your own server still works if you type its name in Gmail.",
    ),
    "sni-dependent-certificate": _Kind(
        Severity.WARNING,
        "The certificate depends on the name the client asks for (SNI)",
        "With the host name sent (SNI) the server shows one certificate, without it another. "
        "Gmail is believed to send SNI, but this is not documented; make the default "
        "certificate cover this name too.",
    ),
    "cname-smtp-host": _Kind(
        Severity.WARNING,
        "The SMTP host is an alias (CNAME)",
        "Gmail checks the certificate against the name as typed and does not follow the "
        "alias. The certificate must cover this name, not only the name it points to.",
    ),
    "ip-smtp-host": _Kind(
        Severity.ERROR,
        "An IP address was typed as SMTP server",
        "Public certificates are issued for names, not addresses, so Gmail's check fails. "
        "Type the server's host name instead.",
    ),
    "smtp-protocol-error": _Kind(
        Severity.ERROR,
        "The server does not speak SMTP properly",
        "The server answered with something that is not SMTP (garbage, an oversized line, "
        "or it closed the connection). Gmail cannot use it.",
    ),
    "starttls-refused": _Kind(
        Severity.ERROR,
        "The server refused to start encryption",
        "The server offers STARTTLS but answers an error when asked (for example '454 TLS "
        "currently unavailable'): it usually cannot read its certificate or key file.",
    ),
    "dns-error": _Kind(
        Severity.WARNING,
        "A DNS query failed",
        "The DNS server did not give an answer (SERVFAIL, time-out or a broken reply), so "
        "part of the diagnosis rests on less information.",
    ),
    "strict-verifier-only": _Kind(
        Severity.WARNING,
        "The certificate breaks a rule that only strict clients enforce",
        "The chain is trusted, names and dates are right, but the certificate breaks a "
        "detail of the standards. Gmail may still accept it; a certificate from a public "
        "authority avoids the doubt.",
    ),
    "no-candidates": _Kind(
        Severity.ERROR,
        "No mail server could be found for the domain",
        "Neither MX records nor mail./smtp. names lead to a server. Give the SMTP server "
        "typed in Gmail with --smtp-host.",
    ),
}


def finding(
    code: str,
    detail: str = "",
    *,
    host: str | None = None,
    port: int | None = None,
    severity: Severity | None = None,
    **evidence: str,
) -> Finding:
    """Build a Finding from the catalog; ``detail`` adds the case's evidence in words."""
    kind = CATALOG[code]
    text = f"{kind.why} {detail}".strip() if detail else kind.why
    return Finding(
        code=code,
        severity=severity or kind.severity,
        title=kind.title,
        detail=text,
        host=host,
        port=port,
        evidence=dict(evidence),
    )
