"""The steps a change runs after writing its files, and what each one did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StepKey = Literal["certificate", "generate", "check", "files", "reload", "recheck"]


@dataclass(frozen=True)
class Step:
    """One thing done after the files are written, in order."""

    key: StepKey
    words: str  # what it does, for a person
    argv: tuple[str, ...] | None = None  # the command, when it runs one


@dataclass(frozen=True)
class StepResult:
    step: Step
    ok: bool
    detail: str  # plain words; a command's last line of output when it failed
    skipped: bool = False
