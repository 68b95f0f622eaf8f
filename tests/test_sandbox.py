"""The sandbox doctor runs a copy's tools in (gmailfix.server.sandbox): as nobody, with no
network, everything read-only but gmailfix's scratch folder, the copy's files bound where
the program looks. Checked from inside with a real shell."""

from __future__ import annotations

import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gmailfix.server import sandbox
from gmailfix.server.system import Ran, run_command
from tests.support import exim as eh
from tests.support.programs import unavailable


@pytest.fixture
def folder() -> Iterator[Path]:
    if sandbox.unavailable():
        unavailable("the sandbox needs root")
    path = eh.shared_dir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def inside(script: str, **kwargs: object) -> Ran:
    return run_command(sandbox.confined(["sh", "-c", script], **kwargs))  # type: ignore[arg-type]


def test_it_runs_as_nobody_with_no_powers(folder: Path) -> None:
    ran = inside("id -u; id -g; id -G; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status")
    assert ran.ok, ran.output
    lines = ran.output.split()
    assert lines[:3] == ["65534", "65534", "65534"]
    assert "0000000000000000" in ran.output and "NoNewPrivs:\t1" in ran.output


def test_set_uid_programs_stay_nobody(folder: Path) -> None:
    """exim is set-uid root; in the sandbox it cannot become root (no-new-privs, nosuid)."""
    ran = run_command(sandbox.confined([eh.exim(), "-be", "${run{/usr/bin/id -u}}"]))
    assert "65534" in ran.output and "uid=0" not in ran.output


def test_nothing_outside_the_scratch_folder_can_be_written(folder: Path) -> None:
    scratch = folder / "scratch"
    scratch.mkdir()
    shutil.chown(scratch, sandbox.NOBODY, sandbox.NOBODY)
    elsewhere = folder / "open"
    elsewhere.mkdir(mode=0o777)
    elsewhere.chmod(0o777)  # anyone may write here, outside the sandbox
    ran = inside(
        f"touch {scratch}/made; touch {elsewhere}/made; touch /tmp/gmailfix-sandbox-escape; "
        "echo done",
        writable=scratch,
    )
    assert ran.ok and "done" in ran.output
    assert (scratch / "made").exists()
    assert not (elsewhere / "made").exists() and "Read-only file system" in ran.output
    assert not Path("/tmp/gmailfix-sandbox-escape").exists()


def test_no_one_can_be_contacted(folder: Path) -> None:
    """A listener on this computer's loopback is out of reach: the namespace has its own
    loopback, and it is down. The same connection outside the sandbox gets through."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        connect = [
            sys.executable, "-I", "-S", "-c",
            f"import socket; socket.create_connection(('127.0.0.1', {port}), 2); print('reached')",
        ]  # fmt: skip
        outside = run_command(connect)
        assert "reached" in outside.output, outside.output
        listener.accept()[0].close()
        ran = run_command(sandbox.confined(connect))
        listener.settimeout(0.5)
        with pytest.raises(OSError):
            listener.accept()
    assert not ran.ok and "reached" not in ran.output
    assert "Network is unreachable" in ran.output


def test_binds_show_the_copy_where_the_program_looks(folder: Path) -> None:
    copy = folder / "etc-exim4"
    copy.mkdir()
    (copy / "update-exim4.conf.conf").write_text("dc_use_split_config='true'\n")
    ran = inside(
        "cat /etc/exim4/update-exim4.conf.conf; touch /etc/exim4/x 2>&1 || true",
        binds=[(copy, "/etc/exim4")],
    )
    assert "dc_use_split_config='true'" in ran.output
    assert not (copy / "x").exists()


def test_a_target_this_computer_lacks_is_not_created(folder: Path) -> None:
    target = folder / "not-here"
    ran = inside("ls /", binds=[(folder, str(target))])
    assert ran.ok and not target.exists()


def test_a_sandbox_that_cannot_be_made_runs_nothing(folder: Path) -> None:
    missing = folder / "no-such-folder"
    ran = inside(f"touch {folder}/ran", binds=[(missing, "/etc")])
    assert ran.returncode == sandbox.FAILED and "gmailfix sandbox:" in ran.output
    assert not (folder / "ran").exists()


def test_scratch_folders_are_removed() -> None:
    with sandbox.scratch() as space:
        assert space.output.stat().st_uid == sandbox.NOBODY
        assert space.inputs.stat().st_uid == 0
        top = space.output.parent
    assert not top.exists()
