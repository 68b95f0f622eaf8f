"""Host names against certificate names (RFC 6125) and name constraints."""

from __future__ import annotations

from collections.abc import Sequence

from gmailfix.certs.parse import Facts

# --- names --------------------------------------------------------------------


def name_matches(host: str, patterns: Sequence[str]) -> bool:
    """RFC 6125 host name match: exact, or a wildcard for exactly the leftmost label.

    Partial wildcards (``m*.example.com``) never match: RFC 9525 and the CA/B
    Forum forbid them and strict clients refuse them.
    """
    host = host.lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower().rstrip(".")
        if pattern == host:
            return True
        if pattern.startswith("*.") and "*" not in pattern[2:]:
            first, _, rest = host.partition(".")
            if first and rest == pattern[2:] and rest.count(".") >= 1:
                return True
    return False


def within(name: str, base: str) -> bool:
    """Is DNS ``name`` inside the name-constraint subtree ``base``? (OpenSSL's nc_dns)

    ``example.com`` covers itself and every name under it; ``.example.com``
    only the names under it. A wildcard name is compared as written.
    """
    if not base:
        return True
    if base.startswith("."):
        return name.endswith(base) or name == base
    return name == base or name.endswith("." + base)


def _wildcard_reaches(pattern: str, base: str) -> bool:
    """Does a name that ``pattern`` (``*.rest``) covers, ``label.rest``, fall inside ``base``?

    OpenSSL compares the wildcard as written and misses this: ``*.example.com``
    is not "under" an excluded ``mail.example.com``, yet it covers that name.
    """
    label, _, parent = base.partition(".")
    return pattern.startswith("*.") and bool(label) and "*" not in label and parent == pattern[2:]


def constraint_violation(names: Sequence[str], issuer: Facts) -> str | None:
    """The first name outside what ``issuer`` may certify, with why; None if all are allowed.

    A name with a ``*`` anywhere but as the whole leftmost label (``m*.a.test``)
    is no DNS name at all, so no constraint can be checked against it: strict
    verifiers refuse it, where OpenSSL compares the text as written.
    """
    for name in names:
        if "*" in name and not (name.startswith("*.") and "*" not in name[2:]):
            return f"{name} (not a valid DNS name, so the constraints cannot be checked)"
        for base in issuer.excluded:
            if within(name, base) or _wildcard_reaches(name, base):
                return f"{name} (excluded: {base})"
        if issuer.permitted is not None and not any(within(name, b) for b in issuer.permitted):
            return f"{name} (permitted only: {', '.join(issuer.permitted)})"
    return None


def hostname_like(value: str) -> bool:
    labels = value.split(".")
    return len(labels) > 1 and all(
        label and all(c.isascii() and (c.isalnum() or c in "-_") for c in label) for label in labels
    )
