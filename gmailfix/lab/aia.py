"""An HTTP server for AIA caIssuers URLs that answers well, or as badly as a server can.

The analysis fetches a missing intermediate from the URL in the leaf's AIA
extension. Whoever runs that server is a stranger, so the lab serves every way
the fetch can be abused, and counts what it did, so tests can show the client
stayed within its bounds without timing anything:

    /good.der /good.pem    the intermediate, as DER or PEM
    /gzip                  the DER, gzip-compressed (a client must not inflate it)
    /drip                  headers, then one body byte every ``drip_interval`` s
    /slow-headers          the status line, then one header byte at a time, forever
    /huge                  declares 1.5 GB and streams zeros until the client leaves
    /endless               chunked zeros without end
    /endless-close         zeros without length or end (HTTP/1.0 style)
    /loop                  redirects to itself
    /hops/N                redirects N times (hops/N-1 ... hops/0), then the DER
    /to-https              redirects to an https: URL of this server

``requests`` lists every path asked for, in order, and ``connections``
counts connections (a TLS hello is one, though it asks for no path); ``written`` counts the bytes
each path's answers put on the wire; ``hung_up`` holds the paths whose endless
answer ended because the client went away.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

HUGE = 1_500_000_000
CHUNK = 16 * 1024
MAX_ENDLESS = 4 * 1024**3  # a safety stop: even a client that never leaves ends somewhere


class _HungUp(Exception):
    """The client closed the connection while we were still answering."""


@dataclass
class AiaServer:
    """Serves ``der`` (an intermediate certificate) well and badly on 127.0.0.1."""

    der: bytes
    pem: bytes
    drip_interval: float = 0.05
    requests: list[str] = field(default_factory=list)
    connections: int = 0
    written: Counter[str] = field(default_factory=Counter)
    hung_up: set[str] = field(default_factory=set)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _idle: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._idle.set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def settled(self) -> None:
        """Wait until every answer in progress has ended (the client left or it finished)."""
        await self._idle.wait()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._idle.clear()
        self.connections += 1
        # a small send buffer keeps "written" close to what the client really took
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHUNK)
        writer.transport.set_write_buffer_limits(high=CHUNK)
        path = ""
        try:
            path = await _request_path(reader)
            if path:
                self.requests.append(path)
                await self._answer(writer, path)
        except _HungUp:
            self.hung_up.add(path)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._tasks.discard(task)
            if not self._tasks:
                self._idle.set()

    async def _answer(self, writer: asyncio.StreamWriter, path: str) -> None:
        fixed = {"/good.der": self.der, "/good.pem": self.pem}
        if path in fixed:
            await self._send(writer, path, _head(200, len(fixed[path])) + fixed[path])
        elif path == "/gzip":
            body = gzip.compress(self.der)
            head = _head(200, len(body), "Content-Encoding: gzip\r\n")
            await self._send(writer, path, head + body)
        elif path == "/loop":
            await self._send(writer, path, _redirect("/loop"))
        elif path.startswith("/hops/") and path[6:].isdigit():
            left = int(path[6:])
            target = f"/hops/{left - 1}" if left else "/good.der"
            await self._send(writer, path, _redirect(target))
        elif path == "/to-https":
            await self._send(writer, path, _redirect(f"https://127.0.0.1:{self.port}/good.der"))
        elif path in ("/drip", "/slow-headers"):
            await self._drip(writer, path)
        elif path in ("/huge", "/endless", "/endless-close"):
            await self._zeros(writer, path)
        else:
            await self._send(writer, path, _head(404, 0))

    async def _send(self, writer: asyncio.StreamWriter, path: str, data: bytes) -> None:
        if writer.is_closing():
            raise _HungUp
        writer.write(data)
        try:
            await writer.drain()
        except ConnectionError:
            raise _HungUp from None
        self.written[path] += len(data)

    async def _drip(self, writer: asyncio.StreamWriter, path: str) -> None:
        """A byte every ``drip_interval`` seconds: of the body, or of a header never ended."""
        if path == "/drip":
            head, byte = _head(200, 100_000), b"\x30"
        else:
            head, byte = b"HTTP/1.1 200 OK\r\n", b"X"
        await self._send(writer, path, head)
        for _ in range(100_000):
            await asyncio.sleep(self.drip_interval)
            await self._send(writer, path, byte)

    async def _zeros(self, writer: asyncio.StreamWriter, path: str) -> None:
        heads = {
            "/huge": _head(200, HUGE),
            "/endless": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            "/endless-close": b"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n",
        }
        await self._send(writer, path, heads[path])
        block = bytes(CHUNK)
        if path == "/endless":
            block = f"{CHUNK:x}\r\n".encode() + block + b"\r\n"
        while self.written[path] < MAX_ENDLESS:
            await self._send(writer, path, block)


async def _request_path(reader: asyncio.StreamReader) -> str:
    """The path of one GET; the headers are read and dropped (bounded in count)."""
    line = await reader.readline()
    parts = line.decode("latin-1").split()
    for _ in range(100):
        if (await reader.readline()).strip() == b"":
            break
    return parts[1] if len(parts) == 3 and parts[0] == "GET" else ""


def _head(status: int, length: int, extra: str = "") -> bytes:
    reason = {200: "OK", 302: "Found", 404: "Not Found"}[status]
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/pkix-cert\r\n"
        f"Content-Length: {length}\r\n{extra}Connection: close\r\n\r\n"
    ).encode()


def _redirect(location: str) -> bytes:
    return (
        f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


@contextlib.asynccontextmanager
async def aia_server(
    der: bytes, pem: bytes, drip_interval: float = 0.05
) -> AsyncIterator[AiaServer]:
    """A running AiaServer for the length of the ``async with``."""
    server = AiaServer(der, pem, drip_interval)
    await server.start()
    try:
        yield server
    finally:
        await server.close()
