"""The diagnosis as a short report for a terminal: verdict, findings, the fix."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from gmailfix.diagnose import Diagnosis
from gmailfix.findings import Finding, Severity

MARK = {
    Severity.ERROR: ("✗", "bold red"),
    Severity.WARNING: ("!", "yellow"),
    Severity.INFO: ("i", "cyan"),
}


def render(diagnosis: Diagnosis) -> RenderableType:
    parts: list[RenderableType] = [_header(diagnosis), _verdict(diagnosis)]
    grouped = group_findings(diagnosis.findings)
    if grouped:
        parts.append(Text("\nWhat was found", style="bold underline"))
        for item, where in grouped:
            mark, style = MARK[item.severity]
            line = Text(f" {mark} ", style=style)
            line.append(item.title, style="bold")
            if where:
                line.append(f"  ({where})", style="dim")
            parts.append(line)
            parts.append(_indented(item.detail))
    if diagnosis.remedies:
        parts.append(Text("\nHow to fix it", style="bold underline"))
        for remedy in diagnosis.remedies:
            if not remedy.applicable:
                parts.append(_indented(f"{remedy.title}: {remedy.reason}", style="dim"))
                continue
            label = "Recommended: " if remedy.recommended else "Or: "
            line = Text(f" → {label}", style="bold green" if remedy.recommended else "bold")
            line.append(remedy.title)
            parts.append(line)
            parts.append(_indented(remedy.reason))
        best = next(r.kind for r in diagnosis.remedies if r.applicable)
        parts.append(
            _indented(
                f"\nWrite the fix as files: gmailfix export {diagnosis.domain} "
                f"--remedy {best} --out DIR",
                style="dim",
            )
        )
    if diagnosis.endpoints:
        parts.append(_probe_table(diagnosis))
    return Group(*parts)


def _indented(text: str, style: str = "") -> Padding:
    return Padding(Text(text, style=style), (0, 0, 0, 3))


def _header(diagnosis: Diagnosis) -> Text:
    settings = diagnosis.verdict.settings
    text = Text(f"gmailfix: {diagnosis.domain}", style="bold")
    text.append(
        f"\nSMTP Server {settings.smtp_server}, port {settings.port} ({settings.security})"
        + ("" if diagnosis.smtp_host else ", chosen from DNS"),
        style="dim",
    )
    return text


def _verdict(diagnosis: Diagnosis) -> Text:
    verdict = diagnosis.verdict
    if verdict.accept:
        return Text("\n✓ Gmail would accept this server.", style="bold green")
    text = Text("\n✗ Gmail would reject this server. Gmail says:\n", style="bold red")
    text.append(f"{verdict.error}", style="red")
    return text


def group_findings(findings: tuple[Finding, ...]) -> list[tuple[Finding, str]]:
    """One line per (code, host), the ports joined: "mail.x.test:587, 465"."""
    order: list[tuple[str, str | None]] = []
    ports: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    first: dict[tuple[str, str | None], Finding] = {}
    for item in findings:
        key = (item.code, item.host)
        if key not in first:
            order.append(key)
            first[key] = item
        if item.port is not None:
            ports[key].append(item.port)
    out = []
    for key in sorted(order, key=lambda k: list(Severity).index(first[k].severity)):
        item = first[key]
        where = item.host or ""
        if ports[key]:
            where += ":" + ", ".join(str(p) for p in ports[key])
        out.append((item, where))
    return out


def _probe_table(diagnosis: Diagnosis) -> RenderableType:
    table = Table(title="\nProbes", title_justify="left", show_edge=False, expand=False)
    for column in ("host", "port", "TLS", "certificate for", "result"):
        table.add_column(column)
    for endpoint in diagnosis.endpoints:
        probe = endpoint.probe
        names = ", ".join(endpoint.analysis.leaf.names) if endpoint.analysis else "-"
        result = "accept" if endpoint.verdict.accept else (endpoint.verdict.cause or "reject")
        style = "green" if endpoint.verdict.accept else "red"
        table.add_row(
            probe.host,
            str(probe.port),
            probe.tls_version or probe.mode,
            names,
            Text(result, style=style),
        )
    return table


def print_report(diagnosis: Diagnosis, console: Console | None = None) -> None:
    (console or Console()).print(render(diagnosis))
