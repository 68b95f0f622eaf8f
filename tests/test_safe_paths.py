"""Every path gmailfix writes, reads to rewrite, or puts back is reached from the root one
folder at a time and never through a symbolic link (issue 19, item 5).

Before: only a link as the last part of a path was refused, so a symlinked folder
anywhere above a config file (``/etc``, ``/etc/exim4``, ``conf.d``...) let writes,
backups and rollbacks land outside ``--root``; the journal's own folder too. Each test
plants the link, runs the real code, and checks the folder the link points to is
byte for byte as it was.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gmailfix.server.apply import rollback
from gmailfix.server.edit import current_text, file_change
from gmailfix.server.journals import interrupted, journals
from gmailfix.server.system import Root, ServerError, make_folders, read_file, write_atomic
from tests.support.changes import CONFIG, change, make_root, tree

MACROS = "etc/exim4/conf.d/main/000_localmacros"


def link_folder(root: Path, folder: str, outside: Path) -> None:
    """Move ``root/folder`` to ``outside`` and leave a symbolic link to it in its place."""
    shutil.move(root / folder, outside)
    (root / folder).symlink_to(outside)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(tmp_path)


@pytest.mark.parametrize(
    "linked", ["etc", "etc/exim4", "etc/exim4/conf.d", "etc/exim4/conf.d/main"]
)
def test_no_write_goes_through_a_symlinked_folder(root: Path, tmp_path: Path, linked: str) -> None:
    outside = tmp_path / "outside"
    link_folder(root, linked, outside)
    before = tree(outside)
    for given in (Root(root), None):  # under --root, and on the server itself (from /)
        with pytest.raises(ServerError, match="is a symbolic link") as caught:
            write_atomic(root / MACROS, b"escaped\n", mode=0o644, root=given)
        assert "\n" not in str(caught.value)
        with pytest.raises(ServerError, match="is a symbolic link"):
            write_atomic(root / MACROS.replace("000_localmacros", "new"), b"x", mode=0o644)
    assert tree(outside) == before


@pytest.mark.parametrize("linked", ["etc", "etc/exim4/conf.d"])
def test_a_file_to_rewrite_is_not_read_through_a_symlinked_folder(
    root: Path, tmp_path: Path, linked: str
) -> None:
    link_folder(root, linked, tmp_path / "outside")
    with pytest.raises(ServerError, match="is a symbolic link"):
        file_change(root / MACROS, MACROS, b"new\n", "a test")
    with pytest.raises(ServerError, match="is a symbolic link"):
        current_text(root / MACROS)
    with pytest.raises(ServerError, match="is a symbolic link"):
        read_file(root / MACROS, Root(root))


def test_the_last_part_may_not_be_a_link_either(root: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").write_text("the person's file\n")
    (root / MACROS).unlink()
    (root / MACROS).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ServerError, match="not a regular file"):
        file_change(root / MACROS, MACROS, b"new\n", "a test")
    with pytest.raises(ServerError, match="symbolic link"):
        write_atomic(root / MACROS, b"new\n", mode=0o644, root=Root(root))
    assert (tmp_path / "elsewhere").read_text() == "the person's file\n"


def test_folders_are_not_made_through_a_link(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    link_folder(root, "etc/exim4", outside)
    with pytest.raises(ServerError, match="is a symbolic link"):
        make_folders(root / "etc/exim4/tls/mail.example.test", Root(root))
    assert not (outside / "tls").exists()


def test_a_path_that_climbs_is_refused(root: Path, tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    with pytest.raises(ServerError, match="climbs"):
        write_atomic(root / "etc/exim4/../../../outside/x", b"x", mode=0o644, root=Root(root))
    assert list((tmp_path / "outside").iterdir()) == []


def test_apply_refuses_a_folder_swapped_for_a_link_after_planning(
    root: Path, tmp_path: Path
) -> None:
    """The plan was made from real folders; a link put in between plan and --yes is met
    by the journal's backup, which reads as the write will: nothing is written anywhere."""
    from gmailfix.server.apply import ApplyPlan, apply
    from gmailfix.server.mta import Setup

    server = Root(root)
    plan = ApplyPlan(
        None,
        Setup("exim", server, "plain", root / CONFIG),
        (file_change(root / MACROS, "/" + MACROS, b"changed\n", "a test"),),
        (),
    )
    outside = tmp_path / "outside"
    link_folder(root, "etc/exim4/conf.d", outside)
    before = tree(outside)
    with pytest.raises(ServerError, match="is a symbolic link"):
        apply(plan)
    assert tree(outside) == before
    assert interrupted(server) is None and journals(server) == []  # no journal left


@pytest.mark.parametrize(
    "linked", ["var", "var/lib", "var/lib/gmailfix", "var/lib/gmailfix/journal"]
)
def test_the_journal_is_never_reached_through_a_link(
    root: Path, tmp_path: Path, linked: str
) -> None:
    change(root, {MACROS: b"first\n"})  # makes var/lib/gmailfix/journal
    outside = tmp_path / "outside"
    link_folder(root, linked, outside)
    before = tree(outside), tree(root / "etc")
    with pytest.raises(ServerError, match="symbolic link"):
        change(root, {MACROS: b"second\n"})
    with pytest.raises(ServerError, match="symbolic link"):
        rollback(Root(root))
    assert (tree(outside), tree(root / "etc")) == before


def test_rollback_does_not_follow_a_folder_replaced_by_a_link(root: Path, tmp_path: Path) -> None:
    change(root, {MACROS: b"gmailfix's\n", "etc/exim4/tls/sni.map": b"mail: /etc/exim4/tls\n"})
    outside = tmp_path / "outside"
    link_folder(root, "etc/exim4", outside)
    before = tree(outside)
    with pytest.raises(ServerError, match="symbolic link"):
        rollback(Root(root))
    assert tree(outside) == before
    assert (outside / "conf.d/main/000_localmacros").read_bytes() == b"gmailfix's\n"
