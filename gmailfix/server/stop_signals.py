"""SIGHUP and SIGTERM stop a command the way Ctrl+C does, so its clean-up runs.

By default both end Python at once, and no ``finally`` runs: a dropped SSH
session (SIGHUP) or a service manager stopping the command (SIGTERM) would
leave a temporary change, such as the watch's logging, in the MTA's config
for good. Inside ``stop_signals()`` each raises ``Stopped``, a
KeyboardInterrupt, so the code that undoes things on Ctrl+C undoes them on
these too. While a change is being made or undone (``held()``), SIGINT,
SIGHUP and SIGTERM wait until it is complete, so it is never left halfway.

Handlers can only be set in the main thread; elsewhere (a test running a
command in a thread) ``stop_signals()`` changes nothing.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

CAUGHT = (signal.SIGINT, signal.SIGHUP, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """SIGHUP or SIGTERM arrived: stop as for Ctrl+C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """What the handlers do: raise at once, or note the signal while a change is held."""

    def __init__(self) -> None:
        self.holding = 0
        self.pending: int | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.holding:
            self.pending = self.pending or signum
            return
        raise _stop(signum)

    @contextlib.contextmanager
    def held(self, *, stop_after: bool = True) -> Iterator[None]:
        """Signals that arrive inside wait; after it (when nothing was raised inside, and
        ``stop_after``), the first of them stops the command."""
        self.holding += 1
        try:
            yield
        finally:
            self.holding -= 1
        if stop_after and not self.holding and self.pending is not None:
            signum, self.pending = self.pending, None
            raise _stop(signum)


def _stop(signum: int) -> KeyboardInterrupt:
    return KeyboardInterrupt() if signum == signal.SIGINT else Stopped(signum)


@contextlib.contextmanager
def stop_signals() -> Iterator[StopSignals]:
    """Within: SIGHUP and SIGTERM raise ``Stopped`` (SIGINT still KeyboardInterrupt);
    the handlers before are put back afterwards."""
    signals = StopSignals()
    if threading.current_thread() is not threading.main_thread():
        yield signals
        return
    before = {signum: signal.getsignal(signum) for signum in CAUGHT}
    try:
        for signum in CAUGHT:
            if before[signum] is not signal.SIG_IGN:  # nohup: a hang-up is to be ignored
                signal.signal(signum, signals.handle)
        yield signals
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def held_signals() -> Iterator[None]:
    """Nothing may stop what runs inside (files being put back): SIGINT, SIGHUP and
    SIGTERM wait, and the first that came stops the command after it."""
    with stop_signals() as signals, signals.held():
        yield
