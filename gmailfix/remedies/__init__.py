"""The fixes: every kind judged for each diagnosis, and a chosen one made into a plan.

model.py    Remedy, its kinds, statuses and titles (one place)
propose.py  judge every kind for a diagnosis; verify names and ports for real
plan.py     a chosen remedy + the person's choices -> FixPlan, what renderers read
"""

from gmailfix.remedies.model import REMEDY_KINDS, Remedy, RemedyKind

__all__ = ["REMEDY_KINDS", "Remedy", "RemedyKind"]
