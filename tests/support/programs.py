"""Real Debian programs for tests: find them (never silently skip in CI), stop them."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import NoReturn

import pytest


def unavailable(message: str) -> NoReturn:
    """What a test needs is missing here: skip locally (a developer without root may not
    have Exim or Pebble); fail in CI, where .ci/run provides it all, so that a CI run can
    never pass by skipping."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)  # a developer's machine only: CI failed just above


def require_program(name: str) -> str:
    """The path of a Debian program a test needs (``unavailable`` when it is missing)."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if path is None:
        unavailable(f"{name} is not installed (.ci/run installs it)")
    return path


def stop_process(proc: subprocess.Popen[bytes], seconds: float = 10) -> None:
    """TERM, then KILL if it does not go in time: no test leaves a daemon behind."""
    proc.terminate()
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def sha512_crypt(password: str) -> str:
    """A SHA-512 crypt hash, as the bundle README has people make one (openssl passwd -6)."""
    return subprocess.run(
        [require_program("openssl"), "passwd", "-6", "-stdin"],
        input=password,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
