"""Reading an MTA's log for ``doctor --watch``, whichever MTA wrote it: what one
connection did (``Attempt``), the log file followed as it grows (``LogTail``: one open
descriptor, a FIFO or folder refused, copytruncate and rotation read on), whether any
local user could have written it, and the words for the report. Exim's lines are read
in watch_exim.py, Postfix's in watch_postfix.py; watch.py picks one."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from gmailfix.errors import reason
from gmailfix.server.fcrdns import Identity, client_address, recognised
from gmailfix.server.system import ServerError, show_path
from gmailfix.vocabulary import Mta

GOOGLE = ("google.com",)


LINE_LIMIT = 8192


VALUE_LIMIT = 255


PENDING_LIMIT = 1000


POLL_SECONDS = 0.2


READ_LIMIT = 16 * 1024 * 1024  # read from the log per poll; the rest waits for the next


ANCHOR = 64  # bytes before the read position, read again to see that the file was not rewritten


WHAT = "TLS logging while watching Gmail's connection"


PROOF = "what the log says about a client proves nothing by itself"


@dataclass(frozen=True)
class WatchedLog:
    """The MTA's log, and how to read it."""

    path: Path
    mta: Mta
    sni_logged: bool = False  # Postfix: tls_server_sni_maps is set, so the SNI is logged
    forgeable: str | None = None  # a sentence when any local user can add lines to it


def check_log(path: Path) -> None:
    """ServerError when ``path`` is there but is not a regular file (opened without
    blocking, so a FIFO cannot hang the check); a missing log is fine (made later)."""
    try:
        fd = open_log(path)
    except FileNotFoundError:
        return
    os.close(fd)


def open_log(path: Path) -> int:
    """A descriptor of the regular file at ``path`` (symbolic links followed: logs are
    often links); ServerError for a FIFO, folder, device or socket, or a file that
    cannot be read; FileNotFoundError when nothing is there."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket
            raise ServerError(f"{show_path(path)} is a socket, not a log file") from None
        raise ServerError(f"cannot read the log {show_path(path)}: {reason(exc)}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise ServerError(f"{show_path(path)} is {_kind(mode)}, not a log file gmailfix can read")
    return fd


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def others_can_write(path: Path) -> str | None:
    """A sentence when any local user can write ``path``, or replace it (its folder is
    writable by everyone, without the sticky bit); None otherwise."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = 0
    if mode & stat.S_IWOTH:
        return (
            f"Any local user can write to {show_path(path)} (it is writable by everyone), "
            f"so {PROOF}."
        )
    try:
        folder = os.stat(path.parent).st_mode
    except OSError:
        return None
    if folder & stat.S_IWOTH and not folder & stat.S_ISVTX:
        return (
            f"Any local user can replace {show_path(path)} (its folder is writable by "
            f"everyone), so {PROOF}."
        )
    return None


Verdict = Literal["confirmed", "claimed", "other"]


@dataclass(frozen=True)
class Attempt:
    """One client connection as the MTA's log tells it.

    ``claimed``: a watched domain that the log's names for the client (EHLO, or
    the PTR name the MTA logged) are under; only what the client or the log
    says. ``identity``: what DNS says about its address (``fcrdns.py``), once
    asked (``with_identity``); only that can confirm who it is.
    """

    client: str  # address:port (Postfix: the address; its log has no client port)
    server_port: int | None = None
    ptr: str | None = None  # the client's name from reverse DNS, when the MTA looked it up
    helo: str | None = None  # the name it gave in EHLO (not in Postfix's log)
    sni: str | None = None  # the name it asked for in TLS (SNI)
    sni_known: bool = False  # False: the log cannot say (TLS failed before any ACL ran)
    tls_version: str | None = None
    cipher: str | None = None
    ended: str = ""  # quit, tls-failed, connection-lost, ... or tls-error
    tls_error: str | None = None
    auth_refused: str | None = None
    authenticated: str | None = None
    claimed: str | None = None  # the watched domain its logged names are under (not proof)
    lines: tuple[str, ...] = field(default_factory=tuple)
    mta: Mta = "exim"  # whose log it came from
    address: str | None = None  # the client's IP address as logged (None: not an address)
    identity: Identity | None = None  # what DNS says about ``address``

    @classmethod
    def from_facts(
        cls,
        client: str,
        facts: Mapping[str, str | int | bool | None],
        lines: Sequence[str],
        clients: Sequence[str],
        mta: Mta,
    ) -> Attempt:
        """An Attempt from what a log parser gathered: only values of the right type."""

        def text(name: str) -> str | None:
            value = facts.get(name)
            return value if isinstance(value, str) else None

        port = facts.get("server_port")
        names = [n for n in (text("helo"), text("ptr")) if n]
        return cls(
            client=client,
            server_port=port if isinstance(port, int) and not isinstance(port, bool) else None,
            ptr=text("ptr"),
            helo=text("helo"),
            sni=text("sni"),
            sni_known=facts.get("sni_known") is True,
            tls_version=text("tls_version"),
            cipher=text("cipher"),
            ended=text("ended") or "",
            tls_error=text("tls_error"),
            auth_refused=text("auth_refused"),
            authenticated=text("authenticated"),
            claimed=next((d for n in names if (d := recognised(n, clients))), None),
            lines=tuple(lines),
            mta=mta,
            address=client_address(text("address")),
        )

    def with_identity(self, identity: Identity | None) -> Attempt:
        return replace(self, identity=identity)

    @property
    def confirmed(self) -> str | None:
        """The watched domain DNS confirms the client's address is in (FCrDNS), if any."""
        identity = self.identity
        if identity is None or identity.address != self.address:
            return None
        return identity.domain

    @property
    def verdict(self) -> Verdict:
        """confirmed: DNS says it is a watched domain's; claimed: only its names say so."""
        if self.confirmed is not None:
            return "confirmed"
        return "claimed" if self.claimed is not None else "other"

    @property
    def stopped(self) -> str:
        """Where it stopped: tls-refused, tls-failed, auth-refused, quit, dropped."""
        if self.tls_error is not None and self.tls_version is None:
            return "tls-refused" if refusal_words(self.tls_error) else "tls-failed"
        if self.auth_refused is not None:
            return "auth-refused"
        if self.ended == "quit":
            return "quit"
        return "dropped"

    @property
    def name(self) -> str:
        return self.helo or self.ptr or self.client


def refusal_words(error: str) -> bool:
    """The TLS library's words when the client ended the handshake with an alert (seen
    here with a client that refuses the certificate: GnuTLS in Exim, 'CA is unknown' over
    TLS 1.2, 'Decryption has failed.' over TLS 1.3; OpenSSL in Postfix, 'tlsv1 alert
    unknown ca' over both)."""
    lowered = error.lower()
    return any(
        w in lowered for w in ("alert", "ca is unknown", "certificate", "decryption has failed")
    )


@dataclass
class Pending:
    """What is known so far of a connection that has not ended yet."""

    lines: list[str] = field(default_factory=list)
    facts: dict[str, str | int | bool | None] = field(default_factory=dict)

    def add(self, line: str) -> None:
        if len(self.lines) < 20:
            self.lines.append(line[:LINE_LIMIT].rstrip("\n"))


class LogTail:
    """A log file followed as it grows, from one open descriptor at a time.

    The file is known by its device and inode. Before each read, the bytes just
    before the position are read again (``ANCHOR``): a file cut shorter, or cut
    and grown again between two reads (copytruncate), no longer has them there,
    and is read from its start. When the path names another file (rotated), the
    old one is read to its end first, so a line written just before the
    rotation is not lost.
    """

    def __init__(self, path: Path, start: int | None = None) -> None:
        self.path = path
        self.start = start
        self.fd: int | None = None
        self.identity: tuple[int, int] | None = None
        self.offset = 0
        self.anchor = b""
        self.partial = b""

    def lines(self) -> list[bytes]:
        """The complete lines written since the last call, oldest first."""
        found = self._more() if self.fd is not None else []
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            if self.start is None:
                self.start = 0  # a log made later is read from its start
            return found
        except OSError as exc:
            raise ServerError(
                f"cannot read the log {show_path(self.path)}: {reason(exc)}"
            ) from None
        if self.fd is not None and (now.st_dev, now.st_ino) == self.identity:
            return found
        try:
            fd = open_log(self.path)
        except FileNotFoundError:
            return found
        opened = os.fstat(fd)
        if self.fd is None:
            self.offset = opened.st_size if self.start is None else self.start
            self.anchor = self._anchor_at(fd, self.offset)
        else:  # another file at the path now: read from its start
            os.close(self.fd)
            self.offset, self.anchor, self.partial = 0, b"", b""
        self.fd, self.identity = fd, (opened.st_dev, opened.st_ino)
        return found + self._more()

    def _more(self) -> list[bytes]:
        assert self.fd is not None
        size = os.fstat(self.fd).st_size
        if size < self.offset or self._anchor_at(self.fd, self.offset) != self.anchor:
            self.offset, self.anchor, self.partial = 0, b"", b""  # cut, or rewritten
        data = b""
        while len(data) < READ_LIMIT:
            chunk = os.pread(self.fd, min(1024 * 1024, READ_LIMIT - len(data)), self.offset)
            if not chunk:
                break
            data += chunk
            self.offset += len(chunk)
        if not data:
            return []
        self.anchor = (self.anchor + data)[-ANCHOR:]
        *complete, rest = (self.partial + data).split(b"\n")
        self.partial = rest[-LINE_LIMIT:]
        return complete

    @staticmethod
    def _anchor_at(fd: int, offset: int) -> bytes:
        begin = max(0, offset - ANCHOR)
        return os.pread(fd, offset - begin, begin) if offset > begin else b""

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def log_size(path: Path) -> int:
    """Where following ``path`` starts to see only what comes next."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def describe(attempt: Attempt) -> list[str]:
    """What the connection did, in plain words, one fact per line (outside text raw:
    the caller cleans it for its screen)."""
    mta = "Postfix" if attempt.mta == "postfix" else "Exim"
    names = ", ".join(n for n in (attempt.helo, attempt.ptr) if n)
    port = f" on port {attempt.server_port}" if attempt.server_port else ""
    lines = [f"{_who(attempt)} ({names or attempt.client}){port}, from {attempt.client}:"]
    identity = attempt.identity
    if attempt.confirmed is not None and identity is not None and identity.confirmed:
        lines.append(
            f"  confirmed by DNS: {identity.address} is {identity.confirmed}, "
            "which leads back to it"
        )
    elif attempt.claimed is not None:
        lines.append(f"  not confirmed: {_unconfirmed(attempt, attempt.claimed)}")
    if not attempt.sni_known:
        lines.append(f"  name asked for (SNI): not in the log ({_sni_unknown(attempt)})")
    elif attempt.sni:
        lines.append(f"  name asked for (SNI): {attempt.sni}")
    else:
        lines.append("  name asked for (SNI): none sent")
    if attempt.tls_version:
        lines.append(f"  TLS: {attempt.tls_version}, cipher {attempt.cipher or 'not logged'}")
    elif attempt.tls_error is None and attempt.stopped == "quit":
        lines.append("  TLS: not started")
    else:
        lines.append("  TLS: the handshake did not finish")
    lines.append("  " + _stopped_words(attempt, mta))
    return lines


def party(domain: str) -> str:
    """A watched domain in words: Google for google.com."""
    return "Google" if domain in GOOGLE else domain


def _who(attempt: Attempt) -> str:
    if attempt.confirmed is not None:
        return party(attempt.confirmed)
    if attempt.claimed is not None:
        return f"A client that calls itself {party(attempt.claimed)} (not confirmed)"
    return "A client"


def _unconfirmed(attempt: Attempt, domain: str) -> str:
    if attempt.address is None:
        return "the log gives no address for it to check in DNS"
    if attempt.identity is None or attempt.identity.address != attempt.address:
        return "its address was not checked in DNS"
    return attempt.identity.why_not(domain)


def _sni_unknown(attempt: Attempt) -> str:
    if attempt.mta == "postfix":
        return "Postfix logs it only when it picks a certificate by name, tls_server_sni_maps"
    return "TLS failed before Exim could note it"


def _stopped_words(attempt: Attempt, mta: str) -> str:
    stopped = attempt.stopped
    if stopped == "tls-refused":
        return (
            f"stopped in the TLS handshake: {mta} says '{_said(attempt.tls_error)}'. The client ended "
            "it, which is what a client does when it refuses the certificate"
        )
    if stopped == "tls-failed":
        return f"stopped in the TLS handshake: {mta} says '{_said(attempt.tls_error)}'"
    if stopped == "auth-refused":
        return f"got through TLS, then the login (AUTH) failed: {attempt.auth_refused}"
    if stopped == "quit" and attempt.tls_version is None:
        return "said goodbye (QUIT) without starting TLS"
    if stopped == "quit":
        done = f", logged in as {attempt.authenticated}" if attempt.authenticated else ""
        return f"got through TLS{done} and said goodbye (QUIT)"
    return f"the connection ended without QUIT ({attempt.ended or 'dropped'})"


def _said(text: str | None) -> str:
    return (text or "").rstrip(". ")
