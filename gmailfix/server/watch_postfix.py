"""``gmailfix doctor --watch`` on Postfix: TLS logging on, and its log read back.

Seen on Postfix 3.7.11 (docs/FACTS.md): with ``smtpd_tls_loglevel = 1`` smtpd logs,
per connection and under one process id, ``connect from NAME[IP]``, then
``Anonymous TLS connection established from NAME[IP]: TLSv1.3 with cipher
...`` or, when the client ends the handshake with an alert,
``SSL_accept error from NAME[IP]: -1`` and ``warning: TLS library problem:
error:0A000418:SSL routines::tlsv1 alert unknown ca:...``; a refused login is
``warning: NAME[IP]: SASL PLAIN authentication failed: ...``; the last line
is ``disconnect from NAME[IP] ehlo=2 starttls=1 quit=1 commands=4``. With
level 0 (Debian's default) none of the TLS lines are there.

Through syslog (no ``maillog_file``), any local user can add lines that look
exactly like these (``logger -t postfix/smtpd[PID] ...``); with
``maillog_file``, so can anyone who may run a set-gid ``postlog`` (Postfix 3.7
makes it set-gid, to reach postlogd). ``WatchedLog.forgeable`` says so.

SNI is logged only when ``tls_server_sni_maps`` is set: `` to NAME`` in the
established line for a name in the map, ``TLS SNI NAME from ... not
matched`` for another; without the map Postfix does not look at it at all.

The EHLO name is not logged, and gmailfix does not make Postfix log it: an
access map's INFO action would, but HELO restrictions run only at RCPT TO
(``smtpd_delay_reject = yes``), which Gmail's check never sends, and
``debug_peer_list`` would log the AUTH exchange. NAME is the client's name
from reverse DNS that Postfix confirmed forwards ("unknown" otherwise), with
Postfix's own resolver, and only in a line anyone may have written: it is a
claim (``Attempt.claimed``), and gmailfix confirms the address itself
(``fcrdns.py``) before it names Google.
"""

from __future__ import annotations

import os
import re
import stat
from collections import OrderedDict
from collections.abc import Sequence

from gmailfix.server.edit import file_change
from gmailfix.server.mta import Setup, parse_settings, port_number
from gmailfix.server.plan import ApplyPlan, reload_step
from gmailfix.server.postfix import postconf_command
from gmailfix.server.postfix_apply import EDITED, Postconf, postconf_on_copy
from gmailfix.server.steps import Step
from gmailfix.server.system import Runner, ServerError, read_limited
from gmailfix.server.watch_log import (
    GOOGLE,
    LINE_LIMIT,
    PENDING_LIMIT,
    PROOF,
    VALUE_LIMIT,
    WHAT,
    Attempt,
    Pending,
    WatchedLog,
    check_log,
    others_can_write,
)

LOGLEVEL = "smtpd_tls_loglevel"
SYSLOG_FILES = ("/var/log/mail.log", "/var/log/maillog")  # Debian's, then Red Hat's
_READ = (LOGLEVEL, "maillog_file", "tls_server_sni_maps", "command_directory")


def _values(setup: Setup, runner: Runner) -> dict[str, str]:
    ran = runner(postconf_command(setup.config, "-x", *_READ))
    if not ran.ok:
        raise ServerError(f"postconf failed: {ran.last_line}")
    return parse_settings(ran.output)


def _level(value: str) -> int:
    return int(value) if value.strip().isdigit() else 0


def _quiet_services(setup: Setup, runner: Runner) -> list[str]:
    """master.cf services (``name/type``) whose own ``-o smtpd_tls_loglevel`` is below 1:
    they would log nothing whatever main.cf says."""
    ran = runner(postconf_command(setup.config, "-P"))
    if not ran.ok:
        return []
    quiet = []
    for line in ran.output.splitlines()[:2000]:
        key, sep, value = line.partition("=")
        parts = key.strip().split("/")
        if sep and len(parts) == 3 and parts[2] == LOGLEVEL and _level(value) < 1:
            quiet.append(f"{parts[0]}/{parts[1]}")
    return quiet[:64]


def plan_postfix_watch(
    setup: Setup, runner: Runner, reload: Sequence[str] | None
) -> ApplyPlan | None:
    """``smtpd_tls_loglevel = 1`` in main.cf, and in master.cf for any service that sets
    its own lower level (postconf on a copy); None when every service logs already.
    Level 1 is the summary: one line per TLS session or failure."""
    calls: list[tuple[str, ...]] = []
    if _level(_values(setup, runner).get(LOGLEVEL, "")) < 1:
        calls.append(("-e", f"{LOGLEVEL} = 1"))
    calls += [("-P", f"{s}/{LOGLEVEL}=1") for s in _quiet_services(setup, runner)]
    if not calls:
        return None

    def edit(postconf: Postconf) -> None:
        for call in calls:
            postconf(*call)

    edited = postconf_on_copy(setup.config, runner, edit)
    changes = tuple(
        file_change(
            setup.config / name,
            setup.root.shown(setup.config / name),
            edited[name],
            "TLS details of every connection in Postfix's log",
        )
        for name in EDITED
        if edited[name] != read_limited(setup.config / name)
    )
    steps = (
        Step(
            "check",
            "Postfix checks its configuration",
            ("postfix", "-c", str(setup.config), "check"),
        ),
        Step("files", "check that Postfix now logs TLS details"),
        reload_step(setup, reload),
    )
    return ApplyPlan(
        None,
        setup,
        changes,
        steps,
        expect={LOGLEVEL: "1"},
        kind="watch",
        what=WHAT,
    )


def postfix_log(setup: Setup, runner: Runner) -> WatchedLog:
    """Postfix's log (maillog_file, else syslog's mail log), whether it names the SNI,
    and whether any local user can add lines to it."""
    values = _values(setup, runner)
    sni_logged = bool(values.get("tls_server_sni_maps"))
    configured = values.get("maillog_file", "")
    if configured:
        path = setup.root.file(configured)
        check_log(path)
        forgeable = others_can_write(path) or _postlog_forgeable(setup, values)
        return WatchedLog(path, "postfix", sni_logged, forgeable)
    for candidate in SYSLOG_FILES:
        path = setup.root.file(candidate)
        check_log(path)
        if path.is_file():
            forgeable = (
                "Postfix logs through syslog, where any local user can add lines that look "
                f"like Postfix's (with the logger command), so {PROOF}."
            )
            return WatchedLog(path, "postfix", sni_logged, forgeable)
    raise ServerError(
        f"Postfix logs through syslog, but neither {' nor '.join(SYSLOG_FILES)} is here (only "
        "the systemd journal?); gmailfix reads a log file: install rsyslog, or set maillog_file"
    )


def _postlog_forgeable(setup: Setup, values: dict[str, str]) -> str | None:
    """postlog(1) set-gid and runnable by everyone (Postfix 3.7 and later install it so):
    any local user can send lines to postlogd, which writes maillog_file."""
    folder = values.get("command_directory") or "/usr/sbin"
    try:
        mode = os.stat(setup.root.file(folder) / "postlog").st_mode
    except (OSError, ValueError, ServerError):
        return None
    if mode & stat.S_ISGID and mode & stat.S_IXOTH:
        return (
            "Any local user can add lines to Postfix's log with its postlog command (set-gid, "
            f"to reach postlogd), so {PROOF}."
        )
    return None


# --- reading the log ----------------------------------------------------------------

_LINE = re.compile(
    r"^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S*) (?P<host>\S+) "
    r"(?P<tag>[\w.-]+(?:/[\w.-]+)*)/smtpd\[(?P<pid>\d{1,10})\]: (?P<text>.*)$"
)
_PEER = r"(?P<name>[^\s\[\]]*)\[(?P<ip>[0-9A-Fa-f:.]{1,45})\](?::(?P<port>\d{1,5}))?"
_CONNECT = re.compile(rf"^connect from {_PEER}$")
_DISCONNECT = re.compile(rf"^disconnect from {_PEER}(?P<counts>(?: [a-z]+=\d+(?:/\d+)?)*)$")
_ESTABLISHED = re.compile(
    rf"^(?:Anonymous|Untrusted|Trusted|Verified) TLS connection established from {_PEER}"
    r"(?: to (?P<sni>\S+))?: (?P<version>\S+) with cipher (?P<cipher>\S+)"
)
_SNI_UNMATCHED = re.compile(rf"^TLS SNI (?P<sni>\S+) from {_PEER} not matched")
_ACCEPT_ERROR = re.compile(rf"^SSL_accept error from {_PEER}: (?P<why>.*)$")
_LIBRARY = re.compile(r"^warning: TLS library problem: (?P<what>.*)$")
_AUTH_FAILED = re.compile(
    rf"^warning: {_PEER}: SASL (?P<mech>\S+) authentication failed: (?P<why>.*)$"
)
_ENDED = re.compile(
    rf"^(?P<how>lost connection|timeout|too many errors) after (?P<command>\S+)"
    rf"(?: \(\d+ bytes\))? from {_PEER}$"
)


class PostfixLogParser:
    """Turns Postfix log lines into Attempts, one per finished connection (memory bounded).

    smtpd serves one connection at a time, so its process id (per host) ties the
    lines of one connection together, from ``connect from`` to ``disconnect from``.
    ``sni_logged``: tls_server_sni_maps is set, so a session without a name in the
    log sent none.
    """

    def __init__(self, clients: Sequence[str] = GOOGLE, *, sni_logged: bool = False) -> None:
        self.clients = tuple(c.lower().strip(".") for c in clients)
        self.sni_logged = sni_logged
        self.pending: OrderedDict[str, Pending] = OrderedDict()

    def feed(self, line: str) -> Attempt | None:
        line = line.rstrip("\n")
        if len(line) > LINE_LIMIT:
            return None  # not a line of Postfix's: its own are far shorter
        match = _LINE.match(line)
        if match is None:
            return None
        key, text = f"{match.group('host')} {match.group('pid')}", match.group("text")
        if found := _CONNECT.match(text):
            self._start(key, found, match.group("tag"), line)
            return None
        record = self.pending.get(key)
        if record is None:
            return None  # a connection that began before the watch did
        record.add(line)
        if found := _DISCONNECT.match(text):
            return self._finish(key, found.group("counts"))
        self._note(record.facts, text)
        return None

    def _start(self, key: str, found: re.Match[str], tag: str, line: str) -> None:
        self.pending.pop(key, None)  # an earlier connection whose end is not in the log
        record = self.pending[key] = Pending()
        while len(self.pending) > PENDING_LIMIT:
            self.pending.popitem(last=False)
        name, port = found.group("name"), found.group("port")
        record.facts.update(
            address=found.group("ip"),
            client=found.group("ip") + (f":{port}" if port else ""),
            ptr=name[:VALUE_LIMIT] if name and name != "unknown" else None,
            server_port=_service_port(tag),
        )
        record.add(line)

    def _note(self, facts: dict[str, str | int | bool | None], text: str) -> None:
        if found := _ESTABLISHED.match(text):
            facts.update(
                tls_version=found.group("version")[:VALUE_LIMIT],
                cipher=found.group("cipher")[:VALUE_LIMIT],
            )
            if found.group("sni"):
                facts.update(sni=found.group("sni")[:VALUE_LIMIT], sni_known=True)
            elif self.sni_logged and "sni" not in facts:
                facts["sni_known"] = True  # the map was asked for no name: none was sent
        elif found := _SNI_UNMATCHED.match(text):
            facts.update(sni=found.group("sni")[:VALUE_LIMIT], sni_known=True)
        elif found := _ACCEPT_ERROR.match(text):
            facts["accept_error"] = found.group("why")[:VALUE_LIMIT]
        elif (found := _LIBRARY.match(text)) and "tls_version" not in facts:
            facts["tls_error"] = _openssl_reason(found.group("what"))
        elif found := _AUTH_FAILED.match(text):
            why = found.group("why").split(", sasl_username=")[0]  # the name is the client's
            facts["auth_refused"] = f"{found.group('mech')}: {why}"[:VALUE_LIMIT]
        elif found := _ENDED.match(text):
            facts["ended"] = f"{found.group('how')} after {found.group('command')}"[:40]

    def _finish(self, key: str, counts: str) -> Attempt:
        record = self.pending.pop(key)
        facts = record.facts
        said = dict(re.findall(r"([a-z]+)=(\d+(?:/\d+)?)", counts))
        if said.get("quit") == "1":
            facts["ended"] = "quit"
        logins = said.get("auth", "0").split("/")[0]
        if logins.isdigit() and int(logins) > 0:
            facts.pop("auth_refused", None)  # a later try logged in
        if "accept_error" in facts and "tls_error" not in facts:
            why = str(facts["accept_error"])
            facts["tls_error"] = why if not why.lstrip("-").isdigit() else "the handshake failed"
        client = facts.get("client")
        return Attempt.from_facts(
            client if isinstance(client, str) else "", facts, record.lines, self.clients, "postfix"
        )


def _service_port(tag: str) -> int | None:
    """``postfix/submission`` (master.cf's ``-o syslog_name=postfix/submission``): 587.
    A plain ``postfix`` tag names no service: the port cannot be told."""
    parts = tag.split("/")
    return port_number(parts[-1]) if len(parts) > 1 else None


def _openssl_reason(text: str) -> str:
    """``error:0A000418:SSL routines::tlsv1 alert unknown ca:FILE:LINE:SSL alert number 48:``
    (OpenSSL 3; 1.1 names the function between the colons): its reason and alert."""
    parts = text.split(":")
    if len(parts) < 5 or parts[0] != "error":
        return text[:VALUE_LIMIT]
    reason = parts[4].strip()
    alert = next((p.strip() for p in parts[7:] if p.strip().startswith("SSL alert number")), "")
    return (f"{reason} ({alert})" if alert else reason)[:VALUE_LIMIT]
