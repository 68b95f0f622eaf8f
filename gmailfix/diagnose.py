"""The whole diagnosis: DNS facts, concurrent probes, analysis, verdict and findings.

    Target + Connection ─► DNS facts ─► probes (every host, port and address at once)
        ─► analysis ─► verdict + findings

This module only orchestrates: the facts come from ``dns``, ``smtp`` and
``certs``, the verdict from ``gmail``, the findings from ``findings.rules``.
A Diagnosis holds facts and findings only: what can be done about them is
``remedies.propose``'s, which reads a Diagnosis (never the other way round).
The seams live in ``Connection``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gmailfix import dns as gdns
from gmailfix import gmail
from gmailfix.check import AddressCheck, Checker, Endpoint
from gmailfix.connection import Connection
from gmailfix.findings import Finding
from gmailfix.findings.rules import cannot_check_findings, diagnosis_findings
from gmailfix.inputs import Target, is_ip_address
from gmailfix.login import Credentials
from gmailfix.smtp import ProbeResult
from gmailfix.stacks.clues import Sighting
from gmailfix.stacks.recognise import MailStack, recognise
from gmailfix.vocabulary import Code


@dataclass(frozen=True)
class Diagnosis:
    target: Target
    facts: gdns.DnsFacts
    candidates: tuple[str, ...]
    endpoints: tuple[Endpoint, ...]
    chosen: Endpoint | None
    verdict: gmail.Verdict
    findings: tuple[Finding, ...]
    mail_stack: MailStack | None = None  # None only when nothing could be checked

    @property
    def domain(self) -> str:
        return self.target.domain

    @property
    def username(self) -> str | None:
        return self.target.username

    @property
    def smtp_host(self) -> str | None:
        return self.target.smtp_host

    @property
    def accepted(self) -> bool:
        return self.verdict.accept

    @property
    def outcome(self) -> gmail.Outcome:
        return self.verdict.outcome

    @property
    def addresses_not_checked(self) -> int:
        """Addresses of the host the verdict is about that were not probed (too many)."""
        return self.chosen.not_checked if self.chosen is not None else 0

    @property
    def why_unknown(self) -> str:
        """Why the verdict is "unknown", in plain words that follow "gmailfix cannot
        tell what Gmail would do: "."""
        left = self.addresses_not_checked
        if self.verdict.cause == Code.ADDRESSES_NOT_CHECKED and left:
            were = "was" if left == 1 else "were"
            return f"{left} of the server's addresses {were} not checked"
        return "this computer could not check"


@dataclass(frozen=True)
class Stage:
    """What the diagnosis is doing now, and how long it may take at most."""

    text: str
    seconds: float | None = None


@dataclass(frozen=True)
class DnsDone:
    facts: gdns.DnsFacts
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class ProbeDone:
    result: ProbeResult


Event = Stage | DnsDone | ProbeDone
Listener = Callable[[Event], None]


async def diagnose(
    target: Target,
    connection: Connection,
    *,
    on_event: Listener | None = None,
    credentials: Credentials | None = None,
    max_probes: int | None = None,
) -> Diagnosis:
    """Diagnose ``target`` as Gmail would see it, through ``connection``.

    Every probe runs at once unless ``max_probes`` bounds how many are open
    together (1 runs them one at a time: the benchmark's baseline).
    """
    run = _Run(
        connection,
        on_event or (lambda event: None),
        credentials,
        asyncio.Semaphore(max_probes) if max_probes else None,
    )
    return await run.diagnose(target)


@dataclass
class _Run:
    connection: Connection
    emit: Listener
    credentials: Credentials | None
    limit: asyncio.Semaphore | None

    async def diagnose(self, target: Target) -> Diagnosis:
        timeout = self.connection.timeout
        self.emit(Stage("Looking up the domain in DNS", timeout))
        guesses = [] if target.smtp_host else [f"mail.{target.domain}", f"smtp.{target.domain}"]
        extra = [target.smtp_host] if target.smtp_host else guesses
        facts = await gdns.gather_facts(
            self.connection.resolver,
            target.domain,
            [h for h in extra if not is_ip_address(h)],
            deadline=time.monotonic() + timeout,
        )
        settings = gmail.settings_for(
            target.smtp_host or f"mail.{target.domain}", target.ports[0], target.username
        )
        if not facts.reachable:
            return Diagnosis(
                target,
                facts,
                (),
                (),
                None,
                gmail.unknown(settings),
                tuple(cannot_check_findings(facts)),
            )
        candidates = _candidates(facts, target.smtp_host, guesses)
        self.emit(DnsDone(facts, candidates))
        self.emit(Stage("Talking to the mail servers", timeout))
        checker = Checker(
            self.connection,
            on_probe=lambda result: self.emit(ProbeDone(result)),
            credentials=self.credentials,
            limit=self.limit,
            deadline=time.monotonic() + 2 * timeout,
        )
        endpoints = await asyncio.gather(
            *(
                checker.endpoint(
                    h,
                    p,
                    facts.addresses.get(h, ()),
                    target.username,
                    facts.addresses_not_checked.get(h, 0),
                )
                for h in candidates
                for p in target.ports
            )
        )
        chosen = _choose(endpoints)
        verdict = chosen.verdict if chosen else _no_server_verdict(facts, settings)
        findings = diagnosis_findings(facts, target.smtp_host, candidates, endpoints)
        return Diagnosis(
            target,
            facts,
            candidates,
            tuple(endpoints),
            chosen,
            verdict,
            tuple(findings),
            mail_stack=recognise([sighting(e.main) for e in endpoints]),
        )


def sighting(check: AddressCheck) -> Sighting:
    """What a stack shows of itself: greeting, EHLO, and its default certificate
    (the one sent without SNI, when the server sent one)."""
    probe = check.probe
    other = check.probe_no_sni
    leaf = (other.chain.leaf if other is not None else None) or probe.chain.leaf
    return Sighting(
        banner=probe.banner,
        ehlo=probe.ehlo,
        ehlo_host=probe.ehlo_host,
        cert_subject=leaf.subject if leaf else None,
        cert_issuer=leaf.issuer if leaf else None,
        cert_self_signed=leaf.self_signed if leaf else False,
        cert_names=leaf.names if leaf else (),
    )


def _candidates(facts: gdns.DnsFacts, smtp_host: str | None, guesses: list[str]) -> tuple[str, ...]:
    if smtp_host:
        return (smtp_host,)
    found = [mx.host for mx in facts.mx if mx.addresses]
    found += [g for g in guesses if facts.addresses.get(g)]
    return tuple(dict.fromkeys(found))


def _progress(endpoint: Endpoint) -> int:
    """How far the conversation got: the most informative failure wins the report."""
    if endpoint.verdict.accept:
        return 6
    if endpoint.verdict.outcome == "unknown":
        return 5  # not checked is not refused: never report a reject over it
    if endpoint.analysis is not None:
        return 4
    if endpoint.probe.banner is not None:
        return 3
    if endpoint.probe.error_code == Code.WRONG_TLS_MODE:
        return 2
    return 1


def _choose(endpoints: Sequence[Endpoint]) -> Endpoint | None:
    """The endpoint the verdict is about: the first accepted, else the one that got furthest."""
    if not endpoints:
        return None
    best = max(_progress(e) for e in endpoints)
    return next(e for e in endpoints if _progress(e) == best)


def _no_server_verdict(facts: gdns.DnsFacts, settings: gmail.GmailSettings) -> gmail.Verdict:
    cause = Code.NO_CANDIDATES if facts.exists else Code.NXDOMAIN
    return gmail.unreachable(settings, cause)
