"""The text report of ``gmailfix diagnose``: it fits the terminal, colours only a
terminal that wants colour, keeps every command on one line, and the process
ends with everything written and the verdict's exit status."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gmailfix.cli.main import main
from gmailfix.lab.runner import LabInfo
from gmailfix.render.terminal import NextStep, Terminal, cells, render, wrap
from tests.support.diagnosis import propose_lab

SGR = re.compile(r"\x1b\[[0-9;]*m")
WORDS = st.lists(
    st.text(alphabet="ab-.:/界ü\u0301", min_size=1, max_size=30), min_size=0, max_size=40
)


def test_cells_counts_columns_not_characters() -> None:
    assert cells("mail.blog.test") == 14
    assert cells("界") == 2  # a wide character takes two columns
    assert cells("e\u0301") == 1  # a combining accent takes none


@settings(max_examples=300)
@given(words=WORDS, width=st.integers(min_value=2, max_value=90))
def test_wrap_keeps_every_word_within_the_width(words: list[str], width: int) -> None:
    lines = wrap(" ".join(words), width)
    assert all(cells(line) <= width for line in lines), lines
    # a word longer than the line is cut, never dropped or reordered
    assert "".join("".join(line.split()) for line in lines) == "".join(words)


def test_wrap_keeps_the_lines_it_is_given() -> None:
    assert wrap("Simplest: one\n\n1. two", 80) == ["Simplest: one", "", "1. two"]


def test_a_terminal_is_asked_what_it_wants(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COLUMNS", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert Terminal.of(io.StringIO()) == Terminal(width=80, color=False)  # a file or pipe
    primary, secondary = os.openpty()
    with os.fdopen(primary, "w") as _, os.fdopen(secondary, "w") as tty:
        assert Terminal.of(tty).color
        monkeypatch.setenv("TERM", "dumb")
        assert not Terminal.of(tty).color
        monkeypatch.setenv("TERM", "xterm")
        monkeypatch.setenv("NO_COLOR", "1")
        assert not Terminal.of(tty).color
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "50")
    assert Terminal.of(io.StringIO()) == Terminal(width=50, color=True)


@pytest.mark.parametrize("domain", ["blog.test", "wild.test", "good.test", "noauth.test"])
@pytest.mark.parametrize("width", [40, 80, 200])
def test_the_report_fits_and_a_command_stays_whole(lab: LabInfo, domain: str, width: int) -> None:
    diagnosis = propose_lab(lab, lab.connection(timeout=3), domain, port=587)
    command = shlex.join(["gmailfix", "export", domain, "--out", "a folder/with spaces"])
    step = NextStep("Write the fix as files:", command)
    for color in (False, True):
        text = render(diagnosis, [step], Terminal(width=width, color=color))
        plain = SGR.sub("", text)
        assert ("\x1b[" in text) == color
        lines = plain.splitlines()
        assert f"   {command}" in lines  # on one line, whatever the width
        for line in lines:
            assert line == line.rstrip(), repr(line)
            assert cells(line) <= width or line == f"   {command}", (width, line)
        assert ("Gmail would accept" in plain) == (domain == "good.test")
        assert "Checks" in lines


def test_the_cli_prints_a_command_that_runs_as_printed(
    lab: LabInfo,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    status = main(["diagnose", "blog.test", "--port", "587", *lab.diagnose_args("blog.test")])
    out = capsys.readouterr().out
    assert status == 1
    lines = out.splitlines()
    command = next(line.strip() for line in lines if line.strip().startswith("gmailfix export"))
    words = shlex.split(command)
    assert words[:3] == ["gmailfix", "export", "blog.test"]
    # every recommended fix is one plan, export's default: no --remedy needed
    assert words[-2:] == ["--out", "gmailfix-fix"] and "--remedy" not in words
    assert all(cells(line) <= 60 for line in lines if line.strip() != command)
    done = subprocess.run(_gmailfix(*words[1:]), cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "gmailfix-fix" / "MANIFEST.json").is_file()


def _gmailfix(*args: str) -> list[str]:
    return [sys.executable, "-m", "gmailfix", *args]


def test_the_process_writes_everything_and_keeps_the_status(lab: LabInfo) -> None:
    """A diagnosis ends its process at once (os._exit): its output is still all there."""
    args = ["diagnose", "blog.test", "--port", "587", *lab.diagnose_args("blog.test")]
    done = subprocess.run(_gmailfix(*args), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stderr == ""
    assert done.stdout.rstrip().splitlines()[-1].endswith("hostname-mismatch")
    done = subprocess.run(_gmailfix(*args, "--json"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout.rstrip().endswith("}")


@pytest.mark.parametrize("json_out", [False, True])
def test_a_reader_that_leaves_early_changes_nothing(lab: LabInfo, json_out: bool) -> None:
    """``gmailfix diagnose … | head -1``: no error about the pipe, the verdict's status."""
    args = ["diagnose", "blog.test", "--port", "587", *lab.diagnose_args("blog.test")]
    if json_out:
        args.append("--json")
    child = subprocess.Popen(_gmailfix(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # gone before the first line
    error = child.stderr.read()
    child.stderr.close()
    assert child.wait(timeout=60) == 1
    assert error == b""


@pytest.mark.parametrize("json_out", [False, True])
def test_a_full_disk_is_said_not_hidden(lab: LabInfo, json_out: bool) -> None:
    """Output that cannot be written is an error (exit 2), never a silent verdict."""
    args = ["diagnose", "blog.test", "--port", "587", *lab.diagnose_args("blog.test")]
    if json_out:
        args.append("--json")
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            _gmailfix(*args), stdout=full, stderr=subprocess.PIPE, text=True, timeout=60
        )
    assert done.returncode == 2
    assert done.stderr.strip() == "gmailfix: could not write the report: No space left on device"


def test_marks_are_plain_for_an_output_without_them(lab: LabInfo) -> None:
    diagnosis = propose_lab(lab, lab.connection(timeout=3), "blog.test", port=587)
    text = render(diagnosis, terminal=Terminal(unicode=False))
    assert not set(text) & set("✓✗→…")
    assert "X Gmail would reject this server" in text


@pytest.mark.parametrize("json_out", [False, True])
def test_a_latin1_or_ascii_locale_gets_a_report_not_a_crash(lab: LabInfo, json_out: bool) -> None:
    """A name typed as bücher.test, on an output that cannot carry ü, ✗ or →."""
    args = ["diagnose", "me@bücher.test", "--port", "587", *lab.lab_args()]
    if json_out:
        args.append("--json")
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    done = subprocess.run(_gmailfix(*args), capture_output=True, env=env, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stderr == b""
    text = done.stdout.decode("ascii")  # every byte is ASCII
    if json_out:
        assert json.loads(text)["domain"] == "xn--bcher-kva.test"
    else:
        assert "gmailfix: b\\xfccher.test" in text and "X Gmail would reject" in text
