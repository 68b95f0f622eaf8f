"""Judge every kind of fix for a diagnosis, verifying before recommending.

A name or a port is recommended only after a real check through the same
Connection says Gmail would accept it there. A fix that cannot help with the
causes found is ``unavailable``, with the reason in plain words.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from gmailfix.certs import ChainAnalysis, name_matches
from gmailfix.check import Checker, Endpoint
from gmailfix.connection import Connection
from gmailfix.diagnose import Diagnosis, Listener, Stage, diagnose
from gmailfix.dns import lookup_addresses, reverse
from gmailfix.findings import CATALOG, Severity
from gmailfix.inputs import Target, is_ip_address, is_valid_dns_host
from gmailfix.login import Credentials
from gmailfix.remedies.model import FIXES, REMEDY_KINDS, Proposal, Remedy, RemedyKind, Status
from gmailfix.vocabulary import CERTIFICATE_CODES, PORTS, Code, security_for

MAX_NAMES_TRIED = 5  # a hostile certificate may list thousands of names
PORT_CAUSES = frozenset(
    {
        Code.WRONG_TLS_MODE,
        Code.NO_STARTTLS,
        Code.CONNECTION_FAILED,
        Code.TIMEOUT,
        Code.STARTTLS_INJECTION,
        Code.SMTP_PROTOCOL_ERROR,
    }
)
_META = frozenset({Code.INCONSISTENT_ADDRESSES, Code.CANNOT_CHECK_HERE, Code.DNS_ERROR})
# kinds that stay recommended when a stale DNS address is the likelier cause
_NOT_AFTER_DNS = frozenset({"fix-dns-address", "isp-hostname", "use-host-name", "fix-tls-mode"})


async def propose(
    diagnosis: Diagnosis, connection: Connection, *, on_event: Listener | None = None
) -> Proposal:
    """Every kind of remedy judged for the diagnosis, the best first.

    Recommending a name or a port probes it first, through the same connection."""
    if diagnosis.outcome == "unknown":
        return Proposal(diagnosis, ())  # nothing is known, so nothing can be fixed yet
    if on_event is not None:
        on_event(Stage("Looking for a fix", connection.timeout))
    ctx = _Context(diagnosis, Checker(connection))
    await ctx.look_around()
    remedies = [ctx.judge(kind) for kind in REMEDY_KINDS]
    order = {"recommended": 0, "available": 1, "unavailable": 2}
    remedies.sort(key=lambda r: order[r.status])
    return Proposal(diagnosis, tuple(remedies))


async def diagnose_and_propose(
    target: Target,
    connection: Connection,
    *,
    on_event: Listener | None = None,
    credentials: Credentials | None = None,
) -> Proposal:
    """What the CLI and the wizard do: diagnose, then judge every fix."""
    diagnosis = await diagnose(target, connection, on_event=on_event, credentials=credentials)
    return await propose(diagnosis, connection, on_event=on_event)


def rejection_causes(diagnosis: Diagnosis) -> tuple[Code, ...]:
    """Every error that makes Gmail refuse the host and port the verdict is about."""
    if diagnosis.outcome != "reject":
        return ()
    chosen = diagnosis.chosen
    causes: list[Code] = [diagnosis.verdict.cause] if diagnosis.verdict.cause else []
    for item in diagnosis.findings:
        if item.severity != Severity.ERROR or item.code in _META:
            continue
        here = chosen is None or (item.host, item.port) == (chosen.host, chosen.port)
        typed = item.port is None and item.host in (diagnosis.smtp_host, diagnosis.domain)
        if here or typed:
            causes.append(item.code)
    return tuple(dict.fromkeys(causes))


@dataclass
class _Context:
    diagnosis: Diagnosis
    checker: Checker
    verified_name: str | None = None
    working: Endpoint | None = None  # another port of the same host that Gmail accepts

    def __post_init__(self) -> None:
        d = self.diagnosis
        chosen = d.chosen
        self.host = chosen.host if chosen else (d.smtp_host or f"mail.{d.domain}")
        self.port = chosen.port if chosen else d.target.ports[0]
        self.causes = rejection_causes(d)
        self.analysis: ChainAnalysis | None = chosen.analysis if chosen else None
        self.ip_typed = is_ip_address(self.host)
        checks = chosen.checks if chosen else ()
        failing = [c.address for c in checks if c.address and not c.verdict.accept]
        passing = [c.address for c in checks if c.address and c.verdict.accept]
        # some addresses of the host pass and some fail: the failing ones are most
        # likely a stale record (an old server, another provider), not this server
        self.stale: tuple[str, ...] = tuple(failing) if failing and passing else ()
        self.passing = tuple(passing)

    @property
    def cert_problems(self) -> set[Code]:
        return {c for c in self.causes if c in CERTIFICATE_CODES}

    @property
    def only_the_name(self) -> bool:
        """Is the certificate good in every way except the name typed?"""
        return self.analysis is not None and self.cert_problems <= {Code.HOSTNAME_MISMATCH}

    async def look_around(self) -> None:
        """The checks a recommendation needs: a name the certificate covers, another port.

        Every check runs at once (names, ports), so looking around takes about as long
        as its slowest probe, not their sum."""

        async def name() -> None:
            if Code.HOSTNAME_MISMATCH in self.causes and self.only_the_name:
                self.verified_name = await self._verified_name()

        async def port() -> None:
            if set(self.causes) & PORT_CAUSES:
                self.working = await self._working_port()

        await asyncio.gather(name(), port())

    async def _verified_name(self) -> str | None:
        chosen = self.diagnosis.chosen
        if chosen is None or self.analysis is None:
            return None
        connection = self.checker.connection
        deadline = time.monotonic() + connection.timeout

        async def names_of(address: str) -> tuple[str, ...]:
            known = self.diagnosis.facts.ptr.get(address)
            if known is not None:
                return known
            return await reverse(connection.resolver, address, deadline)

        # at once: a host may have up to dns.MAX_ADDRESSES addresses
        found = await asyncio.gather(*(names_of(c.address) for c in chosen.checks))
        ptr = tuple(name for names in found for name in names)
        here = {c.address for c in chosen.checks}
        names = [n for n in isp_candidates(self.analysis, ptr)[:MAX_NAMES_TRIED] if n != self.host]
        accepted = await asyncio.gather(
            *(self._same_server_accepts(n, chosen, here) for n in names)
        )
        # the first in the certificate's own order that Gmail accepts
        return next((n for n, ok in zip(names, accepted, strict=True) if ok), None)

    async def _same_server_accepts(self, name: str, chosen: Endpoint, here: set[str]) -> bool:
        """Does ``name`` lead to the same server, and would Gmail accept it there?"""
        connection = self.checker.connection
        port = chosen.port
        mine, theirs = (
            connection.connect.get((self.host, port)),
            connection.connect.get((name, port)),
        )
        if mine or theirs:
            # with overrides (the lab, tests), "the same server" is the same endpoint
            if mine != theirs:
                return False
            addresses: tuple[str, ...] = ()
            not_checked = 0
        else:
            deadline = time.monotonic() + connection.timeout
            found = await lookup_addresses(connection.resolver, name, deadline)
            addresses, not_checked = found.addresses, found.not_checked
            if not addresses or not set(addresses) <= here:
                return False
        endpoint = await self.checker.endpoint(
            name, port, addresses, self.diagnosis.username, not_checked
        )
        return endpoint.verdict.accept

    async def _working_port(self) -> Endpoint | None:
        """Another port of the same host that Gmail accepts (in Gmail's order), every port
        tried at once."""

        async def at(port: int) -> Endpoint:
            known = next(
                (e for e in self.diagnosis.endpoints if (e.host, e.port) == (self.host, port)),
                None,
            )
            return known or await self.checker.endpoint_from_dns(
                self.diagnosis.facts, self.host, port, self.diagnosis.username
            )

        found = await asyncio.gather(*(at(p) for p in PORTS if p != self.port))
        return next((e for e in found if e.verdict.accept), None)

    def judge(self, kind: RemedyKind) -> Remedy:
        fixes = tuple(c for c in self.causes if c in FIXES[kind])
        if kind == "fix-tls-mode" and self.working is not None:
            fixes = tuple(c for c in self.causes if c in PORT_CAUSES)
        status, reason = _JUDGES[kind](self, fixes)
        if self.stale and status == "recommended" and kind not in _NOT_AFTER_DNS:
            status = "available"  # first the DNS record that leads elsewhere
        host, port, verified = self.host, self.port, False
        if (
            kind in ("isp-hostname", "use-host-name")
            and self.verified_name
            and status != "unavailable"
        ):
            host, verified = self.verified_name, True
        if kind == "fix-tls-mode" and self.working is not None:
            port, verified = self.working.port, True
        names = (self.cert_name(),) if kind in ("new-certificate", "sni") else ()
        stale = self.stale if kind == "fix-dns-address" and status != "unavailable" else ()
        return Remedy(
            kind, status, reason, host, port, security_for(port), verified, names, fixes, stale
        )

    def cert_name(self) -> str:
        """The name a new certificate is for: never an IP address."""
        if not self.ip_typed:
            return self.host
        ptr = self.diagnosis.facts.ptr.get(self.host, ())
        return ptr[0] if ptr else f"mail.{self.diagnosis.domain}"

    def words(self, codes: Sequence[Code]) -> str:
        return "; ".join(CATALOG[c].title.lower() for c in codes) or "nothing"


Judgement = tuple[Status, str]


def _isp(ctx: _Context, fixes: tuple[Code, ...]) -> Judgement:
    if ctx.diagnosis.accepted:
        return "unavailable", "Gmail accepts the name you typed; no other name is needed."
    if ctx.ip_typed:
        return "unavailable", "You typed an address, not a name: see 'Type the server's name'."
    if not fixes:
        return (
            "unavailable",
            f"The certificate already covers {ctx.host}; the problem is elsewhere.",
        )
    if not ctx.only_the_name:
        return (
            "unavailable",
            f"The certificate itself is not acceptable ({ctx.words(sorted(ctx.cert_problems - {Code.HOSTNAME_MISMATCH}))}), "
            "so no name on it can help.",
        )
    if ctx.verified_name:
        return (
            "recommended",
            f"The server's certificate is for {ctx.verified_name}, which leads to the same server, "
            "and gmailfix checked that Gmail accepts it there. Nothing on the server changes: "
            f"type {ctx.verified_name} as SMTP Server in Gmail.",
        )
    return (
        "unavailable",
        "No name on the certificate leads to this same server with a certificate Gmail accepts.",
    )


def _use_host_name(ctx: _Context, fixes: tuple[Code, ...]) -> Judgement:
    if ctx.ip_typed and not ctx.diagnosis.accepted:
        if ctx.verified_name:
            return (
                "recommended",
                f"Certificates are issued for names, not addresses. {ctx.verified_name} leads to "
                "the same server and gmailfix checked that Gmail accepts it there: type it as "
                "SMTP Server instead of the address.",
            )
        return (
            "available",
            "Certificates are issued for names, not addresses: Gmail will never accept an "
            "address here. Type your mail server's name instead; if its certificate does not "
            "cover that name yet, get one (see the new certificate fix).",
        )
    if {Code.NXDOMAIN, Code.NO_CANDIDATES} & set(fixes):
        return (
            "available",
            f"gmailfix found no mail server for {ctx.diagnosis.domain}. Type the SMTP server "
            "your provider gave you (their setup guide names it) and check again.",
        )
    if ctx.diagnosis.smtp_host:
        return "unavailable", "You typed a server name already."
    return "unavailable", "The server was found by its name already."


def _fix_tls_mode(ctx: _Context, fixes: tuple[Code, ...]) -> Judgement:
    working = ctx.working
    if working is not None:
        how = "SSL" if working.port == 465 else "TLS"
        return (
            "recommended",
            f"Port {ctx.port} does not work as Gmail uses it, but port {working.port} with "
            f"'{how}' does: gmailfix checked that Gmail accepts it. In Gmail, choose port "
            f"{working.port} and 'Secured connection using {how}'.",
        )
    if Code.WRONG_TLS_MODE in fixes:
        return (
            "recommended",
            f"Port {ctx.port} speaks the other kind of encryption. In Gmail, use 'SSL' with "
            "port 465 and 'TLS' with 587 or 25; or set the server to encrypt from the first "
            "byte on 465 only.",
        )
    if Code.STARTTLS_INJECTION in fixes:
        return (
            "available",
            "Something injected data before encryption started. Port 465 with 'SSL' encrypts "
            "from the first byte, so nothing can be slipped in: enable it on the server and "
            "choose it in Gmail.",
        )
    return "unavailable", "The port and the SSL/TLS choice already match."


def _fix_dns_address(ctx: _Context, fixes: tuple[Code, ...]) -> Judgement:
    if not ctx.stale or not fixes:
        return (
            "unavailable",
            f"Every address of {ctx.host} gives the same answer; no DNS record stands out.",
        )
    bad = ", ".join(ctx.stale[:4]) + (
        f" and {len(ctx.stale) - 4} more" if len(ctx.stale) > 4 else ""
    )
    good = ", ".join(ctx.passing[:4])
    return (
        "recommended",
        f"{ctx.host} has addresses that pass ({good}) and addresses that fail ({bad}). Gmail "
        "picks any of them, so some sends fail. The failing address most likely belongs to "
        "an old server or another provider: in your DNS provider's panel, remove its record, "
        "or point it at the server that passes. Nothing on the mail server changes.",
    )


def _serve_full_chain(ctx: _Context, fixes: tuple[Code, ...]) -> Judgement:
    if fixes:
        return (
            "recommended",
            "The certificate is right, but the server sends it without the intermediate "
            "certificate that links it to a trusted authority. Point the server at the full "
            "chain (fullchain.pem) instead of the certificate alone.",
        )
    return "unavailable", "The server already sends a complete chain."


def _new_certificate(ctx: _Context, fixes: tuple[Code, ...]) -> Judgement:
    if ctx.diagnosis.accepted:
        return "unavailable", "Gmail accepts today's certificate; there is nothing to replace."
    if not fixes:
        return (
            "unavailable",
            f"A new certificate cannot fix this: {ctx.words(ctx.causes)}.",
        )
    name = ctx.cert_name()
    what = f"A free Let's Encrypt certificate for {name}"
    if ctx.ip_typed:
        what += " (certificates are for names, never for an IP address)"
    better = ctx.verified_name or Code.INCOMPLETE_CHAIN in fixes
    if set(fixes) <= {Code.STARTTLS_REFUSED, Code.TLS_HANDSHAKE_FAILED}:
        return (
            "recommended" if not better else "available",
            f"The server cannot set up encryption, usually because it cannot read its "
            f"certificate or key. {what}, installed where the mail server can read it, fixes that.",
        )
    return (
        "available" if better else "recommended",
        f"{what} makes Gmail's certificate check pass and keeps the name you typed.",
    )


def _enable_starttls(ctx: _Context, fixes: tuple[Code, ...]) -> Judgement:
    if Code.NO_STARTTLS in fixes:
        status: Status = "available" if ctx.working is not None else "recommended"
        return (
            status,
            f"The server does not offer encryption on port {ctx.port}. Turn it on, with a "
            "certificate for the server's name.",
        )
    if fixes:
        return (
            "available",
            "The server offers encryption but fails to start it. Turning it on again with a "
            "readable certificate and key fixes that.",
        )
    return "unavailable", "The server already offers encryption."


def _enable_auth(ctx: _Context, fixes: tuple[Code, ...]) -> Judgement:
    if Code.NO_AUTH in fixes:
        return (
            "recommended",
            "After encryption the server offers no login, so Gmail cannot send. Turn on login "
            "(PLAIN and LOGIN), offered only over encryption, with a user and a hashed password.",
        )
    if Code.AUTH_FAILED in fixes:
        return (
            "available",
            "The server refused the username or password. Check both in Gmail; if the account "
            "does not exist on the server, add it with a hashed password.",
        )
    return "unavailable", "The server already offers login after encryption."


def _open_port(ctx: _Context, fixes: tuple[Code, ...]) -> Judgement:
    if not fixes:
        return "unavailable", f"The server answers on port {ctx.port}."
    status: Status = "available" if ctx.working is not None else "recommended"
    return (
        status,
        f"Nothing that speaks proper mail answers on port {ctx.port}. Make the mail server "
        "listen on 587 (and 465), and let those ports through the server's firewall.",
    )


def _sni(ctx: _Context, fixes: tuple[Code, ...]) -> Judgement:
    if ctx.diagnosis.accepted:
        return (
            "available",
            f"Gmail accepts {ctx.host} today. If this server sends mail for more domains, this "
            "gives each domain its own certificate, chosen by the name Gmail asks for.",
        )
    if ctx.ip_typed or not fixes or not ctx.only_the_name:
        return (
            "unavailable",
            "Choosing a certificate by name only helps when the certificate is good but for "
            f"another name; here the problem is: {ctx.words(ctx.causes)}.",
        )
    return (
        "available",
        "If you run this server and it sends mail for several domains, it can show each "
        "domain its own certificate, chosen by the name Gmail asks for (SNI).",
    )


_JUDGES = {
    "isp-hostname": _isp,
    "use-host-name": _use_host_name,
    "fix-tls-mode": _fix_tls_mode,
    "fix-dns-address": _fix_dns_address,
    "serve-full-chain": _serve_full_chain,
    "new-certificate": _new_certificate,
    "enable-starttls": _enable_starttls,
    "enable-auth": _enable_auth,
    "open-port": _open_port,
    "sni": _sni,
}


def isp_candidates(analysis: ChainAnalysis, ptr_names: Sequence[str]) -> list[str]:
    """Names the presented certificate covers: its SANs, and PTR names for a wildcard."""
    leaf = analysis.chain.leaf
    covered = leaf.names if leaf is not None else ()
    names = [n for n in covered if "*" not in n and is_valid_dns_host(n)]
    wildcards = [n for n in covered if n.startswith("*.")]
    names += [p for p in ptr_names if wildcards and name_matches(p, wildcards)]
    return list(dict.fromkeys(n for n in names if n != analysis.host))
