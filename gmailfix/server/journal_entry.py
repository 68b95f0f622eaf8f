"""One file's record in a journal, and the checks it passes before anything acts on it.

``journal.json`` is read as data from a place that may have been tampered
with: every record is rebuilt from fields of the right type and range, its
path must be in the allowlist, and its copies must have the names gmailfix
gives them. Anything else is "damaged", and nothing is done.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any

from gmailfix.server import allowlist
from gmailfix.server.journal_folder import COPY_NAME
from gmailfix.server.system import FileState, show_path
from gmailfix.server.xattrs import XATTR_LIMIT

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ID_MAX = 2**32 - 2
_TIME_MAX = 2**63 - 1
_INODE_MAX = 2**64 - 1


@dataclass(frozen=True)
class Entry:
    """One file as it was before the change, and as the change left it."""

    path: str  # as named on the server: /etc/exim4/...
    existed: bool
    backup: str | None = None  # file name inside the journal's files/ folder
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    sha256: str | None = None  # of the old bytes
    atime_ns: int | None = None
    mtime_ns: int | None = None
    xattrs: dict[str, str] = field(default_factory=dict)  # base64 values; ACLs among them
    written: str | None = None  # SHA-256 of what gmailfix left (None once done: no file)
    after: str | None = None  # a copy of what gmailfix left, for the difference
    by_step: bool = False  # rewritten by a step (update-exim4.conf, postmap), not by gmailfix

    @property
    def shown(self) -> str:
        return show_path(self.path)

    @property
    def server_path(self) -> PurePosixPath:
        return PurePosixPath(self.path)

    def as_before(self, now: FileState | None) -> bool:
        """``now`` (None: no file) is the file as it was before the change."""
        if not self.existed:
            return now is None
        return now is not None and digest(now.data) == self.sha256

    def xattr_values(self) -> dict[str, bytes]:
        return {name: base64.b64decode(value) for name, value in self.xattrs.items()}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def but(self, **changes: Any) -> Entry:
        return replace(self, **changes)


@dataclass(frozen=True)
class MadeFolder:
    """A folder the change made: removed on undo if it is still that folder and empty."""

    path: str  # as named on the server
    dev: int
    ino: int


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_xattrs(xattrs: dict[str, bytes]) -> dict[str, str]:
    return {name: base64.b64encode(value).decode() for name, value in xattrs.items()}


# --- reading records back -------------------------------------------------------------


def parse_entry(raw: object) -> Entry | str:
    """A record as an Entry, or what is wrong with it."""
    if not isinstance(raw, dict):
        return "a file's record is not an object"
    try:
        entry = Entry(**raw)
    except TypeError:
        return "a file's record has fields gmailfix does not write"
    return _entry_problem(entry) or entry


def parse_folder(raw: object) -> MadeFolder | str:
    """A made folder's record, or what is wrong with it. gmailfix makes folders only
    inside an allowlisted one, never one of those itself."""
    if not isinstance(raw, dict):
        return "a folder's record is not an object"
    try:
        made = MadeFolder(**raw)
    except TypeError:
        return "a folder's record has fields gmailfix does not write"
    if not isinstance(made.path, str) or not _numbers(made.dev, made.ino, limit=_INODE_MAX):
        return "a folder's record is not a path and numbers"
    path = PurePosixPath(made.path)
    if path in allowlist.FOLDERS or not allowlist.allowed(path / "x"):
        return f"it names a folder gmailfix would not make: {show_path(made.path)}"
    return made


def _entry_problem(entry: Entry) -> str | None:
    if not isinstance(entry.path, str) or not entry.path.startswith("/"):
        return "a path is not absolute"
    if not isinstance(entry.existed, bool) or not isinstance(entry.by_step, bool):
        return "a flag is not true or false"
    if entry.existed:
        problem = _backup_problem(entry)
        if problem:
            return problem
    if entry.written is not None and not _is_sha256(entry.written):
        return "a SHA-256 is not one"
    if entry.after is not None and not _is_copy(entry.after):
        return "a copy's name is not one gmailfix writes"
    return _xattrs_problem(entry.xattrs)


def _backup_problem(entry: Entry) -> str | None:
    if not _is_copy(entry.backup):
        return "a backup's name is not one gmailfix writes"
    if not _numbers(entry.mode, limit=0o7777) or not _numbers(entry.uid, entry.gid):
        return "a mode or owner is not a number gmailfix writes"
    if not _is_sha256(entry.sha256):
        return "a SHA-256 is not one"
    timed = entry.atime_ns is not None or entry.mtime_ns is not None
    if timed and not _numbers(entry.atime_ns, entry.mtime_ns, limit=_TIME_MAX):
        return "a time is not a number"
    return None


def _xattrs_problem(xattrs: object) -> str | None:
    if not isinstance(xattrs, dict) or len(xattrs) > XATTR_LIMIT:
        return "the extended attributes are not a short list"
    for name, value in xattrs.items():
        if not isinstance(name, str) or not isinstance(value, str):
            return "an extended attribute is not text"
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return "an extended attribute is not base64"
    return None


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and _SHA256.match(value) is not None


def _is_copy(value: object) -> bool:
    return isinstance(value, str) and COPY_NAME.match(value) is not None


def _numbers(*values: object, limit: int = _ID_MAX) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= limit for v in values)
