"""The lab's servers: real SMTP (aiosmtpd) with STARTTLS or implicit TLS, servers
that misbehave on purpose, and a tiny HTTP server for AIA caIssuers URLs."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, AnyStr, Literal
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.smtp import SMTP, AuthResult

Behaviour = Literal[
    "smtp",  # a proper submission server
    "silent",  # accepts the connection, never says a word
    "garbage",  # 8-bit garbage instead of a greeting
    "close-after-banner",  # 220, then hangs up
    "starttls-454",  # offers STARTTLS, answers 454 (unreadable certificate)
    "tls-reset",  # agrees to STARTTLS, then resets in the middle of the handshake
    "huge-line",  # a 1 MB greeting line
    "drip",  # one byte per second
    "tls-alert",  # agrees to STARTTLS, then answers the ClientHello with a TLS alert
    "split",  # every reply cut into small packets mid-line, then real STARTTLS
    "starttls-inject",  # plaintext "250 AUTH" sent with the 220 to STARTTLS; no AUTH over TLS
]
# aiosmtpd logs every odd command at WARNING; the lab is odd on purpose
logging.getLogger("mail.log").setLevel(logging.CRITICAL)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass(frozen=True)
class ServerSpec:
    """How one lab port behaves."""

    behaviour: Behaviour = "smtp"
    implicit_tls: bool | None = None  # None: by port (465 implicit, others STARTTLS)
    starttls: bool = True
    auth: bool = True
    reply_delay: float = 0.0  # seconds before every final reply line
    client_cert: bool = False  # demand a client certificate (TLS handshake fails without)
    greeting: tuple[str, ...] = ()  # the 220 greeting's lines instead of aiosmtpd's
    ehlo_extra: tuple[str, ...] = ()  # more EHLO keywords, as a mail stack offers them


class _Accept:
    """Accepts any message (the probes never send one)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def _any_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    return AuthResult(success=False, handled=False)


class _LabSMTP(SMTP):
    """aiosmtpd's server, optionally slow to answer (for the concurrency benchmark)."""

    def __init__(
        self,
        *args: Any,
        reply_delay: float = 0.0,
        offer_auth: bool = True,
        greeting: tuple[str, ...] = (),
        ehlo_extra: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._reply_delay = reply_delay
        self._offer_auth = offer_auth
        self._greeting = greeting
        self._ehlo_extra = ehlo_extra

    async def push(self, status: AnyStr) -> None:
        text = status if isinstance(status, str) else status.decode("utf-8", "replace")
        # aiosmtpd always advertises AUTH; a server without it is made by dropping the line
        if not self._offer_auth and text.startswith("250-AUTH"):
            return
        if self._greeting and text.startswith("220 ") and not getattr(self, "_greeted", False):
            self._greeted = True
            lines = self._greeting
            for line in lines[:-1]:
                await super().push(f"220-{line}")
            text = status = f"220 {lines[-1]}"  # type: ignore[assignment]
        if self._ehlo_extra and text.startswith("250 HELP"):
            for keyword in self._ehlo_extra:
                await super().push(f"250-{keyword}")
        if self._reply_delay and text[3:4] != "-":
            await asyncio.sleep(self._reply_delay)
        await super().push(status)


def smtp_factory(
    spec: ServerSpec, hostname: str, tls: ssl.SSLContext | None, implicit: bool
) -> Callable[[], _LabSMTP]:
    def make() -> _LabSMTP:
        return _LabSMTP(
            _Accept(),
            hostname=hostname,
            ident="gmailfix lab ESMTP",
            tls_context=None if implicit or not spec.starttls else tls,
            require_starttls=False,
            authenticator=_any_login,
            offer_auth=spec.auth,
            auth_require_tls=not implicit,
            reply_delay=spec.reply_delay,
            greeting=spec.greeting,
            ehlo_extra=spec.ehlo_extra,
        )

    return make


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(4096):
            pass


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(bytes(range(128, 256)) + b"\r\n")
    await _silent(reader, writer)


async def _close_after_banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 lab.test ESMTP\r\n")
    await writer.drain()
    writer.close()


async def _huge_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 " + b"x" * 1_000_000 + b"\r\n")
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    await _silent(reader, writer)


async def _drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        for byte in b"220 lab.test ESMTP, very slowly\r\n":
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(1.0)


async def _scripted(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    on_starttls: bytes,
    reset: bool,
    alert: bool = False,
) -> None:
    """Just enough SMTP to reach STARTTLS, then fail it one way or another."""
    writer.write(b"220 lab.test ESMTP\r\n")
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        while line := await reader.readline():
            verb = line.strip().upper()
            if verb.startswith(b"EHLO"):
                writer.write(b"250-lab.test\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n")
            elif verb == b"STARTTLS":
                writer.write(on_starttls)
                if alert:
                    await writer.drain()
                    await reader.read(5)  # the ClientHello's record header
                    writer.write(TLS_ALERT)
                    await writer.drain()
                    writer.close()
                    return
                if reset:
                    await writer.drain()
                    await reader.read(1)  # the start of the ClientHello
                    writer.transport.abort()
                    return
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"502 not here\r\n")
            await writer.drain()
    writer.close()


async def _split(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tls: ssl.SSLContext | None
) -> None:
    """Proper SMTP, but each reply leaves in pieces that cut lines in the middle."""

    async def send(reply: bytes) -> None:
        chunks = [reply[i : i + 7] for i in range(0, len(reply), 7)]
        for n, chunk in enumerate(chunks):
            writer.write(chunk)
            await writer.drain()
            if n < len(chunks) - 1:  # no pause after the last: STARTTLS must follow at once
                await asyncio.sleep(0.01)

    await send(b"220 lab.test ESMTP split\r\n")
    secure = False
    while line := await reader.readline():
        verb = line.strip().upper()
        if verb.startswith(b"EHLO"):
            offer = b"250-AUTH PLAIN LOGIN\r\n" if secure else b"250-STARTTLS\r\n"
            await send(b"250-lab.test\r\n250-PIPELINING\r\n" + offer + b"250 HELP\r\n")
        elif verb == b"STARTTLS" and tls is not None and not secure:
            await send(b"220 go ahead\r\n")
            await writer.start_tls(tls)
            secure = True
        elif verb == b"QUIT":
            await send(b"221 bye\r\n")
            break
        else:
            await send(b"502 not here\r\n")
    writer.close()


async def _inject(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tls: ssl.SSLContext | None
) -> None:
    """A STARTTLS response injection (CVE-2021-38371 class): the 220 arrives together
    with a forged EHLO reply offering AUTH, which the real server over TLS never offers."""
    writer.write(b"220 lab.test ESMTP\r\n")
    secure = False
    while line := await reader.readline():
        verb = line.strip().upper()
        if verb.startswith(b"EHLO"):
            offer = b"" if secure else b"250-STARTTLS\r\n"
            writer.write(b"250-lab.test\r\n" + offer + b"250 HELP\r\n")
        elif verb == b"STARTTLS" and tls is not None and not secure:
            writer.write(b"220 go ahead\r\n250-lab.test\r\n250 AUTH PLAIN LOGIN\r\n")
            await writer.drain()
            await writer.start_tls(tls)
            secure = True
        elif verb == b"QUIT":
            writer.write(b"221 bye\r\n")
            break
        else:
            writer.write(b"502 not here\r\n")
        await writer.drain()
    writer.close()


async def _starttls_454(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _scripted(reader, writer, b"454 4.7.0 TLS currently unavailable\r\n", reset=False)


async def _tls_reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _scripted(reader, writer, b"220 2.0.0 Ready to start TLS\r\n", reset=True)


# a TLS 1.2 alert record: fatal (2), handshake_failure (40)
TLS_ALERT = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])


async def _tls_alert(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _scripted(reader, writer, b"220 2.0.0 Ready to start TLS\r\n", reset=False, alert=True)


RAW_HANDLERS: dict[str, Handler] = {
    "silent": _silent,
    "garbage": _garbage,
    "close-after-banner": _close_after_banner,
    "starttls-454": _starttls_454,
    "tls-reset": _tls_reset,
    "huge-line": _huge_line,
    "drip": _drip,
    "tls-alert": _tls_alert,
}


async def serve(
    spec: ServerSpec,
    *,
    host: str,
    port: int,
    hostname: str,
    tls: ssl.SSLContext | None,
    implicit: bool,
) -> asyncio.Server:
    """Start one lab server; the returned Server is closed to stop it."""
    loop = asyncio.get_running_loop()
    if spec.behaviour == "smtp":
        return await loop.create_server(
            smtp_factory(spec, hostname, tls, implicit), host, port, ssl=tls if implicit else None
        )

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError, asyncio.IncompleteReadError):
            if spec.behaviour == "split":
                await _split(reader, writer, tls)
            elif spec.behaviour == "starttls-inject":
                await _inject(reader, writer, tls)
            else:
                await RAW_HANDLERS[spec.behaviour](reader, writer)

    return await asyncio.start_server(guarded, host, port, ssl=tls if implicit else None)


async def serve_files(
    files: dict[str, bytes], host: str = "127.0.0.1", port: int = 0
) -> asyncio.Server:
    """A minimal HTTP/1.0 server for caIssuers URLs: GET a path, get its bytes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            path = request.split(b" ")[1].decode("ascii", "replace")
            body = files.get(path)
            status = b"200 OK" if body is not None else b"404 Not Found"
            body = body or b""
            writer.write(
                b"HTTP/1.0 " + status + b"\r\nContent-Type: application/pkix-cert\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, host, port)


async def serve_doh(
    answer: Callable[[bytes], bytes | None], tls: ssl.SSLContext, host: str = "127.0.0.1"
) -> asyncio.Server:
    """DNS over HTTPS (RFC 8484, POST and GET) in front of the lab's DNS answers."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(
            ConnectionError, asyncio.IncompleteReadError, ValueError, ssl.SSLError
        ):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            method, target = head.split(b" ")[:2]
            headers = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
            lengths = {k.strip().lower(): v.strip() for k, v in headers.items()}
            if method == b"POST":
                query = await reader.readexactly(int(lengths.get(b"content-length", b"0")))
            else:
                param = parse_qs(urlsplit(target.decode()).query).get("dns", [""])[0]
                query = base64.urlsafe_b64decode(param + "=" * (-len(param) % 4))
            reply = answer(query) or b""
            status = b"200 OK" if reply else b"400 Bad Request"
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: application/dns-message\r\n"
                b"Content-Length: "
                + str(len(reply)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + reply
            )
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, host, 0, ssl=tls)
