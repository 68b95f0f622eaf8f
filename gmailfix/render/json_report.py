"""The diagnosis as JSON, schema ``gmailfix.diagnosis/1`` (DESIGN.md).

Fields listed in DESIGN.md are a contract; fields may be added, never renamed.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from gmailfix.certs import describe
from gmailfix.diagnose import Diagnosis
from gmailfix.findings import Finding
from gmailfix.remedies.plan import Remedy
from gmailfix.smtp import ProbeResult

SCHEMA = "gmailfix.diagnosis/1"


def to_dict(diagnosis: Diagnosis) -> dict[str, Any]:
    facts = diagnosis.facts
    verdict = diagnosis.verdict
    chosen = diagnosis.chosen
    probes = []
    for endpoint in diagnosis.endpoints:
        probes.append(_probe(endpoint.probe))
        if endpoint.probe_no_sni is not None:
            probes.append(_probe(endpoint.probe_no_sni))
    return {
        "schema": SCHEMA,
        "domain": diagnosis.domain,
        "smtp_host": diagnosis.smtp_host,
        "username": diagnosis.username,
        "candidates": list(diagnosis.candidates),
        "chosen": {"host": chosen.host, "port": chosen.port} if chosen else None,
        "mx": [
            {"preference": mx.preference, "host": mx.host, "addresses": list(mx.addresses)}
            for mx in facts.mx
        ],
        "dns": {
            "exists": facts.exists,
            "implicit_mx": facts.implicit_mx,
            "null_mx": facts.null_mx,
            "addresses": {h: list(a) for h, a in facts.addresses.items()},
            "cnames": dict(facts.cnames),
            "ptr": {a: list(n) for a, n in facts.ptr.items()},
            "mta_sts": list(facts.mta_sts),
        },
        "probes": probes,
        "gmail": {
            "verdict": "accept" if verdict.accept else "reject",
            "error": verdict.error,
            "cause": verdict.cause,
            "settings": {
                "smtp_server": verdict.settings.smtp_server,
                "port": verdict.settings.port,
                "security": verdict.settings.security,
                "username": verdict.settings.username,
            },
        },
        "findings": [_finding(f) for f in diagnosis.findings],
        "remedies": [_remedy(r) for r in diagnosis.remedies],
    }


def dumps(diagnosis: Diagnosis) -> str:
    return json.dumps(to_dict(diagnosis), indent=2, ensure_ascii=False)


def _probe(result: ProbeResult) -> dict[str, Any]:
    certificate = None
    if result.chain:
        info = describe(result.chain[0])
        certificate = {
            "subject": info.subject,
            "names": list(info.names),
            "issuer": info.issuer,
            "not_before": info.not_before.isoformat(),
            "not_after": info.not_after.isoformat(),
            "self_signed": info.self_signed,
            "sha256": info.sha256,
        }
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
        "starttls_offered": result.starttls_offered,
        "tls_version": result.tls_version,
        "cipher": result.cipher,
        "certificate": certificate,
        "chain_length": len(result.chain),
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
        "evidence": dict(item.evidence),
    }


def _remedy(remedy: Remedy) -> dict[str, Any]:
    data = asdict(remedy)
    data["names"] = list(remedy.names)
    return data
