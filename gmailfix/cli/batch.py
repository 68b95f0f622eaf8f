"""The --from side of ``gmailfix diagnose``: read the list, stream the results."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Iterator
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from gmailfix.batch import json_line, read_targets, run_batch, text_line
from gmailfix.cli.args import connection_from_args
from gmailfix.errors import InputError, shorten
from gmailfix.inputs import parse_port


@contextlib.contextmanager
def _lines(source: str) -> Iterator[TextIO]:
    if source == "-":
        yield sys.stdin
        return
    try:
        handle = open(source, encoding="utf-8", errors="replace")  # noqa: SIM115 - yielded
    except OSError as exc:
        raise InputError(f"cannot read {shorten(source)}: {exc.strerror}", field="option") from None
    with handle:
        yield handle


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
        return asyncio.run(_stream(read_targets(handle), connection, ports, args, out))


async def _stream(
    targets: Iterator[tuple[int, str]],
    connection: object,
    ports: tuple[int, ...],
    args: argparse.Namespace,
    out: TextIO,
) -> int:
    """Print each result as it arrives; a counter on stderr when it is a terminal."""
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
            line = json_line(item) if args.json else text_line(item)
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
