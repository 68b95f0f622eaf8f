"""The wizard's steps: the seven numbered ones in order, and the two side ways off Welcome.

Light on purpose (no Textual, no engine): every screen's title and its help's
title come from here, so a step is named in one place.
"""

from __future__ import annotations

from enum import Enum


class Step(Enum):
    """A step of the wizard: its name, and its number (None for a side way)."""

    WELCOME = ("Welcome", 1)
    PASTE = ("What Gmail's message means", None)
    SERVER = ("On the mail server", None)
    DETAILS = ("Your details", 2)
    DIAGNOSIS = ("Diagnosis", 3)
    FIX = ("Choose a fix", 4)
    SETTINGS = ("Your settings", 5)
    EXPORT = ("Export", 6)
    RECHECK = ("Check again", 7)

    def __init__(self, title: str, number: int | None) -> None:
        self.title = title
        self.number = number

    @property
    def heading(self) -> str:
        """The title bar's words: 'step 3 of 7: Diagnosis', or a side way's own name."""
        if self.number is None:
            return self.title
        return f"step {self.number} of {NUMBERED}: {self.title}"


NUMBERED = sum(1 for step in Step if step.number is not None)
