"""Batch mode: `gmailfix diagnose --from FILE`, one JSON object per line."""

from __future__ import annotations

import json
import select
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


def test_a_result_is_printed_while_the_list_is_still_coming(lab: LabInfo) -> None:
    """Lines are read without holding up the probes: good.test's result arrives while
    stdin is still open, before the second line is even written."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gmailfix",
            "diagnose",
            "--from",
            "-",
            "--json",
            "--port",
            "587",
            *lab_args(lab),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write("good.test\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 60)  # a bound, not a measure
        assert ready, "no result while the list was still open"
        first = json.loads(proc.stdout.readline())  # stdin is still open here
        assert (first["line"], first["gmail"]["verdict"]) == (1, "accept")
        assert proc.poll() is None
        proc.stdin.write("multi.test\n")
        proc.stdin.close()
        second = json.loads(proc.stdout.readline())
        assert second["line"] == 2
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        proc.wait()


def test_a_list_without_newlines_is_never_read_whole(lab: LabInfo, tmp_path: Path) -> None:
    """200 MB on one line: one error line for it, the next domain still checked, and the
    child never held the line (its peak memory stays far below the file's size)."""
    listing = tmp_path / "one-line.txt"
    with listing.open("w") as out:
        chunk = "x" * (1 << 20)
        for _ in range(200):
            out.write(chunk)
        out.write("\ngood.test\n")
    code = (
        "import resource, runpy, sys\n"
        "sys.argv = ['gmailfix'] + sys.argv[1:]\n"
        "try:\n"
        "    runpy.run_module('gmailfix', run_name='__main__')\n"
        "finally:\n"
        "    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "    sys.stderr.write(f'PEAK {peak}\\n')\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "diagnose",
            "--from",
            str(listing),
            "--json",
            "--port",
            "587",
            *lab_args(lab),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["line"] for row in sorted(rows, key=lambda r: r["line"])] == [1, 2]
    assert "error" in next(r for r in rows if r["line"] == 1)
    peak_kib = int(done.stderr.rsplit("PEAK ", 1)[1].split()[0])
    assert peak_kib < 150 * 1024, peak_kib  # the line alone would be 200 MiB and more
