"""The bundle writer never destroys what is not its own and never leaks a key.

Each test names the problem it proves fixed (numbers as in the task that
found them). The writer is driven with synthetic file lists; real signals,
an unprivileged user and a file-size limit are exercised in a child process
(DRIVER below), paused at a named step of the write so that "mid-way" is a
fact, not a race. Three end-to-end tests run ``gmailfix export`` on the lab.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import select
import signal
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gmailfix.bundle import SECRET, BundleFile, Step, write_bundle, write_folder, write_zip
from gmailfix.csr import make_key_and_csr, write_private
from gmailfix.errors import BundleError
from gmailfix.lab.runner import LabInfo
from tests.test_cli import gmailfix

ROOT = Path(__file__).resolve().parents[1]
KEY, CSR = make_key_and_csr(["mail.example.test"])
OTHER_KEY, _ = make_key_and_csr(["mail.example.test"])


def manifest_for(files: list[BundleFile]) -> BundleFile:
    data = {
        "schema": "gmailfix.bundle/1",
        "files": [{"path": f.path} for f in files] + [{"path": "MANIFEST.json"}],
    }
    return BundleFile("MANIFEST.json", "this list", json.dumps(data).encode())


def bundle(*extra: BundleFile, readme: bytes = b"new steps") -> list[BundleFile]:
    files = [
        BundleFile("README.md", "the steps", readme),
        BundleFile("certbot/issue.sh", "run as root", b"#!/bin/sh\ncertbot\n", 0o755),
        BundleFile("exim4/tls/sni.map", "map", b"mail.example.test: /etc/exim4/tls\n"),
        *extra,
    ]
    return [*files, manifest_for(files)]


PRIVATE = BundleFile("private/privkey.pem", "the key", KEY, SECRET)
WITH_CSR = BundleFile("csr/request.csr.pem", "the CSR", CSR)


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every entry under ``folder``, hidden ones too: mode and content (or link target)."""
    seen: dict[str, tuple[int, str]] = {}
    for here, dirs, names in os.walk(folder):
        for name in dirs + names:
            path = Path(here, name)
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                what = "-> " + os.readlink(path)
            elif stat.S_ISREG(mode):
                what = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                what = ""
            seen[str(path.relative_to(folder))] = (mode, what)
    return seen


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def refused(target: Path, **kwargs: Any) -> str:
    """The one-line message of the BundleError that ``write_bundle`` raises."""
    kwargs.setdefault("as_zip", target.suffix == ".zip")
    with pytest.raises(BundleError) as caught:
        write_bundle(bundle(), target, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and message
    return message


# ------------------------------------------------ 1. a zip holding a key is 0600


def test_a_zip_holding_a_key_is_0600_from_its_first_byte(tmp_path: Path) -> None:
    modes: list[int] = []

    def watch(event: Step, path: Path) -> None:
        if event == "file":
            modes.append(mode_of(path))

    with umask(0):
        written = write_bundle(bundle(PRIVATE), tmp_path / "fix.zip", as_zip=True, step=watch)
    assert set(modes) == {0o600}  # while it was being written, file after file
    assert mode_of(written.path) == 0o600


@pytest.mark.parametrize("mask", [0, 0o077])
def test_a_zip_without_secrets_is_0644_whatever_the_umask(tmp_path: Path, mask: int) -> None:
    with umask(mask):
        written = write_bundle(bundle(), tmp_path / "fix.zip", as_zip=True)
    assert mode_of(written.path) == 0o644


# ----------------------------- 2. a key is never written through a planted link


def test_a_symlink_at_the_key_path_stops_the_export_and_is_not_followed(tmp_path: Path) -> None:
    shared, attacker = tmp_path / "shared", tmp_path / "attacker"
    shared.mkdir()
    attacker.mkdir()
    (attacker / "loot").write_text("attacker's file")
    (shared / "fix.key.pem").symlink_to(attacker / "loot")
    (shared / "other.key.pem").symlink_to(attacker / "new-loot")  # dangling
    before = snapshot(tmp_path)
    for name in ("fix", "other"):
        message = refused(shared / name, force=True, private_key=KEY)
        assert "never replaces a private key" in message and "move it away" in message
    assert snapshot(tmp_path) == before  # nothing written, through the link or beside it


def test_a_symlink_at_the_old_temporary_key_name_is_harmless(tmp_path: Path) -> None:
    """Before: the key went through ``.NAME.key.pem.tmp`` opened with O_TRUNC, following links."""
    (tmp_path / "loot").write_text("attacker's file")
    (tmp_path / ".fix.key.pem.tmp").symlink_to(tmp_path / "loot")
    written = write_bundle(bundle(WITH_CSR), tmp_path / "fix", as_zip=False, private_key=KEY)
    assert (tmp_path / "loot").read_text() == "attacker's file"
    assert written.key_path == tmp_path / "fix.key.pem"
    assert written.key_path.read_bytes() == KEY and mode_of(written.key_path) == 0o600


@pytest.mark.parametrize("planted", ["file", "symlink", "dangling symlink"])
def test_write_private_never_writes_over_or_through_anything(tmp_path: Path, planted: str) -> None:
    path = tmp_path / "key.pem"
    if planted == "file":
        path.write_bytes(OTHER_KEY)
    elif planted == "symlink":
        (tmp_path / "loot").write_text("attacker's file")
        path.symlink_to(tmp_path / "loot")
    else:
        path.symlink_to(tmp_path / "loot")
    before = snapshot(tmp_path)
    with pytest.raises(FileExistsError):
        write_private(path, KEY)
    assert snapshot(tmp_path) == before


def test_a_key_that_cannot_be_written_whole_is_removed(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_private(tmp_path / "key.pem", None)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mask", [0, 0o277])
def test_the_key_is_0600_whatever_the_umask(tmp_path: Path, mask: int) -> None:
    with umask(mask):
        write_private(tmp_path / "key.pem", KEY)
    assert mode_of(tmp_path / "key.pem") == 0o600
    assert (tmp_path / "key.pem").read_bytes() == KEY


# --------------------------------- 3. folders have explicit modes, whatever the umask


@pytest.mark.parametrize("mask", [0, 0o022, 0o077])
def test_every_folder_and_file_has_its_own_mode_whatever_the_umask(
    tmp_path: Path, mask: int
) -> None:
    with umask(mask):
        written = write_bundle(bundle(PRIVATE), tmp_path / "new" / "fix", as_zip=False)
    root = written.path
    folders = {str(p.relative_to(tmp_path)): mode_of(p) for p in tmp_path.rglob("*") if p.is_dir()}
    assert folders == {
        "new": 0o755,  # a missing parent, made by the export
        "new/fix": 0o755,
        "new/fix/certbot": 0o755,  # holds issue.sh, which the README says to run as root
        "new/fix/exim4": 0o755,
        "new/fix/exim4/tls": 0o755,
        "new/fix/private": 0o700,
    }
    assert mode_of(root / "certbot/issue.sh") == 0o755
    assert mode_of(root / "README.md") == 0o644
    assert mode_of(root / "private/privkey.pem") == 0o600


# ------------------------------------- 4. and 6. signals, in a real child process

DRIVER = r"""
import json, os, resource, sys
from pathlib import Path
from gmailfix.bundle import SECRET, BundleFile, write_bundle
from gmailfix.errors import BundleError

spec = json.loads(sys.argv[1])
files = [BundleFile(f"part{i // 50}/file{i}.txt", "filler", (b"%d " % i) * (spec["size"] // 4))
         for i in range(spec["count"])]
if spec.get("big"):
    files.insert(3, BundleFile("big.bin", "too big", os.urandom(spec["big"])))
if spec.get("secret"):
    files.append(BundleFile("private/privkey.pem", "the key", b"PRIVATE KEY\n", SECRET))
listing = [{"path": f.path} for f in files] + [{"path": "MANIFEST.json"}]
files.append(BundleFile("MANIFEST.json", "this list",
                        json.dumps({"schema": "gmailfix.bundle/1", "files": listing}).encode()))
if spec.get("fsize"):
    resource.setrlimit(resource.RLIMIT_FSIZE, (spec["fsize"], spec["fsize"]))
seen = 0

def step(event, path):
    global seen
    seen += event == "file"
    if spec["pause"] in ([event, seen], [event]):
        print("paused", flush=True)
        sys.stdin.readline()  # the parent signals, then writes a line

try:
    written = write_bundle(files, Path(spec["target"]), as_zip=spec["zip"], force=spec["force"],
                           private_key=b"KEY\n" if spec["key"] else None, step=step)
except BundleError as exc:
    print(exc, file=sys.stderr)
    sys.exit(2)
except KeyboardInterrupt:
    sys.exit(130)
print("written", written.path, "leftover", written.leftover)
"""


def driver(
    target: Path,
    *,
    zip: bool = False,
    key: bool = False,
    secret: bool = False,
    force: bool = False,
    pause: list[Any] | None = None,
    count: int = 300,
    size: int = 16_384,
    big: int = 0,
    fsize: int = 0,
    **popen: Any,
) -> subprocess.Popen[str]:
    spec = dict(
        target=str(target), zip=zip, key=key, secret=secret, force=force, pause=pause,
        count=count, size=size, big=big, fsize=fsize,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, json.dumps(spec)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def signal_when_paused(proc: subprocess.Popen[str], signum: int) -> tuple[int, str]:
    """Wait for the child to pause at its step, signal it, let it go on; (status, stderr)."""
    assert proc.stdout is not None and proc.stdin is not None
    # a guard against a hung child, not a timing assertion
    ready, _, _ = select.select([proc.stdout], [], [], 120)
    line = proc.stdout.readline() if ready else ""
    if line != "paused\n":
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"the child did not pause: {line!r} {err}")
    proc.send_signal(signum)
    with contextlib.suppress(BrokenPipeError):  # SIGKILL: nobody reads it any more
        proc.stdin.write("go\n")
        proc.stdin.flush()
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def finished(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


STATUS: dict[int, int] = {
    signal.SIGTERM: -signal.SIGTERM,
    signal.SIGINT: 130,
    signal.SIGKILL: -signal.SIGKILL,
}


@pytest.mark.parametrize(
    ("name", "key", "secret", "pause", "signum"),
    [
        ("fix", False, False, ["file", 150], signal.SIGTERM),
        ("fix.zip", False, False, ["file", 150], signal.SIGTERM),
        ("fix", True, False, ["staged"], signal.SIGTERM),  # the key is written by then
        ("fix.zip", True, False, ["staged"], signal.SIGTERM),
        ("fix.zip", False, True, ["file", 150], signal.SIGTERM),  # a 0600 staging zip
        ("fix", False, True, ["file", 150], signal.SIGINT),
        ("fix.zip", True, False, ["staged"], signal.SIGINT),
    ],
)
def test_a_signal_mid_write_leaves_the_folder_exactly_as_it_was(
    tmp_path: Path, name: str, key: bool, secret: bool, pause: list[Any], signum: int
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    proc = driver(tmp_path / name, zip=name.endswith(".zip"), key=key, secret=secret, pause=pause)
    status, err = signal_when_paused(proc, signum)
    assert status == STATUS[signum], err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["fix", "fix.zip"])
def test_a_signal_between_the_two_renames_puts_the_old_bundle_back(
    tmp_path: Path, name: str
) -> None:
    write_bundle(bundle(readme=b"old steps"), tmp_path / name, as_zip=name.endswith(".zip"))
    before = snapshot(tmp_path)
    proc = driver(tmp_path / name, zip=name.endswith(".zip"), force=True, pause=["swapping"])
    status, err = signal_when_paused(proc, signal.SIGTERM)
    assert status == -signal.SIGTERM, err
    assert snapshot(tmp_path) == before


def test_a_bundle_left_aside_by_a_killed_run_is_put_back_never_deleted(tmp_path: Path) -> None:
    """Before: SIGKILL between the renames left neither bundle, and the next run deleted the old."""
    target = tmp_path / "fix"
    write_bundle(bundle(readme=b"old steps"), target, as_zip=False)
    old = snapshot(target)
    proc = driver(target, force=True, pause=["swapping"])
    status, _ = signal_when_paused(proc, signal.SIGKILL)  # nothing can clean up after this one
    assert status == -signal.SIGKILL
    assert not target.exists() and (tmp_path / ".fix.old").is_dir()

    with pytest.raises(BundleError) as caught:  # without force: put back, then refused
        write_bundle(bundle(), target, as_zip=False)
    assert "put back" in str(caught.value) and caught.value.replaceable
    assert snapshot(target) == old and not (tmp_path / ".fix.old").exists()

    write_bundle(bundle(), target, as_zip=False, force=True)  # and with it, replaced as usual
    assert (target / "README.md").read_bytes() == b"new steps"
    assert not (tmp_path / ".fix.old").exists()


def test_a_failure_between_the_renames_puts_the_old_bundle_back(tmp_path: Path) -> None:
    write_bundle(bundle(readme=b"old steps"), tmp_path / "fix", as_zip=False)
    before = snapshot(tmp_path)

    def fail(event: Step, _: Path) -> None:
        if event == "swapping":
            raise OSError(28, "No space left on device")

    message = refused(tmp_path / "fix", force=True, step=fail)
    assert message.endswith("No space left on device")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("force", [False, True])
def test_an_old_bundle_left_next_to_a_new_one_is_never_deleted(tmp_path: Path, force: bool) -> None:
    write_bundle(bundle(), tmp_path / "fix", as_zip=False)
    write_bundle(bundle(readme=b"old steps"), tmp_path / ".fix.old", as_zip=False)
    before = snapshot(tmp_path)
    message = refused(tmp_path / "fix", force=force)
    assert ".fix.old" in message and "delete it or move it away" in message
    assert snapshot(tmp_path) == before


def test_something_else_named_like_an_old_bundle_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / ".fix.old").write_text("not a bundle")
    before = snapshot(tmp_path)
    assert "is in the way" in refused(tmp_path / "fix", force=True)
    assert snapshot(tmp_path) == before


def test_a_replaced_bundle_that_cannot_be_deleted_is_reported_and_kept(tmp_path: Path) -> None:
    target = tmp_path / "fix"
    write_bundle(bundle(readme=b"old steps"), target, as_zip=False)
    os.chmod(target / "exim4" / "tls", 0o555)  # its sni.map cannot be unlinked by the child
    proc = driver(target, force=True, count=5, **cannot_write_here())
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.endswith(f"leftover {tmp_path / '.fix.old'}\n")
    assert (target / "MANIFEST.json").exists() and not (target / "README.md").exists()
    assert (tmp_path / ".fix.old" / "exim4" / "tls" / "sni.map").exists()
    assert ".fix.old is an older bundle" in refused(target, force=True)
    os.chmod(tmp_path / ".fix.old" / "exim4" / "tls", 0o755)


# ------------------------------------- 5. only a gmailfix bundle is ever replaced


def zip_of(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


GOOD_MANIFEST = manifest_for([]).content


def make_thing(kind: str, path: Path) -> None:
    """Something a user may have at the path they give, that is not a gmailfix bundle."""
    if kind == "notes.txt":
        path.write_text("my notes")
    elif kind == "data.db":
        path.write_bytes(b"SQLite format 3\x00" + bytes(4000))
    elif kind == "empty folder":
        path.mkdir()
    elif kind == "folder without MANIFEST.json":
        path.mkdir()
        (path / "thesis.tex").write_text("years of work")
    elif kind == "folder with another MANIFEST.json":
        path.mkdir()
        (path / "MANIFEST.json").write_text('{"schema": "other/1"}')
    elif kind == "folder whose MANIFEST.json is a symlink":
        path.mkdir()
        (path.parent / "elsewhere.json").write_bytes(GOOD_MANIFEST)
        (path / "MANIFEST.json").symlink_to(path.parent / "elsewhere.json")
    elif kind == "folder whose MANIFEST.json is a FIFO":
        path.mkdir()
        os.mkfifo(path / "MANIFEST.json")
    elif kind == "zip that is not a bundle":
        zip_of(path, {"photos/cat.jpg": b"\xff\xd8"})
    elif kind == "zip with two top folders":
        zip_of(path, {"a/MANIFEST.json": GOOD_MANIFEST, "b/thesis.tex": b"work"})
    elif kind == "zip with another MANIFEST.json":
        zip_of(path, {"fix/MANIFEST.json": b'{"schema": "other/1"}'})
    elif kind == "zip with a huge MANIFEST.json":
        zip_of(path, {"fix/MANIFEST.json": GOOD_MANIFEST[:-1] + b" " * (2 << 20) + b"}"})
    elif kind == "broken zip":
        zip_of(path, {"fix/MANIFEST.json": GOOD_MANIFEST})
        path.write_bytes(path.read_bytes()[:-30])
    elif kind == "symlink to a bundle":
        write_bundle(bundle(), path.parent / "real", as_zip=False)
        path.symlink_to(path.parent / "real")
    else:
        raise AssertionError(kind)


THINGS = [
    "notes.txt",
    "data.db",
    "empty folder",
    "folder without MANIFEST.json",
    "folder with another MANIFEST.json",
    "folder whose MANIFEST.json is a symlink",
    "folder whose MANIFEST.json is a FIFO",
    "zip that is not a bundle",
    "zip with two top folders",
    "zip with another MANIFEST.json",
    "zip with a huge MANIFEST.json",
    "broken zip",
    "symlink to a bundle",
]


@pytest.mark.parametrize("as_zip", [False, True])
@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("kind", THINGS)
def test_what_is_not_a_bundle_is_refused_with_or_without_force(
    tmp_path: Path, kind: str, force: bool, as_zip: bool
) -> None:
    target = tmp_path / "fix"
    make_thing(kind, target)
    before = snapshot(tmp_path)
    message = refused(target, as_zip=as_zip, force=force)
    assert "not written by gmailfix" in message or "symbolic link" in message
    assert snapshot(tmp_path) == before


def test_a_name_with_a_newline_is_still_one_line(tmp_path: Path) -> None:
    target = tmp_path / "my\nnotes.txt"
    target.write_text("my notes")
    assert "my\\nnotes.txt" in refused(target, force=True)


@pytest.mark.parametrize("name", ["fix", "fix.zip"])
def test_a_bundle_is_replaced_with_force_only(tmp_path: Path, name: str) -> None:
    as_zip = name.endswith(".zip")
    write_bundle(bundle(readme=b"old steps"), tmp_path / name, as_zip=as_zip)
    before = snapshot(tmp_path)
    assert refused(tmp_path / name).endswith("already exists")
    assert snapshot(tmp_path) == before
    written = write_bundle(bundle(), tmp_path / name, as_zip=as_zip, force=True)
    if as_zip:
        with zipfile.ZipFile(written.path) as archive:
            assert archive.read("fix/README.md") == b"new steps"
    else:
        assert (written.path / "README.md").read_bytes() == b"new steps"
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no staging, no .old


def test_a_bundle_holding_a_file_gmailfix_did_not_write_is_not_replaced(tmp_path: Path) -> None:
    write_bundle(bundle(), tmp_path / "fix", as_zip=False)
    (tmp_path / "fix" / "exim4" / "my-notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    message = refused(tmp_path / "fix", force=True)
    assert "exim4/my-notes.txt" in message and "did not write" in message
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["fix", "fix.zip"])
def test_a_bundle_holding_a_key_is_not_replaced_even_with_force(tmp_path: Path, name: str) -> None:
    write_bundle(bundle(PRIVATE), tmp_path / name, as_zip=name.endswith(".zip"))
    before = snapshot(tmp_path)
    message = refused(tmp_path / name, force=True)
    assert "private/privkey.pem" in message and "move it away first" in message
    assert snapshot(tmp_path) == before


# --------------------------------- 7. refusals of the disk: one line, nothing left


def test_an_overlong_name_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    assert "File name too long" in refused(tmp_path / ("x" * 300))
    # a long folder name below a missing one: the folder made first is removed again
    assert "File name too long" in refused(tmp_path / "new" / ("y" * 300) / "fix")
    assert "File name too long" in refused(tmp_path / "/".join(["z" * 200] * 25) / "fix")
    assert list(tmp_path.iterdir()) == []


def test_a_parent_that_is_a_file_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    before = snapshot(tmp_path)
    assert "Not a directory" in refused(tmp_path / "file" / "more" / "fix")
    assert snapshot(tmp_path) == before


PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


def _drop_root_overrides() -> None:
    """In the child before exec: root without the capabilities that ignore file modes."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def cannot_write_here() -> dict[str, Any]:
    """Make a 0555 folder stop the child: modes alone do not stop root."""
    return {"preexec_fn": _drop_root_overrides} if os.geteuid() == 0 else {}


@pytest.mark.parametrize("name", ["fix", "fix.zip", "new/fix"])
def test_a_folder_you_cannot_write_to_is_one_line_and_untouched(tmp_path: Path, name: str) -> None:
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    (readonly / "notes.txt").write_text("mine")
    os.chmod(readonly, 0o555)
    before = snapshot(tmp_path)
    target = readonly / name
    status, err = finished(driver(target, zip=name.endswith(".zip"), key=True, count=5, **cannot_write_here()))  # fmt: skip
    assert status == 2 and err.count("\n") == 1 and "Permission denied" in err, err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(("name", "key"), [("fix", True), ("fix.zip", True), ("fix.zip", False)])
def test_a_full_disk_mid_write_is_one_line_and_leaves_nothing(
    tmp_path: Path, name: str, key: bool
) -> None:
    """RLIMIT_FSIZE makes a write fail with EFBIG partway, as ENOSPC or EDQUOT would."""
    (tmp_path / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    target = tmp_path / "new" / name
    proc = driver(target, zip=name.endswith(".zip"), key=key, big=400_000, fsize=200_000)
    status, err = finished(proc)
    assert status == 2 and err.count("\n") == 1 and "File too large" in err, err
    assert snapshot(tmp_path) == before


def test_paths_that_climb_out_of_the_bundle_are_refused_before_writing(tmp_path: Path) -> None:
    for path in ("../escape", "/etc/passwd", "a//b", "./a", ""):
        with pytest.raises(ValueError):
            write_bundle([BundleFile(path, "bad", b"x")], tmp_path / "fix", as_zip=False)
    assert list(tmp_path.iterdir()) == []


# ------------------------------ 8. an existing key is checked first, never replaced


@pytest.mark.parametrize("name", ["fix", "fix.zip"])
def test_an_existing_key_stops_the_export_before_anything_is_written(
    tmp_path: Path, name: str
) -> None:
    as_zip = name.endswith(".zip")
    write_bundle(bundle(WITH_CSR, readme=b"old steps"), tmp_path / name, as_zip=as_zip)
    (tmp_path / f"{name}.key.pem").write_bytes(OTHER_KEY)
    before = snapshot(tmp_path)
    message = refused(tmp_path / name, force=True, private_key=KEY)
    assert f"{name}.key.pem already exists" in message and "even when told to" in message
    assert snapshot(tmp_path) == before


def public(pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(pem, password=None).public_key()
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_the_csr_in_the_bundle_matches_the_key_beside_it(tmp_path: Path) -> None:
    written = write_bundle(bundle(WITH_CSR), tmp_path / "fix", as_zip=False, private_key=KEY)
    assert written.key_path is not None
    csr = x509.load_pem_x509_csr((written.path / "csr/request.csr.pem").read_bytes())
    assert csr.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == public(written.key_path.read_bytes())


def test_the_old_writers_keep_their_shape(tmp_path: Path) -> None:
    assert write_folder(bundle(), tmp_path / "a") == tmp_path / "a"
    assert write_zip(bundle(), tmp_path / "a.zip") == tmp_path / "a.zip"


# --------------------------------------------------- the same, as a user runs it


def export(lab: LabInfo, *args: str) -> subprocess.CompletedProcess[str]:
    return gmailfix(
        "export", "selfsigned.test", "--remedy", "new-certificate", "--make-csr", *args,
        *lab.diagnose_args("selfsigned.test"),
    )  # fmt: skip


def test_cli_zip_with_the_key_inside_is_0600(lab: LabInfo, tmp_path: Path) -> None:
    done = export(lab, "--include-key", "--zip", str(tmp_path / "fix.zip"))
    assert done.returncode == 0, done.stderr
    assert mode_of(tmp_path / "fix.zip") == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["fix.zip"]


def test_cli_never_replaces_a_key_even_with_force(lab: LabInfo, tmp_path: Path) -> None:
    out = tmp_path / "cert"
    assert export(lab, "--out", str(out)).returncode == 0
    before = snapshot(tmp_path)
    again = export(lab, "--out", str(out), "--force")
    # 1 today; 2 once cli.py maps BundleError to a usage error
    assert again.returncode in (1, 2) and "Traceback" not in again.stderr
    assert again.stderr.count("\n") == 1 and "move it away first" in again.stderr
    assert snapshot(tmp_path) == before  # the bundle's CSR still matches the key that is kept
    csr = x509.load_pem_x509_csr((out / "csr/request.csr.pem").read_bytes())
    key_der = public((tmp_path / "cert.key.pem").read_bytes())
    assert (
        csr.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == key_der
    )


def test_cli_force_refuses_a_users_file(lab: LabInfo, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("my notes")
    done = export(lab, "--zip", str(tmp_path / "notes.txt"), "--force")
    assert done.returncode in (1, 2) and "not written by gmailfix" in done.stderr
    assert (tmp_path / "notes.txt").read_text() == "my notes"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
