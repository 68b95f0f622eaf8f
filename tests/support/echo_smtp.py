"""A hostile submission server on loopback that repeats the login it was sent in its
refusal, as careless servers do (``535 5.7.8 bad password 'hunter2'``).

Real SMTP with STARTTLS on one port, a certificate from a CA of its own and a DNS
server of its own, so gmailfix finds the certificate acceptable and logs in to it
as Gmail would. What the refusal repeats is the test's choice (an ``Echo``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from gmailfix.connection import Connection, build
from gmailfix.lab import ca
from gmailfix.lab.dns_server import DnsServer, Zone
from gmailfix.lab.runner import _server_context
from gmailfix.smtp import Endpoint

DOMAIN = "echo.test"
HOST = f"mail.{DOMAIN}"
ADDRESS = "127.0.0.1"

# the AUTH lines as the client sent them (no CRLF) -> the whole reply, CRLF included
Echo = Callable[[list[bytes]], bytes]


def decoded(line: bytes) -> bytes:
    """The base64 at the end of an AUTH line, decoded (PLAIN's ``\\0user\\0password``)."""
    word = line.split()[-1]
    with contextlib.suppress(ValueError):
        return base64.b64decode(word + b"=" * (-len(word) % 4), altchars=b"-_")
    return word


def repeat_everything(received: list[bytes]) -> bytes:
    """What a server that logs back to the client says: each line as sent, then decoded."""
    sent = b" ".join(received)
    plain = b" ".join(decoded(line) for line in received[-1:])
    return b"535 5.7.8 authentication failed for " + sent + b" (" + plain + b")\r\n"


@dataclass(frozen=True)
class EchoServer:
    dns: Endpoint
    ca_file: Path
    smtp: Endpoint  # where port 587 of HOST really listens
    received: list[list[bytes]]  # the AUTH lines of every login, as sent

    def cli_args(self) -> list[str]:
        """The options that point ``gmailfix diagnose`` or ``export`` at this server."""
        return [
            "--dns-server",
            f"{self.dns[0]}:{self.dns[1]}",
            "--ca-file",
            str(self.ca_file),
            "--connect",
            f"{HOST}:587={self.smtp[0]}:{self.smtp[1]}",
            "--smtp-host",
            HOST,
            "--port",
            "587",
        ]

    def connection(self, timeout: float = 5) -> Connection:
        return build(
            dns_server=f"{self.dns[0]}:{self.dns[1]}",
            ca_files=[str(self.ca_file)],
            connect={(HOST, 587): self.smtp},
            timeout=timeout,
        )


@contextlib.contextmanager
def echo_server(
    folder: Path, echo: Echo = repeat_everything, mechanisms: bytes = b"PLAIN LOGIN"
) -> Iterator[EchoServer]:
    """Run the server and its DNS on an event loop in a thread until the block ends."""
    root = ca.make_root("Echo Test Root")
    issuer = ca.make_intermediate(root, "Echo Test Intermediate")
    leaf = ca.make_leaf(issuer, [HOST])
    tls = _server_context(leaf.cert_pem() + issuer.cert_pem(), leaf.key_pem())
    ca_file = folder / "echo-root.pem"
    ca_file.write_bytes(root.cert_pem())
    zone = Zone()
    zone.add(DOMAIN, "MX", f"10 {HOST}.")
    zone.add(HOST, "A", ADDRESS)
    zone.add("1.0.0.127.in-addr.arpa", "PTR", f"{HOST}.")
    dns = DnsServer(zone)
    received: list[list[bytes]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError, asyncio.IncompleteReadError):
            await _converse(reader, writer, tls, echo, mechanisms, received)

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True, name="echo-smtp")
    thread.start()

    async def start() -> tuple[Endpoint, asyncio.Server]:
        server = await asyncio.start_server(handle, ADDRESS, 0)
        return await dns.start(ADDRESS, 0), server

    dns_at, server = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    smtp_at = server.sockets[0].getsockname()[:2]
    try:
        yield EchoServer(dns_at, ca_file, (smtp_at[0], smtp_at[1]), received)
    finally:
        loop.call_soon_threadsafe(server.close)
        asyncio.run_coroutine_threadsafe(dns.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


async def _converse(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    tls: ssl.SSLContext,
    echo: Echo,
    mechanisms: bytes,
    received: list[list[bytes]],
) -> None:
    writer.write(f"220 {HOST} ESMTP\r\n".encode())
    secure = False
    login: list[bytes] = []  # the AUTH lines of the login under way
    while line := await reader.readline():
        line = line.rstrip(b"\r\n")
        verb = line.upper()
        if login:  # AUTH LOGIN: the user, then the password
            login.append(line)
            if len(login) < 3:
                writer.write(b"334 UGFzc3dvcmQ6\r\n")
            else:
                received.append(login)
                writer.write(echo(login))
                login = []
        elif verb.startswith(b"EHLO"):
            offer = b"250-AUTH " + mechanisms if secure else b"250-STARTTLS"
            writer.write(f"250-{HOST}\r\n".encode() + offer + b"\r\n250 HELP\r\n")
        elif verb == b"STARTTLS" and not secure:
            writer.write(b"220 go ahead\r\n")
            await writer.drain()
            await writer.start_tls(tls)
            secure = True
        elif verb.startswith(b"AUTH PLAIN "):
            received.append([line])
            writer.write(echo([line]))
        elif verb == b"AUTH LOGIN":
            login = [line]
            writer.write(b"334 VXNlcm5hbWU6\r\n")
        elif verb == b"QUIT":
            writer.write(b"221 bye\r\n")
            break
        else:
            writer.write(b"502 not here\r\n")
        await writer.drain()
    writer.close()
