"""Changes to config files: a marked gmailfix block, the person's own lines kept.

A file gmailfix changes gets one block between marker lines, named by what it
is for (``apply`` or ``watch``). A setting the block defines is commented out
where the person's own lines set it too (Exim refuses an option or macro set
twice), never deleted; running again replaces the block instead of adding a
second one. Bytes that are not UTF-8 pass through unchanged.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from gmailfix.server.system import Root, read_file

_NAME = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*==?")
_BEGIN_SECTION = re.compile(r"^\s*begin\s+\w+\s*$")


def begin_marker(tag: str) -> str:
    return f"# >>> gmailfix {tag}: added by gmailfix; 'gmailfix rollback' takes it out"


def end_marker(tag: str) -> str:
    return f"# <<< gmailfix {tag}"


def commented(tag: str) -> str:
    return f"# gmailfix {tag} replaced: "


@dataclass(frozen=True)
class FileChange:
    """One file as it is and as it will be."""

    path: Path  # on this computer (under the root)
    shown: str  # as the person knows it on the server
    before: bytes | None  # None: the file is new
    after: bytes
    mode: int
    uid: int | None = None  # None: as created (a new file)
    gid: int | None = None
    why: str = ""

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        old = _lines(self.before or b"")
        new = _lines(self.after)
        source = "/dev/null" if self.before is None else f"{self.shown} (now)"
        lines = difflib.unified_diff(old, new, source, f"{self.shown} (after)")
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", "surrogateescape").splitlines(keepends=True)


def file_change(
    path: Path,
    shown: str,
    after: bytes,
    why: str,
    mode: int = 0o644,
    root: Root | None = None,
) -> FileChange:
    """A change of ``path`` to ``after``, keeping an existing file's mode and owner.

    The file is read as it will be written: reached one folder at a time from
    the root (``/`` unless given), never through a link (system.read_file).
    """
    try:
        found = read_file(path, root)
    except FileNotFoundError:
        return FileChange(path, shown, None, after, mode, why=why)
    return FileChange(path, shown, found.data, after, found.mode, found.uid, found.gid, why)


def current_text(path: Path, root: Root | None = None) -> str:
    """A config file's text ("" when it is not there), read as ``file_change`` reads it."""
    try:
        return read_file(path, root).data.decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return ""


def defined_names(block: str) -> set[str]:
    """Options and macros a block sets (``name = value``, ``MACRO == value``)."""
    names = set()
    for line in block.splitlines():
        if line.lstrip().startswith(("#", ".")):
            continue
        match = _NAME.match(line)
        if match:
            names.add(match.group(1))
    return names


def with_block(
    text: str,
    block: str,
    tag: str,
    *,
    main_section_only: bool,
    names: set[str] | None = None,
) -> str:
    """``text`` with gmailfix's ``tag`` block set to ``block``.

    ``main_section_only``: an exim.conf, where the block goes before the first
    ``begin`` and only the main section is searched for settings to comment
    out; otherwise (a Debian macros file, all main section) it goes at the end.
    ``names``: the settings to comment out (default: those the block sets; an
    ``.include`` line sets those of the file it loads).
    """
    lines = _without_block(text.splitlines(), tag)
    names = defined_names(block) if names is None else names
    end = _main_section_end(lines) if main_section_only else len(lines)
    lines = _comment_out(lines[:end], names, tag) + lines[end:]
    wrapped = [begin_marker(tag), *block.rstrip("\n").splitlines(), end_marker(tag)]
    if main_section_only:
        at = _main_section_end(lines)
        lines = lines[:at] + wrapped + [""] + lines[at:]
    else:
        while lines and not lines[-1].strip():
            lines.pop()
        lines = [*lines, "", *wrapped] if lines else wrapped
    return "\n".join(lines) + "\n"


def without_block(text: str, tag: str) -> str:
    """``text`` with the ``tag`` block taken out (the commented lines stay commented)."""
    return "\n".join(_without_block(text.splitlines(), tag)) + "\n"


def has_block(text: str, tag: str) -> bool:
    return begin_marker(tag) in text.splitlines()


def _without_block(lines: list[str], tag: str) -> list[str]:
    begin, end = begin_marker(tag), end_marker(tag)
    kept: list[str] = []
    inside = False
    for line in lines:
        if line == begin:
            inside = True
        elif inside and line == end:
            inside = False
        elif not inside:
            kept.append(line)
    return kept


def _comment_out(lines: list[str], names: set[str], tag: str) -> list[str]:
    out: list[str] = []
    continuing = False
    for line in lines:
        match = _NAME.match(line)
        if continuing or (match and match.group(1) in names and not line.lstrip().startswith("#")):
            out.append(commented(tag) + line)
            continuing = line.rstrip().endswith("\\")  # Exim's continuation lines go too
        else:
            out.append(line)
    return out


def _main_section_end(lines: list[str]) -> int:
    for number, line in enumerate(lines):
        if _BEGIN_SECTION.match(line):
            return number
    return len(lines)
