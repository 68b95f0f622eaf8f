"""A DNS server on loopback whose every reply a test writes itself (one UDP socket, a
thread): for answers the lab's DNS server does not give, such as a failure code or the
AD flag of a validating resolver."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dns.message

Reply = Callable[[dns.message.Message], dns.message.Message]


@contextmanager
def answering(reply: Reply) -> Iterator[str]:
    """Serve ``reply(query)`` for every query on 127.0.0.1; yields ``127.0.0.1:PORT``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            sock.sendto(reply(dns.message.from_wire(data)).to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        sock.close()
