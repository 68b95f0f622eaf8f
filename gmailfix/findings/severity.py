"""How much a finding matters."""

from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"  # Gmail rejects, or will: must be fixed
    WARNING = "warning"  # works today, fragile or unconfirmed
    INFO = "info"  # context
