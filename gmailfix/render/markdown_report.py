"""The diagnosis as Markdown (report.md in the bundle).

Outside text (names, certificate fields, server replies) is quoted as inline
code or escaped prose (``text.md_code``/``md_text``): it can neither add a
heading, a link, HTML, nor a command the reader is told to run.
"""

from __future__ import annotations

from gmailfix.check import AddressCheck
from gmailfix.inputs import display_name
from gmailfix.remedies.model import Proposal
from gmailfix.render.terminal import group_findings
from gmailfix.text import md_code, md_text


def markdown_report(proposal: Proposal) -> str:
    diagnosis = proposal.diagnosis
    verdict = diagnosis.verdict
    s = verdict.settings
    lines = [
        f"# gmailfix diagnosis: {md_text(display_name(diagnosis.domain))}",
        "",
        f"SMTP Server {md_code(display_name(s.smtp_server))}, port **{s.port}** ({s.security})"
        + ("" if diagnosis.smtp_host else ", chosen from DNS")
        + ".",
        "",
    ]
    if verdict.outcome == "accept":
        lines += ["**Gmail would accept this server.**", ""]
    elif verdict.outcome == "unknown":
        lines += [
            f"**gmailfix cannot tell what Gmail would do: {diagnosis.why_unknown}.**",
            "",
        ]
    else:
        lines += [
            "**Gmail would reject this server.** Gmail says:",
            "",
            f"> {md_text(verdict.error, limit=1000)}",
            "",
        ]
    grouped = group_findings(diagnosis.findings)
    if grouped:
        lines += ["## What was found", ""]
        for item, where in grouped:
            lines += [
                f"- **{md_text(item.title)}** ({item.severity}, `{item.code}`, {md_text(where)})",
                f"  {md_text(item.detail, limit=2000)}",
            ]
            for key, value in list(item.evidence.items())[:6]:
                lines.append(f"  - {md_text(key)}: {md_code(value)}")
        lines.append("")
    if proposal.remedies:
        lines += ["## Fixes", ""]
        for remedy in proposal.remedies:
            mark = {"recommended": "recommended", "available": "", "unavailable": "not available"}
            note = mark[remedy.status]
            lines.append(
                f"- **{remedy.title}**"
                + (f" ({note})" if note else "")
                + f": {md_text(remedy.reason, limit=2000)}"
            )
        lines.append("")
    lines += ["## DNS", ""]
    facts = diagnosis.facts
    lines += [
        f"- MX {mx.preference} {md_code(mx.host)} ({md_text(', '.join(mx.addresses) or 'no address')})"
        for mx in facts.mx
    ]
    lines += [
        f"- {md_code(host)} is a CNAME to {md_code(target)}"
        for host, target in facts.cnames.items()
    ]
    lines += [
        f"- PTR {md_code(address)}: {md_code(', '.join(names))}"
        for address, names in facts.ptr.items()
    ]
    lines += [
        "",
        "## Checks",
        "",
        "| server | port | address | TLS | certificate for | issuer | valid until | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for endpoint in diagnosis.endpoints:
        lines += [_row(check) for check in endpoint.checks]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return md_code(text, limit=120).replace("|", "\\|")


def _row(check: AddressCheck) -> str:
    probe = check.probe
    verdict = check.verdict
    result = verdict.outcome if verdict.accept else str(verdict.cause or verdict.outcome)
    cells = [
        _cell(probe.host),
        str(probe.port),
        _cell(check.address or "-"),
        probe.tls_version or "-",
    ]
    leaf = probe.chain.leaf
    if leaf is not None:
        cells += [
            _cell(", ".join(leaf.names) or "-"),
            _cell(leaf.issuer),
            f"{leaf.not_after:%Y-%m-%d}",
        ]
    elif probe.chain:
        cells += ["(cannot be read)", "-", "-"]
    else:
        cells += ["-", "-", "-"]
    return "| " + " | ".join([*cells, result]) + " |"
