"""What a fix is, as data: one Remedy per kind for every diagnosis.

Every diagnosis judges every kind and gives it a status: ``recommended``,
``available``, or ``unavailable`` with the reason in plain words. Titles and
what each kind can fix live here, in one place; the wizard, the CLI and the
bundle only read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:  # the CLI's parser reads the kinds without loading the engine
    from gmailfix.diagnose import Diagnosis
from gmailfix.stacks.catalog import StackInfo, info
from gmailfix.stacks.recognise import StackName
from gmailfix.vocabulary import CERTIFICATE_CODES, Code, Security

# In the order the fixes are offered: the simplest (a setting in Gmail) first.
RemedyKind = Literal[
    "isp-hostname",
    "use-host-name",
    "fix-tls-mode",
    "fix-dns-address",
    "serve-full-chain",
    "new-certificate",
    "enable-starttls",
    "enable-auth",
    "open-port",
    "sni",
]
REMEDY_KINDS: tuple[RemedyKind, ...] = get_args(RemedyKind)
# kinds that need a certificate issued for the plan's host names
CERTIFICATE_KINDS: frozenset[RemedyKind] = frozenset({"new-certificate", "sni", "enable-starttls"})
# kinds that change the certificate the server serves: issued, or its chain completed.
# A panel or container image keeps that certificate and does these its own way.
CERTIFICATE_CHANGE_KINDS: frozenset[RemedyKind] = CERTIFICATE_KINDS | {"serve-full-chain"}
Status = Literal["recommended", "available", "unavailable"]

TITLES: dict[RemedyKind, str] = {
    "isp-hostname": "Use the name the certificate already covers",
    "use-host-name": "Type the server's name instead of its address",
    "fix-tls-mode": "Choose the port and SSL/TLS setting that work",
    "fix-dns-address": "Remove or correct the address in DNS that leads elsewhere",
    "serve-full-chain": "Make the server send its full certificate chain",
    "new-certificate": "Get a free certificate for your mail server's name",
    "enable-starttls": "Turn on encryption (STARTTLS) on the server",
    "enable-auth": "Offer login only after encryption",
    "open-port": "Let the server answer on the port Gmail uses",
    "sni": "One certificate per domain on your own server (SNI)",
}

# Which causes of a rejection each kind can fix. One place: propose() and the
# rules the tests enforce both read it.
FIXES: dict[RemedyKind, frozenset[Code]] = {
    "isp-hostname": frozenset({Code.HOSTNAME_MISMATCH}),
    "use-host-name": frozenset(
        {Code.IP_SMTP_HOST, Code.HOSTNAME_MISMATCH, Code.NXDOMAIN, Code.NO_CANDIDATES}
    ),
    "fix-tls-mode": frozenset({Code.WRONG_TLS_MODE, Code.STARTTLS_INJECTION, Code.NO_STARTTLS}),
    # when another address of the same host passes: the failing one is a stale record
    "fix-dns-address": CERTIFICATE_CODES
    | {
        Code.STARTTLS_REFUSED,
        Code.TLS_HANDSHAKE_FAILED,
        Code.CONNECTION_FAILED,
        Code.TIMEOUT,
        Code.NO_STARTTLS,
        Code.NO_AUTH,
        Code.WRONG_TLS_MODE,
        Code.SMTP_PROTOCOL_ERROR,
    },
    "serve-full-chain": frozenset({Code.INCOMPLETE_CHAIN}),
    "new-certificate": CERTIFICATE_CODES | {Code.STARTTLS_REFUSED, Code.TLS_HANDSHAKE_FAILED},
    "enable-starttls": frozenset({Code.NO_STARTTLS, Code.STARTTLS_REFUSED}),
    "enable-auth": frozenset({Code.NO_AUTH, Code.AUTH_FAILED}),
    "open-port": frozenset({Code.CONNECTION_FAILED, Code.TIMEOUT, Code.SMTP_PROTOCOL_ERROR}),
    "sni": frozenset({Code.HOSTNAME_MISMATCH}),
}


@dataclass(frozen=True)
class Remedy:
    """One fix, judged for this diagnosis."""

    kind: RemedyKind
    status: Status
    reason: str  # why it is recommended, what it does, or why it cannot help here
    smtp_host: str  # what to type in Gmail's "SMTP Server" after the fix
    port: int  # the port to choose in Gmail after the fix
    security: Security
    verified: bool = False  # isp-hostname / use-host-name: a real handshake with smtp_host passed
    names: tuple[str, ...] = ()  # names a new certificate must cover
    fixes: tuple[Code, ...] = ()  # the causes found here that this remedy fixes
    addresses: tuple[str, ...] = ()  # fix-dns-address: the host's addresses that fail

    @property
    def title(self) -> str:
        return TITLES[self.kind]

    @property
    def recommended(self) -> bool:
        return self.status == "recommended"

    @property
    def applicable(self) -> bool:
        return self.status != "unavailable"


@dataclass(frozen=True)
class Proposal:
    """Every kind of fix judged for one diagnosis, the best first (``propose`` makes it).

    The diagnosis holds facts and findings only; what can be done about them
    lives here, and a Plan is made from it.
    """

    diagnosis: Diagnosis
    remedies: tuple[Remedy, ...]

    def get(self, kind: RemedyKind) -> Remedy | None:
        return next((r for r in self.remedies if r.kind == kind), None)

    @property
    def recommended(self) -> tuple[Remedy, ...]:
        """The recommended remedies, in the order fixes are offered (one plan holds them all)."""
        found = [r for r in self.remedies if r.recommended]
        return tuple(sorted(found, key=lambda r: REMEDY_KINDS.index(r.kind)))

    @property
    def applicable(self) -> tuple[Remedy, ...]:
        return tuple(r for r in self.remedies if r.applicable)


def panel_way(stack: StackName, kind: RemedyKind) -> StackInfo | None:
    """The stack's own way to make this fix, when a panel or image keeps the mail
    server's files (they are not edited by hand); None otherwise."""
    entry = info(stack)
    return entry if entry.managed and kind in CERTIFICATE_CHANGE_KINDS else None


def recognised_stack(diagnosis: Diagnosis) -> StackName:
    """The stack the diagnosis named, unless it was only a weak hint."""
    found = diagnosis.mail_stack
    if found is None or found.confidence == "low":
        return "unknown"
    return found.name
