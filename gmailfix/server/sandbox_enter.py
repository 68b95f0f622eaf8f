"""The inside of gmailfix's sandbox: run as root in fresh namespaces, then become nobody.

``gmailfix.server.sandbox`` starts this file with ``unshare`` (new mount,
network, PID, IPC and UTS namespaces) and ``python -I -S``, so it imports
nothing of gmailfix and nothing from site-packages: the standard library only.
Still root, but only in the new mount namespace, it

1. bind-mounts each ``--bind SRC DST`` (a copy's /etc/exim4 where Debian's
   tools look for it); a DST this computer does not have is skipped, never
   created (creating it would change this computer);
2. makes every mount point read-only and nosuid; only the ``--write`` folder
   (gmailfix's own temporary folder) stays writable;
3. sets small limits (processes, file size, CPU) and ``umask 077``;
4. executes ``setpriv`` to become nobody:nogroup with no groups, no
   capabilities and no-new-privs (so set-uid programs such as exim stay
   nobody), with an environment of its own, and runs the command.

Any step that fails stops here with exit status 125 and one line on stderr:
nothing runs unconfined. The namespace has only a loopback interface that is
down, so the command can reach no one.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import sys

FAILED = 125
NOBODY = 65534
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND = 32, 1024, 2048, 4096
MS_REC, MS_PRIVATE, MS_RELATIME = 16384, 1 << 18, 1 << 21
# statvfs's f_flag bits -> the mount flags a remount must keep
KEEP = {
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}
LIMITS = {
    resource.RLIMIT_NPROC: 64,
    resource.RLIMIT_FSIZE: 64 * 1024 * 1024,
    resource.RLIMIT_CPU: 120,
    resource.RLIMIT_CORE: 0,
}

_libc = ctypes.CDLL(None, use_errno=True)


class Refused(Exception):
    pass


def _mount(source: str | None, target: str, flags: int) -> None:
    done = _libc.mount(
        None if source is None else os.fsencode(source), os.fsencode(target), None, flags, None
    )
    if done != 0:
        error = ctypes.get_errno()
        raise Refused(f"mount {target}: {os.strerror(error)}")


def _mount_points() -> list[str]:
    """Every mount point in this namespace, from /proc/self/mountinfo (octal escapes undone)."""
    with open("/proc/self/mountinfo", "rb") as handle:
        lines = handle.read().decode("utf-8", "surrogateescape").splitlines()
    points = []
    for line in lines:
        fields = line.split(" ")
        if len(fields) > 4:
            raw = fields[4].encode("utf-8", "surrogateescape")
            points.append(os.fsdecode(raw.decode("unicode_escape").encode("latin-1")))
    return points


def _read_only(point: str) -> None:
    try:
        found = os.statvfs(point).f_flag
    except OSError as exc:
        if exc.errno in (
            errno.EACCES,
            errno.ENOENT,
        ):  # hidden below another mount, or a dead path: unreachable
            return
        raise Refused(f"statvfs {point}: {exc.strerror}") from None
    keep = 0
    for bit, flag in KEEP.items():
        if found & bit:
            keep |= flag
    _mount(None, point, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | keep)


def _arguments(argv: list[str]) -> tuple[list[tuple[str, str]], str | None, list[str]]:
    binds: list[tuple[str, str]] = []
    writable: str | None = None
    index = 0
    while index < len(argv):
        word = argv[index]
        if word == "--bind" and index + 2 < len(argv):
            binds.append((argv[index + 1], argv[index + 2]))
            index += 3
        elif word == "--write" and index + 1 < len(argv):
            writable = argv[index + 1]
            index += 2
        elif word == "--":
            command = argv[index + 1 :]
            if not command:
                break
            return binds, writable, command
        else:
            break
    raise Refused("sandbox_enter.py takes bind pairs and writable folders, then a command")


def enter(argv: list[str]) -> None:
    binds, writable, command = _arguments(argv)
    if os.getpid() != 1:
        raise Refused("not the first process of a new PID namespace")
    _mount(None, "/", MS_REC | MS_PRIVATE)  # nothing done here leaks out
    for source, target in binds:
        if os.path.lexists(target):
            _mount(source, target, MS_BIND)
    if writable is not None:
        _mount(writable, writable, MS_BIND)
    for point in _mount_points():
        _read_only(point)
    if writable is not None:
        _mount(None, writable, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV)
    for limit, value in LIMITS.items():
        resource.setrlimit(limit, (value, value))
    os.umask(0o077)
    scratch = writable or "/nonexistent"
    environment = {"PATH": SEARCH_PATH, "LC_ALL": "C", "TMPDIR": scratch, "HOME": scratch}
    setpriv = next(
        (f"{d}/setpriv" for d in SEARCH_PATH.split(":") if os.access(f"{d}/setpriv", os.X_OK)),
        None,
    )
    if setpriv is None:
        raise Refused("setpriv is not installed (util-linux)")
    os.chdir(scratch if writable else "/")
    os.execve(
        setpriv,
        [
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
            *command,
        ],
        environment,
    )


if __name__ == "__main__":
    try:
        enter(sys.argv[1:])
    except (Refused, OSError) as exc:
        print(f"gmailfix sandbox: {exc}", file=sys.stderr)
        sys.exit(FAILED)
