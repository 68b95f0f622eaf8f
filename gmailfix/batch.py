"""Many domains at once: ``gmailfix diagnose --from FILE``.

Domains run concurrently up to a bound; each result is written as soon as it is
known (one JSON object per line with --json), so memory stays flat however
long the list is.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

from gmailfix.connection import Connection
from gmailfix.diagnose import Diagnosis
from gmailfix.diagnosis_request import make_request, run_request
from gmailfix.errors import InputError
from gmailfix.render.json_report import to_dict


@dataclass(frozen=True)
class BatchItem:
    line: int
    text: str
    diagnosis: Diagnosis | None = None
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.diagnosis is not None and self.diagnosis.accepted


def read_targets(lines: Iterable[str]) -> list[tuple[int, str]]:
    """Non-empty, non-comment lines with their line numbers."""
    out = []
    for number, raw in enumerate(lines, 1):
        text = raw.strip()
        if text and not text.startswith("#"):
            out.append((number, text))
    return out


async def run_batch(
    targets: list[tuple[int, str]],
    connection: Connection,
    *,
    ports: tuple[int, ...],
    concurrency: int = 8,
) -> AsyncIterator[BatchItem]:
    """Yield one BatchItem per target, in the order they finish."""
    gate = asyncio.Semaphore(concurrency)

    async def one(line: int, text: str) -> BatchItem:
        async with gate:
            try:
                request = make_request(text, connection, ports=ports)
            except InputError as exc:
                return BatchItem(line, text, error=str(exc))
            return BatchItem(line, text, diagnosis=await run_request(request))

    pending = [asyncio.ensure_future(one(line, text)) for line, text in targets]
    try:
        for next_done in asyncio.as_completed(pending):
            yield await next_done
    finally:
        for task in pending:
            task.cancel()


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
    data = to_dict(item.diagnosis)
    data["line"], data["input"] = item.line, item.text
    return json.dumps(data, ensure_ascii=False)


def text_line(item: BatchItem) -> str:
    if item.diagnosis is None:
        return f"!  bad input  line {item.line}: {item.error}"
    verdict = item.diagnosis.verdict
    where = f"{verdict.settings.smtp_server}:{verdict.settings.port}"
    if verdict.accept:
        return f"✓  accept     {item.diagnosis.domain}  {where}"
    return f"✗  reject     {item.diagnosis.domain}  {where}  {verdict.cause}"


Printer = Callable[[BatchItem], None]
