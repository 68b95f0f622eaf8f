"""Copying to the person's clipboard, and words that say truthfully whether it works here.

A terminal program copies with OSC 52, an escape sequence the terminal may or
may not take. Inside tmux it goes further only when tmux allows it:

    set-clipboard on          tmux takes the sequence itself: its paste buffer,
                              and the terminal's clipboard when tmux knows the
                              terminal has one (client_termfeatures "clipboard")
    allow-passthrough on      a sequence wrapped for passthrough goes straight
                              to the terminal outside tmux
    neither (tmux's default)  the sequence is dropped: copying cannot work

GNU screen drops it too, and macOS's Terminal ignores it. Elsewhere only the
terminal knows; the words say what to do if pasting gives nothing. Saving to a
file is always offered beside copying.
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

Reach = Literal["yes", "no", "unknown"]
Send = Literal["plain", "tmux-passthrough", "nothing"]
# terminals known to take OSC 52 (when no multiplexer sits in between)
KNOWN_GOOD = ("iTerm.app", "WezTerm", "vscode", "kitty", "ghostty")
SAVE = "Press s to save it to a file instead."


@dataclass(frozen=True)
class Clipboard:
    """Whether a copy reaches the person's clipboard here, and how to send it."""

    reach: Reach
    send: Send
    words: str  # after a copy, in plain words; "" when it simply worked

    def sequence(self, text: str) -> str:
        """What to write to the terminal for ``text`` ("" when nothing can take it)."""
        if self.send == "nothing":
            return ""
        return osc52(text, tmux=self.send == "tmux-passthrough")


def osc52(text: str, *, tmux: bool = False) -> str:
    """The OSC 52 sequence that sets the clipboard, wrapped for tmux's passthrough if asked
    (every ESC inside doubled, between ``ESC P tmux;`` and ``ESC \\``)."""
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    sequence = f"\x1b]52;c;{payload}\a"
    if not tmux:
        return sequence
    return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"


def ask_tmux(args: list[str], env: Mapping[str, str] | None = None) -> str | None:
    """One answer from the tmux server this program runs under (None: no answer); the
    server is the one ``env``'s TMUX names."""
    try:
        done = subprocess.run(
            ["tmux", *args],
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
            env=None if env is None else dict(env),
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def find_clipboard(env: Mapping[str, str] | None = None) -> Clipboard:
    """What copying can do in this terminal, as far as can be known from here."""
    if env is None:
        env = os.environ
    if env.get("TMUX"):
        return _in_tmux(env.get("TMUX_PANE", ""), lambda args: ask_tmux(args, env))
    if env.get("STY"):
        return Clipboard(
            "no",
            "nothing",
            f"Copying cannot work inside GNU screen: it keeps programs "
            f"from setting the clipboard. {SAVE}",
        )
    if env.get("TERM_PROGRAM") == "Apple_Terminal":
        return Clipboard(
            "no", "nothing", f"macOS's Terminal does not let programs set the clipboard. {SAVE}"
        )
    remote = bool(env.get("SSH_TTY") or env.get("SSH_CONNECTION"))
    known = (
        env.get("TERM_PROGRAM", "") in KNOWN_GOOD
        or bool(env.get("KITTY_WINDOW_ID"))
        or bool(env.get("WT_SESSION"))
    )
    if known and not remote:
        return Clipboard("yes", "plain", "")
    return Clipboard("unknown", "plain", _ASKED)


_ASKED = (
    "Your terminal was asked to put it on the clipboard. Not every terminal lets programs "
    f"do that: if pasting gives nothing, yours does not. {SAVE}"
)


def _in_tmux(pane: str, tmux: Callable[[list[str]], str | None]) -> Clipboard:
    target = ["-t", pane] if pane else []
    features = tmux(["display", "-p", *target, "#{client_termfeatures}"]) or ""
    outer = "clipboard" in features.split(",")
    if tmux(["show", "-sv", "set-clipboard"]) == "on":
        if outer:
            return Clipboard("yes", "plain", "")
        return Clipboard(
            "yes",
            "plain",
            "Copied into tmux's paste buffer: paste it with tmux's prefix key "
            "(often Ctrl+B), then ]. tmux does not pass it on to your terminal's clipboard.",
        )
    if tmux(["show", "-Apv", *target, "allow-passthrough"]) in ("on", "all"):
        if outer:
            return Clipboard("yes", "tmux-passthrough", "")
        return Clipboard("unknown", "tmux-passthrough", _ASKED)
    return Clipboard(
        "no",
        "nothing",
        "Copying cannot work inside tmux as it is set up here: tmux keeps "
        f"programs from setting the clipboard (its set-clipboard setting is not on). {SAVE}",
    )
