"""``rollback`` trusts a journal only as far as it is safe (issue 19, items 6, 7 and 11).

Before: a planted journal made rollback create a set-uid root file, delete an
arbitrary file, remove a folder and run the journal's "reload" command while its
output listed harmless paths; edits made after apply were thrown away silently;
kill -9 left ``.NAME.gmailfix-PID`` files holding the new config.

Changes are made by the real ``apply`` (tests/support/changes.py); journals are
tampered with as root would find them, then the real rollback runs.
"""

from __future__ import annotations

import json
import os
import pwd
import select
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gmailfix.cli.main import main
from gmailfix.server.apply import rollback
from gmailfix.server.journal import Journal
from gmailfix.server.journals import journals
from gmailfix.server.system import Root, ServerError, run_command
from tests.support.changes import change, make_root, tree

MACROS = "etc/exim4/conf.d/main/000_localmacros"
SNI_MAP = "etc/exim4/tls/sni.map"
REPO = Path(__file__).resolve().parents[1]
NOBODY = pwd.getpwnam("nobody").pw_uid


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(tmp_path)


def only_journal(root: Path) -> Path:
    [journal] = journals(Root(root))
    return journal.folder


def edit_journal(root: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Change the last journal's journal.json as root could (it stays root's, 0600)."""
    path = only_journal(root) / "journal.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    path.chmod(0o600)


def one_line(caught: pytest.ExceptionInfo[ServerError]) -> str:
    message = str(caught.value)
    assert message and "\n" not in message
    return message


# --- the journal's folder is root's alone -------------------------------------------------


@pytest.mark.parametrize("mask", [0, 0o022])
def test_the_journal_lives_in_folders_of_roots_alone(
    root: Path, mask: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = os.umask(mask)
    try:
        change(root, {MACROS: b"new\n"})
    finally:
        os.umask(old)
    journal = only_journal(root)
    for folder in (root / "var/lib/gmailfix", root / "var/lib/gmailfix/journal", journal):
        info = folder.lstat()
        assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o700, 0), folder
    assert stat.S_IMODE((journal / "files").stat().st_mode) == 0o700
    assert stat.S_IMODE((journal / "journal.json").stat().st_mode) == 0o600


UNSAFE: dict[str, Callable[[Path], None]] = {
    "writable by others": lambda p: p.chmod(0o777),
    "writable by its group": lambda p: p.chmod(0o770),
    "owned by another user": lambda p: os.chown(p, NOBODY, -1),
}


@pytest.mark.parametrize("how", sorted(UNSAFE))
@pytest.mark.parametrize(
    "which",
    ["var/lib/gmailfix", "var/lib/gmailfix/journal", "JOURNAL", "JOURNAL/files",
     "JOURNAL/journal.json", "JOURNAL/files/0000"],
)  # fmt: skip
def test_a_journal_others_could_have_written_is_refused(root: Path, which: str, how: str) -> None:
    change(root, {MACROS: b"gmailfix's\n"})
    journal = only_journal(root)
    target = Path(which.replace("JOURNAL", str(journal))) if "JOURNAL" in which else root / which
    UNSAFE[how](target)
    before = tree(root / "etc")
    with pytest.raises(ServerError) as caught:
        rollback(Root(root))
    message = one_line(caught)
    assert "does not trust" in message and Root(root).shown(target) in message
    assert tree(root / "etc") == before  # nothing put back from it


# --- what a planted journal can make rollback do -------------------------------------------


@pytest.mark.parametrize(
    "path", ["/etc/shadow", "/root/.ssh/authorized_keys", "/etc/exim4/../shadow", "/etc/exim4"]
)
def test_a_journal_naming_a_file_outside_the_allowlist_is_refused(root: Path, path: str) -> None:
    (root / "etc/shadow").write_text("root:secret\n")
    change(root, {MACROS: b"gmailfix's\n"})

    def plant(data: dict[str, Any]) -> None:
        data["entries"].append({**data["entries"][0], "path": path, "existed": False})

    edit_journal(root, plant)
    before = tree(root)
    with pytest.raises(ServerError, match="gmailfix does not act on it"):
        rollback(Root(root))
    assert tree(root) == before
    assert (root / "etc/shadow").read_text() == "root:secret\n"


@pytest.mark.parametrize("field", ["backup", "after"])
def test_a_journal_naming_another_backup_file_is_refused(root: Path, field: str) -> None:
    change(root, {MACROS: b"gmailfix's\n"})
    edit_journal(root, lambda data: data["entries"][0].update({field: "../../../../etc/shadow"}))
    with pytest.raises(ServerError, match="damaged") as caught:
        rollback(Root(root))
    one_line(caught)
    assert (root / MACROS).read_bytes() == b"gmailfix's\n"


@pytest.mark.parametrize(
    ("planted", "restored"), [(0o4755, 0o755), (0o2750, 0o750), (0o1777, 0o777)]
)
def test_rollback_never_sets_set_uid_set_gid_or_sticky(
    root: Path, planted: int, restored: int
) -> None:
    change(root, {MACROS: b"gmailfix's\n"})
    edit_journal(root, lambda data: data["entries"][0].update({"mode": planted}))
    rollback(Root(root))
    assert stat.S_IMODE((root / MACROS).stat().st_mode) == restored


def test_rollback_removes_only_the_empty_folder_it_made(root: Path) -> None:
    (root / "etc/exim4/mine").mkdir()  # the person's empty folder
    change(root, {SNI_MAP: b"mail: /etc/exim4/tls\n"})  # makes etc/exim4/tls
    theirs = (root / "etc/exim4/mine").stat()

    def plant(data: dict[str, Any]) -> None:
        made = data["folders"][0]
        data["folders"].append({"path": "/etc/exim4/mine", "dev": made["dev"], "ino": made["ino"]})

    edit_journal(root, plant)
    done = rollback(Root(root))
    assert (root / "etc/exim4/mine").is_dir()  # another inode than the folder it made
    assert (root / "etc/exim4/mine").stat().st_ino == theirs.st_ino
    assert not (root / "etc/exim4/tls").exists()
    assert [(r.shown, r.action) for r in done.restored] == [
        ("/etc/exim4/tls/sni.map", "removed"),
        ("/etc/exim4/tls", "folder-removed"),
    ]


@pytest.mark.parametrize("folder", ["/etc/exim4", "/etc/ssl/private", "/etc/exim4/../../tmp"])
def test_a_journal_naming_a_folder_gmailfix_would_not_make_is_refused(
    root: Path, folder: str
) -> None:
    (root / "etc/ssl/private").mkdir(parents=True)
    change(root, {MACROS: b"gmailfix's\n"})
    found = (root / "etc/ssl/private").stat()
    edit_journal(
        root,
        lambda data: data["folders"].append(
            {"path": folder, "dev": found.st_dev, "ino": found.st_ino}
        ),
    )
    with pytest.raises(ServerError, match="damaged"):
        rollback(Root(root))
    assert (root / "etc/ssl/private").is_dir() and (root / MACROS).read_bytes() == b"gmailfix's\n"


def test_no_command_is_ever_read_from_a_journal(root: Path, tmp_path: Path) -> None:
    change(root, {MACROS: b"gmailfix's\n"})
    mark = tmp_path / "ran"
    command = ["sh", "-c", f"touch {mark}"]
    edit_journal(root, lambda data: data["extra"].update({"reload": command, "restart": command}))
    done = rollback(Root(root), runner=run_command)
    assert not mark.exists()
    assert done.reload is None  # under --root no MTA runs: nothing is restarted


def test_the_restart_is_the_one_given_or_worked_out_anew(root: Path) -> None:
    change(root, {MACROS: b"gmailfix's\n"})
    ran: list[tuple[str, ...]] = []

    def runner(argv: Any) -> Any:
        ran.append(tuple(argv))
        return run_command(["true"])

    done = rollback(Root(root), runner=runner, reload=["test-restart"])
    assert ran == [("test-restart",)] and done.reload is not None and done.reload.ok


# --- edits made since the change ------------------------------------------------------------


def test_rollback_refuses_to_throw_away_an_edit_and_shows_it(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = (root / MACROS).read_bytes()
    change(root, {MACROS: b"MAIN_TLS_ENABLE = yes\n# gmailfix's line\n"})
    (root / MACROS).write_bytes(b"MAIN_TLS_ENABLE = yes\n# gmailfix's line\n# the person's edit\n")
    before = tree(root)

    assert main(["rollback", "--root", str(root)]) == 2
    out, err = capsys.readouterr()
    assert f"--- {'/' + MACROS} (as gmailfix left it)" in out
    assert f"+++ {'/' + MACROS} (now)" in out
    assert "+# the person's edit" in out
    assert err.count("\n") == 1 and "changed since" in err and "--force" in err
    assert tree(root) == before  # nothing was put back

    assert main(["rollback", "--root", str(root), "--force"]) == 0
    out = capsys.readouterr().out
    assert (root / MACROS).read_bytes() == original
    kept = only_journal(root) / "files/0000.now"
    assert kept.read_bytes().endswith(b"# the person's edit\n")
    assert f"restored /{MACROS}; the edited copy it replaced is kept as" in out


def test_a_file_removed_since_is_a_change_too(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change(root, {MACROS: b"gmailfix's\n", SNI_MAP: b"mail: /etc/exim4/tls\n"})
    (root / MACROS).unlink()
    (root / SNI_MAP).unlink()  # one gmailfix made: gone is as it was before, not an edit
    assert main(["rollback", "--root", str(root)]) == 2
    out, err = capsys.readouterr()
    assert f"+++ /{MACROS} (now: removed)" in out and "-gmailfix's" in out
    assert SNI_MAP not in out + err


def test_the_output_says_exactly_what_was_done(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passwd = (root / "etc/exim/passwd").read_bytes()
    change(root, {MACROS: b"new\n", "etc/exim/passwd": passwd, SNI_MAP: b"m: /etc/exim4/tls\n"})
    assert main(["rollback", "--root", str(root)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Undid: a test change",
        f"  restored /{MACROS}",
        "  /etc/exim/passwd was already as before (not touched)",
        f"  removed /{SNI_MAP} (the change had made it)",
        "  removed the empty folder /etc/exim4/tls (the change had made it)",
        "  (nothing was restarted: under --root no MTA runs from the copy)",
    ]


def test_a_journals_words_are_shown_escaped(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    change(root, {MACROS: b"new\n"})
    edit_journal(root, lambda data: data.update({"what": "x\x1b[2J\nrestored /etc/harmless"}))
    assert main(["rollback", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "Undid: x\\x1b[2J" in out
    assert "\nrestored /etc/harmless" not in out


# --- what killed runs leave ------------------------------------------------------------------


@pytest.fixture
def dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.fixture
def live_pid() -> Iterator[int]:
    child = subprocess.Popen(["sleep", "600"])
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


def test_temporary_files_of_killed_runs_are_removed_and_nothing_else(
    root: Path, dead_pid: int, live_pid: int
) -> None:
    change(root, {MACROS: b"first\n"})
    journal = only_journal(root)
    stale = [
        root / f"etc/exim4/conf.d/main/.000_localmacros.gmailfix-{dead_pid}",
        root / f"etc/exim/.exim.conf.gmailfix-{dead_pid}",
        root / f"var/lib/exim4/.config.autogenerated.gmailfix-{dead_pid}",
        journal / f".journal.json.gmailfix-{dead_pid}",
        journal / f"files/.0001.gmailfix-{dead_pid}",
    ]
    kept = [
        root / f"etc/exim4/.running.gmailfix-{live_pid}",  # a run still going
        root / f"etc/exim4/.theirs.gmailfix-{dead_pid}",  # another user's
        root / f"etc/.passwd.gmailfix-{dead_pid}",  # outside the allowlist
        root / f"etc/exim4/.mine.gmailfix-{dead_pid}-not",  # not gmailfix's name
        root / f"etc/exim4/.linked.gmailfix-{dead_pid}",  # a link
    ]
    for path in stale + kept[:-1]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("the new config, half written\n")
    os.chown(kept[1], NOBODY, -1)
    kept[-1].symlink_to(root / "etc/exim/passwd")

    change(root, {MACROS: b"second\n"})  # any later run cleans up
    assert [p for p in stale if os.path.lexists(p)] == []
    assert [p for p in kept if not os.path.lexists(p)] == []


def test_a_run_stopped_before_any_change_leaves_nothing_in_the_way(root: Path) -> None:
    """Killed while it backed files up: nothing changed, so nothing blocks the next run,
    and the unfinished journal is removed."""
    server = Root(root)
    left = Journal.start(server, "apply", "killed while preparing", {})
    left.record(root / MACROS, after=b"never written\n")  # then SIGKILL, before any write
    before = tree(root / "etc")
    change(root, {MACROS: b"next run\n"})
    assert [j.what for j in journals(server)] == ["a test change"]
    rollback(server)
    assert tree(root / "etc") == before


# --- one run at a time (held) ------------------------------------------------------------------

HOLDER = r"""
import sys
from gmailfix.server.journals import locked
from gmailfix.server.system import Root
with locked(Root.at(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def test_a_second_run_is_refused_while_one_holds_the_lock(root: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        ready, _, _ = select.select([holder.stdout], [], [], 60)  # a guard, not a timing
        assert ready and holder.stdout.readline() == "locked\n"
        before = tree(root)
        for run in (lambda: change(root, {MACROS: b"x\n"}), lambda: rollback(Root(root))):
            with pytest.raises(ServerError, match="another gmailfix is changing"):
                run()
        assert tree(root) == before
    finally:
        holder.stdin.write("done\n")
        holder.stdin.close()
        holder.wait(timeout=60)
    change(root, {MACROS: b"x\n"})  # and once it let go, the next one runs
