"""A copy of a server's files with a plain exim.conf, and changes made to it by the real
``apply`` (a plan of file changes and no steps), for the journal and path tests.

No daemon runs from it: these tests are about what is written, kept and put back.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from gmailfix.server.apply import ApplyPlan, ApplyResult, apply
from gmailfix.server.edit import file_change
from gmailfix.server.mta import Setup
from gmailfix.server.system import Root

CONFIG = "etc/exim/exim.conf"
FILES = {
    CONFIG: b"primary_hostname = mail.example.test\nbegin acl\n",
    "etc/exim/passwd": b"me:$6$salt$hash\n",
    "etc/exim4/conf.d/main/000_localmacros": b"MAIN_TLS_ENABLE = yes\n",
}


def make_root(where: Path) -> Path:
    """A root with Exim's plain config and a few files gmailfix may change."""
    root = where / "root"
    for name, data in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o644)
    return root


def change(root: Path, files: dict[str, bytes]) -> ApplyResult:
    """``apply`` of a plan that writes ``files`` (paths relative to the root)."""
    server = Root(root)
    setup = Setup("exim", server, "plain", root / CONFIG)
    changes = tuple(
        file_change(root / name, server.shown(root / name), data, "a test change")
        for name, data in files.items()
    )
    plan = ApplyPlan(None, setup, changes, (), what="a test change")
    result = apply(plan)
    assert result.outcome == "applied", result.results
    return result


def tree(folder: Path) -> dict[str, tuple[int, int, int, str]]:
    """Every entry under ``folder`` (hidden ones too): mode, owner, group, and content
    (SHA-256) or link target."""
    found: dict[str, tuple[int, int, int, str]] = {}
    if not folder.exists():
        return found
    for here, dirs, names in os.walk(folder):
        for name in dirs + names:
            path = Path(here, name)
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                what = "-> " + os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                what = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                what = ""
            found[str(path.relative_to(folder))] = (info.st_mode, info.st_uid, info.st_gid, what)
    return found
