"""Running an MTA's own programs on a copy of a server (``--root``) with no power over this one.

A copy is data that can come from anywhere, and Debian's tools treat parts of
it as code: ``update-exim4.conf`` *sources* ``update-exim4.conf.conf`` (a shell
file), and ``exim`` expands options such as ``spool_directory`` as it starts,
so a ``${run{...}}`` there runs. As root, either would run the copy's commands
on this computer. Under ``--root`` gmailfix therefore runs them only through
``confined``::

    unshare              new mount, network, PID, IPC and UTS namespaces
      python -I -S sandbox_enter.py
                         binds the copy's files where Debian's tools look,
                         makes every mount read-only and nosuid except one
                         scratch folder, sets limits
        setpriv          nobody:nogroup, no groups, no capabilities, no-new-privs
          update-exim4.conf / exim   (this computer's programs, never the copy's)

The network namespace has only a loopback interface that is down: nothing
can be contacted. What such a program prints is read for the settings gmailfix
asked for; it can reach only files that nobody may read.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from gmailfix.server import sandbox_enter

UNSHARE = (
    "unshare",
    "--mount",
    "--net",
    "--pid",
    "--ipc",
    "--uts",
    "--fork",
    "--kill-child",
    "--mount-proc",
    "--propagation",
    "private",
    "--",
)
FAILED = sandbox_enter.FAILED  # the exit status when the sandbox could not be made
NOBODY = sandbox_enter.NOBODY


def confined(
    argv: Sequence[str],
    *,
    binds: Sequence[tuple[Path, str]] = (),
    writable: Path | None = None,
) -> list[str]:
    """``argv`` as a command that runs it in the sandbox: as nobody, no network,
    everything read-only but ``writable``; each bind puts a file or folder of the
    copy (``Path``) at the path the program reads (``str``)."""
    words = [*UNSHARE, sys.executable, "-I", "-S", sandbox_enter.__file__]
    for source, target in binds:
        words += ["--bind", os.fspath(source), target]
    if writable is not None:
        words += ["--write", os.fspath(writable)]
    return [*words, "--", *argv]


def unavailable() -> str | None:
    """Why the sandbox cannot be made here (None when it can): namespaces need root."""
    if os.geteuid() != 0:
        return "checking a copy of a server needs root: gmailfix runs Exim's tools on it as nobody"
    return None


@dataclass(frozen=True)
class Scratch:
    """gmailfix's temporary folders for one sandboxed run: ``inputs`` (root's, read-only
    to the program: files gmailfix wrote for it) and ``output`` (nobody's, 0700)."""

    inputs: Path
    output: Path


@contextlib.contextmanager
def scratch() -> Iterator[Scratch]:
    """Fresh folders, removed afterwards with whatever the program left there."""
    top = Path(tempfile.mkdtemp(prefix="gmailfix-sandbox-"))
    try:
        top.chmod(0o755)
        inputs, output = top / "inputs", top / "output"
        inputs.mkdir(mode=0o755)
        output.mkdir(mode=0o700)
        os.chown(output, NOBODY, NOBODY)
        yield Scratch(inputs, output)
    finally:
        shutil.rmtree(top, ignore_errors=True)
