"""Many domains at once: ``gmailfix diagnose --from FILE``.

Lines are read lazily through a bounded queue and a fixed number of workers
diagnose them, so memory stays flat however long the list is; each result is
handed on as soon as it is known. One domain that fails in an unexpected way
becomes an error line, never the end of the batch.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from gmailfix.connection import Connection
from gmailfix.diagnose import Diagnosis
from gmailfix.errors import InputError, shorten
from gmailfix.inputs import parse_target
from gmailfix.remedies.model import Proposal
from gmailfix.remedies.propose import diagnose_and_propose
from gmailfix.render.json_report import to_dict
from gmailfix.text import clean
from gmailfix.vocabulary import Code, Port

MAX_LINE = 2048  # a longer line is no address; do not keep it whole


@dataclass(frozen=True)
class BatchItem:
    line: int
    text: str
    proposal: Proposal | None = None  # the diagnosis and its fixes
    error: str | None = None

    @property
    def diagnosis(self) -> Diagnosis | None:
        return self.proposal.diagnosis if self.proposal is not None else None

    @property
    def outcome(self) -> str:
        return self.diagnosis.outcome if self.diagnosis is not None else "invalid"

    @property
    def accepted(self) -> bool:
        return self.diagnosis is not None and self.diagnosis.accepted


def read_targets(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """Non-empty, non-comment lines with their line numbers, lazily."""
    for number, raw in enumerate(lines, 1):
        text = raw[:MAX_LINE].strip()
        if text and not text.startswith("#"):
            yield number, text


def bounded_lines(handle: TextIO, limit: int = MAX_LINE) -> Iterator[str]:
    """The lines of ``handle``, each cut to ``limit`` characters as it is read: a file
    with no newline at all is never held whole (the rest of a long line is skipped)."""
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith("\n"):
            rest = line
            while rest and not rest.endswith("\n"):  # skip the rest, a piece at a time
                rest = handle.readline(64 * 1024)
        yield line[:limit]


async def run_batch(
    targets: Iterable[tuple[int, str]],
    connection: Connection,
    *,
    ports: tuple[Port, ...],
    concurrency: int = 8,
) -> AsyncIterator[BatchItem]:
    """Yield one BatchItem per target, in the order they finish."""
    todo: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue(maxsize=concurrency * 2)
    done: asyncio.Queue[BatchItem | None] = asyncio.Queue(maxsize=concurrency * 2)
    failed: list[Exception] = []

    async def feed() -> None:
        # the next line is read in a thread: a slow pipe never holds up the probes,
        # and results are printed while the list is still coming in
        lines = iter(targets)
        try:
            while (item := await asyncio.to_thread(next, lines, None)) is not None:
                await todo.put(item)
        except Exception as exc:  # reading failed: the workers still stop, then it is raised
            failed.append(exc)
        for _ in range(concurrency):
            await todo.put(None)

    async def work() -> None:
        while (item := await todo.get()) is not None:
            await done.put(await _one(*item, connection, ports))
        await done.put(None)

    tasks = [asyncio.ensure_future(feed())]
    tasks += [asyncio.ensure_future(work()) for _ in range(concurrency)]
    try:
        finished = 0
        while finished < concurrency:
            result = await done.get()
            if result is None:
                finished += 1
            else:
                yield result
        if failed:
            raise failed[0]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _one(line: int, text: str, connection: Connection, ports: tuple[Port, ...]) -> BatchItem:
    try:
        target = parse_target(text)
    except InputError as exc:
        return BatchItem(line, text, error=str(exc))
    if ports:
        target = type(target)(target.domain, target.username, None, ports)
    try:
        return BatchItem(line, text, proposal=await diagnose_and_propose(target, connection))
    except Exception as exc:
        return BatchItem(line, text, error=f"internal error ({type(exc).__name__})")


def json_line(item: BatchItem) -> str:
    if item.diagnosis is None:
        return json.dumps(
            {
                "schema": "gmailfix.batch-error/1",
                "line": item.line,
                "input": item.text,
                "error": item.error,
            }
        )
    assert item.proposal is not None
    data = to_dict(item.proposal)
    data["line"], data["input"] = item.line, item.text
    return json.dumps(data, ensure_ascii=False)


def text_line(item: BatchItem) -> str:
    if item.diagnosis is None:
        return f"!  bad input  line {item.line}: {clean(shorten(item.error or '', 200))}"
    verdict = item.diagnosis.verdict
    where = clean(f"{verdict.settings.smtp_server}:{verdict.settings.port}")
    domain = clean(item.diagnosis.domain)
    if verdict.outcome == "accept":
        return f"✓  accept     {domain}  {where}"
    left = item.diagnosis.addresses_not_checked
    if verdict.outcome == "unknown" and verdict.cause == Code.ADDRESSES_NOT_CHECKED:
        return f"?  unknown    {domain}  {where}  {left} addresses not checked  {verdict.cause}"
    if verdict.outcome == "unknown":
        return f"?  unknown    {domain}  cannot check from this computer"
    at = f" at {clean(verdict.address)}" if verdict.address else ""
    unchecked = f"  ({left} addresses not checked)" if left else ""
    return f"✗  reject     {domain}  {where}{at}  {verdict.cause}{unchecked}"
