"""Extended attributes (ACLs among them) of a file gmailfix replaces: kept on write and
on restore; security.capability never copied; file systems without xattrs tolerated."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Mapping

NEVER_COPIED = frozenset({"security.capability"})  # would give a program root's powers
XATTR_LIMIT = 64  # extended attributes kept per file; a file with more is not a config file
_NO_XATTRS = (errno.ENOTSUP, errno.EOPNOTSUPP)


def read_xattrs(fd: int) -> dict[str, bytes]:
    """A file's extended attributes (POSIX ACLs, SELinux label, user.*); {} where the
    file system has none. A capability is never among them."""
    try:
        names = os.listxattr(fd)
    except OSError as exc:
        if exc.errno in _NO_XATTRS:
            return {}
        raise
    found: dict[str, bytes] = {}
    for name in sorted(names)[:XATTR_LIMIT]:
        if name in NEVER_COPIED:
            continue
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to read
            found[name] = os.getxattr(fd, name)
    return found


def set_xattrs(fd: int, xattrs: Mapping[str, bytes]) -> None:
    """Give a file these extended attributes. A file system without them, or a name
    only the kernel may set (security.*, trusted.*), is passed over."""
    for name, value in list(xattrs.items())[:XATTR_LIMIT]:
        if name in NEVER_COPIED:
            continue
        try:
            os.setxattr(fd, name, value)
        except OSError as exc:
            if exc.errno in _NO_XATTRS:
                return
            if exc.errno in (errno.EPERM, errno.EACCES) and not name.startswith(
                ("user.", "system.")
            ):
                continue
            raise
