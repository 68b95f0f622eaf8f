"""The --from side of ``gmailfix diagnose``: read the list, stream the results."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import sys
from collections.abc import Iterator
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from gmailfix.batch import bounded_lines, json_line, read_targets, run_batch, text_line
from gmailfix.cli.args import connection_from_args
from gmailfix.errors import InputError, shorten
from gmailfix.inputs import parse_port
from gmailfix.text import plain_marks, unicode_output


@contextlib.contextmanager
def _lines(source: str) -> Iterator[TextIO]:
    if source == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:  # a stand-in for stdin that has only text
            yield sys.stdin
            return
        # UTF-8 like a file, whatever the locale: an ASCII one would fail on the first ü
        handle = io.TextIOWrapper(buffer, encoding="utf-8", errors="replace")
        try:
            yield handle
        finally:
            handle.detach()  # stdin stays open
        return
    try:
        handle = open(source, encoding="utf-8", errors="replace")  # noqa: SIM115 - yielded
    except OSError as exc:
        raise InputError(f"cannot read {shorten(source)}: {exc.strerror}", field="option") from None
    with handle:
        yield handle


def _ascii_json(line: str) -> str:
    """The same JSON with every non-ASCII character as a \\u escape.

    ``json_line`` (gmailfix.batch) keeps the characters; parsed and written again by
    the json module, the line stays exactly the same data."""
    return json.dumps(json.loads(line))


def run_batch_cli(args: argparse.Namespace, out: TextIO) -> int:
    if not 1 <= args.concurrency <= 256:
        raise InputError("--concurrency must be between 1 and 256", field="option")
    if args.smtp_host:
        raise InputError(
            "--smtp-host applies to one domain; it cannot be used with --from", field="option"
        )
    if getattr(args, "auth_user", None):
        raise InputError("--auth-user applies to one domain; not with --from", field="option")
    connection = connection_from_args(args)
    ports = tuple(parse_port(p) for p in dict.fromkeys(args.port or (587, 465, 25)))
    with _lines(args.from_file) as handle:
        targets = read_targets(bounded_lines(handle))
        return asyncio.run(_stream(targets, connection, ports, args, out))


async def _stream(
    targets: Iterator[tuple[int, str]],
    connection: object,
    ports: tuple[int, ...],
    args: argparse.Namespace,
    out: TextIO,
) -> int:
    """Print each result as it arrives; a counter on stderr when it is a terminal.

    An output that cannot carry every character (``unicode_output``) gets plain marks,
    and JSON lines with \\u escapes: pure ASCII, so each line is still JSON in any
    locale, and UTF-8 as RFC 8259 wants."""
    wide = unicode_output(out)
    counts = {"accept": 0, "reject": 0, "unknown": 0, "invalid": 0}
    show_progress = sys.stderr.isatty()
    progress = Progress(
        TextColumn("diagnosing"),
        BarColumn(),
        TextColumn("{task.completed} done"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not show_progress,
    )
    with progress:
        task = progress.add_task("domains", total=None)
        async for item in run_batch(
            targets,
            connection,  # type: ignore[arg-type]
            ports=ports,  # type: ignore[arg-type]
            concurrency=args.concurrency,
        ):
            counts[item.outcome] += 1
            if args.json:
                line = json_line(item) if wide else _ascii_json(json_line(item))
            else:
                line = text_line(item) if wide else plain_marks(text_line(item))
            print(line, file=out, flush=True)
            progress.advance(task)
    if not args.json:
        print(
            f"{counts['accept']} accepted, {counts['reject']} rejected, "
            f"{counts['unknown']} not checkable from here, {counts['invalid']} invalid",
            file=sys.stderr,
        )
    if counts["reject"] or counts["invalid"]:
        return 1
    return 3 if counts["unknown"] else 0
