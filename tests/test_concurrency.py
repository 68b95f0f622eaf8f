"""A diagnosis runs every probe at once: counted at the server, not timed."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace

from gmailfix.connection import Connection
from gmailfix.diagnose import diagnose
from gmailfix.inputs import parse_target
from gmailfix.lab.runner import LabInfo


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
