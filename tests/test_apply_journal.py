"""apply's journal against real Exim programs on a copy of Debian's /etc/exim4 (issue 19).

- kill -9 at every point where apply commits something (each rename, each
  temporary file made, each command started): rollback then leaves every file
  byte for byte with its mode and owner, and no temporary file anywhere;
- extended attributes, POSIX ACLs and the times of a file survive apply and
  rollback;
- a write that fails before anything changed (a read-only /etc/exim4, a full
  disk under the journal) leaves no journal open, so the next apply runs;
- under --root, the ``.include`` written into a plain exim.conf names the path
  on the real server, not the copy's.

The mounts are made in a private mount namespace (``unshare -m``), so nothing
outlives the test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from gmailfix.remedies.model import Proposal
from gmailfix.server.apply import apply, plan_apply, rollback
from gmailfix.server.journals import journals
from gmailfix.server.system import TEMPORARY, Root, ServerError
from tests import test_apply as shared
from tests.support import exim as eh
from tests.support.server_root import (
    Pki,
    Server,
    blog_certificate,
    changed_files,
    debian_server,
    issue,
    snapshot,
)

# test_apply.py's fixtures: the blog's broken server diagnosed once, bundles made from it
pki, dns, broken, bundles, export = (
    shared.pki,
    shared.dns,
    shared.broken,
    shared.bundles,
    shared.export,
)

pytestmark = pytest.mark.exim
REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
CLI = "import sys; from gmailfix.cli.main import main; sys.exit(main(sys.argv[1:]))"


def ready_server(server: Server, pki: Pki) -> None:
    """The blog's broken server, its config generated, the new certificate installed."""
    server.add_macros(blog_certificate(server))
    server.generate()
    issue(server, pki)


def leftovers(root: Path) -> list[str]:
    """Temporary files of gmailfix's anywhere under the root."""
    return sorted(
        str(Path(here, name).relative_to(root))
        for here, _, names in os.walk(root)
        for name in names
        if TEMPORARY.match(name)
    )


def gmailfix_cli(*args: str) -> list[str]:
    return [sys.executable, "-c", CLI, *args]


# --- kill -9 anywhere, then rollback -----------------------------------------------------

KILLER = r"""
import json, os, signal, sys
from gmailfix.cli.main import main

event, nth = sys.argv[1], int(sys.argv[2])
seen = {}

def point(name, args):
    if name == "os.rename" or name == "subprocess.Popen":
        return name
    if name == "open" and args[2] & os.O_EXCL:  # a temporary file is made
        return "temporary"
    return None

def hook(name, args):
    kind = point(name, args)
    if kind is not None:
        seen[kind] = seen.get(kind, 0) + 1
        if kind == event and seen[kind] == nth:
            os.kill(os.getpid(), signal.SIGKILL)  # kill -9: nothing runs after this

sys.addaudithook(hook)
status = main(sys.argv[3:])
print("POINTS " + json.dumps(seen), flush=True)
sys.exit(status)
"""


def killed_apply(
    bundle: Path, root: Path, event: str, nth: int
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", KILLER, event, str(nth), "apply", str(bundle)]
    return subprocess.run(
        [*argv, "--root", str(root), "--yes"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=ENV,
    )


def test_kill_9_at_every_point_then_rollback_restores_every_byte(
    pki: Pki, broken: Proposal, bundles: Path
) -> None:
    with debian_server("debian-split") as server:
        ready_server(server, pki)
        bundle = export(broken, "debian-split", server.tls_dir, bundles / "fix")
        original = snapshot(server.root)
        whole = killed_apply(bundle, server.root, "none", 0)  # counts the points
        assert whole.returncode == 0, whole.stdout + whole.stderr
        points = json.loads(whole.stdout.rsplit("POINTS ", 1)[1])
        rollback(Root(server.root))
        assert changed_files(original, snapshot(server.root)) == []
        kills = [(event, n) for event, count in sorted(points.items()) for n in range(1, count + 1)]
        assert len(kills) >= 16, points

        for event, n in kills:
            done = killed_apply(bundle, server.root, event, n)
            assert done.returncode == -9, (event, n, done.stderr)
            try:
                undone = rollback(Root(server.root))
            except ServerError as exc:  # killed before its first write: nothing to undo
                assert "nothing to roll back" in str(exc), (event, n)
            else:
                assert undone.restored, (event, n)
            assert changed_files(original, snapshot(server.root)) == [], (event, n)
            assert leftovers(server.root) == [], (event, n)
            assert {j.state for j in journals(Root(server.root))} <= {"rolled-back"}, (event, n)


# --- extended attributes, ACLs and times ---------------------------------------------------

ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ, ACL_MASK, ACL_OTHER = 0x01, 0x02, 0x04, 0x10, 0x20
UNDEFINED_ID = 0xFFFFFFFF


def posix_acl(*entries: tuple[int, int, int]) -> bytes:
    """system.posix_acl_access as the kernel stores it (what setfacl writes)."""
    header = struct.pack("<I", 2)
    return header + b"".join(struct.pack("<HHI", tag, perm, uid) for tag, perm, uid in entries)


NOBODY_READS = posix_acl(
    (ACL_USER_OBJ, 6, UNDEFINED_ID),
    (ACL_USER, 4, 65534),  # nobody may read it
    (ACL_GROUP_OBJ, 4, UNDEFINED_ID),
    (ACL_MASK, 4, UNDEFINED_ID),
    (ACL_OTHER, 0, UNDEFINED_ID),
)


def attributes(path: Path) -> dict[str, bytes]:
    return {name: os.getxattr(path, name) for name in sorted(os.listxattr(path))}


def test_xattrs_acls_and_times_are_kept_on_write_and_on_restore(
    pki: Pki, broken: Proposal, bundles: Path
) -> None:
    with debian_server("debian-split") as server:
        ready_server(server, pki)
        macros = server.macros
        macros.chmod(0o640)
        os.setxattr(macros, "user.backup-tag", b"nightly")
        os.setxattr(macros, "system.posix_acl_access", NOBODY_READS)
        os.utime(macros, ns=(1_600_000_000_111_111_111, 1_600_000_000_222_222_222))
        kept = attributes(macros)
        assert set(kept) == {"system.posix_acl_access", "user.backup-tag"}
        before = macros.stat()
        original = snapshot(server.root)

        bundle = export(broken, "debian-split", server.tls_dir, bundles / "fix")
        result = apply(plan_apply(bundle, Root(server.root), runner=server.run), runner=server.run)
        assert result.outcome == "applied", result.results
        assert macros.read_bytes() != b"" and attributes(macros) == kept  # on write
        assert macros.stat().st_mtime_ns != before.st_mtime_ns  # new bytes, a new time

        rollback(Root(server.root), runner=server.run)
        assert changed_files(original, snapshot(server.root)) == []
        after = macros.stat()
        assert attributes(macros) == kept  # on restore
        assert after.st_mtime_ns == before.st_mtime_ns  # (reading it since moved its atime)
        assert (after.st_mode, after.st_uid, after.st_gid) == (
            before.st_mode,
            before.st_uid,
            before.st_gid,
        )


# --- a write that fails before any change --------------------------------------------------


def in_namespace(script: str, **values: str) -> subprocess.CompletedProcess[str]:
    """``script`` (sh) in a private mount namespace; ``$GMAILFIX`` runs the CLI."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.fail("unshare (util-linux) and root are needed for a private mount namespace")
    env = {**ENV, **values, "GMAILFIX": f"{sys.executable} -c '{CLI}'"}
    return subprocess.run(
        [unshare, "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=env,
    )


def statuses(output: str) -> list[int]:
    return [int(n) for n in re.findall(r"^status (\d+)$", output, re.MULTILINE)]


READ_ONLY = """
mount --bind "$ROOT/etc/exim4" "$ROOT/etc/exim4" || exit 90
mount -o remount,bind,ro "$ROOT/etc/exim4" || exit 91
for run in 1 2; do
    eval "$GMAILFIX" apply "$BUNDLE" --root "$ROOT" --yes; echo "status $?"
done
"""


def test_a_read_only_target_leaves_no_journal_open(
    pki: Pki, broken: Proposal, bundles: Path
) -> None:
    with debian_server("debian-split") as server:
        ready_server(server, pki)
        bundle = export(broken, "debian-split", server.tls_dir, bundles / "fix")
        original = snapshot(server.root)
        done = in_namespace(READ_ONLY, ROOT=str(server.root), BUNDLE=str(bundle))
        assert statuses(done.stdout) == [2, 2], done.stdout + done.stderr
        refusals = [line for line in done.stderr.splitlines() if line.startswith("gmailfix:")]
        assert len(refusals) == 2 and all("Read-only file system" in r for r in refusals)
        assert "stopped halfway" not in done.stderr  # the second run was not refused
        assert changed_files(original, snapshot(server.root)) == []
        assert leftovers(server.root) == []
        assert {j.state for j in journals(Root(server.root))} <= {"rolled-back"}

        result = apply(plan_apply(bundle, Root(server.root), runner=server.run), runner=server.run)
        assert result.outcome == "applied", result.results  # writable again: it goes through


FULL_DISK = """
mount -t tmpfs -o size=1m,mode=0700 gmailfix-test "$ROOT/var/lib/gmailfix" || exit 90
# every page but one: the journal's first save fits, its first backup does not
head -c 1044480 /dev/zero > "$ROOT/var/lib/gmailfix/filler" || exit 91
for run in 1 2; do
    eval "$GMAILFIX" apply "$BUNDLE" --root "$ROOT" --yes; echo "status $?"
done
rm "$ROOT/var/lib/gmailfix/filler"
eval "$GMAILFIX" apply "$BUNDLE" --root "$ROOT" --yes; echo "status $?"
eval "$GMAILFIX" rollback --root "$ROOT"; echo "status $?"
"""


def test_a_full_disk_leaves_no_journal_open(pki: Pki, broken: Proposal, bundles: Path) -> None:
    with debian_server("debian-split") as server:
        ready_server(server, pki)
        bundle = export(broken, "debian-split", server.tls_dir, bundles / "fix")
        (server.root / "var/lib/gmailfix").mkdir(mode=0o700, parents=True)
        original = snapshot(server.root)
        done = in_namespace(FULL_DISK, ROOT=str(server.root), BUNDLE=str(bundle))
        assert statuses(done.stdout) == [2, 2, 0, 0], done.stdout + done.stderr
        refusals = [line for line in done.stderr.splitlines() if line.startswith("gmailfix:")]
        assert len(refusals) == 2, done.stderr
        assert all("No space left on device" in r for r in refusals), refusals
        assert "Applied." in done.stdout and "Undid:" in done.stdout
        assert changed_files(original, snapshot(server.root)) == []
        assert leftovers(server.root) == []


# --- .include under --root ----------------------------------------------------------------


def test_the_include_names_the_servers_path_not_the_copys(broken: Proposal, bundles: Path) -> None:
    """A copy of a real server's plain exim.conf names the server's paths; the line apply
    adds must too, or the config breaks once the copy is the server again."""
    root = eh.shared_dir()
    try:
        conf = root / "etc/exim/exim.conf"
        conf.parent.mkdir(parents=True)
        conf.write_text(
            "primary_hostname = mail.doctor.test\n"
            "tls_certificate = /etc/exim/exim.crt\n"
            "tls_privatekey = /etc/exim/exim.key\n"
            "begin acl\n"
        )
        bundle = export(broken, "plain", Path("/etc/exim/tls"), bundles / "fix")
        plan = plan_apply(bundle, Root(root))
        [config] = [c for c in plan.changes if c.path == conf]
        text = config.after.decode()
        assert ".include /etc/exim/gmailfix-tls.conf\n" in text
        assert str(root) not in text
        assert [c.path for c in plan.changes] == [root / "etc/exim/gmailfix-tls.conf", conf]
    finally:
        shutil.rmtree(root, ignore_errors=True)
