"""The one exception root of gmailfix.

    GmailfixError                anything gmailfix raises on purpose
    ├── InputError               what the user typed cannot be used (exit status 2)
    │   └── ManifestError        a bundle's MANIFEST.json cannot be used (remedies.manifest)
    ├── BundleError              an export could not be written (nothing was left behind; exit 2)
    ├── NoSuchFix                the fix asked for cannot help this server (exit 1)
    │   └── NothingToFix         Gmail accepts the server already and no fix was named
    ├── CannotCheck              nothing can be said from this computer (exit 3)
    ├── LabError                 the local lab could not start (e.g. a port is taken)
    └── ServerError              on the mail server: doctor, apply, rollback, watch (exit 2;
        │                        server.system)
        ├── ChangedSince         rollback: a file was edited since apply (server.journal)
        └── InboundStepPending   apply: the inbound-mail step is not done (server.plan)

Inside a module, a few private exceptions carry a failure to the one place that
turns it into a result (a probe's ProbeFailure, a certificate's Unreadable); none
leaves its module.

Network trouble is never an exception here: a server that cannot be reached is
a diagnosis, reported as a Finding.
"""

from __future__ import annotations

from typing import Literal

Field = Literal["address", "smtp_host", "port", "option"]


class GmailfixError(Exception):
    """Base class; ``str(err)`` is one line a person can read."""


class InputError(GmailfixError):
    """The input is not a usable domain, address, host or option value.

    ``field`` names what was wrong in the wizard's terms; only the CLI turns it
    into a flag name.
    """

    def __init__(self, message: str, field: Field | None = None) -> None:
        super().__init__(message)
        self.field = field


class BundleError(GmailfixError):
    """The bundle could not be written. ``replaceable``: an earlier bundle is in the
    way, and asking to replace it (the CLI's --force, the wizard's box) would."""

    def __init__(self, message: str, *, replaceable: bool = False) -> None:
        super().__init__(message)
        self.replaceable = replaceable


class NoSuchFix(GmailfixError):
    """The fix asked for cannot help this server."""


class NothingToFix(NoSuchFix):
    """Gmail accepts the server: no fix is the best one."""


class CannotCheck(GmailfixError):
    """This computer cannot check the server (no DNS resolver or network)."""


class LabError(GmailfixError):
    """The lab could not start."""


def shorten(text: str, limit: int = 60) -> str:
    """An outside string cut for an error line: never echo 40,000 characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reason(exc: BaseException) -> str:
    """An OS error in a few words (no errno numbers, no traceback)."""
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    if isinstance(exc, RuntimeError):
        return "a symbolic link loop"  # what pathlib's resolve() raises for one
    return str(exc)
