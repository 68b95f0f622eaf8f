"""SMTP probes: connect, greet, STARTTLS or implicit TLS, capture the chain.

A probe never verifies the certificate (it must capture bad ones) and never
raises: every outcome, good or bad, is a ``ProbeResult`` whose ``error_code``
is a finding code. The whole probe is bounded by one deadline, so a server
that sends one byte per second still ends on time.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from cryptography import x509

from gmailfix.inputs import is_ip_address

Mode = Literal["starttls", "implicit"]
DEFAULT_MODE: Mapping[int, Mode] = {587: "starttls", 25: "starttls", 465: "implicit"}
EHLO_NAME = "gmailfix.invalid"
LINE_LIMIT = 8192  # RFC 5321 allows 512 per reply line; anything near this is hostile
MAX_REPLY_LINES = 200
Endpoint = tuple[str, int]
ConnectMap = Mapping[Endpoint, Endpoint]


@dataclass(frozen=True)
class ProbeTarget:
    """Where to probe: the name as typed, the port, the TLS mode and the SNI to send."""

    host: str
    port: int
    mode: Mode
    sni: str | None
    addresses: tuple[str, ...] = ()
    connect_to: Endpoint | None = None  # --connect override (lab, tests)


@dataclass(frozen=True)
class ProbeResult:
    host: str
    port: int
    mode: Mode
    sni: str | None
    address: str | None = None
    banner: str | None = None
    starttls_offered: bool | None = None
    tls_version: str | None = None
    cipher: str | None = None
    chain: tuple[x509.Certificate, ...] = ()
    auth_mechanisms: tuple[str, ...] = ()
    auth_before_tls: tuple[str, ...] = ()
    error_code: str | None = None
    error: str | None = None
    elapsed: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def tls_ok(self) -> bool:
        return bool(self.chain) and self.error_code in (None, "no-auth")


class ProbeFailure(Exception):
    """Internal: ends a probe with a finding code and a sentence."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


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


async def probe(target: ProbeTarget, *, timeout: float = 10.0) -> ProbeResult:
    """Run one probe to completion or until ``timeout`` seconds have passed."""
    session = _Session(target)
    start = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            await session.run(deadline=start + timeout)
    except TimeoutError:
        session.fail("timeout", f"no answer in {timeout:g} s while {session.stage}")
    except ProbeFailure as exc:
        session.fail(exc.code, str(exc))
    except ssl.SSLError as exc:
        session.fail(
            "tls-handshake-failed", f"TLS failed while {session.stage}: {_ssl_reason(exc)}"
        )
    except (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError) as exc:
        code = "tls-handshake-failed" if session.in_handshake else "smtp-protocol-error"
        session.fail(code, f"the server closed the connection while {session.stage} ({exc!r})")
    except OSError as exc:
        session.fail("connection-failed", f"{exc.strerror or exc} while {session.stage}")
    finally:
        session.close()
    return replace(session.result, elapsed=time.monotonic() - start)


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
        self.result = ProbeResult(target.host, target.port, target.mode, target.sni)

    def fail(self, code: str, message: str) -> None:
        if self.result.error_code is None:
            self.result = replace(self.result, error_code=code, error=message)

    def close(self) -> None:
        for writer in [self.writer, *self.extra]:
            if writer is not None:
                writer.transport.abort()

    async def run(self, deadline: float) -> None:
        self.reader, self.writer, address = await self._connect()
        self.result = replace(self.result, address=address)
        if self.target.mode == "implicit":
            await self._implicit()
        else:
            await self._starttls(deadline)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str]:
        target = self.target
        if target.connect_to is not None:
            endpoints = [target.connect_to]
        elif is_ip_address(target.host):
            endpoints = [(target.host, target.port)]
        else:
            endpoints = [(a, target.port) for a in target.addresses]
        if not endpoints:
            raise ProbeFailure("connection-failed", f"{target.host} has no address in DNS")
        last: OSError | None = None
        for host, port in endpoints:
            try:
                reader, writer = await asyncio.open_connection(host, port, limit=LINE_LIMIT)
            except OSError as exc:
                last = exc
                continue
            return reader, writer, host
        assert last is not None
        reason = last.strerror or str(last)
        raise ProbeFailure("connection-failed", f"cannot connect to port {target.port}: {reason}")

    async def _starttls(self, deadline: float) -> None:
        self.stage = "waiting for the greeting"
        banner = await self._greeting(deadline)
        self.result = replace(self.result, banner=banner)
        caps = await self._ehlo()
        offered = "STARTTLS" in caps
        self.result = replace(
            self.result, starttls_offered=offered, auth_before_tls=_auth_mechanisms(caps)
        )
        if not offered:
            raise ProbeFailure("no-starttls", "the server's EHLO reply does not offer STARTTLS")
        self.stage = "asking for STARTTLS"
        code, lines = await self._command("STARTTLS")
        if code != 220:
            reply = f"{code} {lines[-1] if lines else ''}".strip()
            raise ProbeFailure("starttls-refused", f"the server answered STARTTLS with '{reply}'")
        await self._handshake()
        await self._after_tls()

    async def _implicit(self) -> None:
        try:
            await self._handshake()
        except (ssl.SSLError, ConnectionResetError, asyncio.IncompleteReadError) as exc:
            if await self._speaks_plain_smtp():
                raise ProbeFailure(
                    "wrong-tls-mode",
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
                "wrong-tls-mode",
                f"port {self.target.port} expects TLS from the first byte (SSL), not STARTTLS",
            )
        head = await first
        if not head:
            raise ProbeFailure("smtp-protocol-error", "the server closed the connection at once")
        return await self._reply_or_fail(expect=220, head=head)

    async def _speaks_implicit_tls(self) -> bool:
        try:
            _, writer = await asyncio.open_connection(
                *self._endpoint(), ssl=client_context(), server_hostname=self.target.sni or ""
            )
        except (OSError, ssl.SSLError):
            return False
        self.extra.append(writer)
        return True

    async def _speaks_plain_smtp(self) -> bool:
        try:
            reader, writer = await asyncio.open_connection(*self._endpoint(), limit=LINE_LIMIT)
            self.extra.append(writer)
            line = await asyncio.wait_for(reader.readline(), 2.0)
        except (OSError, TimeoutError, ValueError):
            return False
        return line.startswith(b"220")

    def _endpoint(self) -> Endpoint:
        address = self.result.address or self.target.host
        return self.target.connect_to or (address, self.target.port)

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
            chain=_presented_chain(obj),
        )

    async def _after_tls(self, greeted: bool = False) -> None:
        self.stage = "saying EHLO over TLS"
        caps = await self._ehlo()
        mechanisms = _auth_mechanisms(caps)
        self.result = replace(self.result, auth_mechanisms=mechanisms)
        if self.result.starttls_offered is None:
            self.result = replace(self.result, starttls_offered=False)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._command("QUIT"), 1.0)
        if not mechanisms:
            raise ProbeFailure("no-auth", "the EHLO reply after TLS names no AUTH mechanism")

    async def _ehlo(self) -> list[str]:
        self.stage = self.stage if "EHLO" in self.stage else "saying EHLO"
        code, lines = await self._command(f"EHLO {EHLO_NAME}")
        if code != 250:
            reply = lines[0] if lines else ""
            raise ProbeFailure("smtp-protocol-error", f"EHLO was answered '{code} {reply}'")
        return [line.upper() for line in lines[1:]]

    async def _command(self, line: str) -> tuple[int, list[str]]:
        assert self.writer is not None
        self.writer.write(line.encode("ascii") + b"\r\n")
        await self.writer.drain()
        return await self._read_reply()

    async def _reply_or_fail(self, expect: int, head: bytes = b"") -> str:
        code, lines = await self._read_reply(head)
        if code != expect:
            raise ProbeFailure(
                "smtp-protocol-error",
                f"expected a {expect} greeting, got '{code} {' '.join(lines)[:120]}'",
            )
        return " ".join(lines)

    async def _read_reply(self, head: bytes = b"") -> tuple[int, list[str]]:
        """Read one SMTP reply line by line, however the lines are split into packets."""
        assert self.reader is not None
        lines: list[str] = []
        for _ in range(MAX_REPLY_LINES):
            try:
                raw = head + await self.reader.readline()
            except ValueError:  # LimitOverrunError surfaces as ValueError from readline
                raise ProbeFailure(
                    "smtp-protocol-error", f"a reply line was longer than {LINE_LIMIT} bytes"
                ) from None
            head = b""
            if not raw and self.just_secured:
                # TLS 1.3 servers that demand a client certificate send their alert after
                # the handshake; asyncio reports it as a plain end of stream
                raise ProbeFailure(
                    "tls-handshake-failed",
                    "the server ended the TLS session right after the handshake: it "
                    "probably demands a client certificate (certificate required)",
                )
            self.just_secured = False
            if not raw.endswith(b"\n"):
                raise ProbeFailure(
                    "smtp-protocol-error", f"the server closed the connection while {self.stage}"
                )
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if len(text) < 3 or not text[:3].isdigit() or text[3:4] not in ("", " ", "-"):
                raise ProbeFailure(
                    "smtp-protocol-error", f"not an SMTP reply: {text[:60]!r} while {self.stage}"
                )
            lines.append(text[4:])
            if text[3:4] != "-":
                return int(text[:3]), lines
        raise ProbeFailure("smtp-protocol-error", f"a reply had over {MAX_REPLY_LINES} lines")


def _auth_mechanisms(caps: list[str]) -> tuple[str, ...]:
    for cap in caps:
        word, _, rest = cap.replace("=", " ", 1).partition(" ")
        if word == "AUTH":
            return tuple(rest.split())
    return ()


def _presented_chain(obj: ssl.SSLObject | None) -> tuple[x509.Certificate, ...]:
    """The chain exactly as the server sent it, unverified.

    Python 3.13 has ``SSLObject.get_unverified_chain()``; 3.11 and 3.12 reach
    the same OpenSSL call on the private ``_sslobj``.
    """
    if obj is None:
        return ()
    getter = getattr(obj, "get_unverified_chain", None)
    raw: list[object] = []
    if getter is not None:
        raw = list(getter() or [])
    else:
        inner = getattr(obj, "_sslobj", None)
        if inner is not None and hasattr(inner, "get_unverified_chain"):
            raw = list(inner.get_unverified_chain() or [])
    chain = []
    for item in raw:
        der = item if isinstance(item, bytes) else item.public_bytes(ssl._ssl.ENCODING_DER)  # type: ignore[attr-defined]
        chain.append(x509.load_der_x509_certificate(der))
    if not chain:
        leaf = obj.getpeercert(binary_form=True)
        if leaf:
            chain.append(x509.load_der_x509_certificate(leaf))
    return tuple(chain)


def _ssl_reason(exc: ssl.SSLError) -> str:
    reason = getattr(exc, "reason", None) or str(exc)
    return str(reason).replace("_", " ").lower()
