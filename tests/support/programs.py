"""Real Debian programs for tests: find them (never silently skip in CI), stop them."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def require_program(name: str) -> str:
    """The path of a Debian program a test needs.

    Locally a missing program skips the test (a developer without root may not
    have Exim or Pebble); in CI, where .ci/run installs them all, it fails, so a
    CI run can never pass by skipping.
    """
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if path is None:
        message = f"{name} is not installed (.ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
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
