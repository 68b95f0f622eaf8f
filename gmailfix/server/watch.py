"""``gmailfix doctor --watch``: what Google's own connection did, from the MTA's log.

No outside tool can see Gmail's check; the mail server can. This module picks the
MTA's way: the logging change (``plan_watch``), the log (``watched_log``) and its
reader (``follow``), from watch_exim.py or watch_postfix.py; what is read is the same
``Attempt`` either way (watch_log.py).

A name in the log (EHLO, or the PTR name the MTA looked up) is only what the client
or the log says: ``Attempt.claimed``. Google is recognised only by its address,
through forward-confirmed reverse DNS (``fcrdns.py``, ``Attempt.confirmed``). Where
any local user can add lines to the log, ``WatchedLog.forgeable`` says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from gmailfix.server.mta import detect
from gmailfix.server.plan import ApplyPlan
from gmailfix.server.system import Root, Runner, run_command
from gmailfix.server.watch_exim import LogParser, exim_log, plan_exim_watch
from gmailfix.server.watch_log import GOOGLE, POLL_SECONDS, Attempt, LogTail, WatchedLog
from gmailfix.server.watch_postfix import PostfixLogParser, plan_postfix_watch, postfix_log
from gmailfix.vocabulary import Mta


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
        return plan_postfix_watch(setup, runner, reload)
    return plan_exim_watch(setup, runner, reload)


def watched_log(root: Root, runner: Runner = run_command, mta: Mta | None = None) -> WatchedLog:
    """The log ``follow`` reads: Exim's main log, or Postfix's maillog_file or mail log.
    ServerError when something other than a file is at its path (a FIFO, a folder)."""
    setup = detect(root, mta)
    if setup.mta == "postfix":
        return postfix_log(setup, runner)
    return exim_log(setup, runner)


def log_path(root: Root, runner: Runner = run_command, mta: Mta | None = None) -> Path:
    return watched_log(root, runner, mta).path


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
