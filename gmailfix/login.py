"""Logging in as Gmail does: the one place a password is used.

Only after a handshake that OpenSSL verified against the same trust anchors, as
Gmail logs in. A server may repeat what it was sent (``535 bad password
'hunter2'``): every line read during a login has the password in each form it
travelled in replaced by ``HIDDEN`` as it is read, before any reply, error or
result is made from it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from gmailfix.smtp import (
    EHLO_NAME,
    LINE_LIMIT,
    ProbeFailure,
    ProbeTarget,
    auth_mechanisms,
    expect,
    probe_limit,
    read_reply,
    same,
    verifying_context,
)
from gmailfix.vocabulary import Code

HIDDEN = "[password hidden]"  # stands where a server repeated the password


@dataclass(frozen=True)
class Credentials:
    """A login, as typed in Gmail's form. The password never appears in a repr."""

    user: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(user={self.user!r}, password=<hidden>)"


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    code: Code | None = None  # AUTH_FAILED, or why the login could not be tried
    reply: str | None = None  # the server's answer, the password hidden (see ``hider``)


async def login(
    target: ProbeTarget, credentials: Credentials, *, trust_pem: bytes, timeout: float
) -> LoginResult:
    """Log in as Gmail does: over TLS that OpenSSL verified for the host as typed.

    Runs only after the diagnosis found the certificate acceptable; if OpenSSL
    refuses it anyway, no password is sent. Nothing in the result holds the
    password in any form it was sent in (``hider``).
    """
    hide = hider(credentials)
    async with probe_limit():
        try:
            async with asyncio.timeout(timeout):
                return await _login(target, credentials, verifying_context(trust_pem), hide)
        except TimeoutError:
            return LoginResult(False, Code.TIMEOUT, f"no answer in {timeout:g} s during login")
        except ssl.SSLCertVerificationError as exc:
            return LoginResult(
                False,
                Code.TLS_HANDSHAKE_FAILED,
                f"OpenSSL refused the certificate: {hide(str(exc.verify_message))}",
            )
        except ProbeFailure as exc:  # made from lines already hidden
            return LoginResult(False, exc.code, str(exc))
        except (ssl.SSLError, OSError, asyncio.IncompleteReadError) as exc:
            return LoginResult(
                False, Code.CONNECTION_FAILED, f"the login connection failed: {hide(str(exc))}"
            )


def hider(credentials: Credentials) -> Callable[[str], str]:
    """A function that replaces the password in ``text`` by ``HIDDEN``: as typed (in any
    case), and as it travelled: AUTH PLAIN's ``\\0user\\0password`` and its base64,
    AUTH LOGIN's base64 of the password, each base64 standard or URL-safe, with or
    without padding. A closure, so no traceback's locals show the pattern."""
    password = credentials.password
    plain = f"\0{credentials.user}\0{password}"
    forms = {password, plain}
    for raw in (password.encode(), plain.encode()):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(raw).decode("ascii")
            forms |= {text, text.rstrip("=")}
    forms.discard("")
    if not forms:
        return same
    # longest first: a form that holds another is replaced whole
    pattern = re.compile(
        "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)), re.IGNORECASE
    )

    def hide(text: str) -> str:
        return pattern.sub(HIDDEN, text)

    return hide


def _plain_login(credentials: Credentials) -> bytes:
    return base64.b64encode(f"\0{credentials.user}\0{credentials.password}".encode())


async def _login(
    target: ProbeTarget, creds: Credentials, ctx: ssl.SSLContext, hide: Callable[[str], str]
) -> LoginResult:
    host, port = target.endpoint
    implicit = target.mode == "implicit"
    reader, writer = await asyncio.open_connection(
        host,
        port,
        limit=LINE_LIMIT,
        ssl=ctx if implicit else None,
        server_hostname=target.host if implicit else None,
    )
    try:
        # the secret lines are written where they are made, never held in a variable
        # that a traceback's locals would show

        async def answer() -> tuple[int, list[str]]:
            await writer.drain()
            return await read_reply(reader, hide=hide)

        async def command(line: bytes) -> tuple[int, list[str]]:
            writer.write(line + b"\r\n")
            return await answer()

        await expect(await answer(), 220)
        if not implicit:
            await expect(await command(f"EHLO {EHLO_NAME}".encode()), 250)
            await expect(await command(b"STARTTLS"), 220)
            await writer.start_tls(ctx, server_hostname=target.host)
        code, lines = await command(f"EHLO {EHLO_NAME}".encode())
        await expect((code, lines), 250)
        offered = set(auth_mechanisms(lines[1:]))
        if "PLAIN" in offered:
            writer.write(b"AUTH PLAIN " + _plain_login(creds) + b"\r\n")
            code, lines = await answer()
        elif "LOGIN" in offered:
            code, lines = await command(b"AUTH LOGIN")
            if code == 334:
                code, lines = await command(base64.b64encode(creds.user.encode()))
            if code == 334:
                writer.write(base64.b64encode(creds.password.encode()) + b"\r\n")
                code, lines = await answer()
        else:
            return LoginResult(
                False,
                Code.AUTH_FAILED,
                "the server offers no login method Gmail uses (PLAIN, LOGIN)",
            )
        reply = f"{code} {' '.join(lines)}"[:200]  # lines hidden whole, before this cut
        with contextlib.suppress(Exception):
            await asyncio.wait_for(command(b"QUIT"), 1.0)
        if code == 235:
            return LoginResult(True, None, reply)
        return LoginResult(False, Code.AUTH_FAILED, reply)
    finally:
        writer.transport.abort()
