"""The ports Gmail offers and what each one means: one place for the port facts.

Gmail's form has a port drop-down (25, 465, 587) and two security choices:
"TLS" (STARTTLS after a plain greeting, 587 and 25) and "SSL" (TLS from the
first byte, 465).
"""

from __future__ import annotations

from typing import Literal

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
