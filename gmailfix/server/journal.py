"""A journal of every file a change touches, so the change can be undone byte for byte.

Before gmailfix writes a file it copies the file (or notes that there was
none) into a journal folder under ``ROOT/var/lib/gmailfix/journal/``, with its
mode, owner and SHA-256, and writes ``journal.json`` there. Undoing puts every
file back as it was (or removes it if it was new) and checks the SHA-256.

A journal is ``open`` while its change is being made, ``done`` once it is in
place, ``rolled-back`` once undone. An ``open`` journal found later means a
run was killed halfway: nothing new may start until ``gmailfix rollback``
has put those files back. One lock file keeps two runs from overlapping.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gmailfix.errors import reason
from gmailfix.server.system import (
    Root,
    ServerError,
    fsync_dir,
    read_limited,
    show_path,
    write_atomic,
)

JOURNAL_DIR = "/var/lib/gmailfix/journal"
LOCK_FILE = "/var/lib/gmailfix/lock"
SCHEMA = "gmailfix.journal/1"
MAX_JOURNALS = 1000  # older ones are never read; a folder this full is not ours
State = Literal["open", "done", "rolled-back"]


@dataclass(frozen=True)
class Entry:
    """One file as it was before the change."""

    path: str  # absolute, on this computer (under the root)
    shown: str  # as the person knows it on the server
    existed: bool
    backup: str | None  # file name inside the journal's files/ folder
    mode: int | None
    uid: int | None
    gid: int | None
    sha256: str | None


@dataclass(frozen=True)
class Restored:
    """One file put back: to its old bytes, or removed because it was new."""

    shown: str
    removed: bool


class Journal:
    """The backups of one change (apply, or turning TLS logging on)."""

    def __init__(self, folder: Path, data: dict[str, Any]) -> None:
        self.folder = folder
        self.data = data

    # --- reading ---------------------------------------------------------------

    @property
    def state(self) -> State:
        return self.data.get("state", "open")  # type: ignore[no-any-return]

    @property
    def what(self) -> str:
        return str(self.data.get("what", ""))

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", "apply"))

    @property
    def created(self) -> str:
        return str(self.data.get("created", ""))

    @property
    def entries(self) -> list[Entry]:
        return [Entry(**e) for e in self.data.get("entries", [])]

    @property
    def extra(self) -> dict[str, Any]:
        """What the change needs to be undone well (e.g. the MTA and how to reload it)."""
        return dict(self.data.get("extra", {}))

    # --- writing ---------------------------------------------------------------

    @classmethod
    def start(cls, root: Root, kind: str, what: str, extra: dict[str, Any]) -> Journal:
        base = root.file(JOURNAL_DIR)
        _make_private_dirs(base)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        for number in range(1, MAX_JOURNALS + 1):
            folder = base / f"{stamp}-{number:03d}"
            try:
                folder.mkdir(mode=0o700)
                break
            except FileExistsError:
                continue
        else:
            raise ServerError(f"too many journals in {show_path(base)}")
        (folder / "files").mkdir(mode=0o700)
        data = {
            "schema": SCHEMA,
            "kind": kind,
            "what": what,
            "state": "open",
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "entries": [],
            "extra": extra,
        }
        journal = cls(folder, data)
        journal.save()
        return journal

    def record(self, path: Path, shown: str) -> None:
        """Back ``path`` up before it changes (once; later calls keep the first copy)."""
        if any(e.path == str(path) for e in self.entries):
            return
        entry = self._backup(path, shown)
        self.data["entries"].append(entry.__dict__)
        self.save()

    def record_dir(self, folder: Path) -> None:
        """A folder the change creates: removed again on undo if it is empty then."""
        self.data.setdefault("dirs", []).append(str(folder))
        self.save()

    def _backup(self, path: Path, shown: str) -> Entry:
        try:
            found = os.lstat(path)
        except FileNotFoundError:
            return Entry(str(path), shown, False, None, None, None, None, None)
        if not stat.S_ISREG(found.st_mode):
            raise ServerError(f"{shown} is not a regular file; gmailfix does not change it")
        data = read_limited(path)
        name = f"{len(self.data['entries']):04d}"
        write_atomic(self.folder / "files" / name, data, mode=0o600)
        return Entry(
            str(path),
            shown,
            True,
            name,
            stat.S_IMODE(found.st_mode),
            found.st_uid,
            found.st_gid,
            hashlib.sha256(data).hexdigest(),
        )

    def finish(self, state: State, **facts: Any) -> None:
        self.data["state"] = state
        self.data.setdefault("extra", {}).update(facts)
        self.save()

    def save(self) -> None:
        text = json.dumps(self.data, indent=2) + "\n"
        write_atomic(self.folder / "journal.json", text.encode(), mode=0o600)

    # --- undoing ---------------------------------------------------------------

    def restore(self) -> list[Restored]:
        """Put every recorded file back as it was; ServerError names a file that would not go back."""
        restored: list[Restored] = []
        for entry in reversed(self.entries):
            path = Path(entry.path)
            try:
                restored.append(self._restore_one(entry, path))
            except OSError as exc:
                raise ServerError(f"cannot put back {entry.shown}: {reason(exc)}") from exc
        for folder in reversed(self.data.get("dirs", [])):
            with contextlib.suppress(OSError):
                os.rmdir(folder)  # only if empty: anything put there since is kept
        return list(reversed(restored))

    def _restore_one(self, entry: Entry, path: Path) -> Restored:
        if not entry.existed:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                fsync_dir(path.parent)
            return Restored(entry.shown, True)
        assert entry.backup is not None and entry.mode is not None
        data = read_limited(self.folder / "files" / entry.backup)
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise ServerError(
                f"the backup of {entry.shown} in {show_path(self.folder)} was changed"
            )
        write_atomic(path, data, mode=entry.mode, uid=entry.uid, gid=entry.gid)
        if hashlib.sha256(read_limited(path)).hexdigest() != entry.sha256:
            raise ServerError(f"{entry.shown} did not go back to its old contents")
        return Restored(entry.shown, False)


def journals(root: Root) -> list[Journal]:
    """Every journal under the root, newest first (unreadable ones are skipped)."""
    base = root.file(JOURNAL_DIR)
    try:
        folders = sorted((p for p in base.iterdir() if p.is_dir()), reverse=True)[:MAX_JOURNALS]
    except OSError:
        return []
    found = []
    for folder in folders:
        try:
            data = json.loads(read_limited(folder / "journal.json"))
        except (OSError, ServerError, ValueError):
            continue
        if isinstance(data, dict) and data.get("schema") == SCHEMA:
            found.append(Journal(folder, data))
    return found


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
    """Only one gmailfix changes this server at a time."""
    path = root.file(LOCK_FILE)
    _make_private_dirs(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ServerError("another gmailfix is changing this server right now") from None
        yield
    finally:
        os.close(fd)


def _make_private_dirs(folder: Path) -> None:
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ServerError(f"cannot create {show_path(folder)}: {reason(exc)}") from exc
