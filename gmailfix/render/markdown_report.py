"""The diagnosis as Markdown (report.md in the bundle)."""

from __future__ import annotations

from gmailfix.certs import describe
from gmailfix.diagnose import Diagnosis, Endpoint
from gmailfix.render.terminal import group_findings


def markdown_report(diagnosis: Diagnosis) -> str:
    verdict = diagnosis.verdict
    s = verdict.settings
    lines = [
        f"# gmailfix diagnosis: {diagnosis.domain}",
        "",
        f"SMTP Server **{s.smtp_server}**, port **{s.port}** ({s.security})"
        + ("" if diagnosis.smtp_host else ", chosen from DNS")
        + ".",
        "",
    ]
    if verdict.accept:
        lines += ["**Gmail would accept this server.**", ""]
    else:
        lines += ["**Gmail would reject this server.** Gmail says:", "", f"> {verdict.error}", ""]
    grouped = group_findings(diagnosis.findings)
    if grouped:
        lines += ["## What was found", ""]
        for item, where in grouped:
            lines += [
                f"- **{item.title}** ({item.severity}, `{item.code}`, {where})",
                f"  {item.detail}",
            ]
        lines.append("")
    if diagnosis.remedies:
        lines += ["## Fixes", ""]
        for remedy in diagnosis.remedies:
            mark = (
                "recommended"
                if remedy.recommended
                else ("not available" if not remedy.applicable else "")
            )
            lines.append(
                f"- **{remedy.title}**" + (f" ({mark})" if mark else "") + f": {remedy.reason}"
            )
        lines.append("")
    lines += ["## DNS", ""]
    facts = diagnosis.facts
    if facts.mx:
        lines += [
            f"- MX {mx.preference} {mx.host} ({', '.join(mx.addresses) or 'no address'})"
            for mx in facts.mx
        ]
    lines += [f"- {host} is a CNAME to {target}" for host, target in facts.cnames.items()]
    lines += [f"- PTR {address}: {', '.join(names)}" for address, names in facts.ptr.items()]
    lines += [
        "",
        "## Probes",
        "",
        "| host | port | TLS | certificate for | issuer | valid until | result |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_probe_row(endpoint) for endpoint in diagnosis.endpoints]
    return "\n".join(lines) + "\n"


def _probe_row(endpoint: Endpoint) -> str:
    probe = endpoint.probe
    result = "accept" if endpoint.verdict.accept else (endpoint.verdict.cause or "reject")
    cells = [probe.host, str(probe.port), probe.tls_version or "-"]
    if probe.chain:
        info = describe(probe.chain[0])
        cells += [", ".join(info.names) or "-", info.issuer, f"{info.not_after:%Y-%m-%d}"]
    else:
        cells += ["-", "-", "-"]
    return "| " + " | ".join([*cells, result]) + " |"
