"""The mail server as gmailfix sees it: its files (under ``--root``) and its commands.

Three small seams, shared by doctor, apply and watch:

- ``Root``: where the server's files are. ``/`` on the server itself; a copy of
  its filesystem in tests. A path the MTA's config names is read under the root.
- ``Runner``: how a command is run. The default runs the real program with a
  time limit and never raises; tests pass their own to reach a throwaway
  daemon or an unpacked Postfix.
- ``write_atomic``: a file is replaced whole or not at all, with the mode and
  owner it must have, so an interrupted run never leaves half a config file.

Every file gmailfix writes, reads to rewrite, or puts back is reached from the
root one folder at a time (``open_folder``: ``O_DIRECTORY | O_NOFOLLOW`` on each
name, relative to the folder before it), so a symbolic link anywhere on the
way is refused rather than followed out of the root, and nothing can swap a
folder for a link between the check and the write. The root itself is taken as
``Root.at`` resolved it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath

from gmailfix.errors import GmailfixError, reason
from gmailfix.server.xattrs import read_xattrs, set_xattrs
from gmailfix.text import clean

OUTPUT_LIMIT = 64 * 1024  # what is kept of a command's output
FILE_LIMIT = 1024 * 1024  # a config file, certificate or log chunk larger than this is refused
COMMAND_SECONDS = 120.0
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ServerError(GmailfixError):
    """The server's files or commands cannot be used as asked (one line; exit 2)."""


@dataclass(frozen=True)
class Root:
    """Where the server's filesystem is: ``/``, or a copy of it (``--root``)."""

    path: Path = Path("/")

    @classmethod
    def at(cls, path: str | Path | None) -> Root:
        if path is None:
            return cls()
        try:
            resolved = Path(path).resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            raise ServerError(
                f"cannot use {show_path(path)} as the server's files: {reason(exc)}"
            ) from None
        if not resolved.is_dir():
            raise ServerError(f"{show_path(path)} is not a folder")
        return cls(resolved)

    @property
    def is_system(self) -> bool:
        return self.path == Path("/")

    def file(self, server_path: str | Path) -> Path:
        """Where a path the server's config names is found here.

        Under a copy, config files name paths inside the copy when the copy
        was made for a throwaway daemon (tests do that), and paths of the real
        server otherwise: a path already inside the root is taken as it is.
        """
        path = Path(server_path)
        if self.is_system or self.contains(path):
            return path
        return self.path / path.relative_to(path.anchor) if path.is_absolute() else self.path / path

    def contains(self, path: Path) -> bool:
        return path == self.path or self.path in path.parents

    def shown(self, path: Path) -> str:
        """A path as the person knows it on their server (without the root)."""
        if self.is_system or not self.contains(path):
            return show_path(path)
        return show_path("/" + str(path.relative_to(self.path)))

    def on_server(self, path: Path) -> PurePosixPath:
        """``path`` (under the root) as it is named on the server; ServerError outside it."""
        if not path.is_absolute() or not self.contains(path):
            raise ServerError(f"{show_path(path)} is not inside {show_path(self.path)}")
        return PurePosixPath("/") / path.relative_to(self.path)

    def local(self, server_path: PurePosixPath) -> Path:
        """Where a path named as on the server is here (no 'already inside' rule)."""
        return self.path / server_path.relative_to("/")

    def named(self, path: Path, config_text: str) -> str:
        """``path`` as a line of a config file under this root names it.

        The path on the real server, except where the config already names
        paths inside this copy (a throwaway daemon's copy, as tests make; the
        convention ``file`` reads): there, the copy's own path.
        """
        if self.is_system or str(self.path) + "/" in config_text:
            return str(path)
        return str(self.on_server(path))


@dataclass(frozen=True)
class Ran:
    """What a command did: its exit status (-1: it could not run) and its output."""

    argv: tuple[str, ...]
    returncode: int
    output: str  # stdout, then stderr, each cut to OUTPUT_LIMIT
    errors: str = ""  # stderr alone: where programs say what went wrong

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def last_line(self) -> str:
        """The line most likely to say what went wrong (stderr's last, else stdout's)."""
        for text in (self.errors, self.output):
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            if lines:
                return clean(lines[-1])  # a program's words: shown, so made safe here
        return f"exit status {self.returncode}"


Runner = Callable[[Sequence[str]], Ran]


def run_command(
    argv: Sequence[str],
    *,
    timeout: float = COMMAND_SECONDS,
    env: Mapping[str, str] | None = None,
) -> Ran:
    """Run a program; never raises. A missing program or a timeout is a failed Ran."""
    words = tuple(argv)
    environment = dict(os.environ if env is None else env)
    environment["PATH"] = f"{environment.get('PATH', '')}:{SEARCH_PATH}".lstrip(":")
    environment.setdefault("LC_ALL", "C")
    try:
        done = subprocess.run(
            words,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env=environment,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Ran(words, -1, f"{words[0]} did not finish in {timeout:g} s")
    except OSError as exc:
        return Ran(words, -1, f"cannot run {words[0]}: {reason(exc)}")
    out = done.stdout[:OUTPUT_LIMIT].decode("utf-8", "replace")
    errors = done.stderr[:OUTPUT_LIMIT].decode("utf-8", "replace")
    return Ran(words, done.returncode, out + errors, errors)


def read_limited(path: Path, limit: int = FILE_LIMIT) -> bytes:
    """A regular file's bytes; OSError (ENOENT, EACCES...) or ServerError when too big.

    O_NONBLOCK and the regular-file check: a FIFO or device planted where a
    config file should be must not hang or flood gmailfix.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ServerError(f"{show_path(path)} is not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ServerError(f"{show_path(path)} is larger than {limit // 1024} KiB")
    return data


# --- files under the root, never through a symbolic link ------------------------------

_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
TEMPORARY = re.compile(r"^\.(?P<name>.+)\.gmailfix-(?P<pid>[0-9]{1,9})$")


def temporary_name(name: str, pid: int | None = None) -> str:
    """Where ``write_atomic`` puts a file's new bytes before renaming them over it."""
    return f".{name}.gmailfix-{os.getpid() if pid is None else pid}"


@dataclass(frozen=True)
class FileState:
    """A regular file as it was read: bytes, mode, owner, times and extended attributes."""

    data: bytes
    mode: int
    uid: int
    gid: int
    atime_ns: int
    mtime_ns: int
    xattrs: Mapping[str, bytes] = field(default_factory=dict)  # ACLs are xattrs too


def open_folder(
    folder: Path,
    root: Root | None = None,
    *,
    create: int | None = None,
    made: list[Path] | None = None,
) -> int:
    """A descriptor of ``folder``, reached from the root one name at a time.

    A symbolic link, a ``..`` or anything but a folder on the way is refused
    (ServerError); a missing folder is OSError (ENOENT), or made with mode
    ``create`` (and appended to ``made``). The caller closes the descriptor.
    """
    root = root or Root()
    names = _names_below(folder, root)
    fd = os.open(root.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    here = root.path
    try:
        for name in names:
            here = here / name
            try:
                inner = os.open(name, _FOLDER_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if create is None:
                    raise
                inner = _make_folder(fd, name, create, here, made)
            except OSError as exc:
                raise _not_a_folder(fd, name, here, root, exc) from None
            os.close(fd)
            fd = inner
        return fd
    except BaseException:
        os.close(fd)
        raise


@contextlib.contextmanager
def folder_fd(
    folder: Path,
    root: Root | None = None,
    *,
    create: int | None = None,
    made: list[Path] | None = None,
) -> Iterator[int]:
    """``open_folder`` as a context: the descriptor is closed afterwards."""
    fd = open_folder(folder, root, create=create, made=made)
    try:
        yield fd
    finally:
        os.close(fd)


def make_folders(folder: Path, root: Root | None = None, mode: int = 0o755) -> list[Path]:
    """Make ``folder`` and its missing parents (never through a link); the ones made."""
    made: list[Path] = []
    os.close(open_folder(folder, root, create=mode, made=made))
    return made


def _names_below(path: Path, root: Root) -> tuple[str, ...]:
    if not path.is_absolute() or not root.contains(path):
        raise ServerError(f"{show_path(path)} is not inside {show_path(root.path)}")
    names = path.relative_to(root.path).parts
    if any(name in ("..", ".") for name in names):
        raise ServerError(f"{show_path(path)} climbs out of its folder ('..')")
    return names


def _make_folder(fd: int, name: str, mode: int, here: Path, made: list[Path] | None) -> int:
    try:
        os.mkdir(name, mode, dir_fd=fd)
    except FileExistsError:  # made by someone else meanwhile: opened as any folder
        return os.open(name, _FOLDER_FLAGS, dir_fd=fd)
    inner = os.open(name, _FOLDER_FLAGS, dir_fd=fd)
    os.fchmod(inner, mode)  # whatever the umask
    if made is not None:
        made.append(here)
    return inner


def _not_a_folder(fd: int, name: str, here: Path, root: Root, exc: OSError) -> Exception:
    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
        return exc
    try:
        link = stat.S_ISLNK(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode)
    except OSError:
        link = exc.errno == errno.ELOOP
    if link:
        return ServerError(
            f"{root.shown(here)} is a symbolic link; gmailfix reaches the server's files only "
            "through real folders, never through a link"
        )
    return ServerError(f"{root.shown(here)} is not a folder")


def read_file(
    path: Path, root: Root | None = None, limit: int = FILE_LIMIT, *, xattrs: bool = False
) -> FileState:
    """A regular file under the root (its folders and itself never a link).

    FileNotFoundError when it is not there; ServerError when it is a link, a
    FIFO or device, or larger than ``limit``.
    """
    root = root or Root()
    with folder_fd(path.parent, root) as fd:
        return read_at(fd, path.name, root.shown(path), limit, xattrs=xattrs)


def read_at(
    folder: int, name: str, shown: str, limit: int = FILE_LIMIT, *, xattrs: bool = False
) -> FileState:
    """``read_file`` for ``name`` in an open folder."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ServerError(
                f"{shown} is not a regular file but a symbolic link; gmailfix does not "
                "follow or replace it"
            ) from None
        raise
    with os.fdopen(fd, "rb") as handle:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise ServerError(f"{shown} is not a regular file; gmailfix does not change it")
        data = handle.read(limit + 1)
        if len(data) > limit:
            raise ServerError(f"{shown} is larger than {limit // 1024} KiB")
        attributes = read_xattrs(fd) if xattrs else {}
    return FileState(
        data,
        stat.S_IMODE(found.st_mode),
        found.st_uid,
        found.st_gid,
        found.st_atime_ns,
        found.st_mtime_ns,
        attributes,
    )


def write_atomic(
    path: Path,
    data: bytes,
    *,
    mode: int,
    uid: int | None = None,
    gid: int | None = None,
    root: Root | None = None,
    xattrs: Mapping[str, bytes] | None = None,
    times: tuple[int, int] | None = None,
) -> None:
    """Replace (or create) ``path`` with ``data``: whole, with ``mode`` and owner, or not at all.

    The bytes go to a temporary file in the same folder, are flushed to disk,
    get their mode (never set-uid, set-gid or sticky) and owner, and only then
    are renamed over the old file. The folders on the way are reached as
    ``open_folder`` does; a symbolic link at ``path`` is refused rather than
    replaced. The extended attributes (ACLs, SELinux label) of the file it
    replaces are kept, unless ``xattrs`` says which to set; ``times``
    (atime_ns, mtime_ns) sets its times, as when a file is put back.
    """
    root = root or Root()
    with folder_fd(path.parent, root) as fd:
        write_at(
            fd,
            path.name,
            data,
            shown=root.shown(path),
            mode=mode,
            uid=uid,
            gid=gid,
            xattrs=xattrs,
            times=times,
        )


def write_at(
    folder: int,
    name: str,
    data: bytes,
    *,
    shown: str,
    mode: int,
    uid: int | None = None,
    gid: int | None = None,
    xattrs: Mapping[str, bytes] | None = None,
    times: tuple[int, int] | None = None,
) -> None:
    """``write_atomic`` for ``name`` in an open folder."""
    if xattrs is None:
        xattrs = _kept_xattrs(folder, name, shown)
    temporary = temporary_name(name)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary, dir_fd=folder)  # left by a run of this very process id that was killed
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temporary, flags, 0o600, dir_fd=folder)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if uid is not None or gid is not None:
                os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
            os.fchmod(fd, mode & 0o777)  # after chown, which may clear set-id bits
            set_xattrs(fd, xattrs)
            if times is not None:
                os.utime(fd, ns=times)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=folder)
        raise
    with contextlib.suppress(OSError):
        os.fsync(folder)


def _kept_xattrs(folder: int, name: str, shown: str) -> Mapping[str, bytes]:
    """The extended attributes of the file about to be replaced ({} if there is none)."""
    try:
        found = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return {}
    if stat.S_ISLNK(found.st_mode):
        raise ServerError(f"{shown} is a symbolic link; gmailfix does not replace it")
    if not stat.S_ISREG(found.st_mode):
        raise ServerError(f"{shown} is not a regular file; gmailfix does not replace it")
    fd = os.open(name, _READ_FLAGS, dir_fd=folder)
    try:
        return read_xattrs(fd)
    finally:
        os.close(fd)


def remove_file(path: Path, root: Root | None = None) -> bool:
    """Remove a regular file under the root; False when it was not there."""
    root = root or Root()
    with folder_fd(path.parent, root) as fd:
        try:
            found = os.stat(path.name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if not stat.S_ISREG(found.st_mode):
            raise ServerError(f"{root.shown(path)} is not a regular file; gmailfix leaves it")
        os.unlink(path.name, dir_fd=fd)
        with contextlib.suppress(OSError):
            os.fsync(fd)
    return True


def remove_empty_folder(path: Path, identity: tuple[int, int], root: Root | None = None) -> bool:
    """Remove a folder if it is still the one made (device, inode) and empty."""
    root = root or Root()
    try:
        with folder_fd(path.parent, root) as fd:
            found = os.stat(path.name, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISDIR(found.st_mode) or (found.st_dev, found.st_ino) != identity:
                return False
            os.rmdir(path.name, dir_fd=fd)
    except OSError:  # gone, or not empty: what was put there since is kept
        return False
    return True


def show_path(path: str | PurePath) -> str:
    """A path on one line: control characters are escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(path))
