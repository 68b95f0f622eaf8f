"""The --from side of ``gmailfix diagnose``: read the list, stream the results."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gmailfix.batch import json_line, read_targets, run_batch, text_line
from gmailfix.connection import Connection
from gmailfix.diagnosis_request import connection_from_args, ports_from_args
from gmailfix.errors import InputError


def _read(source: str) -> list[tuple[int, str]]:
    if source == "-":
        return read_targets(sys.stdin)
    try:
        with open(source, encoding="utf-8", errors="replace") as handle:
            return read_targets(handle)
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror}") from None


def run_batch_cli(args: argparse.Namespace, out: TextIO) -> int:
    if not 1 <= args.concurrency <= 256:
        raise InputError("--concurrency must be between 1 and 256")
    if args.smtp_host:
        raise InputError("--smtp-host applies to one domain; it cannot be used with --from")
    targets = _read(args.from_file)
    connection = connection_from_args(args)
    return asyncio.run(_stream(targets, connection, ports_from_args(args), args, out))


async def _stream(
    targets: list[tuple[int, str]],
    connection: Connection,
    ports: tuple[int, ...],
    args: argparse.Namespace,
    out: TextIO,
) -> int:
    """Print each result as it arrives; a progress bar on stderr when it is a terminal."""
    rejected = 0
    show_progress = sys.stderr.isatty()
    progress = Progress(
        TextColumn("diagnosing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not show_progress,
    )
    with progress:
        task = progress.add_task("domains", total=len(targets))
        async for item in run_batch(targets, connection, ports=ports, concurrency=args.concurrency):
            rejected += not item.accepted
            line = json_line(item) if args.json else text_line(item)
            progress.console.print(
                line, highlight=False, soft_wrap=True
            ) if out is sys.stdout and show_progress else print(line, file=out, flush=True)
            progress.advance(task)
    if not args.json:
        print(
            f"{len(targets) - rejected} accepted, {rejected} rejected or invalid", file=sys.stderr
        )
    return 1 if rejected else 0
