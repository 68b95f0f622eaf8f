"""The diagnosis as JSON, schema ``gmailfix.diagnosis/1`` (docs/DESIGN.md).

Fields listed in docs/DESIGN.md are a contract; fields may be added, never renamed.
Outside strings stay as they are: ``json.dumps`` escapes every control.
"""

from __future__ import annotations

import json
from typing import Any

from gmailfix.certs import Chain
from gmailfix.diagnose import Diagnosis
from gmailfix.findings import Finding
from gmailfix.remedies.model import Proposal, Remedy
from gmailfix.smtp import ProbeResult

SCHEMA = "gmailfix.diagnosis/1"


def to_dict(proposal: Proposal) -> dict[str, Any]:
    """The diagnosis and every fix judged for it (schema ``gmailfix.diagnosis/1``)."""
    diagnosis = proposal.diagnosis
    facts = diagnosis.facts
    verdict = diagnosis.verdict
    chosen = diagnosis.chosen
    probes = []
    for endpoint in diagnosis.endpoints:
        for check in endpoint.checks:
            probes.append(_probe(check.probe))
            if check.probe_no_sni is not None:
                probes.append(_probe(check.probe_no_sni))
    return {
        "schema": SCHEMA,
        "domain": diagnosis.domain,
        "smtp_host": diagnosis.smtp_host,
        "username": diagnosis.username,
        "candidates": list(diagnosis.candidates),
        "chosen": {"host": chosen.host, "port": chosen.port} if chosen else None,
        "mx": [
            {
                "preference": mx.preference,
                "host": mx.host,
                "addresses": list(mx.addresses),
                "addresses_not_checked": facts.addresses_not_checked.get(mx.host, 0),
            }
            for mx in facts.mx
        ],
        "dns": {
            "exists": facts.exists,
            "implicit_mx": facts.implicit_mx,
            "null_mx": facts.null_mx,
            "addresses": {h: list(a) for h, a in facts.addresses.items()},
            "addresses_not_checked": dict(facts.addresses_not_checked),  # only hosts with some
            "cnames": dict(facts.cnames),
            "ptr": {a: list(n) for a, n in facts.ptr.items()},
            "mta_sts": list(facts.mta_sts),
            "resolver": facts.resolver,
            "resolver_works": facts.resolver_works,
        },
        "probes": probes,
        "gmail": {
            "verdict": verdict.outcome,
            "error": verdict.error,
            "cause": verdict.cause,
            "address": verdict.address,
            "settings": {
                "smtp_server": verdict.settings.smtp_server,
                "port": verdict.settings.port,
                "security": verdict.settings.security,
                "username": verdict.settings.username,
            },
        },
        "findings": [_finding(f) for f in diagnosis.findings],
        "remedies": [_remedy(r) for r in proposal.remedies],
        "mail_stack": _stack(diagnosis),
    }


def dumps(proposal: Proposal, *, ascii_only: bool = False) -> str:
    """The JSON text; ``ascii_only`` escapes every other character (\\u…), for an
    output whose encoding cannot carry them."""
    return json.dumps(to_dict(proposal), indent=2, ensure_ascii=ascii_only)


def _certificate(chain: Chain) -> dict[str, Any] | None:
    if not chain:
        return None
    leaf = chain.leaf
    if leaf is None:
        return {
            "subject": "",
            "names": [],
            "issuer": "",
            "not_before": None,
            "not_after": None,
            "self_signed": False,
            "sha256": _sha256(chain.der[0]),
            "unparseable": chain.error,
        }
    return {
        "subject": leaf.subject,
        "names": list(leaf.names),
        "issuer": leaf.issuer,
        "not_before": leaf.not_before.isoformat(),
        "not_after": leaf.not_after.isoformat(),
        "self_signed": leaf.self_signed,
        "sha256": leaf.sha256,
        "unparseable": None,
    }


def _sha256(der: bytes) -> str:
    import hashlib

    return hashlib.sha256(der).hexdigest()


def _probe(result: ProbeResult) -> dict[str, Any]:
    error = None
    if result.error_code is not None:
        error = {"code": result.error_code, "message": result.error}
    return {
        "host": result.host,
        "port": result.port,
        "mode": result.mode,
        "sni": result.sni,
        "address": result.address,
        "banner": result.banner,
        "ehlo": list(result.ehlo),
        "starttls_offered": result.starttls_offered,
        "tls_version": result.tls_version,
        "cipher": result.cipher,
        "certificate": _certificate(result.chain),
        "chain_length": len(result.chain.der),
        "auth_mechanisms": list(result.auth_mechanisms),
        "error": error,
        "elapsed_ms": round(result.elapsed * 1000),
    }


def _finding(item: Finding) -> dict[str, Any]:
    return {
        "code": item.code,
        "severity": str(item.severity),
        "title": item.title,
        "detail": item.detail,
        "host": item.host,
        "port": item.port,
        "address": item.address,
        "evidence": dict(item.evidence),
    }


def _remedy(remedy: Remedy) -> dict[str, Any]:
    return {
        "kind": remedy.kind,
        "status": remedy.status,
        "recommended": remedy.recommended,
        "applicable": remedy.applicable,
        "title": remedy.title,
        "reason": remedy.reason,
        "smtp_host": remedy.smtp_host,
        "port": remedy.port,
        "security": remedy.security,
        "verified": remedy.verified,
        "names": list(remedy.names),
        "addresses": list(remedy.addresses),
        "fixes": [str(c) for c in remedy.fixes],
    }


def _stack(diagnosis: Diagnosis) -> dict[str, Any] | None:
    stack = diagnosis.mail_stack
    if stack is None:
        return None
    return {"name": stack.name, "confidence": stack.confidence, "evidence": list(stack.evidence)}
