"""What a fix is, as data: the renderers turn it into text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gmailfix.gmail import Security

RemedyKind = Literal["isp-hostname", "new-certificate", "sni"]
REMEDY_KINDS: tuple[RemedyKind, ...] = ("isp-hostname", "new-certificate", "sni")


@dataclass(frozen=True)
class Remedy:
    """One fix. ``applicable`` False means shown, greyed out, with ``reason`` saying why."""

    kind: RemedyKind
    recommended: bool
    applicable: bool
    title: str
    reason: str
    smtp_host: str  # what to type in Gmail's "SMTP Server" after the fix
    port: int
    security: Security
    verified: bool = False  # isp-hostname: a real handshake with smtp_host verified
    names: tuple[str, ...] = ()  # new-certificate / sni: names the certificate must cover
