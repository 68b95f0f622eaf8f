"""SMTP probes: connect, greet, STARTTLS or implicit TLS, capture the chain.

A probe never verifies the certificate (it must capture bad ones) and never
raises: every outcome, good or bad, is a ``ProbeResult`` whose ``error_code``
is a finding code. The whole probe is bounded by one deadline, so a server
that sends one byte per second still ends on time, and every read is bounded
in size. One process-wide limit, derived from the open-file limit, bounds how
many probes are open at once (batch included): running out of file handles
is this computer's problem, never reported as the server's.

Logging in, the one place a password is used, is ``gmailfix.login``'s: it
reads replies with ``read_reply`` here, which can hide a secret in each line.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ssl
import time
import warnings
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from gmailfix.certs import NO_CHAIN, Chain, parse_chain
from gmailfix.vocabulary import Code, Mode, mode_for

EHLO_NAME = "gmailfix.invalid"
LINE_LIMIT = 8192  # RFC 5321 allows 512 per reply line; anything near this is hostile
MAX_REPLY_LINES = 200
Endpoint = tuple[str, int]
ConnectMap = Mapping[Endpoint, Endpoint]
_LOCAL_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


@dataclass(frozen=True)
class ProbeTarget:
    """Where to probe: the name as typed, the port, the SNI to send and where to connect."""

    host: str  # as typed in Gmail: SNI and name checks use it
    port: int
    sni: str | None
    endpoint: Endpoint  # the address and port actually dialled

    @property
    def mode(self) -> Mode:
        return mode_for(self.port)

    @property
    def address(self) -> str:
        return self.endpoint[0]


@dataclass(frozen=True)
class ProbeResult:
    host: str
    port: int
    mode: Mode
    sni: str | None
    address: str | None = None
    banner: str | None = None
    ehlo_host: str | None = None  # the first line of the EHLO reply: the server's own name
    ehlo: tuple[str, ...] = ()  # the EHLO keywords before TLS, as sent
    starttls_offered: bool | None = None
    tls_version: str | None = None
    cipher: str | None = None
    chain: Chain = NO_CHAIN
    auth_mechanisms: tuple[str, ...] = ()
    auth_before_tls: tuple[str, ...] = ()
    error_code: Code | None = None
    error: str | None = None
    elapsed: float = 0.0


class ProbeFailure(Exception):
    """Internal: ends a probe with a finding code and a sentence."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code


_LIMITS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def open_probe_limit() -> int:
    """How many probes may be open at once in this process.

    Each probe holds up to two sockets (the TLS-mode sniff opens a second), and
    the process needs some files for itself; a third of the soft limit is safe.
    """
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, ValueError, OSError):
        soft = 1024
    if soft == resource.RLIM_INFINITY or soft <= 0:
        soft = 65536
    return max(4, min(4096, (soft - 64) // 3))


def probe_limit() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    limit = _LIMITS.get(loop)
    if limit is None:
        limit = _LIMITS[loop] = asyncio.Semaphore(open_probe_limit())
    return limit


def client_context() -> ssl.SSLContext:
    """A context that completes any handshake it can, so bad certificates are captured."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    # accept old versions so they can be reported rather than failing the probe
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    with contextlib.suppress(ssl.SSLError):
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


def verifying_context(trust_pem: bytes) -> ssl.SSLContext:
    """OpenSSL's own verification against the same anchors: the login's precondition."""
    ctx = ssl.create_default_context(cadata=trust_pem.decode("ascii"))
    ctx.check_hostname = True
    return ctx


async def probe(target: ProbeTarget, *, timeout: float = 10.0) -> ProbeResult:
    """Run one probe to completion or until ``timeout`` seconds have passed."""
    async with probe_limit():
        session = _Session(target)
        start = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                await session.run(deadline=start + timeout)
        except TimeoutError:
            session.fail(Code.TIMEOUT, f"no answer in {timeout:g} s while {session.stage}")
        except ProbeFailure as exc:
            session.fail(exc.code, str(exc))
        except ssl.SSLError as exc:
            session.fail(
                Code.TLS_HANDSHAKE_FAILED, f"TLS failed while {session.stage}: {_ssl_reason(exc)}"
            )
        except (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError):
            code = Code.TLS_HANDSHAKE_FAILED if session.in_handshake else Code.SMTP_PROTOCOL_ERROR
            session.fail(code, f"the server closed the connection while {session.stage}")
        except OSError as exc:
            session.fail(*_os_failure(exc, session.stage))
        finally:
            session.close()
        return replace(session.result, elapsed=time.monotonic() - start)


def _os_failure(exc: OSError, stage: str) -> tuple[Code, str]:
    if exc.errno in _LOCAL_ERRNOS:
        return (
            Code.CANNOT_CHECK_HERE,
            "gmailfix ran out of file handles or memory on this computer; "
            "check fewer servers at once",
        )
    return Code.CONNECTION_FAILED, f"{exc.strerror or exc} while {stage}"


class _Session:
    """One conversation with one server; fills in ``result`` as it goes."""

    def __init__(self, target: ProbeTarget) -> None:
        self.target = target
        self.stage = "connecting"
        self.in_handshake = False
        self.just_secured = False  # TLS is up and the server has not spoken over it yet
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.extra: list[asyncio.StreamWriter] = []
        self.result = ProbeResult(
            target.host, target.port, target.mode, target.sni, address=target.address
        )

    def fail(self, code: Code, message: str) -> None:
        if self.result.error_code is None:
            self.result = replace(self.result, error_code=code, error=message)

    def close(self) -> None:
        for writer in [self.writer, *self.extra]:
            if writer is not None:
                writer.transport.abort()

    async def run(self, deadline: float) -> None:
        host, port = self.target.endpoint
        try:
            self.reader, self.writer = await asyncio.open_connection(host, port, limit=LINE_LIMIT)
        except OSError as exc:
            code, message = _os_failure(exc, "connecting")
            if code == Code.CONNECTION_FAILED:
                message = f"cannot connect to port {self.target.port}: {exc.strerror or exc}"
            raise ProbeFailure(code, message) from None
        if self.target.mode == "implicit":
            await self._implicit()
        else:
            await self._starttls(deadline)

    async def _starttls(self, deadline: float) -> None:
        self.stage = "waiting for the greeting"
        banner = await self._greeting(deadline)
        self.result = replace(self.result, banner=banner)
        caps = await self._ehlo(record=True)
        offered = "STARTTLS" in (c.upper() for c in caps)
        self.result = replace(
            self.result, starttls_offered=offered, auth_before_tls=auth_mechanisms(caps)
        )
        if not offered:
            raise ProbeFailure(Code.NO_STARTTLS, "the server's EHLO reply does not offer STARTTLS")
        self.stage = "asking for STARTTLS"
        code, lines = await self._command("STARTTLS")
        if code != 220:
            reply = f"{code} {lines[-1] if lines else ''}".strip()
            raise ProbeFailure(
                Code.STARTTLS_REFUSED, f"the server answered STARTTLS with '{reply[:200]}'"
            )
        self._refuse_injected_data()
        await self._handshake()
        await self._after_tls()

    def _refuse_injected_data(self) -> None:
        """Bytes already read past the 220 would be taken as the server's *encrypted*
        replies (the CVE-2021-38371 class): stop instead. asyncio keeps them in the
        reader's buffer, which has no public accessor."""
        assert self.reader is not None
        pending = bytes(getattr(self.reader, "_buffer", b""))
        if pending:
            raise ProbeFailure(
                Code.STARTTLS_INJECTION,
                f"{len(pending)} bytes arrived after the server's 220 to STARTTLS and before "
                "encryption began (possible command injection)",
            )

    async def _implicit(self) -> None:
        try:
            await self._handshake()
        except (ssl.SSLError, ConnectionResetError, asyncio.IncompleteReadError) as exc:
            if await self._speaks_plain_smtp():
                raise ProbeFailure(
                    Code.WRONG_TLS_MODE,
                    f"port {self.target.port} answers in plain text (STARTTLS style), "
                    "not with TLS from the first byte",
                ) from exc
            raise
        self.stage = "waiting for the greeting over TLS"
        banner = await self._reply_or_fail(expect=220)
        self.result = replace(self.result, banner=banner)
        await self._after_tls(greeted=True)

    async def _greeting(self, deadline: float) -> str:
        """Read the 220 greeting; if nothing comes soon, check for implicit TLS."""
        assert self.reader is not None
        first = asyncio.ensure_future(self.reader.read(1))
        sniff_after = max(0.2, min(2.0, (deadline - time.monotonic()) / 3))
        done, _ = await asyncio.wait({first}, timeout=sniff_after)
        if not done and await self._speaks_implicit_tls():
            first.cancel()
            raise ProbeFailure(
                Code.WRONG_TLS_MODE,
                f"port {self.target.port} expects TLS from the first byte (SSL), not STARTTLS",
            )
        head = await first
        if not head:
            raise ProbeFailure(Code.SMTP_PROTOCOL_ERROR, "the server closed the connection at once")
        return await self._reply_or_fail(expect=220, head=head)

    async def _speaks_implicit_tls(self) -> bool:
        try:
            _, writer = await asyncio.open_connection(
                *self.target.endpoint, ssl=client_context(), server_hostname=self.target.sni or ""
            )
        except (OSError, ssl.SSLError):
            return False
        self.extra.append(writer)
        return True

    async def _speaks_plain_smtp(self) -> bool:
        try:
            reader, writer = await asyncio.open_connection(*self.target.endpoint, limit=LINE_LIMIT)
            self.extra.append(writer)
            line = await asyncio.wait_for(reader.readline(), 2.0)
        except (OSError, TimeoutError, ValueError):
            return False
        return line.startswith(b"220")

    async def _handshake(self) -> None:
        assert self.writer is not None
        self.stage, self.in_handshake = "negotiating TLS", True
        await self.writer.start_tls(client_context(), server_hostname=self.target.sni)
        self.in_handshake = False
        self.just_secured = True
        obj = self.writer.get_extra_info("ssl_object")
        cipher = obj.cipher() if obj else None
        self.result = replace(
            self.result,
            tls_version=obj.version() if obj else None,
            cipher=cipher[0] if cipher else None,
            chain=parse_chain(presented_der(obj)),
        )

    async def _after_tls(self, greeted: bool = False) -> None:
        self.stage = "saying EHLO over TLS"
        caps = await self._ehlo(record=greeted)
        mechanisms = auth_mechanisms(caps)
        self.result = replace(self.result, auth_mechanisms=mechanisms)
        if self.result.starttls_offered is None:
            self.result = replace(self.result, starttls_offered=False)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._command("QUIT"), 1.0)
        if not mechanisms:
            raise ProbeFailure(Code.NO_AUTH, "the EHLO reply after TLS names no AUTH mechanism")

    async def _ehlo(self, record: bool = False) -> list[str]:
        self.stage = self.stage if "EHLO" in self.stage else "saying EHLO"
        code, lines = await self._command(f"EHLO {EHLO_NAME}")
        if code != 250:
            reply = lines[0] if lines else ""
            raise ProbeFailure(
                Code.SMTP_PROTOCOL_ERROR, f"EHLO was answered '{code} {reply[:120]}'"
            )
        if record:
            self.result = replace(
                self.result, ehlo_host=lines[0][:255] if lines else None, ehlo=tuple(lines[1:])
            )
        return lines[1:]

    async def _command(self, line: str) -> tuple[int, list[str]]:
        assert self.writer is not None
        self.writer.write(line.encode("ascii") + b"\r\n")
        await self.writer.drain()
        return await self._read_reply()

    async def _reply_or_fail(self, expect: int, head: bytes = b"") -> str:
        code, lines = await self._read_reply(head)
        if code != expect:
            raise ProbeFailure(
                Code.SMTP_PROTOCOL_ERROR,
                f"expected a {expect} greeting, got '{code} {' '.join(lines)[:120]}'",
            )
        return "\n".join(lines)

    async def _read_reply(self, head: bytes = b"") -> tuple[int, list[str]]:
        """Read one SMTP reply line by line, however the lines are split into packets."""
        assert self.reader is not None
        ended = None
        if self.just_secured:
            # TLS 1.3 servers that demand a client certificate send their alert after
            # the handshake; asyncio reports it as a plain end of stream
            ended = ProbeFailure(
                Code.TLS_HANDSHAKE_FAILED,
                "the server ended the TLS session right after the handshake: it "
                "probably demands a client certificate (certificate required)",
            )
        self.just_secured = False
        return await read_reply(self.reader, head, self.stage, ended)


def same(text: str) -> str:
    return text


async def read_reply(
    reader: asyncio.StreamReader,
    head: bytes = b"",
    stage: str = "reading a reply",
    ended_at_once: ProbeFailure | None = None,
    hide: Callable[[str], str] = same,
) -> tuple[int, list[str]]:
    """One SMTP reply, however it is split into packets; bounded in lines and length.

    ``ended_at_once`` is raised when the stream ends before the first line.
    ``hide`` is applied to each whole line before it is kept, cut or quoted.
    """
    lines: list[str] = []
    for _ in range(MAX_REPLY_LINES):
        try:
            raw = head + await reader.readline()
        except ValueError:  # LimitOverrunError surfaces as ValueError from readline
            raise ProbeFailure(
                Code.SMTP_PROTOCOL_ERROR, f"a reply line was longer than {LINE_LIMIT} bytes"
            ) from None
        head = b""
        if not raw and not lines and ended_at_once is not None:
            raise ended_at_once
        if not raw.endswith(b"\n"):
            raise ProbeFailure(
                Code.SMTP_PROTOCOL_ERROR, f"the server closed the connection while {stage}"
            )
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        if len(text) < 3 or not text[:3].isdigit() or text[3:4] not in ("", " ", "-"):
            raise ProbeFailure(
                Code.SMTP_PROTOCOL_ERROR, f"not an SMTP reply: {hide(text)[:60]!r} while {stage}"
            )
        lines.append(hide(text[4:]))
        if text[3:4] != "-":
            return int(text[:3]), lines
    raise ProbeFailure(Code.SMTP_PROTOCOL_ERROR, f"a reply had over {MAX_REPLY_LINES} lines")


def auth_mechanisms(caps: list[str]) -> tuple[str, ...]:
    for cap in caps:
        word, _, rest = cap.upper().replace("=", " ", 1).partition(" ")
        if word == "AUTH":
            return tuple(rest.split())[:32]
    return ()


def presented_der(obj: ssl.SSLObject | None) -> tuple[bytes, ...]:
    """The chain exactly as the server sent it, as DER, unverified.

    Python 3.13 has ``SSLObject.get_unverified_chain()``; 3.11 and 3.12 reach
    the same OpenSSL call on the private ``_sslobj``.
    """
    if obj is None:
        return ()
    getter = getattr(obj, "get_unverified_chain", None)
    raw: list[object] = []
    with contextlib.suppress(ssl.SSLError, ValueError):
        if getter is not None:
            raw = list(getter() or [])
        else:
            inner = getattr(obj, "_sslobj", None)
            if inner is not None and hasattr(inner, "get_unverified_chain"):
                raw = list(inner.get_unverified_chain() or [])
    der: list[bytes] = []
    for item in raw[:16]:  # no real chain is longer; a hostile one could be
        if isinstance(item, bytes):
            der.append(item)
        else:
            with contextlib.suppress(ssl.SSLError, ValueError, AttributeError):
                der.append(item.public_bytes(ssl._ssl.ENCODING_DER))  # type: ignore[attr-defined]
    if not der:
        leaf = obj.getpeercert(binary_form=True)
        if leaf:
            der.append(leaf)
    return tuple(der)


def _ssl_reason(exc: ssl.SSLError) -> str:
    reason = getattr(exc, "reason", None) or str(exc)
    return str(reason).replace("_", " ").lower()[:200]


async def expect(reply: tuple[int, list[str]], code: int) -> None:
    if reply[0] != code:
        text = " ".join(reply[1])[:120]
        raise ProbeFailure(Code.SMTP_PROTOCOL_ERROR, f"expected {code}, got '{reply[0]} {text}'")
