"""A chosen fix with everything the renderers need, validated once.

Every name in a FixPlan has passed ``safe_name``: only ``[a-z0-9.-]``, so it can
stand in shell, Exim and YAML text without escaping. Renderers still quote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from gmailfix.diagnose import Diagnosis
from gmailfix.errors import GmailfixError, InputError
from gmailfix.gmail import Security, security_for
from gmailfix.inputs import normalise_domain
from gmailfix.remedies.plan import RemedyKind

EximLayout = Literal["debian-split", "debian-single", "plain"]
EXIM_LAYOUTS: tuple[EximLayout, ...] = ("debian-split", "debian-single", "plain")
DEFAULT_TLS_DIR = "/etc/exim4/tls"
_SAFE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/-]*$")


class NoSuchFix(GmailfixError):
    """The fix asked for does not apply to this server."""


def safe_name(name: str) -> str:
    """A host name fit for generated shell, Exim and YAML text, or ValueError."""
    if not _SAFE.match(name) or ".." in name or len(name) > 253:
        raise ValueError(f"unsafe name for generated config: {name!r}")
    return name


def safe_path(path: str) -> str:
    if not _SAFE_PATH.match(path) or "/../" in path + "/":
        raise ValueError(f"unsafe path for generated config: {path!r}")
    return path


@dataclass(frozen=True)
class AliasHost:
    """One alias domain and the SMTP host Gmail uses for it."""

    domain: str
    host: str


@dataclass(frozen=True)
class FixPlan:
    kind: RemedyKind
    domain: str
    smtp_host: str  # what to type in Gmail after the fix
    port: int
    username: str | None
    aliases: tuple[AliasHost, ...] = ()  # sni: every domain, the main one first
    addresses: tuple[str, ...] = ()  # the server's addresses, for DNS records
    exim_layout: EximLayout = "debian-split"
    tls_dir: str = DEFAULT_TLS_DIR
    verified: bool = False
    reason: str = ""
    current_names: tuple[str, ...] = field(default_factory=tuple)  # what the server shows now

    def __post_init__(self) -> None:
        for name in (self.domain, self.smtp_host, *(a.host for a in self.aliases)):
            safe_name(name)
        safe_path(self.tls_dir)

    @property
    def security(self) -> Security:
        return security_for(self.port)

    @property
    def cert_hosts(self) -> tuple[str, ...]:
        """Host names that need a certificate (new-certificate and sni)."""
        if self.kind == "sni":
            return tuple(a.host for a in self.aliases)
        return (self.smtp_host,)

    def cert_dir(self, host: str) -> str:
        return f"{self.tls_dir}/{host}"

    @property
    def default_dir(self) -> str:
        return f"{self.tls_dir}/default" if self.kind == "sni" else self.cert_dir(self.smtp_host)


def plan_fix(
    diagnosis: Diagnosis,
    kind: RemedyKind | None = None,
    *,
    alias_domains: Sequence[str] = (),
    exim_layout: EximLayout = "debian-split",
    tls_dir: str = DEFAULT_TLS_DIR,
) -> FixPlan:
    """Turn a diagnosis and a chosen (or the recommended) fix into a FixPlan."""
    remedies = {r.kind: r for r in diagnosis.remedies}
    recommended = [r.kind for r in diagnosis.remedies if r.recommended]
    chosen_kind: RemedyKind = kind if kind is not None else (recommended or ["new-certificate"])[0]
    chosen = diagnosis.chosen
    host = diagnosis.smtp_host or (chosen.host if chosen else f"mail.{diagnosis.domain}")
    if host.replace(".", "").isdigit() or ":" in host:
        host = f"mail.{diagnosis.domain}"  # a certificate needs a name, not an address
    port = chosen.port if chosen else 587
    names = tuple(chosen.analysis.leaf.names) if chosen and chosen.analysis else ()
    addresses = tuple(diagnosis.facts.addresses.get(host, ())) or (
        (chosen.probe.address,) if chosen and chosen.probe.address else ()
    )
    base = FixPlan(
        chosen_kind,
        diagnosis.domain,
        host,
        port,
        diagnosis.username,
        addresses=addresses,
        exim_layout=exim_layout,
        tls_dir=tls_dir,
        current_names=names,
    )
    if chosen_kind == "isp-hostname":
        isp = remedies.get("isp-hostname")
        if isp is None or not isp.verified:
            why = isp.reason if isp else "Gmail already accepts the server as it is."
            raise NoSuchFix(f"the ISP host name fix does not apply here: {why}")
        return replace(base, smtp_host=isp.smtp_host, verified=True, reason=isp.reason)
    aliases = [AliasHost(diagnosis.domain, host)]
    for extra in alias_domains:
        domain = normalise_domain(extra)
        if domain not in {a.domain for a in aliases}:
            aliases.append(AliasHost(domain, f"mail.{domain}"))
    if chosen_kind == "sni" and len(aliases) < 2:
        raise InputError(
            "the SNI fix is for a server with several domains: name the other domains "
            "(--alias-domain on the command line)"
        )
    reason = remedies[chosen_kind].reason if chosen_kind in remedies else ""
    return replace(base, aliases=tuple(aliases), reason=reason)
