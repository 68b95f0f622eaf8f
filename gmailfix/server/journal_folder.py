"""Where journals live: ``ROOT/var/lib/gmailfix``, a folder of root's alone.

It and ``journal/`` below it are made 0700, reached one folder at a time and
never through a link; one that another user owns, or that others can write to,
is refused with a line that says so, as is a journal file inside them. Each
journal is a folder named for when it started (``20261207T101500-001``)
holding ``journal.json`` and ``files/`` (backups ``0000``, what gmailfix left
``0000.after``, and an edited copy kept by a forced rollback ``0000.now``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from collections.abc import Iterator
from pathlib import PurePosixPath

from gmailfix.server.system import TEMPORARY, FileState, Root, ServerError, folder_fd, read_at

STATE_DIR = "/var/lib/gmailfix"
JOURNAL_DIR = f"{STATE_DIR}/journal"
STATE = PurePosixPath(STATE_DIR)
JOURNALS = PurePosixPath(JOURNAL_DIR)
LOCK_NAME = "lock"
JSON_LIMIT = 4 * 1024 * 1024
FOLDER_NAME = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9]{3}$")
COPY_NAME = re.compile(r"^[0-9]{4}(\.after|\.now)?$")


@contextlib.contextmanager
def state_folder(root: Root, *, create: bool) -> Iterator[int]:
    """ROOT/var/lib/gmailfix: made 0700; refused when another user owns it or others
    can write to it. FileNotFoundError when it is not there (and not to be made)."""
    parent = root.local(STATE.parent)
    with folder_fd(parent, root, create=0o755 if create else None) as fd:
        state = private(fd, STATE.name, root.shown(root.local(STATE)), create=create)
    try:
        yield state
    finally:
        os.close(state)


@contextlib.contextmanager
def journals_folder(root: Root, *, create: bool) -> Iterator[int]:
    """ROOT/var/lib/gmailfix/journal, as ``state_folder``."""
    with state_folder(root, create=create) as state:
        fd = private(state, JOURNALS.name, root.shown(root.local(JOURNALS)), create=create)
    try:
        yield fd
    finally:
        os.close(fd)


def private(parent: int, name: str, shown: str, *, create: bool) -> int:
    """A folder of gmailfix's own inside ``parent``: never a link, root's alone."""
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o700, dir_fd=parent)
    try:
        fd = os.open(
            name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent
        )
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ServerError(
                f"gmailfix does not trust {shown}: it is a symbolic link or not a folder; "
                "its journals live only in a folder of root's own"
            ) from None
        raise
    try:
        found = os.fstat(fd)
        trust(found.st_uid, found.st_mode, shown)
    except BaseException:
        os.close(fd)
        raise
    return fd


def trust(owner: int, mode: int, shown: str) -> None:
    """Root's (or this user's) alone, or refused."""
    if owner not in (0, os.geteuid()):
        raise ServerError(
            f"gmailfix does not trust {shown}: it belongs to user {owner}, not root; "
            "move it away (gmailfix makes a new one, root's alone)"
        )
    if mode & 0o022:
        raise ServerError(
            f"gmailfix does not trust {shown}: others can write to it (mode "
            f"{stat.S_IMODE(mode):04o}); make it root's alone (chmod go-w) after checking "
            "what is in it"
        )


def read_trusted(folder: int, name: str, shown: str, limit: int = JSON_LIMIT) -> FileState:
    """A journal's file (never a link), refused unless it is root's alone."""
    found = read_at(folder, name, shown, limit)
    trust(found.uid, found.mode, shown)
    return found


def remove_journal(root: Root, name: str) -> bool:
    """Remove a journal that holds no change (only the names gmailfix writes there)."""
    try:
        with journals_folder(root, create=False) as base:
            fd = private(base, name, name, create=False)
            try:
                with contextlib.suppress(FileNotFoundError):
                    files = private(fd, "files", name, create=False)
                    try:
                        for entry in os.listdir(files):
                            if COPY_NAME.match(entry) or TEMPORARY.match(entry):
                                os.unlink(entry, dir_fd=files)
                    finally:
                        os.close(files)
                    os.rmdir("files", dir_fd=fd)
                for entry in os.listdir(fd):
                    if entry == "journal.json" or TEMPORARY.match(entry):
                        os.unlink(entry, dir_fd=fd)
            finally:
                os.close(fd)
            os.rmdir(name, dir_fd=base)
    except (OSError, ServerError):
        return False
    return True
