"""Finding the journals under a root (newest first, each checked before it is trusted), the change a killed run left halfway, the one rollback undoes, and the lock that lets one gmailfix change a server at a time."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator

from gmailfix.errors import reason
from gmailfix.server.journal import MAX_JOURNALS, SCHEMA, Journal, damaged
from gmailfix.server.journal_folder import (
    FOLDER_NAME,
    JOURNALS,
    LOCK_NAME,
    STATE,
    journals_folder,
    private,
    read_trusted,
    state_folder,
)
from gmailfix.server.leftovers import sweep
from gmailfix.server.system import (
    Root,
    ServerError,
)


def journals(root: Root) -> list[Journal]:
    """Every journal under the root, newest first.

    One made by an older gmailfix (another schema) or by a run killed before
    it wrote anything is passed over; one that is not safe (another owner,
    writable by others, a link) or not JSON is refused (ServerError).
    """
    try:
        with journals_folder(root, create=False) as base:
            names = sorted((n for n in os.listdir(base) if FOLDER_NAME.match(n)), reverse=True)
            found = (_load(root, base, name) for name in names[:MAX_JOURNALS])
            return [journal for journal in found if journal is not None]
    except FileNotFoundError:
        return []


def _load(root: Root, base: int, name: str) -> Journal | None:
    folder = root.local(JOURNALS) / name
    fd = private(base, name, root.shown(folder), create=False)
    try:
        text = read_trusted(fd, "journal.json", root.shown(folder / "journal.json")).data
    except FileNotFoundError:
        return None
    finally:
        os.close(fd)
    try:
        data = json.loads(text)
    except ValueError:
        raise damaged(root.shown(folder), "not JSON") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        return None
    return Journal(root, folder, data)


def interrupted(root: Root) -> Journal | None:
    """A change that a killed run left halfway, if any."""
    return next((j for j in journals(root) if j.state == "open"), None)


def last_change(root: Root) -> Journal | None:
    """What ``gmailfix rollback`` undoes: a change left halfway, else the newest one in place."""
    for journal in journals(root):
        if journal.state in ("open", "done"):
            return journal
    return None


@contextlib.contextmanager
def locked(root: Root) -> Iterator[None]:
    """Only one gmailfix changes this server at a time. Whoever takes the lock first
    removes what killed runs left behind (leftovers.sweep)."""
    with state_folder(root, create=True) as state:
        with journals_folder(root, create=True):
            pass
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        try:
            fd = os.open(LOCK_NAME, flags, 0o600, dir_fd=state)
        except OSError as exc:
            shown = root.shown(root.local(STATE) / LOCK_NAME)
            raise ServerError(f"cannot use {shown}: {reason(exc)}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ServerError("another gmailfix is changing this server right now") from None
        sweep(root)
        yield
    finally:
        os.close(fd)
