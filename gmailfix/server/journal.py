"""A journal of every file a change touches, so the change can be undone byte for byte.

Before gmailfix writes a file it copies the file (or notes that there was
none) into a journal folder under ``ROOT/var/lib/gmailfix/journal/``, with its
mode, owner, times, extended attributes (ACLs) and SHA-256, and writes
``journal.json`` there. The journal also keeps what gmailfix left in each file
(a copy and its SHA-256), so undoing can tell a later edit from gmailfix's own,
show it, and refuse to throw it away unless forced.

A journal is ``preparing`` while the backups are made (nothing has changed
yet: a run that fails or is killed then leaves nothing to undo, and no journal
in the way), ``open`` while its files are written, ``done`` once the change is
in place, ``rolled-back`` once undone. An ``open`` journal found later means a
run was killed halfway: nothing new may start until ``gmailfix rollback`` has
put those files back. One lock file keeps two runs from overlapping; whoever
takes it removes what killed runs left (leftovers.py).

A journal is data, trusted only as far as it is safe:

- it lives in a folder of root's alone, never reached through a link
  (journal_folder.py);
- it names only files inside the allowlist (allowlist.py), each reached one
  folder at a time, never through a link (system.open_folder);
- a file goes back with its mode masked to 0o777 (never set-uid, set-gid or
  sticky), with its times and extended attributes; a folder is removed only
  if it is the very one the change made (device and inode) and is empty;
- it holds no command: whoever undoes a change works out how to restart the
  MTA anew.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from gmailfix.errors import reason
from gmailfix.server import allowlist
from gmailfix.server.journal_entry import (
    Entry,
    MadeFolder,
    digest,
    encode_xattrs,
    parse_entry,
    parse_folder,
)
from gmailfix.server.journal_folder import (
    JOURNAL_DIR,
    JOURNALS,
    STATE_DIR,
    journals_folder,
    private,
    read_trusted,
    remove_journal,
)
from gmailfix.server.system import (
    FILE_LIMIT,
    FileState,
    Root,
    ServerError,
    make_folders,
    open_folder,
    read_file,
    remove_empty_folder,
    remove_file,
    show_path,
    write_at,
    write_atomic,
)

__all__ = [
    "JOURNAL_DIR",
    "STATE_DIR",
    "Changed",
    "ChangedSince",
    "Entry",
    "Journal",
    "Restored",
]

SCHEMA = "gmailfix.journal/2"
MAX_JOURNALS = 1000  # older ones are never read; a folder this full is not ours
State = Literal["preparing", "open", "done", "rolled-back"]
STATES: tuple[State, ...] = ("preparing", "open", "done", "rolled-back")
Action = Literal["restored", "removed", "unchanged", "folder-removed"]


@dataclass(frozen=True)
class Restored:
    """What undoing did to one file or folder."""

    shown: str
    action: Action
    kept: str | None = None  # forced: where the edited copy it replaced is kept

    @property
    def removed(self) -> bool:
        return self.action in ("removed", "folder-removed")


@dataclass(frozen=True)
class Changed:
    """A file edited since gmailfix changed it, and the difference (unified diff)."""

    entry: Entry
    diff: str


class ChangedSince(ServerError):
    """Undoing would throw away edits made since the change; nothing was done."""

    def __init__(self, message: str, changed: list[Changed]) -> None:
        super().__init__(message)
        self.changed = changed

    @property
    def diff(self) -> str:
        return "".join(c.diff for c in self.changed)


class Journal:
    """The backups of one change (apply, or turning TLS logging on)."""

    def __init__(self, root: Root, folder: Path, data: dict[str, Any]) -> None:
        self.root = root
        self.folder = folder
        self.data = data

    # --- reading ---------------------------------------------------------------

    @property
    def state(self) -> State:
        state = self.data.get("state")
        if state not in STATES:
            raise self._damaged("its state is not one gmailfix writes")
        return state  # type: ignore[no-any-return]

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
        """Every file's record, checked (ServerError names the first bad one)."""
        raw = self.data.get("entries", [])
        if not isinstance(raw, list):
            raise self._damaged("its list of files is not a list")
        entries = []
        for item in raw:
            entry = parse_entry(item)
            if isinstance(entry, str):
                raise self._damaged(entry)
            if not allowlist.allowed(entry.server_path):
                raise ServerError(
                    f"the journal {self.shown} names {entry.shown}, outside where gmailfix "
                    f"writes ({allowlist.where()}); gmailfix does not act on it"
                )
            entries.append(entry)
        return entries

    @property
    def made_folders(self) -> list[MadeFolder]:
        raw = self.data.get("folders", [])
        if not isinstance(raw, list):
            raise self._damaged("its list of folders is not a list")
        folders = []
        for item in raw:
            made = parse_folder(item)
            if isinstance(made, str):
                raise self._damaged(made)
            folders.append(made)
        return folders

    @property
    def extra(self) -> dict[str, Any]:
        """Facts about the change (the MTA's name); never a command to run."""
        extra = self.data.get("extra", {})
        return dict(extra) if isinstance(extra, dict) else {}

    @property
    def shown(self) -> str:
        return self.root.shown(self.folder)

    # --- writing ---------------------------------------------------------------

    @classmethod
    def start(cls, root: Root, kind: str, what: str, extra: dict[str, Any]) -> Journal:
        """A new journal, ``preparing``: nothing has changed yet."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        with journals_folder(root, create=True) as base:
            for number in range(1, MAX_JOURNALS + 1):
                name = f"{stamp}-{number:03d}"
                try:
                    os.mkdir(name, 0o700, dir_fd=base)
                    break
                except FileExistsError:
                    continue
            else:
                raise ServerError(f"too many journals in {root.shown(root.local(JOURNALS))}")
        data = {
            "schema": SCHEMA,
            "kind": kind,
            "what": what,
            "state": "preparing",
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "entries": [],
            "folders": [],
            "extra": extra,
        }
        journal = cls(root, root.local(JOURNALS) / name, data)
        try:
            with journal._open() as fd:
                os.mkdir("files", 0o700, dir_fd=fd)
            journal.save()
        except BaseException:
            journal.discard()
            raise
        return journal

    def record(self, path: Path, *, after: bytes | None = None) -> None:
        """Back ``path`` up before it changes (once). ``after``: what gmailfix will write
        there; None for a file a step rewrites (Debian's generated config)."""
        server = self.root.on_server(path)
        if not allowlist.allowed(server):
            raise ServerError(
                f"gmailfix does not change {show_path(server)}: it writes only in "
                f"{allowlist.where()}"
            )
        if any(e.path == str(server) for e in self.entries):
            return
        number = len(self.data["entries"])
        entry = self._backup(path, server, f"{number:04d}")
        if after is None:
            entry = entry.but(by_step=True)
        else:
            entry = entry.but(written=digest(after), after=f"{number:04d}.after")
            self._keep(f"{number:04d}.after", after)
        self.data["entries"].append(entry.to_json())
        self.save()

    def make_folders(self, folder: Path) -> None:
        """Make ``folder`` and missing parents inside an allowlisted folder (never through
        a link), each noted so undo removes it again (if it is still that folder, and
        empty). A folder outside the allowlist is never made, only used if it is there."""
        server = self.root.on_server(folder)
        inside = allowlist.folder_of(server / "x")
        if inside is None or inside == server:
            inside = server
        try:
            os.close(open_folder(self.root.local(inside), self.root))
        except FileNotFoundError:
            raise ServerError(
                f"{show_path(inside)} is not there; gmailfix makes folders only inside "
                f"{', '.join(str(f) for f in allowlist.FOLDERS)}"
            ) from None
        for made in make_folders(folder, self.root):
            found = os.stat(made, follow_symlinks=False)
            record = {"path": str(self.root.on_server(made)), "dev": found.st_dev}
            self.data["folders"].append({**record, "ino": found.st_ino})
            self.save()

    def begin(self) -> None:
        """From here files change: a run killed now must be rolled back."""
        self.data["state"] = "open"
        self.save()

    def discard(self) -> None:
        """Nothing was changed: the journal goes (or, if it cannot, is closed)."""
        if not remove_journal(self.root, self.folder.name):
            with contextlib.suppress(OSError, ServerError):
                self.finish("rolled-back")

    def finish(self, state: State, **facts: Any) -> None:
        """``done``: what the change left in each file is kept (hash and copy), so a later
        edit can be told from it."""
        if state == "done":
            self._note_what_was_left()
        self.data["state"] = state
        self.data["extra"] = {**self.extra, **facts}
        self.save()

    def save(self) -> None:
        text = json.dumps(self.data, indent=2) + "\n"
        with self._open() as fd:
            write_at(
                fd, "journal.json", text.encode(), shown=self._shown("journal.json"), mode=0o600
            )

    def _backup(self, path: Path, server: PurePosixPath, name: str) -> Entry:
        try:
            found = read_file(path, self.root, xattrs=True)
        except FileNotFoundError:
            return Entry(str(server), existed=False)
        self._keep(name, found.data)
        return Entry(
            str(server),
            existed=True,
            backup=name,
            mode=found.mode,
            uid=found.uid,
            gid=found.gid,
            sha256=digest(found.data),
            atime_ns=found.atime_ns,
            mtime_ns=found.mtime_ns,
            xattrs=encode_xattrs(dict(found.xattrs)),
        )

    def _keep(self, name: str, data: bytes) -> None:
        with self._open("files") as fd:
            write_at(fd, name, data, shown=self._shown(f"files/{name}"), mode=0o600)

    def _note_what_was_left(self) -> None:
        entries = []
        for number, entry in enumerate(self.entries):
            now = self._current(entry)
            if now is None:
                entry = entry.but(written=None, after=None)
            elif digest(now.data) != entry.written:
                self._keep(f"{number:04d}.after", now.data)
                entry = entry.but(written=digest(now.data), after=f"{number:04d}.after")
            entries.append(entry.to_json())
        self.data["entries"] = entries

    # --- undoing ---------------------------------------------------------------

    def changed_since(self) -> list[Changed]:
        """Files edited since the change: neither as before it nor as gmailfix left them."""
        changed = []
        for entry in self.entries:
            now = self._current(entry)
            if not entry.as_before(now) and not self._as_left(entry, now):
                changed.append(Changed(entry, self._difference(entry, now)))
        return changed

    def restore(self, *, force: bool = False) -> list[Restored]:
        """Put every recorded file back as it was, and remove the folders the change made.

        Refuses (ChangedSince, before touching anything) when a file was edited
        since, unless ``force``: then the edited copy is kept in the journal.
        ServerError names a file that would not go back.
        """
        entries, folders = self.entries, self.made_folders  # all checked before any change
        changed = self.changed_since()
        if changed and not force:
            names = ", ".join(c.entry.shown for c in changed)
            raise ChangedSince(
                f"{names} changed since gmailfix made its change (the difference is shown); "
                "rolling back would throw that away. Nothing was put back: edit it back, or "
                "force the rollback to put the old file back anyway (the edited copy is then "
                f"kept in {self.shown})",
                changed,
            )
        edited = {c.entry.path for c in changed}
        done: list[Restored] = []
        for number, entry in reversed(list(enumerate(entries))):
            try:
                done.append(self._restore_one(entry, number, entry.path in edited))
            except OSError as exc:
                raise ServerError(f"cannot put back {entry.shown}: {reason(exc)}") from exc
        done.reverse()
        for made in reversed(folders):
            local = self.root.local(PurePosixPath(made.path))
            if remove_empty_folder(local, (made.dev, made.ino), self.root):
                done.append(Restored(show_path(made.path), "folder-removed"))
        return done

    def _restore_one(self, entry: Entry, number: int, edited: bool) -> Restored:
        local = self.root.local(entry.server_path)
        now = self._current(entry)
        if entry.as_before(now):
            return Restored(entry.shown, "unchanged")
        kept = None
        if edited and now is not None:  # forced: the edit is kept, not thrown away
            self._keep(f"{number:04d}.now", now.data)
            kept = self._shown(f"files/{number:04d}.now")
        if not entry.existed:
            remove_file(local, self.root)
            return Restored(entry.shown, "removed", kept)
        assert entry.backup is not None and entry.mode is not None
        data = self._copy(entry.backup)
        if digest(data) != entry.sha256:
            raise ServerError(f"the backup of {entry.shown} in {self.shown} was changed")
        times = None
        if entry.atime_ns is not None and entry.mtime_ns is not None:
            times = (entry.atime_ns, entry.mtime_ns)
        write_atomic(
            local,
            data,
            mode=entry.mode & 0o777,  # never set-uid, set-gid or sticky
            uid=entry.uid,
            gid=entry.gid,
            root=self.root,
            xattrs=entry.xattr_values(),
            times=times,
        )
        if digest(read_file(local, self.root).data) != entry.sha256:
            raise ServerError(f"{entry.shown} did not go back to its old contents")
        return Restored(entry.shown, "restored", kept)

    def _current(self, entry: Entry) -> FileState | None:
        try:
            return read_file(self.root.local(entry.server_path), self.root)
        except FileNotFoundError:
            return None

    def _as_left(self, entry: Entry, now: FileState | None) -> bool:
        """``now`` is what the change left (or, halfway, may have left) in the file."""
        if self.state != "done" and entry.by_step:
            return True  # a step was rewriting it when the run stopped: any bytes are its
        if entry.written is None:
            return now is None and self.state == "done"
        return now is not None and digest(now.data) == entry.written

    def _difference(self, entry: Entry, now: FileState | None) -> str:
        left = self._copy(entry.after) if entry.after else b""
        lines = difflib.unified_diff(
            _lines(left),
            _lines(now.data if now is not None else b""),
            f"{entry.path} (as gmailfix left it)",
            f"{entry.path} (now)" if now is not None else f"{entry.path} (now: removed)",
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)

    def _copy(self, name: str) -> bytes:
        with self._open("files") as fd:
            return read_trusted(fd, name, self._shown(f"files/{name}"), FILE_LIMIT).data

    # --- the journal's own folder ----------------------------------------------

    @contextlib.contextmanager
    def _open(self, sub: str | None = None) -> Iterator[int]:
        """This journal's folder (or ``files/`` in it), root's alone, never a link."""
        with journals_folder(self.root, create=False) as base:
            fd = private(base, self.folder.name, self.shown, create=False)
        try:
            if sub is None:
                yield fd
            else:
                inner = private(fd, sub, self._shown(sub), create=False)
                try:
                    yield inner
                finally:
                    os.close(inner)
        finally:
            os.close(fd)

    def _shown(self, name: str) -> str:
        return self.root.shown(self.folder / name)

    def _damaged(self, why: str) -> ServerError:
        return damaged(self.shown, why)


def damaged(shown: str, why: str) -> ServerError:
    return ServerError(
        f"the journal {shown} is damaged ({why}); gmailfix does not act on it: move it away "
        "and check the files it names by hand"
    )


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", "surrogateescape").splitlines(keepends=True)


# --- finding journals ----------------------------------------------------------------------
