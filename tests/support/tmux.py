"""A tmux server of the test's own (its own socket), never the person's."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.programs import require_program


class Tmux:
    """A tmux server on its own socket, and the environment of a program in its first pane."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket
        self.run("new-session", "-d", "-x", "80", "-y", "24", "sleep 600")
        pid = self.run("display", "-p", "#{pid}")
        self.env = {**os.environ, "TMUX": f"{socket},{pid},0", "TMUX_PANE": "%0"}
        self.env.pop("STY", None)

    def run(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            env={k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")},
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    def write_from_a_pane(self, data: str) -> None:
        """``data`` written to the terminal by a program inside tmux, as the wizard does."""
        code = f"import sys; sys.stdout.write({data!r}); sys.stdout.flush()"
        self.run("new-window", "-d", f"{sys.executable} -c {shlex.quote(code)}; sleep 5")

    def buffer(self) -> str:
        return self.run("show-buffer")


@contextmanager
def private_tmux(folder: Path) -> Iterator[Tmux]:
    require_program("tmux")
    server = Tmux(folder / "tmux.sock")
    try:
        yield server
    finally:
        server.run("kill-server")
