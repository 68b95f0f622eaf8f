"""Checking a path link by link, and the leaf on its own, as clients do."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography import x509
from cryptography.x509.oid import (
    ExtendedKeyUsageOID,
)

from gmailfix.certs.model import CertProblem
from gmailfix.certs.names import constraint_violation, hostname_like, name_matches
from gmailfix.certs.parse import Facts
from gmailfix.vocabulary import Code

# extendedKeyUsage values that let a certificate serve TLS (OpenSSL also takes
# the two old "server gated crypto" values in place of serverAuth)
_SERVER_EKUS = frozenset(
    {
        ExtendedKeyUsageOID.SERVER_AUTH,
        x509.ObjectIdentifier("2.16.840.1.113730.4.1"),
        x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    }
)
# keyUsage bits of which a TLS server certificate needs at least one
_SERVER_USAGES = ("digital_signature", "key_encipherment", "key_agreement")

# --- checking a path --------------------------------------------------------------


def _when(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _role(index: int, path: Sequence[Facts]) -> str:
    if index == 0:
        return "The server's certificate"
    if index == len(path) - 1:
        return f"The root '{path[index].label}'"
    return f"The intermediate '{path[index].label}'"


def issuer_problems(path: Sequence[Facts], now: dt.datetime) -> list[CertProblem]:
    """What makes clients refuse this path above the leaf (OpenSSL's checks, in its words)."""
    problems: list[CertProblem] = []

    def add(index: int, words: str, why: str) -> None:
        problems.append(
            CertProblem(
                Code.INVALID_CHAIN,
                f"{_role(index, path)} {words}",
                {"certificate": path[index].info.subject, "check": why},
            )
        )

    top = len(path) - 1
    below = 0  # non-self-issued intermediates between the leaf and the certificate at hand
    for index in range(1, len(path)):
        facts = path[index]
        if facts.usage is not None and "key_cert_sign" not in facts.usage:
            add(
                index,
                "is not allowed to sign certificates (its keyUsage lacks keyCertSign).",
                "keyUsage",
            )
        if facts.ca is False:
            add(
                index,
                "is not a CA certificate (basicConstraints CA:FALSE), yet it signed the "
                "certificate below it.",
                "basicConstraints",
            )
        elif facts.ca is None and not (
            index == top and ((facts.v1 and facts.info.self_signed) or facts.usage is not None)
        ):
            add(
                index,
                "is not marked as a CA (it has no basicConstraints), yet it signed the "
                "certificate below it.",
                "basicConstraints",
            )
        if facts.extended_usage is not None and not facts.extended_usage & _SERVER_EKUS:
            add(
                index,
                "may only issue certificates for other uses than TLS servers "
                "(its extendedKeyUsage lacks serverAuth).",
                "extendedKeyUsage",
            )
        if now > facts.info.not_after:
            add(index, f"expired on {_when(facts.info.not_after)}.", "expired")
        elif now < facts.info.not_before:
            add(index, f"is not valid until {_when(facts.info.not_before)}.", "not yet valid")
        if index > 1 and facts.path_length is not None and below > facts.path_length:
            add(
                index,
                f"allows at most {facts.path_length} intermediate(s) below it "
                f"(pathLenConstraint); this chain has {below}.",
                "path length",
            )
        if not facts.self_issued:
            below += 1
        violation = _names_below(path, index)
        if violation:
            add(index, f"may not certify {violation} (name constraints).", "name constraints")
        if facts.unhandled_critical:
            add(
                index,
                "marks an extension critical that clients do not process "
                f"({', '.join(facts.unhandled_critical)}).",
                "critical extension",
            )
    return problems


def _names_below(path: Sequence[Facts], index: int) -> str | None:
    """The first name below ``path[index]`` that its DNS name constraints forbid."""
    issuer = path[index]
    if issuer.permitted is None and not issuer.excluded:
        return None
    for lower in range(index):
        facts = path[lower]
        if lower and facts.self_issued:
            continue
        names = list(facts.san_dns)
        if lower == 0 and not names:
            names = [cn for cn in facts.common_names if hostname_like(cn)]
        violation = constraint_violation(names, issuer)
        if violation:
            return violation
    return None


def leaf_problems(leaf: Facts, host: str, now: dt.datetime) -> list[CertProblem]:
    """What is wrong with the leaf itself: its purpose, dates and names."""
    out: list[CertProblem] = []
    evidence = {"certificate": leaf.info.subject}
    if leaf.extended_usage is not None and not leaf.extended_usage & _SERVER_EKUS:
        usages = ", ".join(sorted(_eku_name(oid) for oid in leaf.extended_usage)) or "nothing"
        out.append(
            CertProblem(
                Code.NOT_SERVER_CERTIFICATE,
                f"The server's certificate is not made for a TLS server: its extendedKeyUsage "
                f"allows only {usages}, not serverAuth.",
                {**evidence, "extendedKeyUsage": usages},
            )
        )
    if leaf.usage is not None and not any(bit in leaf.usage for bit in _SERVER_USAGES):
        bits = ", ".join(sorted(leaf.usage)) or "nothing"
        out.append(
            CertProblem(
                Code.NOT_SERVER_CERTIFICATE,
                "The server's certificate is not made for a TLS server: its keyUsage allows "
                f"only {bits}, none of digitalSignature, keyEncipherment or keyAgreement.",
                {**evidence, "keyUsage": bits},
            )
        )
    if leaf.unhandled_critical:
        oids = ", ".join(leaf.unhandled_critical)
        out.append(
            CertProblem(
                Code.INVALID_CHAIN,
                f"The server's certificate marks an extension critical that clients do not "
                f"process ({oids}).",
                {**evidence, "check": "critical extension", "extensions": oids},
            )
        )
    if now > leaf.info.not_after:
        out.append(
            CertProblem(
                Code.EXPIRED,
                f"The server's certificate expired on {_when(leaf.info.not_after)}.",
                {**evidence, "not_after": leaf.info.not_after.isoformat()},
            )
        )
    elif now < leaf.info.not_before:
        out.append(
            CertProblem(
                Code.NOT_YET_VALID,
                f"The server's certificate is not valid until {_when(leaf.info.not_before)}.",
                {**evidence, "not_before": leaf.info.not_before.isoformat()},
            )
        )
    if not name_matches(host, leaf.info.names):
        shown = ", ".join(leaf.info.names[:10])
        more = f" and {len(leaf.info.names) - 10} more" if len(leaf.info.names) > 10 else ""
        words = f"is for {shown}{more}, not for {host}" if shown else "names no host at all"
        out.append(
            CertProblem(
                Code.HOSTNAME_MISMATCH,
                f"The server's certificate {words}.",
                {**evidence, "names": ", ".join(leaf.info.names), "host": host},
            )
        )
    return out


def _eku_name(oid: x509.ObjectIdentifier) -> str:
    name = oid._name  # cryptography's short name, e.g. "clientAuth"
    return oid.dotted_string if name == "Unknown OID" else name
