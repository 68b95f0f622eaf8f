"""Plans built directly, for renderer and real-Exim tests (no diagnosis needed), and from a
diagnosis as the CLI makes them."""

from __future__ import annotations

from typing import Any

from gmailfix.remedies.model import CERTIFICATE_CHANGE_KINDS, Proposal, Remedy, RemedyKind
from gmailfix.remedies.plan import DEFAULT_TLS_DIR, AliasHost, Choices, Plan
from gmailfix.remedies.plan import (
    make_plan as plan_of,
)
from gmailfix.vocabulary import EximLayout, Mta, security_for


def make_plan(
    kind: RemedyKind,
    domain: str = "alpha.test",
    host: str | None = None,
    *,
    port: int = 587,
    username: str | None = None,
    aliases: tuple[AliasHost, ...] = (),
    layout: EximLayout | None = None,
    tls_dir: str = DEFAULT_TLS_DIR,
    addresses: tuple[str, ...] = (),
    verified: bool = False,
    mta: Mta = "exim",
    also: tuple[RemedyKind, ...] = (),
) -> Plan:
    """A plan of ``kind`` (and the ``also`` kinds: one plan for several causes)."""
    host = host or f"mail.{domain}"

    def remedy(kind: RemedyKind) -> Remedy:
        names = (host,) if kind in CERTIFICATE_CHANGE_KINDS else ()
        return Remedy(
            kind,
            "recommended",
            "the test's reason",
            host,
            port,
            security_for(port),
            verified,
            names,
        )

    return Plan(
        tuple(remedy(k) for k in (kind, *also)),
        domain,
        username,
        aliases=aliases,
        addresses=addresses,
        exim_layout=layout,
        tls_dir=tls_dir,
        mta=mta,
    )


def plan_from(proposal: Proposal, *kinds: Any, **choices: Any) -> Plan:
    """The plan ``gmailfix export`` makes: these fixes (default: every recommended one)."""
    return plan_of(proposal, Choices(kinds=kinds, **choices))
