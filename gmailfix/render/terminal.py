"""The diagnosis as a short report for a terminal: verdict, findings, the fix.

Plain lines, wrapped to the terminal's width, with colour only for a terminal
that wants it. Outside text goes through ``text.clean`` first, so the only
escape sequences on screen are the colours added here. A command is never
wrapped: one copied line is one whole command.

No Rich here: it was a tenth of a one-port ``gmailfix diagnose`` to import,
and this report needs only wrapping and a few colours.
"""

from __future__ import annotations

import os
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TextIO

from gmailfix.diagnose import Diagnosis
from gmailfix.findings import Finding, Severity
from gmailfix.inputs import display_name
from gmailfix.remedies.model import Proposal, panel_way, recognised_stack
from gmailfix.stacks.catalog import looks_like, own_way_lines
from gmailfix.text import clean, plain_marks, unicode_output

INDENT = 3  # where the text under a marked line starts

# SGR parameters of each style used in the report
_SGR = {
    "bold": "1",
    "dim": "2",
    "heading": "1;4",
    "red": "31",
    "bold red": "1;31",
    "green": "32",
    "bold green": "1;32",
    "yellow": "33",
    "bold yellow": "1;33",
    "cyan": "36",
}

MARK = {
    Severity.ERROR: ("✗", "bold red"),
    Severity.WARNING: ("!", "yellow"),
    Severity.INFO: ("i", "cyan"),
}


@dataclass(frozen=True)
class NextStep:
    """What to do next: a sentence, and the command that does it ("" when none)."""

    words: str
    command: str = ""


@dataclass(frozen=True)
class Terminal:
    width: int = 80
    color: bool = False
    unicode: bool = True  # False: the output's encoding has no ✓ ✗ → …

    @classmethod
    def of(cls, out: TextIO) -> Terminal:
        """The width and colour ``out`` wants: COLUMNS, else the terminal's width, else 80;
        colour on a terminal unless NO_COLOR or TERM=dumb, or always with FORCE_COLOR."""
        tty = _isatty(out)
        return cls(
            width=max(_columns(out, tty), 20),
            color=_wants_color(tty),
            unicode=unicode_output(out),
        )

    def paint(self, text: str, style: str) -> str:
        if not self.color or not style or not text:
            return text
        return f"\x1b[{_SGR[style]}m{text}\x1b[0m"


def _isatty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def _columns(out: TextIO, tty: bool) -> int:
    given = os.environ.get("COLUMNS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    if tty:
        try:
            return os.get_terminal_size(out.fileno()).columns or 80
        except (OSError, ValueError):
            pass
    return 80


def _wants_color(tty: bool) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return tty and os.environ.get("TERM") != "dumb"


def cells(text: str) -> int:
    """Columns ``text`` takes on a terminal: wide East Asian characters two, combining none.

    Rich's ``cell_len`` knows more (emoji sequences), but importing Rich at all is
    what this module gave up; a diagnosis's text is names and English words."""
    return sum(_cell(ch) for ch in text)


def _cell(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


Span = tuple[str, str]  # some words and their style ("" for none)


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` columns, broken at spaces; a word longer
    than a line is cut. A newline in ``text`` starts a new line."""
    return [
        " ".join(word for word, _ in line)
        for paragraph in text.split("\n")
        for line in _wrap_words([(word, "") for word in paragraph.split()], width)
    ]


def _wrap_words(words: Sequence[Span], width: int) -> list[list[Span]]:
    """Greedy: as many words on a line as fit in ``width`` columns."""
    width = max(width, 1)
    lines: list[list[Span]] = []
    line: list[Span] = []
    used = 0
    for word, style in words:
        size = cells(word)
        if line and used + 1 + size <= width:
            line.append((word, style))
            used += 1 + size
            continue
        if line:
            lines.append(line)
        while size > width:  # a word wider than a line: cut it
            head, word = _cut(word, width)
            lines.append([(head, style)])
            size = cells(word)
        line, used = ([(word, style)], size) if word else ([], 0)
    if line or not lines:
        lines.append(line)
    return lines


def _cut(word: str, width: int) -> tuple[str, str]:
    used = 0
    for index, ch in enumerate(word):
        used += _cell(ch)
        if used > width:
            index = max(index, 1)  # at least one character, or it would never end
            return word[:index], word[index:]
    return word, ""


class _Report:
    """The lines of one report, for one terminal."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal
        self.lines: list[str] = []

    def blank(self) -> None:
        self.lines.append("")

    def text(self, text: str, style: str = "", indent: int = 0) -> None:
        """Wrapped prose in one style, every line indented by ``indent``."""
        for paragraph in text.split("\n"):
            self.spans([(paragraph, style)], indent)

    def spans(self, spans: Sequence[Span], indent: int = 0, mark: Span | None = None) -> None:
        """One paragraph of styled words, wrapped; with ``mark``, ' ✗ ' hangs before
        the first line and the rest start under its text."""
        if mark is not None:
            indent = INDENT
        words = [(word, style) for text, style in spans for word in text.split()]
        paint = self.terminal.paint
        for number, line in enumerate(_wrap_words(words, self.terminal.width - indent)):
            prefix = " " * indent
            if mark is not None and number == 0:
                prefix = f" {paint(*mark)} "
            runs = _runs(line)
            self.lines.append(prefix + " ".join(paint(text, style) for text, style in runs))

    def command(self, command: str) -> None:
        """A command on a line of its own, never wrapped."""
        self.lines.append(" " * INDENT + command)

    def __str__(self) -> str:
        return "\n".join(line.rstrip() for line in self.lines) + "\n"


def _runs(line: Sequence[Span]) -> list[Span]:
    """Neighbouring words of one style joined, so each run is painted once."""
    runs: list[Span] = []
    for word, style in line:
        if runs and runs[-1][1] == style:
            runs[-1] = (f"{runs[-1][0]} {word}", style)
        else:
            runs.append((word, style))
    return runs


def render(
    proposal: Proposal,
    next_steps: Sequence[NextStep] = (),
    terminal: Terminal | None = None,
) -> str:
    diagnosis = proposal.diagnosis
    report = _Report(terminal or Terminal())
    _header(report, diagnosis)
    report.blank()
    _verdict(report, diagnosis)
    _findings(report, diagnosis)
    if not diagnosis.accepted:
        _remedies(report, proposal)
    for step in next_steps:
        report.blank()
        report.text(clean(step.words, limit=2000), "dim", indent=INDENT)
        if step.command:
            report.command(clean(step.command, limit=4000))
    if diagnosis.endpoints:
        _checks(report, diagnosis)
    text = str(report)
    return text if report.terminal.unicode else plain_marks(text)


def print_report(proposal: Proposal, out: TextIO, next_steps: Sequence[NextStep] = ()) -> None:
    out.write(render(proposal, next_steps, Terminal.of(out)))


def _header(report: _Report, diagnosis: Diagnosis) -> None:
    settings = diagnosis.verdict.settings
    report.text(f"gmailfix: {clean(display_name(diagnosis.domain))}", "bold")
    report.text(
        f"SMTP Server {clean(display_name(settings.smtp_server))}, port {settings.port} "
        f"({settings.security})" + _whose_choice(diagnosis),
        "dim",
    )
    found = looks_like(diagnosis.mail_stack)
    if found is not None:
        label, sure, reason = found
        because = f": {clean(reason, limit=300)}" if reason else ""
        report.text(f"Your server looks like {clean(label)}{sure}{because}", "dim")


def _whose_choice(diagnosis: Diagnosis) -> str:
    if diagnosis.smtp_host:
        return ""  # as typed
    return ", chosen from DNS" if diagnosis.chosen is not None else ", a guess (DNS gave nothing)"


def _verdict(report: _Report, diagnosis: Diagnosis) -> None:
    verdict = diagnosis.verdict
    if verdict.outcome == "accept":
        report.text("✓ Gmail would accept this server.", "bold green")
    elif verdict.outcome == "unknown":
        report.text(
            f"? gmailfix cannot tell what Gmail would do: {diagnosis.why_unknown}.", "bold yellow"
        )
    else:
        report.text("✗ Gmail would reject this server. Gmail says:", "bold red")
        report.text(clean(verdict.error or ""), "red")


def _findings(report: _Report, diagnosis: Diagnosis) -> None:
    several = any(len(e.checks) > 1 for e in diagnosis.endpoints)
    grouped = group_findings(diagnosis.findings, show_addresses=several)
    if not grouped:
        return
    report.blank()
    report.text("What was found", "heading")
    for item, where in grouped:
        mark, style = MARK[item.severity]
        where_span = (f"({clean(where)})", "dim") if where else ("", "")
        report.spans([(clean(item.title), "bold"), where_span], mark=(mark, style))
        report.text(clean(item.detail, limit=2000), indent=INDENT)


def _remedies(report: _Report, proposal: Proposal) -> None:
    diagnosis = proposal.diagnosis
    usable = [r for r in proposal.remedies if r.applicable]
    if not usable:
        return
    report.blank()
    report.text("How to fix it", "heading")
    stack = recognised_stack(diagnosis)
    for remedy in usable:
        label = "Recommended: " if remedy.recommended else "Or: "
        style = "bold green" if remedy.recommended else "bold"
        report.spans([(label, style), (clean(remedy.title), "")], mark=("→", style))
        report.text(clean(remedy.reason, limit=2000), indent=INDENT)
        own = panel_way(stack, remedy.kind)
        if own is not None:  # a panel keeps the files: its own way comes first
            lines = "\n".join(own_way_lines(own))
            report.text(clean(lines, limit=4000, keep_newlines=True), indent=INDENT)


def _checks(report: _Report, diagnosis: Diagnosis) -> None:
    """One line per check: where, how, whose certificate, and what Gmail would say."""
    report.blank()
    report.text("Checks", "heading")
    for endpoint in diagnosis.endpoints:
        for check in endpoint.checks:
            probe = check.probe
            leaf = probe.chain.leaf
            where = f"{clean(display_name(probe.host))}:{probe.port}"
            if check.address:
                where += f" at {clean(check.address)}"
            how = probe.tls_version or probe.mode
            names = (
                f"certificate for {clean(', '.join(leaf.names[:3]), limit=200)}"
                if leaf
                else "no certificate"
            )
            accepted = check.verdict.accept
            result = "accept" if accepted else str(check.verdict.cause or check.verdict.outcome)
            mark, style = ("✓", "green") if accepted else ("✗", "red")
            report.spans([(f"{where} ({how}), {names}:", ""), (result, style)], mark=(mark, style))


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
