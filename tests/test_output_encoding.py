"""Every CLI output stays valid in any locale: in ASCII (PYTHONIOENCODING=ascii, or
LC_ALL=C without UTF-8 mode) a JSON line is still JSON, and the text reports use
plain marks (X, OK, ->) and show outside text escaped (b\\xfccher.test), never a crash.

The real command runs in a subprocess against the lab (a list naming bücher.test)
or, for doctor, against a copy of a Debian Exim server under --root."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gmailfix.lab import ca
from gmailfix.lab.runner import LabInfo
from gmailfix.text import plain_marks, unicode_output
from tests.support import exim as eh
from tests.support.server_root import debian_server

# the locales whose output cannot carry ü, ✗ or →
ASCII_LOCALES = {
    "PYTHONIOENCODING=ascii": {"PYTHONIOENCODING": "ascii"},
    "LC_ALL=C": {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"},
}
MARKS = "✓✗→…"
LISTING = "bücher.test\nme@bücher.test\ngood.test\nblog.test\nbü cher.test\n"


def gmailfix(
    args: list[str], locale: dict[str, str], stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PYTHONIO"))}
    env.update({"LANG": "C.UTF-8", **locale})
    return subprocess.run(
        [sys.executable, "-m", "gmailfix", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=120,
    )


def batch_args(lab: LabInfo, listing: Path) -> list[str]:
    args = ["diagnose", "--from", str(listing), "--port", "587", *lab.lab_args()]
    for (h, p), (a, q) in lab.connect.items():
        args += ["--connect", f"{h}:{p}={a}:{q}"]
    return args


@pytest.fixture
def listing(tmp_path: Path) -> Path:
    path = tmp_path / "domains.txt"
    path.write_text(LISTING, encoding="utf-8")
    return path


def ascii_text(data: bytes, where: str) -> str:
    text = data.decode("ascii")  # raises on any byte the locale cannot show
    assert "\\u27" not in text and "\\u2026" not in text, f"a mark escaped, not plain, in {where}"
    return text


@pytest.mark.parametrize("locale", list(ASCII_LOCALES))
def test_batch_json_lines_stay_json(lab: LabInfo, listing: Path, locale: str) -> None:
    done = gmailfix([*batch_args(lab, listing), "--json"], ASCII_LOCALES[locale])
    assert done.returncode == 1, done.stderr
    rows = [json.loads(line) for line in ascii_text(done.stdout, "JSON").splitlines()]
    by_line = {row["line"]: row for row in rows}
    assert sorted(by_line) == [1, 2, 3, 4, 5]
    assert by_line[1]["input"] == "bücher.test" and by_line[2]["input"] == "me@bücher.test"
    assert by_line[1]["domain"] == "xn--bcher-kva.test"
    assert by_line[3]["gmail"]["verdict"] == "accept"
    assert by_line[5]["input"] == "bü cher.test" and "spaces" in by_line[5]["error"]
    assert done.stderr == b""


@pytest.mark.parametrize("locale", list(ASCII_LOCALES))
def test_a_list_on_stdin_is_utf8_whatever_the_locale(lab: LabInfo, locale: str) -> None:
    """An ASCII locale's stdin could not read ü (and the batch waited for ever)."""
    args = [*batch_args(lab, Path("-")), "--json"]
    done = gmailfix(args, ASCII_LOCALES[locale], stdin=LISTING.encode())
    assert done.returncode == 1, done.stderr
    rows = [json.loads(line) for line in ascii_text(done.stdout, "JSON").splitlines()]
    assert {row["input"] for row in rows} == set(LISTING.splitlines())


def test_batch_json_keeps_the_characters_where_the_output_can(lab: LabInfo, listing: Path) -> None:
    done = gmailfix([*batch_args(lab, listing), "--json"], {"PYTHONIOENCODING": "utf-8"})
    assert done.returncode == 1, done.stderr
    assert '"input": "bücher.test"' in done.stdout.decode("utf-8")


@pytest.mark.parametrize("locale", list(ASCII_LOCALES))
def test_batch_text_has_plain_marks(lab: LabInfo, listing: Path, locale: str) -> None:
    done = gmailfix(batch_args(lab, listing), ASCII_LOCALES[locale])
    assert done.returncode == 1, done.stderr
    text = ascii_text(done.stdout, "the batch's text")
    lines = text.splitlines()
    assert len(lines) == 5
    assert any(line.startswith("OK  accept     good.test") for line in lines), text
    assert any(line.startswith("X  reject     blog.test") for line in lines), text
    assert "'b\\xfc cher.test' contains spaces" in text, "outside text escaped"
    summary = ascii_text(done.stderr, "the summary")
    assert "1 accepted, 3 rejected" in summary


@pytest.mark.exim
@pytest.mark.parametrize("locale", list(ASCII_LOCALES))
def test_doctor_text_and_json_in_ascii(locale: str) -> None:
    """A self-signed certificate (a problem: ✗) whose organisation has a ü."""
    with debian_server() as server:
        leaf = ca.make_leaf(None, ["other.example"], org="Prüfstelle")
        crt, key = server.root / "etc/exim4/exim.crt", server.root / "etc/exim4/exim.key"
        crt.write_bytes(leaf.cert_pem())
        key.write_bytes(leaf.key_pem())
        shutil.chown(key, "root", eh.EXIM_USER)
        key.chmod(0o640)
        tls = [f"MAIN_TLS_CERTIFICATE = {crt}", f"MAIN_TLS_PRIVATEKEY = {key}"]
        server.add_macros(["MAIN_TLS_ENABLE = yes", *tls])
        server.generate()
        args = ["doctor", "--root", str(server.root), "--host", "mail.doctor.test"]
        text_run = gmailfix(args, ASCII_LOCALES[locale])
        json_run = gmailfix([*args, "--json"], ASCII_LOCALES[locale])
    assert text_run.returncode == 1, text_run.stderr
    text = ascii_text(text_run.stdout, "doctor's text")
    assert " X The certificate is self-signed" in text, text
    assert "Pr\\xfcfstelle" in text, "outside text escaped"
    assert text_run.stderr == b""
    assert json_run.returncode == 1, json_run.stderr
    data = json.loads(ascii_text(json_run.stdout, "doctor's JSON"))
    assert "self-signed" in {f["code"] for f in data["findings"]}
    assert "Prüfstelle" in data["certificate"]["issuer"], data["certificate"]


@pytest.mark.parametrize(
    ("encoding", "wide"),
    [("utf-8", True), ("utf-16", True), ("latin-1", False), ("ascii", False), ("cp1252", False)],
)
def test_one_question_decides_marks_and_json(encoding: str, wide: bool) -> None:
    out = io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    assert unicode_output(out) is wide
    assert not set(plain_marks(MARKS)) & set(MARKS)
