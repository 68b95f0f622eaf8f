"""Small composite widgets shared by the diagnosis and re-check steps."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from gmailfix.certs import describe
from gmailfix.diagnose import Diagnosis
from gmailfix.findings import Severity
from gmailfix.render.terminal import group_findings

MARKS = {
    Severity.ERROR: ("✗", "bold red"),
    Severity.WARNING: ("!", "bold yellow"),
    Severity.INFO: ("i", "cyan"),
}


def verdict_text(diagnosis: Diagnosis) -> Text:
    verdict = diagnosis.verdict
    s = verdict.settings
    where = f"{s.smtp_server}, port {s.port} ({s.security})"
    if verdict.accept:
        return Text.assemble(("✓ Gmail would accept ", "bold green"), (where, "bold"), ".")
    return Text.assemble(
        ("✗ Gmail would reject ", "bold red"),
        (where, "bold"),
        ". Gmail says:\n",
        (verdict.error or "", "red"),
    )


def findings_text(diagnosis: Diagnosis) -> Group:
    parts: list[Text] = []
    for item, where in group_findings(diagnosis.findings):
        mark, style = MARKS[item.severity]
        parts.append(
            Text.assemble((f"{mark} ", style), (item.title, "bold"), (f"  {where}", "dim"))
        )
        parts.append(Text(f"  {item.detail}\n"))
    if not parts:
        parts.append(Text("Nothing is wrong.", style="green"))
    return Group(*parts)


def evidence_text(diagnosis: Diagnosis) -> Text:
    """The technical detail, one key away: certificates, chain, TLS, AUTH."""
    out = Text()
    facts = diagnosis.facts
    for mx in facts.mx:
        out.append(f"MX {mx.preference} {mx.host} → {', '.join(mx.addresses) or 'no address'}\n")
    for host, target in facts.cnames.items():
        out.append(f"{host} is a CNAME to {target}\n")
    for address, names in facts.ptr.items():
        out.append(f"PTR {address} → {', '.join(names)}\n")
    for endpoint in diagnosis.endpoints:
        probe = endpoint.probe
        out.append(f"\n{probe.host}:{probe.port} ({probe.mode})", style="bold")
        out.append(f" at {probe.address or '-'}\n")
        if probe.banner:
            out.append(f"  greeting: {probe.banner[:70]}\n")
        if probe.tls_version:
            out.append(
                f"  {probe.tls_version}, {probe.cipher}, AUTH {' '.join(probe.auth_mechanisms) or 'none'}\n"
            )
        for n, cert in enumerate(probe.chain):
            info = describe(cert)
            out.append(f"  [{n}] {info.subject}\n      names: {', '.join(info.names) or '-'}\n")
            out.append(
                f"      issuer: {info.issuer}\n      valid: {info.not_before:%Y-%m-%d} to {info.not_after:%Y-%m-%d}\n"
            )
        if probe.error:
            out.append(f"  {probe.error_code}: {probe.error}\n", style="red")
    return out


class Evidence(Static):
    """Technical detail, hidden until asked for."""

    DEFAULT_CSS = """
    Evidence { display: none; padding: 0 1; border: round $primary; }
    Evidence.shown { display: block; }
    """
