"""FixPlans built directly, for renderer and real-Exim tests (no diagnosis needed)."""

from __future__ import annotations

from gmailfix.ports import security_for
from gmailfix.remedies.model import CERTIFICATE_CHANGE_KINDS, Remedy, RemedyKind
from gmailfix.remedies.plan import (
    DEFAULT_TLS_DIR,
    AliasHost,
    EximLayout,
    FixPlan,
    Mta,
)


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
) -> FixPlan:
    host = host or f"mail.{domain}"
    names = (host,) if kind in CERTIFICATE_CHANGE_KINDS else ()
    remedy = Remedy(
        kind, "recommended", "the test's reason", host, port, security_for(port), verified, names
    )
    return FixPlan(
        remedy,
        domain,
        username,
        aliases=aliases,
        addresses=addresses,
        exim_layout=layout,
        tls_dir=tls_dir,
        mta=mta,
    )
