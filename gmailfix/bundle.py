"""The config bundle: render every file, then write a folder or a zip safely.

Everything is written beside the target under a temporary name and renamed
into place at the end, so an interrupted export leaves either the old target
or the complete new one, never half of one. The writer's promises are listed
above ``write_bundle``.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import stat
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO, Literal

from gmailfix.csr import write_new, write_private
from gmailfix.disk import fsync_dir
from gmailfix.errors import BundleError, reason
from gmailfix.remedies.manifest import BUNDLE_SCHEMA, OLD_SCHEMAS, Manifest, ManifestFile
from gmailfix.remedies.model import Proposal
from gmailfix.remedies.plan import Plan
from gmailfix.render.bundle_readme import bundle_readme
from gmailfix.render.certbot import certbot_files
from gmailfix.render.dns_records import zone_lines
from gmailfix.render.exim import exim_files
from gmailfix.render.gmail_settings import gmail_settings_text
from gmailfix.render.json_report import dumps
from gmailfix.render.markdown_report import markdown_report
from gmailfix.render.postfix import POSTFIX_ROLES, postfix_files
from gmailfix.render.verify import verify_script

EXECUTABLE = 0o755
SECRET = 0o600


@dataclass(frozen=True)
class BundleFile:
    path: str  # relative, forward slashes
    role: str
    content: bytes
    mode: int = 0o644


def bundle_files(
    plan: Plan, proposal: Proposal, extra: tuple[BundleFile, ...] = ()
) -> list[BundleFile]:
    """Every file of the bundle, MANIFEST.json last. Only what the plan's steps use."""
    diagnosis = proposal.diagnosis
    files = [
        _text(
            "README.md",
            "the steps to follow, written for this case",
            bundle_readme(plan, diagnosis, tuple(f.path for f in extra)),
        ),
        _text(
            "gmail-settings.txt",
            "what to type in Gmail's 'Send mail as' form",
            gmail_settings_text(plan),
        ),
        _text("report.md", "the diagnosis, for people", markdown_report(proposal)),
        _text("report.json", "the diagnosis, schema gmailfix.diagnosis/1", dumps(proposal) + "\n"),
        _text(
            "verify.sh", "checks that the fix works, as Gmail does", verify_script(plan), EXECUTABLE
        ),
    ]
    files += [_text(p, EXIM_ROLES[p], t) for p, t in exim_files(plan).items()]
    if plan.mta == "postfix" and plan.on_server:
        files += [_text(p, POSTFIX_ROLES[p], t) for p, t in postfix_files(plan).items()]
    if plan.changes_certificate:
        files += [
            _text(p, CERTBOT_ROLES[p], t, EXECUTABLE if p.endswith(".sh") else 0o644)
            for p, t in certbot_files(plan).items()
        ]
    if plan.needs_certificate or plan.has("fix-dns-address"):
        files.append(
            _text(
                "dns/records.zone",
                "DNS records to add or remove (zone-file lines)",
                zone_lines(plan),
            )
        )
    files += list(extra)
    files.append(_manifest(plan, files))
    return files


EXIM_ROLES = {
    "exim4/tls-main.conf": "Exim main-section options for any exim.conf (.include it)",
    "exim4/auth-tls-only.conf": "Exim authenticators offered only over TLS",
    "exim4/conf.d/auth/30_gmailfix_tls_auth": "the same, for Debian's split config: conf.d/auth/",
    "exim4/conf.d/main/000_localmacros": "Debian split config: /etc/exim4/conf.d/main/",
    "exim4/exim4.conf.localmacros": "Debian single-file config (Debian's default): /etc/exim4/",
    "exim4/tls/sni.map": "SNI name to certificate directory map",
}
CERTBOT_ROLES = {
    "certbot/issue.sh": "gets the certificates with certbot (standalone, webroot or DNS-01)",
    "certbot/deploy-hook.sh": "certbot deploy hook: installs certificates for the MTA, reloads it",
    "certbot/docker-run.sh": "the same with certbot in Docker",
    "certbot/docker-compose.yml": "certbot renewals in Docker Compose",
}


def _text(path: str, role: str, text: str, mode: int = 0o644) -> BundleFile:
    return BundleFile(path, role, text.encode("utf-8"), mode)


def _manifest(plan: Plan, files: list[BundleFile]) -> BundleFile:
    listed = [
        ManifestFile(f.path, f.role, f.mode, hashlib.sha256(f.content).hexdigest()) for f in files
    ]
    listed.append(ManifestFile("MANIFEST.json", "this list", 0o644, None))
    return _text("MANIFEST.json", "this list", Manifest.of(plan, listed).text())


# ---------------------------------------------------------------- writing
#
# An export runs in places the user does not fully control: a shared folder,
# a umask of 000, a Ctrl+C or a `kill` halfway. So the writer keeps five
# promises, each proven in tests/test_bundle_safety.py:
#
# 1. All or nothing. The bundle is staged beside the target under a temporary
#    name and renamed into place at the end. SIGINT, SIGTERM and SIGHUP are
#    held while it writes: the write stops at the next file, removes what it
#    staged, puts back a bundle it had moved aside, then lets the signal go on.
# 2. It only deletes its own work: an existing target is replaced only when it
#    is a gmailfix bundle holding nothing but its own files and no secret, and
#    only with ``force``. A bundle moved aside as ``.NAME.old`` by a run that
#    was killed is put back, never deleted.
# 3. Modes are explicit, whatever the umask: folders 0755, a folder holding a
#    secret 0700, each file its own mode, a zip holding a secret 0600 from
#    its creation (else 0644).
# 4. A private key is never replaced or deleted, even with ``force``: its path
#    is checked before anything is written, and it is created with
#    O_EXCL|O_NOFOLLOW, so the CSR in the bundle matches the key that is kept.
# 5. Failures of the disk (EACCES, EROFS, ENOSPC, ENAMETOOLONG...) are one
#    line of BundleError, and nothing is left behind.

_ZIP_DATE = (2020, 4, 16, 0, 0, 0)  # a fixed date: the same bundle gives the same bytes
_MANIFEST_LIMIT = 1 << 20  # a MANIFEST.json bigger than this is not one gmailfix wrote
_ENTRY_LIMIT = 10_000  # nor is a folder or zip with more entries than this
_HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_NOT_A_BUNDLE = "exists and was not written by gmailfix; gmailfix never replaces it"

Step = Literal["file", "staged", "swapping"]
StepHook = Callable[[Step, Path], None]


@dataclass(frozen=True)
class Written:
    """What an export left on disk."""

    path: Path  # the bundle: a folder or a .zip
    key_path: Path | None = None  # the private key written beside it (0600), if any
    leftover: Path | None = None  # a replaced bundle that could not be deleted: tell the user


def write_bundle(
    files: list[BundleFile],
    target: Path,
    *,
    as_zip: bool,
    force: bool = False,
    private_key: bytes | None = None,
    step: StepHook | None = None,
) -> Written:
    """Write ``files`` as a folder (or a .zip holding one folder) at ``target``.

    ``private_key``, when given, is written beside the bundle as
    ``NAME.key.pem`` (0600); an existing file there stops the export before
    anything is written. ``force`` allows replacing an existing gmailfix
    bundle, nothing else. ``step`` is a seam for tests, called after each
    staged file ("file", its path, or the staging zip), when everything is
    staged ("staged", the staging path) and between moving the old bundle
    aside and the new one in ("swapping", where the old one is); an exception
    raised there aborts the write like any failure.

    Raises BundleError (one line; nothing was left behind) when the disk or
    what is already there refuses; ValueError when ``files`` holds a path that
    is absolute, empty or climbs out with ``..``. A held signal is delivered
    again once everything is cleaned up.
    """
    _check_files(files)
    target = _normalise(target)
    key_path = target.with_name(f"{target.name}.key.pem") if private_key is not None else None
    written: Written | None = None
    with _HeldSignals() as held:
        written = _write(files, target, as_zip, force, private_key, key_path, step, held)
    if written is None:  # a signal stopped it and the caller's handler did not raise
        raise BundleError(f"interrupted: {_show(target)} was not written")
    return written


def write_folder(
    files: list[BundleFile],
    target: Path,
    *,
    force: bool = False,
    before_rename: Callable[[Path], None] | None = None,
) -> Path:
    """Write the bundle as a folder (see ``write_bundle``); ``before_rename`` is a test seam."""
    return write_bundle(
        files, target, as_zip=False, force=force, step=_at_staged(before_rename)
    ).path


def write_zip(
    files: list[BundleFile],
    target: Path,
    *,
    force: bool = False,
    before_rename: Callable[[Path], None] | None = None,
) -> Path:
    """Write the bundle as a .zip holding one folder named like the file (see ``write_bundle``)."""
    return write_bundle(
        files, target, as_zip=True, force=force, step=_at_staged(before_rename)
    ).path


def _at_staged(before_rename: Callable[[Path], None] | None) -> StepHook | None:
    if before_rename is None:
        return None

    def hook(event: Step, path: Path) -> None:
        if event == "staged":
            before_rename(path)

    return hook


class _Interrupted(BaseException):
    """A held signal stops the write at the next safe point (BaseException: nothing swallows it)."""


class _NamedTwice(FileExistsError):
    """The file list names one path twice: a bug of the caller, not a refusal of the disk."""


_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class _HeldSignals:
    """Hold SIGINT, SIGTERM and SIGHUP while a bundle is written, then deliver them.

    Without this, SIGTERM kills the process between two system calls and
    leaves a staging folder, or the old bundle moved aside with no new one in
    its place. Signals can only be caught in the main thread; elsewhere
    (a worker thread) they keep their usual effect. A signal the caller
    ignores stays ignored.
    """

    def __init__(self) -> None:
        self.pending: int | None = None
        self._saved: dict[int, _Handler] = {}

    def __enter__(self) -> _HeldSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in _HELD_SIGNALS:
                previous = signal.getsignal(signum)
                if previous is None or previous == signal.SIG_IGN:
                    continue  # set outside Python (cannot be restored), or ignored on purpose
                self._saved[signum] = previous
                signal.signal(signum, self._hold)
        return self

    def _hold(self, signum: int, _: FrameType | None) -> None:
        if self.pending is None:
            self.pending = signum

    def check(self) -> None:
        """Stop here if a signal came (a call, so CPython runs pending handlers first)."""
        if self.pending is not None:
            raise _Interrupted

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        for signum, previous in self._saved.items():
            signal.signal(signum, previous)
        if self.pending is not None:
            signal.raise_signal(self.pending)  # now with its usual effect: exit, KeyboardInterrupt
        return kind is not None and issubclass(kind, _Interrupted)


def _write(
    files: list[BundleFile],
    target: Path,
    as_zip: bool,
    force: bool,
    key: bytes | None,
    key_path: Path | None,
    step: StepHook | None,
    held: _HeldSignals,
) -> Written:
    def staged_one(path: Path) -> None:
        if step is not None:
            step("file", path)
        held.check()

    try:
        if key_path is not None and os.path.lexists(key_path):
            raise BundleError(_key_exists(key_path))
        restored = _restore_aside(target)
        _check_target(target, force, restored)
        with ExitStack() as undo:  # callbacks run in reverse if anything below fails
            _make_parents(target.parent, undo)
            stage = _stage_zip if as_zip else _stage_folder
            staging = stage(files, target, staged_one, undo)
            if key is not None and key_path is not None:
                _write_key(key_path, key, undo)
            if step is not None:
                step("staged", staging)
            held.check()
            leftover = _swap(staging, target, step, held)
            undo.pop_all()
    except _NamedTwice:
        raise
    except OSError as exc:
        raise BundleError(f"cannot write {_show(target)}: {reason(exc)}") from exc
    fsync_dir(target.parent)
    return Written(target, key_path, leftover)


def _check_files(files: list[BundleFile]) -> None:
    for item in files:
        parts = item.path.split("/")
        if item.path.startswith("/") or any(p in ("", ".", "..") or "\0" in p for p in parts):
            raise ValueError(f"not a relative bundle path: {item.path!r}")
        if item.mode & ~0o777:
            raise ValueError(f"{item.path}: mode {oct(item.mode)} has more than permission bits")


def _normalise(target: Path) -> Path:
    """An absolute path whose folder has no symlinks; the last name is kept as given."""
    if "\0" in str(target):
        raise BundleError("the path has a NUL character in it")
    absolute = Path(os.path.abspath(target))
    if not absolute.name:
        raise BundleError(f"{_show(absolute)} is not a name gmailfix can write to")
    try:
        return absolute.parent.resolve() / absolute.name
    except OSError as exc:
        raise BundleError(f"cannot write {_show(absolute)}: {reason(exc)}") from exc
    except RuntimeError as exc:  # a symlink loop, in Python 3.11
        raise BundleError(f"cannot write {_show(absolute)}: a symbolic link loop") from exc


def _key_exists(key_path: Path) -> str:
    return (
        f"{_show(key_path)} already exists; gmailfix never replaces a private key, "
        "even when told to: move it away first"
    )


def _aside(target: Path) -> Path:
    """Where a replaced bundle waits while the new one moves in."""
    return target.with_name(f".{target.name}.old")


def _restore_aside(target: Path) -> bool:
    """Put back a bundle that a killed run left aside; True if one was put back."""
    aside = _aside(target)
    if not os.path.lexists(aside):
        return False
    if os.path.lexists(target):
        raise BundleError(
            f"{_show(aside)} is an older bundle left by an earlier run; "
            "delete it or move it away, then run again"
        )
    if not _is_bundle(aside):
        raise BundleError(
            f"{_show(aside)} is in the way (gmailfix moves a replaced bundle there); move it away"
        )
    os.rename(aside, target)
    return True


def _check_target(target: Path, force: bool, restored: bool) -> None:
    try:
        found = os.lstat(target)
    except (FileNotFoundError, NotADirectoryError):
        return  # NotADirectoryError: a parent is a file; creating the folder says so
    problem = _why_not_replace(target, found)
    if problem is not None:
        raise BundleError(f"{_show(target)} {problem}")
    if not force and restored:
        raise BundleError(
            f"{_show(target)} was put back from {_show(_aside(target))}, where a stopped run "
            "had left it",
            replaceable=True,
        )
    if not force:
        raise BundleError(f"{_show(target)} already exists", replaceable=True)


def _why_not_replace(path: Path, found: os.stat_result) -> str | None:
    """None when ``path`` is a gmailfix bundle gmailfix may delete; else why not, for a message."""
    if stat.S_ISLNK(found.st_mode):
        return "is a symbolic link; not replacing it"
    if stat.S_ISDIR(found.st_mode):
        manifest = _folder_manifest(path)
        return _NOT_A_BUNDLE if manifest is None else _why_not_folder(path, manifest)
    if stat.S_ISREG(found.st_mode):
        listing = _zip_listing(path)
        return _NOT_A_BUNDLE if listing is None else _why_not_zip(listing)
    return _NOT_A_BUNDLE


def _is_bundle(path: Path) -> bool:
    if os.path.islink(path):
        return False
    if os.path.isdir(path):
        return _folder_manifest(path) is not None
    return os.path.isfile(path) and _zip_listing(path) is not None


def _manifest_from(data: bytes) -> dict[str, Any] | None:
    try:
        manifest = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: hostile nesting
        return None
    if not isinstance(manifest, dict):
        return None
    if manifest.get("schema") != BUNDLE_SCHEMA and manifest.get("schema") not in OLD_SCHEMAS:
        return None
    return manifest


def _folder_manifest(folder: Path) -> dict[str, Any] | None:
    # O_NONBLOCK: a FIFO named MANIFEST.json must not hang the export
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(folder / "MANIFEST.json", flags)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return _manifest_from(handle.read(_MANIFEST_LIMIT + 1))


def _why_not_folder(folder: Path, manifest: dict[str, Any]) -> str | None:
    entries = manifest.get("files")
    listed = {"MANIFEST.json"}
    if isinstance(entries, list):
        listed |= {
            e["path"] for e in entries if isinstance(e, dict) and isinstance(e.get("path"), str)
        }
    for count, (relative, found) in enumerate(_walk(folder), start=1):
        if count > _ENTRY_LIMIT:
            return f"holds more than {_ENTRY_LIMIT} files; not replacing it"
        if not stat.S_ISREG(found.st_mode) or relative not in listed:
            return f"holds {_show(relative)}, which gmailfix did not write; move it out first"
        if _is_secret(stat.S_IMODE(found.st_mode)):
            return _holds_secret(relative)
    return None


def _walk(folder: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every non-folder under ``folder`` (symlinks not followed), with its path inside it."""
    pending = [(folder, "")]
    while pending:
        here, prefix = pending.pop()
        with os.scandir(here) as listing:
            for entry in listing:
                found = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(found.st_mode):
                    pending.append((Path(entry.path), f"{prefix}{entry.name}/"))
                else:
                    yield f"{prefix}{entry.name}", found


def _zip_listing(path: Path) -> list[zipfile.ZipInfo] | None:
    """The entries of a gmailfix .zip bundle: one top folder holding its MANIFEST.json."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        try:
            return _bundle_entries(handle)
        except Exception:  # a broken or hostile zip of any kind is simply not one of ours
            return None


def _bundle_entries(handle: BinaryIO) -> list[zipfile.ZipInfo] | None:
    with zipfile.ZipFile(handle) as archive:
        entries = archive.infolist()
        tops = {e.filename.partition("/")[0] for e in entries}
        if len(entries) > _ENTRY_LIMIT or len(tops) != 1:
            return None
        if any("/" not in e.filename for e in entries):
            return None
        manifest = archive.getinfo(f"{tops.pop()}/MANIFEST.json")
        if manifest.file_size > _MANIFEST_LIMIT:
            return None
        with archive.open(manifest) as member:
            data = member.read(_MANIFEST_LIMIT + 1)
    return entries if _manifest_from(data) is not None else None


def _why_not_zip(entries: list[zipfile.ZipInfo]) -> str | None:
    for entry in entries:
        mode = (entry.external_attr >> 16) & 0o777
        if not entry.is_dir() and mode and _is_secret(mode):
            return _holds_secret(entry.filename.partition("/")[2])
    return None


def _holds_secret(relative: str) -> str:
    return (
        f"holds a secret ({_show(relative)}); gmailfix never deletes a private key, "
        "even when told to: move it away first"
    )


def _is_secret(mode: int) -> bool:
    """Readable by its owner alone (SECRET): a key, or something the user locked away."""
    return mode & 0o077 == 0


def _make_parents(folder: Path, undo: ExitStack) -> None:
    """Create the missing folders above the target, 0755; undone if the write fails."""
    missing: list[Path] = []
    while not os.path.lexists(folder) and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        os.mkdir(path, 0o700)
        undo.callback(_rmdir_quietly, path)
        os.chmod(path, 0o755)  # explicit: the umask must not decide who may change it


def _stage_folder(
    files: list[BundleFile], target: Path, staged_one: Callable[[Path], None], undo: ExitStack
) -> Path:
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))  # 0700
    undo.callback(_remove_quietly, staging)
    modes = {staging: 0o755}  # every folder and the mode it ends with
    for item in files:
        path = staging / item.path
        try:
            _make_folders(staging, path.parent, modes)
            write_new(path, item.content, item.mode)
        except FileExistsError as exc:  # staging is ours and fresh: only the list can clash
            raise _NamedTwice(exc.errno, f"the bundle names {item.path} twice", str(path)) from exc
        if _is_secret(item.mode):
            modes[path.parent] = 0o700
        staged_one(path)
    # Folders stay 0700 until full; deepest first, so the top opens up last.
    for folder in sorted(modes, key=lambda p: len(p.parts), reverse=True):
        os.chmod(folder, modes[folder])
        fsync_dir(folder)
    return staging


def _make_folders(staging: Path, folder: Path, modes: dict[Path, int]) -> None:
    missing: list[Path] = []
    while folder not in modes:
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        os.mkdir(path, 0o700)
        modes[path] = 0o755


def _stage_zip(
    files: list[BundleFile], target: Path, staged_one: Callable[[Path], None], undo: ExitStack
) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    staging = Path(name)
    undo.callback(_remove_quietly, staging)
    secret = any(_is_secret(item.mode) for item in files)
    with os.fdopen(fd, "w+b") as raw:
        os.fchmod(fd, SECRET)  # before the first byte, whatever the umask
        with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
            for item in files:
                info = zipfile.ZipInfo(f"{target.stem}/{item.path}", date_time=_ZIP_DATE)
                info.external_attr = (stat.S_IFREG | item.mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, item.content)
                staged_one(staging)
        raw.flush()
        os.fsync(fd)
        if not secret:
            os.fchmod(fd, 0o644)
    return staging


def _write_key(key_path: Path, key: bytes, undo: ExitStack) -> None:
    try:
        write_private(key_path, key)
    except FileExistsError:  # appeared since the check: still never replaced
        raise BundleError(_key_exists(key_path)) from None
    except OSError as exc:
        raise BundleError(f"cannot write the private key {_show(key_path)}: {reason(exc)}") from exc
    undo.callback(_remove_quietly, key_path)


def _swap(staging: Path, target: Path, step: StepHook | None, held: _HeldSignals) -> Path | None:
    """Move the staged bundle to ``target``; return a replaced bundle that could not be deleted."""
    if not os.path.lexists(target):
        _move_in(staging, target)
        return None
    aside = _aside(target)
    os.rename(target, aside)
    try:
        if step is not None:
            step("swapping", aside)
        held.check()
        os.rename(staging, target)
    except BaseException:
        _put_back(aside, target)
        raise
    return _delete_replaced(aside)


def _move_in(staging: Path, target: Path) -> None:
    """Rename without replacing: something that appeared at ``target`` meanwhile is kept."""
    if staging.is_dir():
        os.rename(staging, target)  # refuses a non-empty folder or a file in the way
        return
    try:
        os.link(staging, target)  # unlike rename, refuses anything already there
    except FileExistsError:
        raise BundleError(
            f"{_show(target)} appeared while gmailfix was writing; not replacing it"
        ) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        os.rename(staging, target)  # a file system without hard links
        return
    os.unlink(staging)


def _put_back(aside: Path, target: Path) -> None:
    try:
        os.rename(aside, target)
    except OSError as exc:
        raise BundleError(
            f"the previous bundle is at {_show(aside)}: rename it back to {_show(target)} "
            f"({reason(exc)})"
        ) from exc


def _delete_replaced(aside: Path) -> Path | None:
    try:
        if os.path.isdir(aside) and not os.path.islink(aside):
            shutil.rmtree(aside)
        else:
            os.unlink(aside)
    except OSError:
        return aside
    return None


def _remove_quietly(path: Path) -> None:
    """Undo: remove what this run created (best effort; errors must not hide the first one)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with suppress(OSError):
            os.unlink(path)


def _rmdir_quietly(path: Path) -> None:
    with suppress(OSError):
        os.rmdir(path)  # only if empty: a folder someone filled meanwhile is theirs


def _show(path: Path | str) -> str:
    """A path on one line: control characters (a newline in a name) are escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(path))
