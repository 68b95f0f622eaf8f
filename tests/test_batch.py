"""Batch mode: `gmailfix diagnose --from FILE`, one JSON object per line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gmailfix.lab.runner import LabInfo


def lab_args(lab: LabInfo) -> list[str]:
    args = lab.lab_args()
    for (h, p), (a, q) in lab.connect.items():
        args += ["--connect", f"{h}:{p}={a}:{q}"]
    return args


def run_cli(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gmailfix", "diagnose", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_jsonl_one_object_per_domain(lab: LabInfo, tmp_path: Path) -> None:
    listing = tmp_path / "domains.txt"
    listing.write_text("good.test\n# a comment\n\nme@blog.test\nbad..name\nmissing.test\n")
    done = run_cli(
        ["--from", str(listing), "--json", "--port", "587", "--concurrency", "2", *lab_args(lab)]
    )
    assert done.returncode == 1, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    by_line = {row["line"]: row for row in rows}
    assert sorted(by_line) == [1, 4, 5, 6]
    assert by_line[1]["gmail"]["verdict"] == "accept"
    assert by_line[4]["gmail"]["error"].startswith("Authentication failed")
    assert by_line[4]["username"] == "me@blog.test"
    assert "two dots" in by_line[5]["error"]
    assert by_line[6]["gmail"]["cause"] == "nxdomain"
    assert "Traceback" not in done.stderr


def test_all_accepted_exits_0_and_stdin_works(lab: LabInfo) -> None:
    done = run_cli(
        ["--from", "-", "--port", "587", *lab_args(lab)], stdin="good.test\nmulti.test\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("accept") == 2


def test_batch_usage_errors(tmp_path: Path) -> None:
    for args, words in [
        (["--from", str(tmp_path / "nope.txt")], "cannot read"),
        (["--from", "-", "x.test"], "one DOMAIN_OR_ADDRESS, or --from"),
        ([], "one DOMAIN_OR_ADDRESS, or --from"),
        (["--from", "-", "--concurrency", "0"], "--concurrency"),
    ]:
        done = run_cli(args, stdin="")
        assert done.returncode == 2 and words in done.stderr, (args, done.stderr)
