"""Proposal + the person's choices -> one Plan: every step from the server as it is to
"accept", with everything the renderers need, validated once.

Several causes get one plan (Debian's stock Exim needs a certificate *and*
login); a step two remedies need is one step. Every name in a Plan has passed
``safe_name``: only ``[a-z0-9.-]``, so it can stand in shell, Exim and YAML
text without escaping. Renderers still quote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from gmailfix.errors import CannotCheck, InputError, NoSuchFix, NothingToFix, shorten
from gmailfix.inbound import InboundRisk, guard_check, guard_title
from gmailfix.inputs import parse_domain
from gmailfix.remedies.model import (
    CERTIFICATE_CHANGE_KINDS,
    CERTIFICATE_KINDS,
    REMEDY_KINDS,
    Proposal,
    Remedy,
    RemedyKind,
    recognised_stack,
)
from gmailfix.stacks.catalog import info
from gmailfix.stacks.recognise import STACK_NAMES, StackName
from gmailfix.vocabulary import MTAS, EximLayout, Mta, Security, security_for

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


StepKey = Literal[
    "panel",
    "dns-address",
    "dns-records",
    "certificate",
    "inbound-guard",
    "full-chain",
    "tls-settings",
    "login",
    "ports",
    "firewall",
    "restart",
    "verify",
    "gmail",
]
Where = Literal["server", "dns-panel", "anywhere", "gmail"]


@dataclass(frozen=True)
class PlanStep:
    """One thing to do on the way to "accept", where it is done, and how it is checked.

    A step two remedies need (a certificate for a new certificate *and* for
    STARTTLS) is one step naming both.
    """

    key: StepKey
    where: Where
    title: str
    kinds: tuple[RemedyKind, ...]  # the remedies that need this step
    check: str  # how the step is checked, in plain words


@dataclass(frozen=True)
class Plan:
    """Every step from the server as it is to Gmail's "accept", for the remedies chosen.

    ``remedies`` holds one or more remedies, in the order they are offered;
    each name in the plan has passed ``safe_name``. The steps (``steps``) are
    derived, so they cannot disagree with the remedies.
    """

    remedies: tuple[Remedy, ...]
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
    # what the new certificate would break for mail arriving on port 25 (DANE, MTA-STS):
    # the plan then has a step of its own, and apply waits until it is done
    inbound: tuple[InboundRisk, ...] = ()

    def __post_init__(self) -> None:
        if not self.remedies:
            raise InputError("a plan needs at least one fix", field="option")
        kinds = [r.kind for r in self.remedies]
        if len(set(kinds)) != len(kinds):
            raise InputError("a plan names each fix once", field="option")
        for name in (
            self.domain,
            self.smtp_host,
            *self.cert_hosts,
            *(r.host for r in self.inbound),
        ):
            safe_name(name)
        safe_path(self.tls_dir)

    # --- what the plan holds

    @property
    def kinds(self) -> tuple[RemedyKind, ...]:
        return tuple(r.kind for r in self.remedies)

    def has(self, *kinds: RemedyKind) -> bool:
        """Does the plan hold any of these remedies?"""
        return any(r.kind in kinds for r in self.remedies)

    def get(self, kind: RemedyKind) -> Remedy | None:
        return next((r for r in self.remedies if r.kind == kind), None)

    @property
    def remedy(self) -> Remedy:
        """The lead remedy: the first one that changes the server, else the first."""
        return next((r for r in self.remedies if _on_server(r)), self.remedies[0])

    @property
    def title(self) -> str:
        return "; ".join(r.title for r in self.remedies)

    @property
    def slug(self) -> str:
        """The plan's fixes in a file name: ``new-certificate+enable-auth``."""
        return "+".join(self.kinds)

    # --- what Gmail's form holds after the plan

    @property
    def smtp_host(self) -> str:
        """What to type in Gmail after the fix: a verified other name wins."""
        for kind in ("isp-hostname", "use-host-name"):
            remedy = self.get(kind)
            if remedy is not None and remedy.verified:
                return remedy.smtp_host
        return self.remedy.smtp_host

    @property
    def port(self) -> int:
        remedy = self.get("fix-tls-mode")
        if remedy is not None:
            return remedy.port
        # Postfix's login goes on its submission services (587 and 465) only, so
        # port 25 never offers it: Gmail uses 587 there
        if self.mta == "postfix" and self.has("enable-auth") and self.remedy.port == 25:
            return 587
        return self.remedy.port

    @property
    def security(self) -> Security:
        return security_for(self.port)

    # --- what changes on the server

    @property
    def on_server(self) -> bool:
        """Does the plan change the mail server (or only Gmail's settings)?"""
        return any(_on_server(r) for r in self.remedies)

    @property
    def needs_certificate(self) -> bool:
        return self.has(*CERTIFICATE_KINDS)

    @property
    def changes_certificate(self) -> bool:
        """Does the server's certificate setting change (issued anew, or its chain completed)?"""
        return self.has(*CERTIFICATE_CHANGE_KINDS)

    @property
    def cert_hosts(self) -> tuple[str, ...]:
        """Host names that need a certificate (one list for every remedy that needs one)."""
        if self.has("sni"):
            return tuple(a.host for a in self.aliases)
        names: list[str] = []
        for remedy in self.remedies:
            if remedy.kind in CERTIFICATE_CHANGE_KINDS:
                names += remedy.names or (remedy.smtp_host,)
        return tuple(dict.fromkeys(names))

    def cert_dir(self, host: str) -> str:
        return f"{self.tls_dir}/{host}"

    @property
    def default_dir(self) -> str:
        if self.has("sni"):
            return f"{self.tls_dir}/default"
        return self.cert_dir(self.cert_hosts[0] if self.cert_hosts else self.smtp_host)

    @property
    def steps(self) -> tuple[PlanStep, ...]:
        return plan_steps(self)


def _on_server(remedy: Remedy) -> bool:
    """A port and SSL/TLS choice that gmailfix verified needs only Gmail's settings;
    otherwise the server is set to speak the right kind on each port."""
    if remedy.kind == "fix-tls-mode":
        return not remedy.verified
    return remedy.kind in SERVER_KINDS


_MTA_NAMES: dict[Mta, str] = {"exim": "Exim", "postfix": "Postfix"}


def plan_steps(plan: Plan) -> tuple[PlanStep, ...]:
    """Every step, in the order that works: DNS before the certificate (Let's Encrypt
    checks the name from the internet), the server's settings, a restart, the check as
    Gmail does, and Gmail's form last."""
    mta = _MTA_NAMES[plan.mta]
    certificate = tuple(k for k in plan.kinds if k in CERTIFICATE_KINDS)
    changed = tuple(k for k in plan.kinds if k in CERTIFICATE_CHANGE_KINDS)
    hosts = ", ".join(plan.cert_hosts)
    steps: list[PlanStep] = []
    stale = plan.get("fix-dns-address")
    if stale is not None:
        where = ", ".join(stale.addresses)
        steps.append(
            PlanStep(
                "dns-address",
                "dns-panel",
                f"Remove or correct the DNS record of {stale.smtp_host} that points at {where}",
                ("fix-dns-address",),
                f"{stale.smtp_host} resolves only to the addresses that pass",
            )
        )
    panel = info(plan.stack)
    if panel.managed and plan.changes_certificate:
        # a panel or container keeps the mail server's files: its own way, not ours
        steps.append(
            PlanStep(
                "panel",
                "server",
                f"Do it {panel.label}'s own way: {panel.own_steps[0] if panel.own_steps else panel.simplest_fix}",
                changed,
                f"the certificate {mta} serves covers {hosts or plan.smtp_host}",
            )
        )
        steps += [_verify_step(plan), _gmail_step(plan)]
        return tuple(steps)
    if certificate:
        steps.append(
            PlanStep(
                "dns-records",
                "dns-panel",
                f"Make {hosts} point at the mail server",
                certificate,
                f"{hosts} resolve to the mail server's public address",
            )
        )
        steps.append(
            PlanStep(
                "certificate",
                "server",
                f"Get a certificate for {hosts}, with a deploy hook that copies it where "
                f"{mta} reads it",
                certificate,
                f"{plan.default_dir}/fullchain.pem exists, covers {hosts}, and {mta}'s "
                "user can read its key",
            )
        )
    if plan.inbound:
        dane = any(r.kind.startswith("dane") for r in plan.inbound)
        steps.append(
            PlanStep(
                "inbound-guard",
                "dns-panel" if dane else "anywhere",
                guard_title(plan.inbound),
                certificate,
                guard_check(plan.inbound),
            )
        )
    if plan.has("serve-full-chain"):
        steps.append(
            PlanStep(
                "full-chain",
                "server",
                f"Put the full chain where {mta} reads it",
                ("serve-full-chain",),
                f"{plan.default_dir}/fullchain.pem holds the certificate and its intermediate",
            )
        )
    if changed:
        steps.append(
            PlanStep(
                "tls-settings",
                "server",
                f"Point {mta}'s TLS settings at the new certificate, TLS 1.2 or newer",
                changed,
                f"the running {mta} config names {plan.default_dir}",
            )
        )
    if plan.has("enable-auth"):
        steps.append(
            PlanStep(
                "login",
                "server",
                "Offer login (PLAIN, LOGIN) only after encryption, and give each sender a password",
                ("enable-auth",),
                "the server lists AUTH after STARTTLS, and not before",
            )
        )
    ports = tuple(k for k in plan.kinds if k in ("open-port", "fix-tls-mode") and plan.on_server)
    if plan.on_server and (ports or changed):
        steps.append(
            PlanStep(
                "ports",
                "server",
                "Listen on 587 (STARTTLS) and 465 (TLS from the first byte)",
                ports or changed,
                "587 answers with STARTTLS, 465 with TLS at once",
            )
        )
    if plan.has("open-port"):
        steps.append(
            PlanStep(
                "firewall",
                "server",
                "Let Gmail reach 587 and 465 through the firewalls",
                ("open-port",),
                "the ports answer from outside",
            )
        )
    if plan.on_server:
        steps.append(
            PlanStep(
                "restart",
                "server",
                f"Check {mta}'s configuration with its own tool, then restart it",
                tuple(k for k in plan.kinds if k in SERVER_KINDS or k == "fix-tls-mode"),
                f"{mta} accepts its configuration and runs with the new settings",
            )
        )
    steps += [_verify_step(plan), _gmail_step(plan)]
    return tuple(steps)


def _verify_step(plan: Plan) -> PlanStep:
    return PlanStep(
        "verify",
        "anywhere",
        "Check as Gmail does, before touching Gmail",
        plan.kinds,
        f"Gmail would accept {plan.smtp_host} port {plan.port}",
    )


def _gmail_step(plan: Plan) -> PlanStep:
    return PlanStep(
        "gmail",
        "gmail",
        "Enter the settings in Gmail's 'Send mail as' form",
        plan.kinds,
        "Gmail adds the account without an error",
    )


@dataclass(frozen=True)
class Choices:
    """What the person chose on top of the proposal (the CLI's options, the wizard's picks).

    ``kinds`` empty: every recommended fix. The last three say where the
    diagnosis ran (the lab, tests), so that the bundle's checks run there too.
    """

    kinds: tuple[RemedyKind, ...] = ()
    alias_domains: tuple[str, ...] = ()
    exim_layout: EximLayout | None = None
    tls_dir: str | None = None
    mta: Mta | None = None
    stack: StackName | None = None
    ca_files: tuple[str, ...] = ()
    connect: Mapping[tuple[str, int], tuple[str, int]] = field(default_factory=dict)
    dns_server: str | None = None


def choose_remedies(proposal: Proposal, kinds: Sequence[RemedyKind] = ()) -> tuple[Remedy, ...]:
    """The remedies asked for, or every recommended one; NoSuchFix when one cannot help."""
    diagnosis = proposal.diagnosis
    if diagnosis.outcome == "unknown":
        raise CannotCheck(
            "nothing can be fixed yet: this computer could not check the server (see the diagnosis)"
        )
    if not kinds:
        # when Gmail accepts, what is still "available" only prepares more domains:
        # that is asked for by name, never picked as "the fix"
        if diagnosis.accepted:
            raise NothingToFix(
                f"Gmail accepts {diagnosis.verdict.settings.smtp_server}; nothing to fix"
            )
        chosen = proposal.recommended or proposal.applicable[:1]
        if not chosen:
            raise NothingToFix("no fix gmailfix knows can help here (see the diagnosis)")
        return chosen
    picked = []
    for kind in dict.fromkeys(kinds):
        remedy = proposal.get(kind)
        if remedy is None or not remedy.applicable:
            why = remedy.reason if remedy else "it was not judged for this diagnosis"
            raise NoSuchFix(f"that fix cannot help here: {why}")
        picked.append(remedy)
    return tuple(sorted(picked, key=lambda r: REMEDY_KINDS.index(r.kind)))


def make_plan(proposal: Proposal, choices: Choices | None = None) -> Plan:
    """The proposal and the person's choices as one Plan: every step to "accept".

    The stack is what the diagnosis recognised (when it is more than a guess)
    unless the person says otherwise; the MTA follows from the stack.
    """
    choices = choices or Choices()
    diagnosis = proposal.diagnosis
    remedies = choose_remedies(proposal, choices.kinds)
    stack = choices.stack or recognised_stack(diagnosis)
    if stack not in STACK_NAMES:
        raise InputError(f"{shorten(stack)!r} is not a mail stack gmailfix knows", field="option")
    family = info(stack).mta
    mta: Mta = choices.mta or (family if family in MTAS else "exim")
    chosen = diagnosis.chosen
    names: tuple[str, ...] = ()
    if chosen and chosen.analysis and chosen.analysis.chain.leaf:
        names = tuple(chosen.analysis.chain.leaf.names)
    lead = next((r for r in remedies if r.names), remedies[0])
    host = lead.names[0] if lead.names else lead.smtp_host
    addresses = tuple(diagnosis.facts.addresses.get(host, ())) or tuple(
        c.address for c in (chosen.checks if chosen else ()) if c.address
    )
    aliases = [AliasHost(diagnosis.domain, host)]
    for extra in choices.alias_domains:
        domain = parse_domain(extra)
        if domain not in {a.domain for a in aliases}:
            aliases.append(AliasHost(domain, f"mail.{domain}"))
    sni = any(r.kind == "sni" for r in remedies)
    if sni and len(aliases) < 2:
        raise InputError(
            "one certificate per domain is for a server with several domains: name the "
            "other domains it sends mail for",
            field="option",
        )
    return Plan(
        remedies=remedies,
        domain=diagnosis.domain,
        username=diagnosis.username,
        aliases=tuple(aliases) if sni else (),
        addresses=addresses,
        exim_layout=choices.exim_layout if mta == "exim" else None,
        tls_dir=choices.tls_dir or TLS_DIRS[mta],
        current_names=names,
        typed_host=diagnosis.smtp_host,
        typed_port=diagnosis.target.ports[0] if len(diagnosis.target.ports) == 1 else None,
        ca_files=tuple(choices.ca_files),
        dns_server=choices.dns_server,
        connect=dict(choices.connect),
        mta=mta,
        stack=stack,
    )
