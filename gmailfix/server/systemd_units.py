"""Where systemd keeps units, read as files (so it works on a --root copy too): a unit's
file, whether it is masked (linked to /dev/null), whether ``systemctl enable`` linked a
timer into ``timers.target.wants``."""

from __future__ import annotations

import contextlib
from pathlib import Path

from gmailfix.server.system import Root

UNIT_FOLDERS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
WANTS = "/etc/systemd/system/timers.target.wants"


def unit_file(root: Root, name: str) -> Path | None:
    """The unit's file as systemd finds it first (a link counts), or None."""
    for folder in UNIT_FOLDERS:
        path = root.file(f"{folder}/{name}")
        if path.is_symlink() or path.is_file():
            return path
    return None


def masked(path: Path) -> bool:
    """Is this unit file a link to /dev/null (``systemctl mask``)?"""
    with contextlib.suppress(OSError):
        return path.is_symlink() and str(path.readlink()) == "/dev/null"
    return False


def timer_enabled(root: Root, name: str) -> bool:
    """Did ``systemctl enable`` link the timer into timers.target.wants (and not to
    /dev/null)?"""
    wanted = root.file(f"{WANTS}/{name}")
    return wanted.is_symlink() and not masked(wanted)
