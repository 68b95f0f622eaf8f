"""``gmailfix explain "TEXT"``: what a message Gmail showed means, and what to do.

Exit statuses: 0 some part of the text was recognised, 1 none was, 2 bad
usage (no text). The text is pasted by a person and so is outside text: only
its first 64 KiB are read, and it is shown only through ``gmailfix.text``.
The engine is imported only when the command runs, so ``gmailfix --help``
stays quick.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, BinaryIO, TextIO

from gmailfix.errors import InputError
from gmailfix.vocabulary import Exit

MAX_TEXT = 64 * 1024  # bytes read from stdin, characters taken from the command line
STDIN = "-"
DIAGNOSE = "gmailfix"  # runs as printed: it asks for the address and the server
DIAGNOSE_WORDS = (
    "Next, check the server as Gmail does: gmailfix asks for your address, and the SMTP "
    "Server and Port as typed in Gmail's form (gmailfix diagnose takes them on the command "
    "line):"
)


def add_explain_parser(sub: Any) -> None:
    explain = sub.add_parser(
        "explain",
        help="say what a message Gmail showed means and what to do (exit 0 known, 1 not)",
        description=(
            "Say what a message Gmail showed means and what to do: an error in the 'Send "
            "mail as' form, or a bounce that says the settings are 'misconfigured or out of "
            "date'. Exit status: 0 some part was recognised, 1 none was, 2 no text."
        ),
    )
    explain.add_argument(
        "text",
        metavar="TEXT",
        nargs="+",
        help="Gmail's message, in quotes; '-' reads it from stdin (the first 64 KiB)",
    )


def run_explain(args: argparse.Namespace, out: TextIO) -> int:
    text = _read_text(args.text, sys.stdin)
    if not text.strip():
        raise InputError(
            "no text to explain: give Gmail's message in quotes, or '-' and the message on stdin"
        )
    report, recognised = explanation(text, out)
    out.write(report)
    return Exit.ACCEPT if recognised else Exit.REJECT


def _read_text(words: list[str], stdin: TextIO | None) -> str:
    if words != [STDIN]:
        text = " ".join(words)
        if len(text) > MAX_TEXT:
            _cut_note()
        return text[:MAX_TEXT]
    if stdin is None:
        raise InputError("'-' reads the text from stdin, and there is none")
    if stdin.isatty():
        print("Paste Gmail's message, then press Ctrl+D on a line of its own.", file=sys.stderr)
    source: BinaryIO = stdin.buffer
    data = source.read(MAX_TEXT + 1)
    if len(data) > MAX_TEXT:
        _cut_note()
    return data[:MAX_TEXT].decode("utf-8", errors="replace")


def _cut_note() -> None:
    print(f"gmailfix: only the first {MAX_TEXT // 1024} KiB of the text are read", file=sys.stderr)


def explanation(text: str, out: TextIO) -> tuple[str, bool]:
    """The report for ``out``'s width: each recognised part, what it means and what to
    do, then the next command; and whether any part was recognised."""
    from gmailfix.gmail import bounce_response, explain_error
    from gmailfix.render.terminal import INDENT, Terminal, wrap
    from gmailfix.text import clean

    terminal = Terminal.of(out)
    width = terminal.width - INDENT
    lines: list[str] = []

    def para(words: str, indent: int = INDENT, style: str = "") -> None:
        lines.extend(" " * indent + terminal.paint(line, style) for line in wrap(words, width))

    entries = explain_error(text)
    if not entries:
        para(
            "gmailfix does not know this text. Paste the whole message Gmail showed (for a "
            "bounce, the 'The response was:' line too), or check the server as Gmail does: "
            "that finds the cause without the message.",
            indent=0,
        )
        lines += ["", " " * INDENT + DIAGNOSE, ""]
        return "\n".join(lines), False
    response = bounce_response(text)
    if response is not None:
        para(f"The bounce quotes your server's answer: {clean(response, limit=300)}", 0)
        lines.append("")
    for entry in entries:
        para(f'"{entry.phrase}"', indent=0, style="bold")
        para(entry.meaning)
        para(f"What to do: {entry.todo}")
        if entry.codes:
            para("Findings it can be: " + ", ".join(entry.codes), style="dim")
        lines.append("")
    if not any(entry.check_server for entry in entries):
        para(
            "Nothing on your mail server needs changing for this. Once that is done, if "
            "Gmail still refuses the server, check it:",
            indent=0,
        )
    else:
        para(DIAGNOSE_WORDS, indent=0)
    lines += [" " * INDENT + DIAGNOSE, ""]
    return "\n".join(lines), True
