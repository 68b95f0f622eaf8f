"""``gmailfix explain``: Gmail's words in, what they mean and what to do out, as a process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gmailfix.gmail import CERT_ERROR, NO_STARTTLS
from tests.test_gmail import WORKSPACE, bounce
from tests.test_import_hygiene import loaded

NEXT = "gmailfix"  # the wizard: a command that runs as printed


def explain(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "gmailfix", "explain", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=60,
    )
    return subprocess.CompletedProcess(
        done.args,
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )


def test_the_certificate_error_is_not_the_password() -> None:
    done = explain(CERT_ERROR)
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "The password is not the problem" in out
    assert "Findings it can be: hostname-mismatch, self-signed, untrusted-root" in out
    assert done.stdout.rstrip().splitlines()[-1].strip() == NEXT  # one line, to copy


def test_workspace_says_what_the_admin_does() -> None:
    done = explain(WORKSPACE)
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "Allow per-user outbound gateways" in out
    assert "Apps > Google Workspace > Gmail > End user access" in out
    assert "Nothing on your mail server needs changing for this" in out


def test_words_typed_without_quotes_are_one_text() -> None:
    done = explain(*NO_STARTTLS.split())
    assert done.returncode == 0, done.stderr
    assert '"STARTTLS not supported"' in done.stdout


def test_a_bounce_from_stdin_explains_the_bounce_and_its_cause() -> None:
    text = bounce("Smtp server does not advertise AUTH\n  capability", quote="> ")
    done = explain("-", stdin=text.encode())
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert out.index('"misconfigured or out of date"') < out.index('"does not advertise AUTH"')
    assert (
        "The bounce quotes your server's answer: Smtp server does not advertise AUTH capability"
        in out
    )
    assert NEXT in done.stdout


def test_unknown_text_exits_1_and_says_what_to_try() -> None:
    done = explain("hello there")
    assert done.returncode == 1
    assert "gmailfix does not know this text" in done.stdout
    assert NEXT in done.stdout
    assert "hello" not in done.stdout  # the text is not echoed


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        ([], b"", "the following arguments are required: TEXT"),
        (["   "], b"", "no text to explain"),
        (["-"], b"", "no text to explain"),
        (["-"], b"\n\t \n", "no text to explain"),
    ],
    ids=["no-argument", "blank", "empty-stdin", "blank-stdin"],
)
def test_usage_errors_exit_2(args: list[str], stdin: bytes, words: str) -> None:
    done = explain(*args, stdin=stdin)
    assert done.returncode == 2
    assert words in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_stdin_is_read_up_to_64_kib() -> None:
    head = explain("-", stdin=NO_STARTTLS.encode() + b" x" * 100_000)
    assert head.returncode == 0, head.stderr
    assert "only the first 64 KiB" in head.stderr
    tail = explain("-", stdin=b"x" * 70_000 + NO_STARTTLS.encode())
    assert tail.returncode == 1  # past 64 KiB: never read
    assert "only the first 64 KiB" in tail.stderr


def test_hostile_text_is_shown_escaped() -> None:
    answer = "\x1b]0;owned\x07\x1b[31m[bold]535[/bold] \u202eevil"
    done = explain("-", stdin=bounce(answer).encode() + b"\xff\xfe")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout and "\u202e" not in done.stdout
    assert "\\x1b]0;owned\\x07" in done.stdout
    assert "[bold]535[/bold]" in done.stdout  # words, not markup


def test_help_names_the_command_and_loads_no_engine() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gmailfix", "--help"], capture_output=True, text=True, timeout=60
    )
    assert "explain   say what a message Gmail showed means" in done.stdout
    modules = loaded("explain", "--help")
    assert not modules & {"cryptography", "dns", "textual", "rich", "ssl"}
