"""The whole diagnosis: DNS facts, concurrent probes, analysis, verdict, fixes.

    input ─► DNS facts ─► probes (all at once) ─► analysis ─► verdict + findings ─► remedies

Seams are keyword arguments so the tests and the lab can point every network
step at loopback: ``resolver=``, ``connect=``, ``trust=``, ``now=``, ``fetch=``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import dns.asyncresolver

from gmailfix import dns as gdns
from gmailfix.assess import dns_findings, probe_findings
from gmailfix.certs import ChainAnalysis, Fetcher, TrustStore, analyse_chain
from gmailfix.findings import Finding
from gmailfix.gmail import UNREACHABLE, GmailSettings, Verdict, judge, security_for
from gmailfix.inputs import PORTS, is_ip_address
from gmailfix.remedies.choose import propose
from gmailfix.remedies.plan import Remedy
from gmailfix.smtp import DEFAULT_MODE, ConnectMap, ProbeResult, ProbeTarget, probe


@dataclass(frozen=True)
class Endpoint:
    """One host and port as Gmail would use it, with everything learnt about it."""

    host: str
    port: int
    probe: ProbeResult  # with SNI = host
    probe_no_sni: ProbeResult | None
    analysis: ChainAnalysis | None
    verdict: Verdict


@dataclass(frozen=True)
class Diagnosis:
    domain: str
    username: str | None
    smtp_host: str | None  # as typed in Gmail, None when derived
    facts: gdns.DnsFacts
    candidates: tuple[str, ...]
    endpoints: tuple[Endpoint, ...]
    chosen: Endpoint | None
    verdict: Verdict
    findings: tuple[Finding, ...]
    remedies: tuple[Remedy, ...] = field(default_factory=tuple)

    @property
    def accepted(self) -> bool:
        return self.verdict.accept


@dataclass(frozen=True)
class DnsDone:
    facts: gdns.DnsFacts
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class ProbeDone:
    result: ProbeResult


@dataclass(frozen=True)
class Stage:
    text: str


Event = DnsDone | ProbeDone | Stage
Listener = Callable[[Event], None]


async def diagnose(
    domain: str,
    *,
    username: str | None = None,
    smtp_host: str | None = None,
    ports: Sequence[int] = PORTS,
    resolver: dns.asyncresolver.Resolver | None = None,
    connect: ConnectMap | None = None,
    trust: TrustStore | None = None,
    timeout: float = 10.0,
    now: dt.datetime | None = None,
    fetch: Fetcher | None = None,
    on_event: Listener | None = None,
    max_probes: int | None = None,
) -> Diagnosis:
    """Diagnose ``domain`` (already normalised) as Gmail would see it.

    Every probe runs at once unless ``max_probes`` bounds how many are open together
    (1 runs them one at a time: the benchmark's baseline).
    """
    run = _Run(
        resolver=resolver or gdns.make_resolver(timeout=timeout),
        connect=dict(connect or {}),
        trust=trust or TrustStore(),
        timeout=timeout,
        now=now or dt.datetime.now(dt.UTC),
        fetch=fetch,
        emit=on_event or (lambda event: None),
        limit=asyncio.Semaphore(max_probes) if max_probes else None,
    )
    return await run.diagnose(domain, username, smtp_host, tuple(dict.fromkeys(ports)))


@dataclass
class _Run:
    resolver: dns.asyncresolver.Resolver
    connect: dict[tuple[str, int], tuple[str, int]]
    trust: TrustStore
    timeout: float
    now: dt.datetime
    fetch: Fetcher | None
    emit: Listener
    limit: asyncio.Semaphore | None = None

    async def diagnose(
        self, domain: str, username: str | None, smtp_host: str | None, ports: tuple[int, ...]
    ) -> Diagnosis:
        self.emit(Stage("Looking up DNS"))
        guesses = [] if smtp_host else [f"mail.{domain}", f"smtp.{domain}"]
        extra = [smtp_host] if smtp_host and not is_ip_address(smtp_host) else guesses
        facts = await gdns.gather_facts(self.resolver, domain, extra)
        candidates = self._candidates(facts, smtp_host, guesses)
        self.emit(DnsDone(facts, candidates))
        self.emit(Stage("Talking to the mail servers"))
        endpoints = await asyncio.gather(
            *(self._endpoint(facts, h, p, username) for h in candidates for p in ports)
        )
        chosen = _choose(endpoints)
        verdict = (
            chosen.verdict if chosen else _no_server_verdict(facts, smtp_host, ports, username)
        )
        findings = dns_findings(facts, smtp_host, candidates)
        for endpoint in endpoints:
            findings += probe_findings(endpoint.probe, endpoint.probe_no_sni, endpoint.analysis)
        remedies: tuple[Remedy, ...] = ()
        if chosen is not None:
            self.emit(Stage("Looking for a fix"))
            remedies = await self._remedies(domain, chosen, facts)
        return Diagnosis(
            domain=domain,
            username=username,
            smtp_host=smtp_host,
            facts=facts,
            candidates=candidates,
            endpoints=tuple(endpoints),
            chosen=chosen,
            verdict=verdict,
            findings=tuple(_dedupe(findings)),
            remedies=remedies,
        )

    def _candidates(
        self, facts: gdns.DnsFacts, smtp_host: str | None, guesses: list[str]
    ) -> tuple[str, ...]:
        if smtp_host:
            return (smtp_host,)
        # an MX that is an address literal (RFC 5321 forbids it) is still tried
        found = [mx.host for mx in facts.mx if mx.addresses or is_ip_address(mx.host)]
        found += [g for g in guesses if facts.addresses.get(g)]
        return tuple(dict.fromkeys(found))

    def _target(self, host: str, port: int, sni: str | None, facts: gdns.DnsFacts) -> ProbeTarget:
        return ProbeTarget(
            host=host,
            port=port,
            mode=DEFAULT_MODE.get(port, "starttls"),
            sni=sni,
            addresses=facts.addresses.get(host, ()),
            connect_to=self.connect.get((host, port)),
        )

    async def _bounded_probe(self, target: ProbeTarget) -> ProbeResult:
        async with self.limit or contextlib.nullcontext():
            return await probe(target, timeout=self.timeout)

    async def _probe(self, target: ProbeTarget) -> ProbeResult:
        result = await self._bounded_probe(target)
        self.emit(ProbeDone(result))
        return result

    async def _endpoint(
        self, facts: gdns.DnsFacts, host: str, port: int, username: str | None
    ) -> Endpoint:
        sni = None if is_ip_address(host) else host
        with_sni, without_sni = await asyncio.gather(
            self._probe(self._target(host, port, sni, facts)),
            self._probe(self._target(host, port, None, facts)) if sni else _none(),
        )
        analysis = await self._analyse(with_sni, host)
        return Endpoint(
            host, port, with_sni, without_sni, analysis, judge(with_sni, analysis, username)
        )

    async def _remedies(
        self, domain: str, chosen: Endpoint, facts: gdns.DnsFacts
    ) -> tuple[Remedy, ...]:
        address = chosen.probe.address
        ptr_names = facts.ptr.get(address or "", ())
        if address and not ptr_names:
            ptr_names = await gdns.reverse(self.resolver, address)

        async def check(name: str) -> bool:
            return await self._same_server_verified(name, chosen)

        return await propose(
            domain=domain,
            host=chosen.host,
            port=chosen.port,
            probe=chosen.probe,
            analysis=chosen.analysis,
            verdict=chosen.verdict,
            ptr_names=ptr_names,
            check=check,
        )

    async def _same_server_verified(self, name: str, chosen: Endpoint) -> bool:
        """Does ``name`` reach the same server, and would Gmail accept it there?"""
        addresses, _, _ = await gdns.lookup_addresses(self.resolver, name)
        here = self.connect.get((chosen.host, chosen.port))
        there = self.connect.get((name, chosen.port))
        # with --connect overrides, 'same server' means the same overridden endpoint
        same = here == there if here or there else chosen.probe.address in addresses
        if not same:
            return False
        target = ProbeTarget(
            name,
            chosen.port,
            chosen.probe.mode,
            name,
            addresses,
            self.connect.get((name, chosen.port)),
        )
        result = await self._bounded_probe(target)
        analysis = await self._analyse(result, name)
        return analysis is not None and judge(result, analysis).accept

    async def _analyse(self, result: ProbeResult, host: str) -> ChainAnalysis | None:
        """The presented chain judged for ``host``; None when no chain was shown."""
        if not result.chain:
            return None
        return await analyse_chain(
            result.chain,
            host,
            trust=self.trust,
            now=self.now,
            fetch=self.fetch,
            timeout=self.timeout,
        )


async def _none() -> None:
    return None


def _progress(endpoint: Endpoint) -> int:
    """How far the conversation got: the most informative failure wins the report."""
    if endpoint.verdict.accept:
        return 4
    if endpoint.analysis is not None:
        return 3
    if endpoint.probe.banner is not None:
        return 2
    if endpoint.probe.address is not None or endpoint.probe.error_code == "wrong-tls-mode":
        return 1
    return 0


def _choose(endpoints: Sequence[Endpoint]) -> Endpoint | None:
    """The endpoint the verdict is about: the first accepted, else the one that got furthest."""
    if not endpoints:
        return None
    best = max(_progress(e) for e in endpoints)
    return next(e for e in endpoints if _progress(e) == best)


def _no_server_verdict(
    facts: gdns.DnsFacts, smtp_host: str | None, ports: Sequence[int], username: str | None
) -> Verdict:
    port = ports[0] if ports else 587
    host = smtp_host or f"mail.{facts.domain}"
    cause = "no-candidates" if facts.exists else "nxdomain"
    return Verdict(
        False, UNREACHABLE, cause, GmailSettings(host, port, security_for(port), username)
    )


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str | None, int | None]] = set()
    unique = []
    for item in findings:
        key = (item.code, item.host, item.port)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique
