"""What every subcommand's output needs, in a module none of them reaches through main."""

from __future__ import annotations

import os
import sys


def stdout_gone() -> None:
    """The reader of our output has gone (``| head``): send the rest nowhere, so the
    last flush at exit cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
