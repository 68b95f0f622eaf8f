"""Check one host and port as Gmail would: every address, with and without SNI.

Used by the diagnosis for each candidate, and by the remedies to verify a
name or a port before recommending it, so both judge in exactly the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from gmailfix import gmail
from gmailfix.certs import ChainAnalysis, analyse_chain
from gmailfix.connection import Connection
from gmailfix.dns import DnsFacts, lookup_addresses
from gmailfix.inputs import is_ip_address
from gmailfix.login import Credentials, LoginResult, login
from gmailfix.smtp import ProbeResult, ProbeTarget, probe
from gmailfix.vocabulary import Code, mode_for


@dataclass(frozen=True)
class AddressCheck:
    """One address of one host and port, as Gmail would meet it."""

    address: str
    probe: ProbeResult  # with SNI = the host as typed
    probe_no_sni: ProbeResult | None
    analysis: ChainAnalysis | None
    verdict: gmail.Verdict
    login: LoginResult | None = None


@dataclass(frozen=True)
class Endpoint:
    """One host and port as typed in Gmail, with every address it resolves to."""

    host: str
    port: int
    checks: tuple[AddressCheck, ...]
    verdict: gmail.Verdict
    not_checked: int = 0  # more addresses in DNS than were probed (dns.MAX_ADDRESSES)

    @property
    def main(self) -> AddressCheck:
        """The check the verdict is about: the first that is not accepted, else the first."""
        return next((c for c in self.checks if not c.verdict.accept), self.checks[0])

    @property
    def probe(self) -> ProbeResult:
        return self.main.probe

    @property
    def probe_no_sni(self) -> ProbeResult | None:
        return self.main.probe_no_sni

    @property
    def analysis(self) -> ChainAnalysis | None:
        return self.main.analysis


@dataclass
class Checker:
    """Runs checks through one Connection; ``on_probe`` hears of every finished probe."""

    connection: Connection
    on_probe: Callable[[ProbeResult], None] = lambda result: None
    credentials: Credentials | None = None
    limit: asyncio.Semaphore | None = None  # the benchmark's one-at-a-time baseline
    deadline: float | None = None  # bounds the analysis' certificate fetches

    async def endpoint(
        self,
        host: str,
        port: int,
        addresses: tuple[str, ...],
        username: str | None,
        not_checked: int = 0,
    ) -> Endpoint:
        """Every address Gmail could dial for ``host:port`` (after --connect overrides).

        ``not_checked`` addresses of the host were left out (too many): Gmail may dial
        one of them, so the verdict cannot be "accept"; a refused address still
        makes it "reject"."""
        settings = gmail.settings_for(host, port, username)
        dialled = self.dial_plan(host, port, addresses)
        if (host, port) in self.connection.connect or is_ip_address(host):
            not_checked = 0  # one place to dial, given: nothing was left out
        if not dialled:
            missing = ProbeResult(
                host,
                port,
                mode_for(port),
                host,
                error_code=Code.CONNECTION_FAILED,
                error=f"{host} has no address in DNS",
            )
            check = AddressCheck("", missing, None, None, gmail.judge(missing, None, username))
            return Endpoint(host, port, (check,), check.verdict)
        checks = await asyncio.gather(
            *(self.address(host, port, where, username) for where in dialled)
        )
        verdict = gmail.combine([c.verdict for c in checks], settings)
        if not_checked and verdict.accept:
            verdict = gmail.unknown(settings, Code.ADDRESSES_NOT_CHECKED)
        return Endpoint(host, port, tuple(checks), verdict, not_checked)

    async def endpoint_from_dns(
        self, facts: DnsFacts | None, host: str, port: int, username: str | None
    ) -> Endpoint:
        """As ``endpoint``, looking the host's addresses up unless the facts hold them."""
        known = facts.addresses.get(host) if facts is not None else None
        left_out = facts.addresses_not_checked.get(host, 0) if facts is not None else 0
        if (
            known is None
            and not is_ip_address(host)
            and (host, port) not in self.connection.connect
        ):
            deadline = time.monotonic() + self.connection.timeout
            found = await lookup_addresses(self.connection.resolver, host, deadline)
            known, left_out = found.addresses, found.not_checked
        return await self.endpoint(host, port, known or (), username, left_out)

    def dial_plan(self, host: str, port: int, addresses: tuple[str, ...]) -> list[tuple[str, int]]:
        """Where Gmail could connect for ``host:port``: every address, after overrides."""
        connect = self.connection.connect
        override = connect.get((host, port))
        if override is not None:
            return [override]
        if is_ip_address(host):
            return [connect.get((host, port), (host, port))]
        return [connect.get((a, port), (a, port)) for a in addresses]

    async def address(
        self, host: str, port: int, where: tuple[str, int], username: str | None
    ) -> AddressCheck:
        sni = None if is_ip_address(host) else host
        with_sni, without_sni = await asyncio.gather(
            self._probe(ProbeTarget(host, port, sni, where)),
            self._probe(ProbeTarget(host, port, None, where)) if sni else _none(),
        )
        analysis = await self.analyse(with_sni, host)
        verdict = gmail.judge(with_sni, analysis, username)
        attempt: LoginResult | None = None
        if self.credentials is not None and verdict.accept:
            attempt = await login(
                ProbeTarget(host, port, sni, where),
                self.credentials,
                trust_pem=self.connection.trust.pem(),
                timeout=self.connection.timeout,
            )
            verdict = gmail.judge(with_sni, analysis, username, attempt)
        return AddressCheck(where[0], with_sni, without_sni, analysis, verdict, attempt)

    async def analyse(self, result: ProbeResult, host: str) -> ChainAnalysis | None:
        """The presented chain judged for ``host``; None when no chain was shown."""
        if not result.chain:
            return None
        return await analyse_chain(
            result.chain,
            host,
            trust=self.connection.trust,
            now=self.connection.clock(),
            fetch=self.connection.fetch,
            deadline=self.deadline or time.monotonic() + self.connection.timeout,
        )

    async def _probe(self, target: ProbeTarget) -> ProbeResult:
        async with self.limit or contextlib.nullcontext():
            result = await probe(target, timeout=self.connection.timeout)
        self.on_probe(result)
        return result


async def _none() -> None:
    return None
