"""Findings: one problem each, with a stable code and words for a non-expert.

catalog.py   each code's title and why Gmail cares (the codes themselves, a contract,
             are in gmailfix.vocabulary, the leaf every module may read)
rules.py     facts -> findings
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gmailfix.findings.catalog import CATALOG
from gmailfix.vocabulary import Code, Severity

__all__ = ["CATALOG", "Code", "Finding", "Severity", "finding"]


@dataclass(frozen=True)
class Finding:
    code: Code
    severity: Severity
    title: str
    detail: str  # plain words: what is wrong here, with the case's evidence
    host: str | None = None
    port: int | None = None
    address: str | None = None
    evidence: Mapping[str, str] = field(default_factory=dict)  # raw technical detail


def finding(
    code: Code,
    detail: str = "",
    *,
    host: str | None = None,
    port: int | None = None,
    address: str | None = None,
    severity: Severity | None = None,
    evidence: Mapping[str, str] | None = None,
) -> Finding:
    """Build a Finding from the catalog; ``detail`` adds the case's evidence in words."""
    kind = CATALOG[code]
    text = f"{kind.why} {detail}".strip() if detail else kind.why
    return Finding(
        code=code,
        severity=severity or kind.severity,
        title=kind.title,
        detail=text,
        host=host,
        port=port,
        address=address,
        evidence=dict(evidence or {}),
    )
