"""Driving the wizard with Textual's Pilot: wait for screens and workers, read what shows."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from rich.console import Console
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Label, OptionList, Static

from gmailfix.screens.app import GmailfixApp


async def until(pilot: Pilot[Any], condition: Callable[[], bool], seconds: float = 20) -> None:
    """Wait for a condition, letting workers finish first (no busy polling of the network)."""
    for _ in range(int(seconds / 0.05)):
        # every worker but the wizard's own flow, which runs as long as the app
        steps = [w for w in pilot.app.workers if w.group != "flow"]
        if steps:  # an empty list would mean "all of them"
            await pilot.app.workers.wait_for_complete(steps)
        await pilot.pause()
        if condition():
            return
        await pilot.pause(0.05)
    shown = screen_text(pilot.app) if isinstance(pilot.app, GmailfixApp) else ""
    raise AssertionError(f"timed out; screen is {pilot.app.screen!r} showing:\n{shown[-1500:]}")


def on(app: App[Any], kind: type) -> Callable[[], bool]:
    return lambda: isinstance(app.screen, kind)


def text_of(app: App[Any], selector: str) -> str:
    """The words a Static shows, Rich groups and tables included."""
    return _plain(app.screen.query_one(selector, Static).render())


def screen_text(app: GmailfixApp) -> str:
    """Every word the current step shows a person (file contents in text areas aside)."""
    parts: list[str] = []
    for widget in app.screen.query("*"):
        if not widget.display:
            continue
        if isinstance(widget, Static | Label | Button):
            parts.append(_plain(widget.render()))
        elif isinstance(widget, DataTable):
            for row in range(widget.row_count):
                parts += [str(cell) for cell in widget.get_row_at(row)]
        elif isinstance(widget, OptionList):
            for index in range(widget.option_count):
                parts.append(str(widget.get_option_at_index(index).prompt))
    return "\n".join(parts)


def _plain(renderable: object) -> str:
    """The text a renderable shows: Rich groups and paddings are printed, not repr'd."""
    renderable = getattr(renderable, "_renderable", renderable)  # Textual's RichVisual wrapper
    if isinstance(renderable, str):
        return renderable
    plain = getattr(renderable, "plain", None)
    if isinstance(plain, str):
        return plain
    console = Console(width=200, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()
