"""The diagnosis as a short report for a terminal: verdict, findings, the fix.

Everything from outside reaches Rich as ``Text`` built from ``text.clean``:
never markup, never a raw control character.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from gmailfix.diagnose import Diagnosis
from gmailfix.findings import Finding, Severity
from gmailfix.inputs import display_name
from gmailfix.remedies.plan import panel_way, recognised_stack
from gmailfix.stacks.catalog import looks_like, own_way_lines
from gmailfix.text import clean

MARK = {
    Severity.ERROR: ("✗", "bold red"),
    Severity.WARNING: ("!", "yellow"),
    Severity.INFO: ("i", "cyan"),
}


def render(diagnosis: Diagnosis, next_steps: Sequence[str] = ()) -> RenderableType:
    parts: list[RenderableType] = [_header(diagnosis), verdict_text(diagnosis)]
    several = any(len(e.checks) > 1 for e in diagnosis.endpoints)
    grouped = group_findings(diagnosis.findings, show_addresses=several)
    if grouped:
        parts.append(Text("\nWhat was found", style="bold underline"))
        for item, where in grouped:
            mark, style = MARK[item.severity]
            line = Text(f" {mark} ", style=style)
            line.append(clean(item.title), style="bold")
            if where:
                line.append(f"  ({clean(where)})", style="dim")
            parts.append(line)
            parts.append(_indented(clean(item.detail, limit=2000)))
    usable = [r for r in diagnosis.remedies if r.applicable]
    if usable and not diagnosis.accepted:
        parts.append(Text("\nHow to fix it", style="bold underline"))
        stack = recognised_stack(diagnosis)
        for remedy in usable:
            label = "Recommended: " if remedy.recommended else "Or: "
            line = Text(f" → {label}", style="bold green" if remedy.recommended else "bold")
            line.append(remedy.title)
            parts.append(line)
            parts.append(_indented(clean(remedy.reason, limit=2000)))
            own = panel_way(stack, remedy.kind)
            if own is not None:  # a panel keeps the files: its own way comes first
                lines = own_way_lines(own)
                parts.append(_indented(clean("\n".join(lines), limit=4000, keep_newlines=True)))
    for step in next_steps:
        parts.append(_indented(f"\n{clean(step, limit=2000)}", style="dim"))
    if diagnosis.endpoints:
        parts.append(_probe_table(diagnosis))
    return Group(*parts)


def _indented(text: str, style: str = "") -> Padding:
    return Padding(Text(text, style=style), (0, 0, 0, 3))


def _header(diagnosis: Diagnosis) -> Text:
    settings = diagnosis.verdict.settings
    text = Text(f"gmailfix: {clean(display_name(diagnosis.domain))}", style="bold")
    text.append(
        f"\nSMTP Server {clean(display_name(settings.smtp_server))}, port {settings.port} "
        f"({settings.security})" + _whose_choice(diagnosis),
        style="dim",
    )
    found = looks_like(diagnosis.mail_stack)
    if found is not None:
        label, sure, reason = found
        because = f": {clean(reason, limit=300)}" if reason else ""
        text.append(f"\nYour server looks like {clean(label)}{sure}{because}", style="dim")
    return text


def _whose_choice(diagnosis: Diagnosis) -> str:
    if diagnosis.smtp_host:
        return ""  # as typed
    return ", chosen from DNS" if diagnosis.chosen is not None else ", a guess (DNS gave nothing)"


def verdict_text(diagnosis: Diagnosis) -> Text:
    verdict = diagnosis.verdict
    if verdict.outcome == "accept":
        return Text("\n✓ Gmail would accept this server.", style="bold green")
    if verdict.outcome == "unknown":
        return Text(
            "\n? gmailfix cannot tell what Gmail would do: this computer could not check.",
            style="bold yellow",
        )
    text = Text("\n✗ Gmail would reject this server. Gmail says:\n", style="bold red")
    text.append(clean(verdict.error or ""), style="red")
    return text


def group_findings(
    findings: Iterable[Finding], *, show_addresses: bool = True
) -> list[tuple[Finding, str]]:
    """One line per (code, host), the ports and addresses joined: "mail.x.test:587, 465"."""
    Key = tuple[str, str | None]
    order: list[Key] = []
    ports: dict[Key, list[int]] = defaultdict(list)
    addresses: dict[Key, list[str]] = defaultdict(list)
    first: dict[Key, Finding] = {}
    for item in findings:
        key: Key = (str(item.code), item.host)
        if key not in first:
            order.append(key)
            first[key] = item
        if item.port is not None and item.port not in ports[key]:
            ports[key].append(item.port)
        if item.address and item.address not in addresses[key]:
            addresses[key].append(item.address)
    out = []
    for key in sorted(order, key=lambda k: list(Severity).index(first[k].severity)):
        item = first[key]
        where = display_name(item.host) if item.host else ""
        if ports[key]:
            where += ":" + ", ".join(str(p) for p in ports[key])
        if show_addresses and addresses[key]:
            where += " at " + ", ".join(addresses[key][:4])
        out.append((item, where))
    return out


def _probe_table(diagnosis: Diagnosis) -> RenderableType:
    table = Table(title="\nChecks", title_justify="left", show_edge=False, expand=False)
    for column in ("server", "port", "address", "TLS", "certificate for", "result"):
        table.add_column(column)
    for endpoint in diagnosis.endpoints:
        for check in endpoint.checks:
            probe = check.probe
            leaf = probe.chain.leaf
            names = ", ".join(leaf.names[:3]) if leaf else "-"
            result = (
                check.verdict.outcome
                if check.verdict.accept
                else (check.verdict.cause or check.verdict.outcome)
            )
            style = "green" if check.verdict.accept else "red"
            table.add_row(
                Text(clean(display_name(probe.host))),
                str(probe.port),
                Text(clean(check.address or "-")),
                probe.tls_version or probe.mode,
                Text(clean(names, limit=80)),
                Text(str(result), style=style),
            )
    return table


def print_report(
    diagnosis: Diagnosis, console: Console | None = None, next_steps: Sequence[str] = ()
) -> None:
    (console or Console()).print(render(diagnosis, next_steps), highlight=False)
