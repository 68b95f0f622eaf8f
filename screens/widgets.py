"""Words and small widgets the steps share: verdict, findings, technical detail.

Everything from outside (names, certificate fields, server replies) reaches
Textual as ``Text`` made with ``text.clean``: never markup, never a control
character. Names are shown as the person typed them (Unicode, not punycode),
and no finding code, flag or library message appears here: the technical
detail is one key away, in its own window.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from gmailfix.check import AddressCheck
from gmailfix.diagnose import Diagnosis
from gmailfix.findings import CATALOG, Code, Severity
from gmailfix.gmail import NOT_THE_PASSWORD, explain_error
from gmailfix.inputs import display_name
from gmailfix.render.terminal import group_findings
from gmailfix.text import clean

MARKS = {
    Severity.ERROR: ("✗", "bold red"),
    Severity.WARNING: ("!", "bold yellow"),
    Severity.INFO: ("i", "cyan"),
}
# not a problem of the server: this computer could not look, so neither ✓ nor ✗
UNKNOWN_MARK = ("?", "bold yellow")


def name(host: str) -> str:
    """A host name as a person reads it: Unicode, cleaned."""
    return clean(display_name(host))


def verdict_text(diagnosis: Diagnosis) -> Text:
    verdict = diagnosis.verdict
    s = verdict.settings
    where = f"{name(s.smtp_server)}, port {s.port} ({s.security})"
    if verdict.outcome == "accept":
        return Text.assemble(("✓ Gmail would accept ", "bold green"), (where, "bold"), ".")
    if verdict.outcome == "unknown":
        why = diagnosis.why_unknown
        if verdict.cause != Code.ADDRESSES_NOT_CHECKED:
            why = "this computer could not check your server"
        return Text.assemble(
            ("? gmailfix cannot tell what Gmail would do: ", "bold yellow"), f"{why}. See below."
        )
    text = Text.assemble(
        ("✗ Gmail would refuse ", "bold red"),
        (where, "bold"),
        ". Gmail says:\n",
        (clean(verdict.error or ""), "red"),
    )
    if NOT_THE_PASSWORD in explain_error(verdict.error or ""):
        # Gmail puts "check your username/password" before every error it shows
        text.append(f"\n{NOT_THE_PASSWORD.todo}", style="italic")
    return text


def findings_text(diagnosis: Diagnosis) -> Group:
    parts: list[RenderableType] = []
    several = any(len(e.checks) > 1 for e in diagnosis.endpoints)
    for item, where in group_findings(diagnosis.findings, show_addresses=several):
        mark, style = UNKNOWN_MARK if item.code == Code.CANNOT_CHECK_HERE else MARKS[item.severity]
        parts.append(
            Text.assemble(
                (f"{mark} ", style), (clean(item.title), "bold"), (f"  {clean(where)}", "dim")
            )
        )
        parts.append(Padding(Text(clean(item.detail, limit=1500)), (0, 0, 1, 2)))
    if not parts:
        parts.append(Text("Nothing is wrong.", style="green"))
    return Group(*parts)


def check_words(check: AddressCheck) -> str:
    """One check's result in a few plain words, for the live table: the verdict's cause.

    The certificate's name appears only when the name is the cause."""
    probe, verdict = check.probe, check.verdict
    if verdict.accept:
        return "passes Gmail's check"
    if verdict.outcome == "unknown":
        return "could not be checked from here"
    cause = verdict.cause
    leaf = probe.chain.leaf
    if cause == Code.HOSTNAME_MISMATCH and leaf is not None and leaf.names:
        return f"refused: certificate is for {name(leaf.names[0])}"
    if cause is None:
        return "refused"
    return f"refused: {short_title(CATALOG[cause].title)}"


def short_title(title: str) -> str:
    """A catalog title for a narrow column: "The server does not…" -> "server does not…"."""
    title = title.removeprefix("The ")
    return title[:1].lower() + title[1:]


def probe_words(probe_code: str | None, names: tuple[str, ...]) -> str:
    """A probe that just finished, before its verdict: what it saw."""
    if probe_code is not None:
        return short_title(CATALOG[probe_code].title)  # type: ignore[index]
    if names:
        return f"certificate for {name(names[0])}"
    return "answered"


def stack_words(diagnosis: Diagnosis) -> Text | None:
    """'Your server looks like ...' with the first reason, or None when unknown."""
    from gmailfix.stacks.catalog import looks_like

    found = looks_like(diagnosis.mail_stack)
    if found is None:
        return None
    label, sure, reason = found
    text = Text.assemble("Your server looks like ", (clean(label), "bold"), sure)
    if reason:
        text.append(f": {clean(reason)}.", style="dim")
    return text


def evidence_text(diagnosis: Diagnosis) -> Text:
    """The technical detail: DNS, each check, certificates, the servers' own words."""
    out = Text()
    facts = diagnosis.facts
    for mx in facts.mx:
        out.append(
            f"MX {mx.preference} {clean(mx.host)} → {clean(', '.join(mx.addresses) or 'no address')}\n"
        )
    for host, target in facts.cnames.items():
        out.append(f"{clean(host)} is a CNAME to {clean(target)}\n")
    for address, names in facts.ptr.items():
        out.append(f"PTR {clean(address)} → {clean(', '.join(names))}\n")
    for item in diagnosis.findings:
        for key, value in list(item.evidence.items())[:4]:
            out.append(
                f"{clean(item.title)}: {clean(key)}: {clean(value, limit=300)}\n", style="dim"
            )
    for endpoint in diagnosis.endpoints:
        for check in endpoint.checks:
            probe = check.probe
            out.append(f"\n{clean(probe.host)}:{probe.port} ({probe.mode})", style="bold")
            out.append(f" at {clean(check.address or '-')}\n")
            if probe.banner:
                out.append(f"  greeting: {clean(probe.banner, limit=120)}\n")
            if probe.tls_version:
                mechanisms = " ".join(probe.auth_mechanisms) or "none"
                out.append(
                    f"  {probe.tls_version}, {clean(probe.cipher or '')}, login {clean(mechanisms)}\n"
                )
            for n, info in enumerate(probe.chain.infos):
                out.append(
                    f"  [{n}] {clean(info.subject)}\n      names: {clean(', '.join(info.names) or '-')}\n"
                )
                out.append(
                    f"      issuer: {clean(info.issuer)}\n"
                    f"      valid: {info.not_before:%Y-%m-%d} to {info.not_after:%Y-%m-%d}\n"
                )
            if probe.chain and probe.chain.error:
                out.append(f"  certificate: {clean(probe.chain.error)}\n", style="red")
            if probe.error:
                out.append(f"  {clean(probe.error, limit=300)}\n", style="red")
    return out
