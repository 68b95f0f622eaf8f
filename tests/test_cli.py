"""The command line as a user runs it: a real process against the lab."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import jsonschema
import pytest

from gmailfix.lab.runner import LabInfo

SCHEMA = json.loads((Path(__file__).parent.parent / "schema" / "diagnosis-1.json").read_text())


def gmailfix(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gmailfix", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("domain", "status"), [("blog.test", 1), ("good.test", 0), ("selfsigned.test", 1)]
)
def test_json_matches_the_schema_and_exit_status(lab: LabInfo, domain: str, status: int) -> None:
    done = gmailfix("diagnose", domain, "--json", "--timeout", "3", *lab.diagnose_args(domain))
    assert done.returncode == status, done.stderr
    data = json.loads(done.stdout)
    jsonschema.validate(data, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert data["gmail"]["verdict"] == ("accept" if status == 0 else "reject")
    assert done.stderr == ""


def test_blog_case_json_names_the_fix(lab: LabInfo) -> None:
    done = gmailfix("diagnose", "me@blog.test", "--json", *lab.diagnose_args("blog.test"))
    data = json.loads(done.stdout)
    assert data["gmail"]["error"].startswith("Authentication failed.")
    assert data["gmail"]["settings"]["username"] == "me@blog.test"
    assert {f["code"] for f in data["findings"]} == {"hostname-mismatch"}
    isp = data["remedies"][0]
    assert isp["kind"] == "isp-hostname" and isp["verified"] and isp["recommended"]
    assert isp["smtp_host"] == "server42.isp.test"
    probe = data["probes"][0]
    assert probe["certificate"]["names"] == ["server42.isp.test"]
    assert probe["chain_length"] == 2 and probe["tls_version"] == "TLSv1.3"
    assert "PLAIN" in probe["auth_mechanisms"]


def test_text_report_leads_with_gmails_words(lab: LabInfo) -> None:
    done = gmailfix("diagnose", "blog.test", *lab.diagnose_args("blog.test"))
    assert done.returncode == 1
    out = done.stdout
    assert out.index("Gmail would reject") < out.index("What was found") < out.index("How to fix")
    assert "TLS Negotiation failed, the certificate doesn't match the host" in out
    assert "server42.isp.test" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["diagnose", "bad..domain"], "two dots"),
        (["diagnose", "x" * 40_000], "characters long"),
        (["diagnose", "x.test", "--doh", "https://[::1"], "not a valid URL"),
        (["diagnose", "x.test", "--smtp-host", "[1.2.3.4"], "without its ']'"),
        (["diagnose", "x.test", "--smtp-host", "me@x.test"], "email address"),
        (["diagnose", "x.test", "--smtp-host", "mail.x.test:2525"], "not one Gmail offers"),
        (["diagnose", "x.test", "--dns-server", ""], "empty"),
        (["diagnose", "x.test", "--connect", "mail.x.test:587=other.test:10587"], "IP address"),
        (["diagnose", "x.test", "--connect", "mail.x.test:587=localhost:25"], "IP address"),
        (["lab", "--dns-port", "99999"], "not a port number"),
        (["lab", "--dir", "/proc/gmailfix-no"], "cannot use"),
        (["diagnose", ""], "nothing was typed"),
        (["diagnose", "x.test", "--timeout", "abc"], "not a number"),
        (["diagnose", "x.test", "--timeout", "-1"], "between"),
        (["diagnose", "x.test", "--connect", "nonsense"], "HOST:PORT=ADDR:PORT"),
        (["diagnose", "x.test", "--port", "26"], "invalid choice"),
        (["diagnose", "x.test", "--ca-file", "/nonexistent.pem"], "cannot read CA file"),
        (["diagnose", "x.test", "--dns-server", "dns.example"], "IP address"),
        (["diagnose", "x.test", "--doh", "http://doh.test/dns-query"], "https://"),
        (["diagnose", "x.test", "--smtp-host", "a b"], "spaces"),
        (["nonsense-command"], "invalid choice"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(args: list[str], words: str) -> None:
    done = gmailfix(*args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert words.lower() in done.stderr.lower()
    assert done.stderr.strip().splitlines()[-1].startswith("gmailfix")
    assert len(done.stderr) < 1000, "no input is echoed whole"


def test_unreachable_domain_is_a_diagnosis_not_bad_input(lab: LabInfo) -> None:
    done = gmailfix("diagnose", "missing.test", "--json", *lab.lab_args())
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert data["gmail"]["verdict"] == "reject"
    assert "nxdomain" in {f["code"] for f in data["findings"]}


def test_help_lists_every_command() -> None:
    done = gmailfix("--help")
    assert done.returncode == 0
    for command in ("diagnose", "export", "lab", "demo"):
        assert command in done.stdout


@contextlib.contextmanager
def lab_process(directory: Path) -> Iterator[IO[str]]:
    """`gmailfix lab` in the foreground, as a person runs it: its output, line by line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gmailfix", "lab", "--dns-port", "0", "--dir", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert proc.returncode == 0


def test_lab_command_prints_commands_that_work(tmp_path: Path) -> None:
    """Run the command `gmailfix lab` prints for the blog case."""
    with lab_process(tmp_path) as output:
        lines = []
        for line in output:
            lines.append(line)
            if line.startswith("gmailfix diagnose missing.test"):
                break
        blog = next(line for line in lines if line.startswith("gmailfix diagnose blog.test"))
        args = blog.split()[1:]
        # the lab is on fixed ports; another lab (the test fixture) may share them only by address
        done = gmailfix(*args, "--json")
        assert done.returncode == 1, done.stderr
        assert json.loads(done.stdout)["remedies"][0]["smtp_host"] == "server42.isp.test"


def test_a_second_lab_says_why_it_cannot_start(tmp_path: Path) -> None:
    """The printed commands name fixed ports: a second lab says another one runs."""
    with lab_process(tmp_path) as output:
        assert output.readline().startswith("gmailfix lab is running")
        done = gmailfix("lab", "--dns-port", "0", "--dir", str(tmp_path / "second"))
        assert done.returncode == 2
        assert "another gmailfix lab running" in done.stderr
        assert "Traceback" not in done.stderr


def test_an_internal_error_is_one_line_and_exit_4(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug must never look like 'Gmail would reject' (exit 1) nor print a traceback."""
    from gmailfix.cli import diagnose as cli_diagnose
    from gmailfix.cli.main import main

    def broken(*args: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli_diagnose, "run_diagnose", broken)
    assert main(["diagnose", "x.test"]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error" in err and "Traceback" not in err
    assert main(["--debug", "diagnose", "x.test"]) == 4
    assert "Traceback" in capsys.readouterr().err
    assert main(["diagnose", "x.test", "--debug"]) == 4  # after the command, too
    assert "Traceback" in capsys.readouterr().err


def test_engine_errors_name_no_command_line_flag() -> None:
    """The wizard shows engine errors as they are: only the CLI adds flag names.
    Every string in a ``raise`` outside gmailfix/cli (and the constants it names)."""
    import ast
    import re

    import gmailfix

    flag = re.compile(r"(?<![\w-])--[a-z]")
    found = []
    for path in Path(gmailfix.__file__).parent.rglob("*.py"):
        if "cli" in path.parts or "lab" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        constants = {
            target.id: node.value.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name) and isinstance(node.value.value, str)
        }
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and node.exc is not None):
                continue
            for sub in ast.walk(node.exc):
                text = sub.value if isinstance(sub, ast.Constant) else None
                if isinstance(sub, ast.Name):
                    text = constants.get(sub.id)
                if isinstance(text, str) and flag.search(text):
                    found.append(f"{path.name}:{node.lineno}: {text}")
    assert not found
