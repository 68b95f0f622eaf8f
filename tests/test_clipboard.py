"""Copy tells the truth: what a real tmux does with the wizard's clipboard sequence, and
what the wizard says about it (a private tmux server per test, never the person's)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gmailfix.screens.clipboard import find_clipboard, osc52
from tests.support.tmux import Tmux, private_tmux


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    with private_tmux(tmp_path) as server:
        yield server


def buffer_after_write(tmux: Tmux, text: str, sequence: str) -> str:
    """tmux's paste buffer once a pane wrote ``sequence`` (waits for the pane to write)."""
    tmux.write_from_a_pane(sequence + "written\n")
    for _ in range(100):  # the pane's program runs on its own: wait until it has written
        if "written" in tmux.run("capture-pane", "-p", "-t", ":1"):
            break
        time.sleep(0.05)
    return tmux.buffer()


def test_tmux_as_it_comes_drops_the_copy_and_the_wizard_says_so(tmux: Tmux) -> None:
    found = find_clipboard(tmux.env)
    assert found.reach == "no" and found.send == "nothing"
    assert "cannot work inside tmux" in found.words and "save it to a file" in found.words
    assert "may not" not in found.words
    # true: the plain sequence from a pane reaches nothing
    assert buffer_after_write(tmux, "copied text", osc52("copied text")) == ""


def test_tmux_with_set_clipboard_on_takes_the_copy(tmux: Tmux) -> None:
    tmux.run("set", "-s", "set-clipboard", "on")
    found = find_clipboard(tmux.env)
    assert found.reach == "yes" and found.send == "plain"
    assert "paste buffer" in found.words  # no terminal outside tells tmux it has a clipboard
    assert buffer_after_write(tmux, "copied text", found.sequence("copied text")) == "copied text"


def test_tmux_with_passthrough_gets_the_sequence_wrapped(tmux: Tmux) -> None:
    tmux.run("set", "-g", "allow-passthrough", "on")
    found = find_clipboard(tmux.env)
    assert found.send == "tmux-passthrough" and found.reach == "unknown"
    sequence = found.sequence("hi")
    assert sequence.startswith("\x1bPtmux;\x1b\x1b]52;c;aGk=") and sequence.endswith("\x1b\\")
    assert "if pasting gives nothing" in found.words


@pytest.mark.parametrize(
    ("env", "reach"),
    [
        ({"TERM_PROGRAM": "WezTerm"}, "yes"),
        ({"TERM_PROGRAM": "WezTerm", "SSH_TTY": "/dev/pts/1"}, "unknown"),
        ({"STY": "1234.pts-0.host"}, "no"),
        ({"TERM_PROGRAM": "Apple_Terminal"}, "no"),
        ({}, "unknown"),
    ],
)
def test_outside_tmux(env: dict[str, str], reach: str) -> None:
    found = find_clipboard(env)
    assert found.reach == reach
    assert (found.words == "") == (reach == "yes")
    if reach == "no":
        assert found.send == "nothing" and "save it to a file" in found.words
