"""A diagnosis runs every probe at once: counted at the server, not timed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import replace

from gmailfix.connection import Connection
from gmailfix.diagnose import diagnose
from gmailfix.inputs import parse_target
from gmailfix.lab.runner import LabInfo
from gmailfix.remedies.propose import propose


class CountingProxy:
    """Forwards TCP to an upstream, delaying the server's first bytes, and counts
    how many connections are open at once."""

    def __init__(self, upstream: tuple[str, int], delay: float) -> None:
        self.upstream, self.delay = upstream, delay
        self.active = self.peak = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            await asyncio.sleep(self.delay)
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self.active -= 1
            writer.close()

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        dst.close()


def test_all_probes_are_open_at_the_same_time(lab: LabInfo, lab_connection: Connection) -> None:
    hosts = ["mx1.multi.test", "mx2.multi.test", "mail.multi.test"]

    async def scenario() -> tuple[int, int]:
        proxies, connect = [], {}
        for port in (587, 465, 25):
            proxy = CountingProxy(lab.by_domain["multi.test"][("mail.multi.test", port)], 0.3)
            server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
            proxies.append((proxy, server))
            for host in hosts:
                connect[(host, port)] = ("127.0.0.1", server.sockets[0].getsockname()[1])
        connection = replace(lab_connection, connect=connect)
        result = await diagnose(parse_target("multi.test"), connection)
        for _, server in proxies:
            server.close()
        assert len(result.endpoints) == 9
        assert result.verdict.accept
        return sum(p.peak for p, _ in proxies), len(result.endpoints) * 2

    peak, probes = asyncio.run(scenario())
    # each proxy sees its port's probes: together every probe was open at once
    assert peak == probes == 18


def test_the_fixes_try_the_other_ports_at_once(lab: LabInfo, lab_connection: Connection) -> None:
    """Typed 587 does not answer; looking for a working port probes 465 and 25 at the
    same time (one shared count across both ports' proxies), so the wait for a fix is
    about one probe long, not two."""
    host = "mail.multi.test"

    async def scenario() -> int:
        tally = CountingProxy(("127.0.0.1", 0), 0.0)  # only its counters are used
        servers, connect = [], {}
        for port in (465, 25):
            proxy = CountingProxy(lab.by_domain["multi.test"][(host, port)], 0.3)
            proxy_handle = proxy.handle

            async def counted(
                reader: asyncio.StreamReader,
                writer: asyncio.StreamWriter,
                handle: Callable[..., Awaitable[None]] = proxy_handle,
            ) -> None:
                tally.active += 1
                tally.peak = max(tally.peak, tally.active)
                try:
                    await handle(reader, writer)
                finally:
                    tally.active -= 1

            server = await asyncio.start_server(counted, "127.0.0.1", 0)
            servers.append(server)
            connect[(host, port)] = ("127.0.0.1", server.sockets[0].getsockname()[1])
        closed = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        closed_port = closed.sockets[0].getsockname()[1]
        closed.close()
        await closed.wait_closed()
        connect[(host, 587)] = ("127.0.0.1", closed_port)  # refused: nothing listens
        connection = replace(lab_connection, connect=connect)
        diagnosis = await diagnose(parse_target("multi.test", host, 587), connection)
        assert diagnosis.outcome == "reject"
        tally.active = tally.peak = 0  # count only what propose opens
        proposal = await propose(diagnosis, connection)
        for server in servers:
            server.close()
        first = proposal.remedies[0]
        assert (first.kind, first.verified) == ("fix-tls-mode", True), proposal.remedies[:2]
        return tally.peak

    # each port's probe runs with and without SNI: more than two open means both ports
    assert asyncio.run(scenario()) > 2
