"""A chosen fix with everything the renderers need, validated once.

Every name in a FixPlan has passed ``safe_name``: only ``[a-z0-9.-]``, so it can
stand in shell, Exim and YAML text without escaping. Renderers still quote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from gmailfix.errors import CannotCheck, InputError, NoSuchFix, NothingToFix, shorten
from gmailfix.inputs import parse_domain
from gmailfix.ports import Security, security_for
from gmailfix.remedies.model import (
    CERTIFICATE_CHANGE_KINDS,
    CERTIFICATE_KINDS,
    Remedy,
    RemedyKind,
    recognised_stack,
)
from gmailfix.stacks.catalog import info
from gmailfix.stacks.recognise import STACK_NAMES, StackName

if TYPE_CHECKING:
    from gmailfix.diagnose import Diagnosis

EximLayout = Literal["debian-split", "debian-single", "plain"]
Mta = Literal["exim", "postfix"]
MTAS: tuple[Mta, ...] = ("exim", "postfix")
EXIM_LAYOUTS: tuple[EximLayout, ...] = ("debian-single", "debian-split", "plain")
DEFAULT_TLS_DIR = "/etc/exim4/tls"
TLS_DIRS: dict[Mta, str] = {"exim": DEFAULT_TLS_DIR, "postfix": "/etc/postfix/tls"}
# kinds whose fix is on the server (the rest are Gmail settings only)
SERVER_KINDS: frozenset[RemedyKind] = frozenset(
    {"new-certificate", "sni", "serve-full-chain", "enable-starttls", "enable-auth", "open-port"}
)
_SAFE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/-]*$")


def safe_name(name: str) -> str:
    """A host name fit for generated shell, Exim and YAML text, or InputError."""
    if not _SAFE.match(name) or ".." in name or len(name) > 253:
        raise InputError(f"{shorten(name)!r} cannot be used as a host name in a config file")
    return name


def safe_path(path: str) -> str:
    if not _SAFE_PATH.match(path) or "/../" in path + "/":
        raise InputError(f"{shorten(path)!r} cannot be used as a path in a config file")
    return path


@dataclass(frozen=True)
class AliasHost:
    """One alias domain and the SMTP host Gmail uses for it."""

    domain: str
    host: str


@dataclass(frozen=True)
class FixPlan:
    remedy: Remedy
    domain: str
    username: str | None
    aliases: tuple[AliasHost, ...] = ()  # sni: every domain, the main one first
    addresses: tuple[str, ...] = ()  # the server's addresses, for DNS records
    exim_layout: EximLayout | None = None  # None: not known; the bundle tells how to find out
    tls_dir: str = DEFAULT_TLS_DIR
    current_names: tuple[str, ...] = field(default_factory=tuple)  # what the server shows now
    typed_host: str | None = None  # what is typed in Gmail today, when known
    typed_port: int | None = None
    ca_files: tuple[str, ...] = ()  # extra trust anchors the diagnosis used (the lab, tests)
    connect: Mapping[tuple[str, int], tuple[str, int]] = field(default_factory=dict)
    dns_server: str | None = None  # the DNS server the diagnosis asked (the lab, tests)
    mta: Mta = "exim"  # whose configuration the bundle holds
    stack: StackName = "unknown"  # the panel or distribution, when known: its own steps lead

    def __post_init__(self) -> None:
        for name in (self.domain, self.smtp_host, *self.cert_hosts):
            safe_name(name)
        safe_path(self.tls_dir)

    @property
    def kind(self) -> RemedyKind:
        return self.remedy.kind

    @property
    def smtp_host(self) -> str:
        """What to type in Gmail after the fix."""
        return self.remedy.smtp_host

    @property
    def port(self) -> int:
        return self.remedy.port

    @property
    def security(self) -> Security:
        return security_for(self.port)

    @property
    def on_server(self) -> bool:
        """Does the fix change the mail server (or only Gmail's settings)?

        A port and SSL/TLS choice that gmailfix verified needs only Gmail's
        settings; otherwise the server is set to speak the right kind on each port.
        """
        if self.kind == "fix-tls-mode":
            return not self.remedy.verified
        return self.kind in SERVER_KINDS

    @property
    def needs_certificate(self) -> bool:
        return self.kind in CERTIFICATE_KINDS

    @property
    def cert_hosts(self) -> tuple[str, ...]:
        """Host names that need a certificate."""
        if self.kind == "sni":
            return tuple(a.host for a in self.aliases)
        if self.kind in CERTIFICATE_CHANGE_KINDS:
            return self.remedy.names or (self.smtp_host,)
        return ()

    def cert_dir(self, host: str) -> str:
        return f"{self.tls_dir}/{host}"

    @property
    def default_dir(self) -> str:
        if self.kind == "sni":
            return f"{self.tls_dir}/default"
        return self.cert_dir(self.cert_hosts[0] if self.cert_hosts else self.smtp_host)


def choose_remedy(diagnosis: Diagnosis, kind: RemedyKind | None = None) -> Remedy:
    """The remedy asked for, or the best one; NoSuchFix when it cannot help."""
    if diagnosis.outcome == "unknown":
        raise CannotCheck(
            "nothing can be fixed yet: this computer could not check the server (see the diagnosis)"
        )
    by_kind = {r.kind: r for r in diagnosis.remedies}
    if kind is None:
        # when Gmail accepts, what is still "available" only prepares more domains:
        # that is asked for by name, never picked as "the best fix"
        best = next((r for r in diagnosis.remedies if r.applicable), None)
        if best is None or diagnosis.accepted:
            raise NothingToFix(
                f"Gmail accepts {diagnosis.verdict.settings.smtp_server}; nothing to fix"
            )
        return best
    remedy = by_kind.get(kind)
    if remedy is None or not remedy.applicable:
        why = remedy.reason if remedy else "it was not judged for this diagnosis"
        raise NoSuchFix(f"that fix cannot help here: {why}")
    return remedy


def plan_fix(
    diagnosis: Diagnosis,
    kind: RemedyKind | None = None,
    *,
    alias_domains: Sequence[str] = (),
    exim_layout: EximLayout | None = None,
    tls_dir: str | None = None,
    ca_files: Sequence[str] = (),
    connect: Mapping[tuple[str, int], tuple[str, int]] | None = None,
    mta: Mta | None = None,
    stack: StackName | None = None,
    dns_server: str | None = None,
) -> FixPlan:
    """Turn a diagnosis and a chosen (or the best) fix into a FixPlan.

    The stack is what the diagnosis recognised (when it is more than a guess)
    unless the person says otherwise; the MTA follows from the stack.
    """
    remedy = choose_remedy(diagnosis, kind)
    stack = stack or recognised_stack(diagnosis)
    if stack not in STACK_NAMES:
        raise InputError(f"{shorten(stack)!r} is not a mail stack gmailfix knows", field="option")
    family = info(stack).mta
    mta = mta or (family if family in MTAS else "exim")  # type: ignore[assignment]
    chosen = diagnosis.chosen
    names: tuple[str, ...] = ()
    if chosen and chosen.analysis and chosen.analysis.chain.leaf:
        names = tuple(chosen.analysis.chain.leaf.names)
    host = remedy.names[0] if remedy.names else remedy.smtp_host
    addresses = tuple(diagnosis.facts.addresses.get(host, ())) or tuple(
        c.address for c in (chosen.checks if chosen else ()) if c.address
    )
    aliases = [AliasHost(diagnosis.domain, host)]
    for extra in alias_domains:
        domain = parse_domain(extra)
        if domain not in {a.domain for a in aliases}:
            aliases.append(AliasHost(domain, f"mail.{domain}"))
    if remedy.kind == "sni" and len(aliases) < 2:
        raise InputError(
            "one certificate per domain is for a server with several domains: name the "
            "other domains it sends mail for",
            field="option",
        )
    return FixPlan(
        remedy=remedy,
        domain=diagnosis.domain,
        username=diagnosis.username,
        aliases=tuple(aliases) if remedy.kind == "sni" else (),
        addresses=addresses,
        exim_layout=exim_layout if mta == "exim" else None,
        tls_dir=tls_dir or TLS_DIRS[mta],  # type: ignore[index]
        current_names=names,
        typed_host=diagnosis.smtp_host,
        typed_port=diagnosis.target.ports[0] if len(diagnosis.target.ports) == 1 else None,
        ca_files=tuple(ca_files),
        dns_server=dns_server,
        connect=dict(connect or {}),
        mta=mta,  # type: ignore[arg-type]
        stack=stack,
    )
