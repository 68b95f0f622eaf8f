"""The mail server as gmailfix sees it: its files (under ``--root``) and its commands.

Three small seams, shared by doctor, apply and watch:

- ``Root``: where the server's files are. ``/`` on the server itself; a copy of
  its filesystem in tests. A path the MTA's config names is read under the root.
- ``Runner``: how a command is run. The default runs the real program with a
  time limit and never raises; tests pass their own to reach a throwaway
  daemon or an unpacked Postfix.
- ``write_atomic``: a file is replaced whole or not at all, with the mode and
  owner it must have, so an interrupted run never leaves half a config file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gmailfix.errors import GmailfixError, reason
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


def write_atomic(
    path: Path, data: bytes, *, mode: int, uid: int | None = None, gid: int | None = None
) -> None:
    """Replace (or create) ``path`` with ``data``: whole, with ``mode`` and owner, or not at all.

    The bytes go to a temporary file in the same folder, are flushed to disk,
    get their mode and owner, and only then are renamed over the old file.
    A symbolic link at ``path`` is refused rather than replaced by a file.
    """
    if path.is_symlink():
        raise ServerError(f"{show_path(path)} is a symbolic link; gmailfix does not replace it")
    temporary = path.with_name(f".{path.name}.gmailfix-{os.getpid()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()  # left by a run of this very process id that was killed
    fd = os.open(temporary, flags, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if uid is not None or gid is not None:
                os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
            os.fchmod(fd, mode)  # after chown, which may clear set-id bits
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename durable; some file systems cannot, which is fine."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def show_path(path: str | Path) -> str:
    """A path on one line: control characters are escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(path))
