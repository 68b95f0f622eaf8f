"""``gmailfix doctor --watch``: what Google's own connection did, from the MTA's log.

No outside tool can see Gmail's check; the mail server can. Exim logs the TLS
error of a failed handshake, but not the name the client asked for (SNI) or
the TLS version of a connection that sent no message. So watching turns on,
as a reversible change through the same journal as ``apply``:

- ``log_selector`` (Debian: ``MAIN_LOG_SELECTOR``) with ``+tls_sni +tls_cipher
  +tls_peerdn`` and ``+smtp_connection +pid +incoming_port``, which tie every
  line to one connection;
- a QUIT and a not-QUIT ACL that write one ``gmailfix-watch`` line per
  connection with SNI, TLS version, cipher, EHLO and PTR names and how it
  ended. Client-chosen values are base64 in that line, so nothing a client
  sends can forge a log line; the ACL text itself is not expanded from client
  data (Exim refuses tainted ACL text).

Then ``follow`` reads the main log as it grows and yields one ``Attempt`` per
connection. A name in the log (EHLO, or the PTR name the MTA looked up) is
only what the client or the log says: ``Attempt.claimed``. Google is
recognised only by its address, through forward-confirmed reverse DNS
(``fcrdns.py``, ``Attempt.confirmed``). Where any local user can add lines
to the log, ``WatchedLog.forgeable`` says so.
Seen here: when the TLS handshake fails on a port with TLS from the first byte
(465), Exim runs no ACL, so only its TLS error line is there (no SNI, no EHLO).

The log is read from one open file: a FIFO or folder at its path is refused
(opened without blocking, then checked), a file that is cut shorter or
rewritten (copytruncate) is read again from its start, and one that is
renamed away is read to its end before the new file is read from its start.

Postfix (watch_postfix.py) needs only ``smtpd_tls_loglevel = 1``; its own
lines are read there into the same ``Attempt``.
"""

from __future__ import annotations

import base64
import binascii
import errno
import os
import re
import stat
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from gmailfix.errors import reason
from gmailfix.server import exim
from gmailfix.server.edit import current_text, file_change, has_block, with_block
from gmailfix.server.fcrdns import Identity, client_address, recognised
from gmailfix.server.mta import Setup, detect
from gmailfix.server.plan import ApplyPlan, exim_check_steps, reload_step
from gmailfix.server.steps import Step
from gmailfix.server.system import Root, Runner, ServerError, run_command, show_path
from gmailfix.vocabulary import Mta

if TYPE_CHECKING:
    from gmailfix.server.watch_postfix import PostfixLogParser

WATCH_TAG = "watch"
SELECTORS = ("+tls_sni", "+tls_cipher", "+tls_peerdn", "+smtp_connection", "+pid", "+incoming_port")
GOOGLE = ("google.com",)
LINE_LIMIT = 8192
VALUE_LIMIT = 255
PENDING_LIMIT = 1000
POLL_SECONDS = 0.2
READ_LIMIT = 16 * 1024 * 1024  # read from the log per poll; the rest waits for the next
ANCHOR = 64  # bytes before the read position, read again to see that the file was not rewritten
WHAT = "TLS logging while watching Gmail's connection"
PROOF = "what the log says about a client proves nothing by itself"
_FIELDS = (
    "end=$ENDED port=$received_port from=[$sender_host_address]:$sender_host_port "
    "ptr=${base64:$sender_host_name} helo=${base64:$sender_helo_name} "
    "sni=${if def:tls_in_sni{${base64:$tls_in_sni}}{-}} tls=${base64:$tls_in_ver} "
    "cipher=${base64:$tls_in_cipher_std} authfail=$authentication_failed "
    "auth=${base64:$authenticated_id}"
)


def acl_line(option: str, ended: str) -> str:
    """An inline ACL that logs one gmailfix-watch line. ``\\$``: Exim expands the option
    once to find the ACL, so the variables must reach the ACL unexpanded."""
    text = _FIELDS.replace("$ENDED", ended).replace("$", "\\$")
    return f"{option} = accept logwrite = gmailfix-watch {text}"


# --- turning logging on -------------------------------------------------------------


def plan_watch(
    root: Root | None = None,
    *,
    runner: Runner = run_command,
    reload: Sequence[str] | None = None,
    mta: Mta | None = None,
) -> ApplyPlan | None:
    """The change that makes the MTA log what ``follow`` needs; None when it already does."""
    root = root or Root()
    setup = detect(root, mta)
    if setup.mta == "postfix":
        from gmailfix.server.watch_postfix import plan_postfix_watch

        return plan_postfix_watch(setup, runner, reload)
    with exim.fresh_config(setup, runner) as (config, failed):
        if config is None:
            raise ServerError(f"Exim's config cannot be read: {failed.last_line if failed else ''}")
        values, ran = exim.read_values(config, runner, root=setup.root)
    if not ran.ok:
        raise ServerError(f"exim -bP failed: {ran.last_line}")
    selector = _selector(values.get("log_selector", ""))
    if selector is None and "gmailfix-watch" in values.get("acl_smtp_notquit", ""):
        return None
    block = _block(setup, values, selector or values.get("log_selector", ""))
    target = setup.macros if setup.debian else setup.config
    assert target is not None
    text = with_block(current_text(target), block, WATCH_TAG, main_section_only=not setup.debian)
    change = file_change(
        target,
        root.shown(target),
        text.encode("utf-8", "surrogateescape"),
        "TLS details of every connection in Exim's log",
    )
    steps, rewritten = exim_check_steps(setup)
    steps.append(Step("files", "check that Exim now logs TLS details"))
    steps.append(reload_step(setup, reload))
    expect = {"log_selector": selector} if selector else {}
    return ApplyPlan(
        None,
        setup,
        (change,),
        tuple(steps),
        rewritten,
        expect,
        kind="watch",
        what=WHAT,
    )


def _selector(current: str) -> str | None:
    """The log_selector with what watching needs added; None when it has it all."""
    words = current.split()
    missing = [s for s in SELECTORS if s not in words]
    return " ".join([*words, *missing]) if missing else None


def _block(setup: Setup, values: dict[str, str], selector: str) -> str:
    name = "MAIN_LOG_SELECTOR" if setup.debian else "log_selector"
    lines = [f"{name} = {selector}"]
    for option, ended in (("acl_smtp_quit", "quit"), ("acl_smtp_notquit", "$smtp_notquit_reason")):
        if not values.get(option) or "gmailfix-watch" in values.get(option, ""):
            lines.append(acl_line(option, ended))
    return "\n".join(lines) + "\n"


def is_logging(root: Root) -> bool:
    """Is gmailfix's TLS logging block in the file the active layout reads?"""
    setup = detect(root, "exim")
    target = setup.macros if setup.debian else setup.config
    return target is not None and has_block(current_text(target), WATCH_TAG)


@dataclass(frozen=True)
class WatchedLog:
    """The MTA's log, and how to read it."""

    path: Path
    mta: Mta
    sni_logged: bool = False  # Postfix: tls_server_sni_maps is set, so the SNI is logged
    forgeable: str | None = None  # a sentence when any local user can add lines to it


def watched_log(root: Root, runner: Runner = run_command, mta: Mta | None = None) -> WatchedLog:
    """The log ``follow`` reads: Exim's main log, or Postfix's maillog_file or mail log.
    ServerError when something other than a file is at its path (a FIFO, a folder)."""
    setup = detect(root, mta)
    if setup.mta == "postfix":
        from gmailfix.server.watch_postfix import postfix_log

        return postfix_log(setup, runner)
    path = _exim_log(setup, runner)
    check_log(path)
    return WatchedLog(path, "exim", forgeable=others_can_write(path))


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


def log_path(root: Root, runner: Runner = run_command, mta: Mta | None = None) -> Path:
    return watched_log(root, runner, mta).path


def _exim_log(setup: Setup, runner: Runner) -> Path:
    """Exim's main log under the root (from log_file_path)."""
    with exim.fresh_config(setup, runner) as (config, failed):
        if config is None:
            raise ServerError(f"Exim's config cannot be read: {failed.last_line if failed else ''}")
        values, _ = exim.read_values(config, runner, ("log_file_path",), root=setup.root)
    path = exim.main_log(values.get("log_file_path", ""))
    if path is None:
        raise ServerError(
            "Exim logs only to syslog here (log_file_path); gmailfix reads a log file"
        )
    return setup.root.file(path)


# --- reading the log ----------------------------------------------------------------


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


_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [-+]\d{4})? (?:\[(?P<pid>\d+)\] )?(?P<text>.*)$"
)
_ADDRESS = r"\[(?P<ip>[0-9A-Fa-f:.]+)\]:(?P<port>\d+)"
_TLS_ERROR = re.compile(
    rf"^TLS error on connection from (?P<who>.*?){_ADDRESS} \((?P<where>[^)]*)\): (?P<why>.*)$"
)
_AUTH_FAILED = re.compile(
    rf"^(?P<auth>\S+) authenticator failed for (?P<who>.*?){_ADDRESS}: (?P<why>.*)$"
)
_AUTH_UNOFFERED = re.compile(rf'^SMTP protocol error in "AUTH\b.*?{_ADDRESS} (?P<why>.*)$')
_WATCH = re.compile(r"^gmailfix-watch (?P<fields>.*)$")


@dataclass
class Pending:
    """What is known so far of a connection that has not ended yet."""

    lines: list[str] = field(default_factory=list)
    facts: dict[str, str | int | bool | None] = field(default_factory=dict)

    def add(self, line: str) -> None:
        if len(self.lines) < 20:
            self.lines.append(line[:LINE_LIMIT].rstrip("\n"))


class LogParser:
    """Turns Exim log lines into Attempts, one per finished connection (memory bounded)."""

    def __init__(self, clients: Sequence[str] = GOOGLE) -> None:
        self.clients = tuple(c.lower().strip(".") for c in clients)
        self.pending: OrderedDict[str, Pending] = OrderedDict()
        self.finished: OrderedDict[str, None] = OrderedDict()

    def feed(self, line: str) -> Attempt | None:
        match = _LINE.match(line[:LINE_LIMIT].rstrip("\n"))
        if match is None:
            return None
        text = match.group("text")
        if found := _WATCH.match(text):
            return self._watch_line(found.group("fields"), line)
        if found := _TLS_ERROR.match(text):
            return self._tls_error(found, line)
        if found := _AUTH_FAILED.match(text):
            self._note(found, f"{found.group('auth')}: {found.group('why')}", line)
        elif found := _AUTH_UNOFFERED.match(text):
            self._note(found, found.group("why"), line)
        return None

    def _record(self, ip: str, port: str) -> tuple[str, Pending]:
        key = f"{ip}:{port}"
        record = self.pending.setdefault(key, Pending())
        record.facts["address"] = ip
        self.pending.move_to_end(key)
        while len(self.pending) > PENDING_LIMIT:
            self.pending.popitem(last=False)
        return key, record

    def _note(self, found: re.Match[str], refused: str, line: str) -> None:
        _, record = self._record(found.group("ip"), found.group("port"))
        record.facts["auth_refused"] = refused[:VALUE_LIMIT]
        record.add(line)

    def _tls_error(self, found: re.Match[str], line: str) -> Attempt | None:
        key, record = self._record(found.group("ip"), found.group("port"))
        record.facts["tls_error"] = found.group("why")[:VALUE_LIMIT]
        record.add(line)
        who = found.group("who").strip()
        if "(" in who:  # an EHLO came first: the not-QUIT ACL writes the last line
            return None
        record.facts.update(ptr=who[:VALUE_LIMIT] or None, ended="tls-error")
        return self._finish(key)  # TLS from the first byte: no ACL runs after this

    def _watch_line(self, text: str, line: str) -> Attempt | None:
        fields = dict(re.findall(r"(\w+)=(\S*)", text))
        address = re.fullmatch(r"\[([0-9A-Fa-f:.]*)\]:(\d*)", fields.get("from", ""))
        if address is None:
            return None
        key, record = self._record(address.group(1), address.group(2))
        if key in self.finished:
            self.pending.pop(key, None)
            return None
        record.add(line)
        port = fields.get("port", "")
        record.facts.update(
            ended=fields.get("end", "")[:40],
            server_port=int(port) if port.isdigit() and int(port) < 65536 else None,
            ptr=_decoded(fields.get("ptr", "")),
            helo=_decoded(fields.get("helo", "")),
            sni=None if fields.get("sni") == "-" else _decoded(fields.get("sni", "")),
            sni_known=True,
            tls_version=_decoded(fields.get("tls", "")),
            cipher=_decoded(fields.get("cipher", "")),
            authenticated=_decoded(fields.get("auth", "")),
        )
        if fields.get("authfail") == "1":
            record.facts.setdefault("auth_refused", "the login was refused")
        return self._finish(key)

    def _finish(self, key: str) -> Attempt:
        record = self.pending.pop(key)
        self.finished[key] = None
        while len(self.finished) > PENDING_LIMIT:
            self.finished.popitem(last=False)
        return Attempt.from_facts(key, record.facts, record.lines, self.clients, "exim")


def _decoded(value: str) -> str | None:
    """A base64 field of the gmailfix-watch line; None when empty or not base64."""
    if not value:
        return None
    try:
        raw = base64.b64decode(value[: 4 * VALUE_LIMIT], validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.decode("utf-8", "replace")[:VALUE_LIMIT] or None


def follow(
    path: Path,
    *,
    start: int | None = None,
    clients: Sequence[str] = GOOGLE,
    deadline: float | None = None,
    stop: Callable[[], bool] | None = None,
    poll: float = POLL_SECONDS,
    mta: Mta = "exim",
    sni_logged: bool = False,
) -> Iterator[Attempt]:
    """Every connection logged in ``path`` from ``start`` (default: the end now) on,
    as it finishes, until ``deadline`` (time.monotonic) or ``stop()`` (asked between
    polls). ``mta`` says whose log it is (``sni_logged``: see WatchedLog).

    A log that is rotated is read on: a file renamed away is read to its end, then
    the new one from its start; a file cut shorter or rewritten in place (copytruncate,
    even when it has grown past the old position by the next poll) is read again
    from its start. ServerError when a FIFO, folder or device is at ``path``.
    """
    parser: LogParser | PostfixLogParser
    if mta == "postfix":
        from gmailfix.server.watch_postfix import PostfixLogParser

        parser = PostfixLogParser(clients, sni_logged=sni_logged)
    else:
        parser = LogParser(clients)
    tail = LogTail(path, start)
    try:
        while True:
            for line in tail.lines():
                attempt = parser.feed(line.decode("utf-8", "replace"))
                if attempt is not None:
                    yield attempt
            if (deadline is not None and time.monotonic() >= deadline) or (stop and stop()):
                return
            time.sleep(poll)
    finally:
        tail.close()


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
