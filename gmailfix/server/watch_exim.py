"""``doctor --watch`` on Exim: TLS logging on, and its log read back.

Exim logs the TLS error of a failed handshake, but not the name the client asked for
(SNI) or the TLS version of a connection that sent no message. So watching turns on,
as a reversible change through the same journal as ``apply``:

- ``log_selector`` (Debian: ``MAIN_LOG_SELECTOR``) with ``+tls_sni +tls_cipher
  +tls_peerdn`` and ``+smtp_connection +pid +incoming_port``, which tie every
  line to one connection;
- a QUIT and a not-QUIT ACL that write one ``gmailfix-watch`` line per
  connection with SNI, TLS version, cipher, EHLO and PTR names and how it
  ended. Client-chosen values are base64 in that line, so nothing a client
  sends can forge a log line; the ACL text itself is not expanded from client
  data (Exim refuses tainted ACL text).

Seen here: when the TLS handshake fails on a port with TLS from the first byte
(465), Exim runs no ACL, so only its TLS error line is there (no SNI, no EHLO).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from gmailfix.server import exim
from gmailfix.server.edit import current_text, file_change, with_block
from gmailfix.server.mta import Setup
from gmailfix.server.plan import ApplyPlan, exim_check_steps, reload_step
from gmailfix.server.steps import Step
from gmailfix.server.system import Runner, ServerError
from gmailfix.server.watch_log import (
    GOOGLE,
    LINE_LIMIT,
    PENDING_LIMIT,
    VALUE_LIMIT,
    WHAT,
    Attempt,
    Pending,
    WatchedLog,
    check_log,
    others_can_write,
)

WATCH_TAG = "watch"


SELECTORS = ("+tls_sni", "+tls_cipher", "+tls_peerdn", "+smtp_connection", "+pid", "+incoming_port")


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


def plan_exim_watch(setup: Setup, runner: Runner, reload: Sequence[str] | None) -> ApplyPlan | None:
    """Exim's log_selector and the two ACL lines; None when Exim logs all that already."""
    root = setup.root
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


def exim_log(setup: Setup, runner: Runner) -> WatchedLog:
    """Exim's main log, checked to be a file (a FIFO or folder is refused)."""
    path = _exim_log(setup, runner)
    check_log(path)
    return WatchedLog(path, "exim", forgeable=others_can_write(path))
