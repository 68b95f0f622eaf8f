"""Small loopback servers for tests, each on its own event loop in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from gmailfix.lab.dns_server import DnsServer, Zone
from gmailfix.lab.servers import serve_files


@contextmanager
def in_thread(start: Callable[[], Coroutine[Any, Any, asyncio.Server]]) -> Iterator[asyncio.Server]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


@contextmanager
def http_files(files: dict[str, bytes]) -> Iterator[str]:
    """An HTTP server for AIA caIssuers URLs; yields its base URL."""
    with in_thread(lambda: serve_files(files)) as server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


@contextmanager
def dns_for(records: dict[str, str]) -> Iterator[str]:
    """A lab DNS server answering A records, in a thread; yields HOST:PORT."""
    with dns_zone((name, "A", address) for name, address in records.items()) as server:
        yield server


@contextmanager
def dns_zone(records: Iterable[tuple[str, str, str]]) -> Iterator[str]:
    """A lab DNS server answering (name, type, value) records, in a thread; yields
    HOST:PORT."""
    zone = Zone()
    zone.extend(records)
    server = DnsServer(zone)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    host, port = asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    try:
        yield f"{host}:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
