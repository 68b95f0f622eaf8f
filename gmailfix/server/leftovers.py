"""What killed runs leave behind, and its removal (only by whoever holds the lock).

kill -9 cannot be caught: a run killed mid-write leaves its temporary file
(``.NAME.gmailfix-PID``, holding the new config) next to the file it was
replacing, and a run killed before its first change leaves a journal that never
got past ``preparing``. The next apply or rollback removes both, and only what
it recognises as its own: a regular file owned by root with gmailfix's
temporary name and the id of a process that is gone, inside the allowlisted
folders or a journal.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path

from gmailfix.server import allowlist
from gmailfix.server.journal_folder import (
    FOLDER_NAME,
    JOURNALS,
    JSON_LIMIT,
    journals_folder,
    private,
    remove_journal,
)
from gmailfix.server.system import TEMPORARY, Root, ServerError, folder_fd, read_at

SWEEP_DEPTH = 4  # folders below an allowlisted one searched for temporary files
SWEEP_ENTRIES = 20_000


def sweep(root: Root) -> list[str]:
    """Remove what killed runs left (only with the lock held): temporary files
    (``.NAME.gmailfix-PID`` of a process that is gone, regular, root's) in the
    allowlisted folders and in the journals, and journals that never got past
    ``preparing``. Returns what it removed, as shown."""
    removed: list[str] = []
    budget = [SWEEP_ENTRIES]
    for folder, name in allowlist.folders_to_sweep():
        local = root.local(folder)
        try:
            with folder_fd(local, root) as fd:
                depth = SWEEP_DEPTH if name is None else 0
                _sweep_folder(root, fd, local, name, depth, budget, removed)
        except (OSError, ServerError):
            continue  # not there, or not a folder to walk into
    try:
        with journals_folder(root, create=False) as base:
            for entry in sorted(os.listdir(base)):
                if FOLDER_NAME.match(entry):
                    _sweep_journal(root, base, entry, budget, removed)
    except (OSError, ServerError):
        pass
    return removed


def _sweep_folder(
    root: Root,
    fd: int,
    here: Path,
    only: str | None,
    depth: int,
    budget: list[int],
    removed: list[str],
) -> None:
    for name in os.listdir(fd):
        budget[0] -= 1
        if budget[0] < 0:
            return
        match = TEMPORARY.match(name)
        try:
            found = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except OSError:
            continue
        if match and (only is None or match.group("name") == only):
            if _stale(found, int(match.group("pid"))):
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=fd)
                    removed.append(root.shown(here / name))
        elif depth > 0 and only is None and stat.S_ISDIR(found.st_mode):
            try:
                inner = os.open(
                    name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd
                )
            except OSError:
                continue
            try:
                _sweep_folder(root, inner, here / name, None, depth - 1, budget, removed)
            finally:
                os.close(inner)


def _sweep_journal(root: Root, base: int, name: str, budget: list[int], removed: list[str]) -> None:
    folder = root.local(JOURNALS) / name
    fd = private(base, name, root.shown(folder), create=False)
    try:
        _sweep_folder(root, fd, folder, None, 1, budget, removed)
        try:
            found = read_at(fd, "journal.json", root.shown(folder / "journal.json"), JSON_LIMIT)
            data = json.loads(found.data)
            unfinished = isinstance(data, dict) and data.get("state") == "preparing"
        except FileNotFoundError:
            unfinished = True  # killed before it wrote anything
        except (OSError, ServerError, ValueError):
            unfinished = False
    finally:
        os.close(fd)
    if unfinished and remove_journal(root, name):
        removed.append(root.shown(folder))


def _stale(found: os.stat_result, pid: int) -> bool:
    """A temporary file of gmailfix's whose process is gone."""
    if not stat.S_ISREG(found.st_mode) or found.st_uid not in (0, os.geteuid()):
        return False
    if pid == os.getpid() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
