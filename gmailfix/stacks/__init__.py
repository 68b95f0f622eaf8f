"""Mail stacks: recognise one from what a server shows, and say how it is fixed.

``recognise`` turns what the probes saw (``Sighting``) into a ``MailStack``;
``info`` gives a stack's own words and steps (``StackInfo``).
"""

from gmailfix.stacks.catalog import STACKS, StackInfo, info
from gmailfix.stacks.clues import Sighting
from gmailfix.stacks.recognise import (
    STACK_NAMES,
    Confidence,
    MailStack,
    StackName,
    recognise,
)

__all__ = [
    "STACKS",
    "STACK_NAMES",
    "Confidence",
    "MailStack",
    "Sighting",
    "StackInfo",
    "StackName",
    "info",
    "recognise",
]
