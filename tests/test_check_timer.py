"""``gmailfix export --timer``: a systemd service and timer that run ``gmailfix check`` daily.

The units are checked with systemd's own ``systemd-analyze verify`` (in a private
mount namespace where /usr/local/bin holds a stand-in gmailfix, since verify
insists the service's program exists), and the service's command, split as
systemd splits it, is run against the lab.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gmailfix.cli.check import plan_check_words
from gmailfix.errors import InputError
from gmailfix.lab.runner import LabInfo
from gmailfix.render.systemd import GMAILFIX, MAILER, SERVICE, TIMER, systemd_units
from gmailfix.server.check_timer import find_check_timer
from gmailfix.server.system import Root
from tests.support.plans import make_plan
from tests.support.programs import require_program, unavailable

ROOT = Path(__file__).resolve().parent.parent
UNITS = (SERVICE, TIMER, MAILER)


def export(lab: LabInfo, domain: str, out: Path, *more: str) -> subprocess.CompletedProcess[str]:
    words = ["export", domain, "--out", str(out), "--timeout", "3", *lab.diagnose_args(domain)]
    done = subprocess.run(
        [sys.executable, "-m", "gmailfix", *words, *more],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def bundles(lab: LabInfo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """blog.test (a Gmail-only fix) and selfsigned.test (a new certificate), with --timer."""
    where = tmp_path_factory.mktemp("timer")
    export(lab, "blog.test", where / "blog", "--timer")
    export(lab, "selfsigned.test", where / "selfsigned", "--timer")
    return where


def verify(folder: Path, *, stand_in: bool = True) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze verify`` on the bundle's units, with a stand-in GMAILFIX."""
    analyze = require_program("systemd-analyze")
    unshare = require_program("unshare")
    if os.geteuid() != 0:
        unavailable("a private mount namespace needs root (CI runs as root)")
    program = Path(GMAILFIX)
    make = f"printf '#!/bin/sh\\n' > {program} && chmod 0755 {program} && " if stand_in else ""
    script = f'mount -t tmpfs tmpfs {program.parent} && {make}exec {analyze} verify "$@"'
    units = [str(folder / unit) for unit in UNITS]
    return subprocess.run(
        [unshare, "--mount", "--propagation", "private", "sh", "-c", script, "sh", *units],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("name", ["blog", "selfsigned"])
def test_systemd_accepts_the_units(bundles: Path, name: str) -> None:
    done = verify(bundles / name)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""


def test_verify_really_reads_the_service(bundles: Path) -> None:
    """Without a program at the service's path, systemd says so: the check above is real."""
    done = verify(bundles / "blog", stand_in=False)
    assert done.returncode != 0
    assert GMAILFIX in done.stderr


def test_the_timer_is_daily_persistent_and_spread(bundles: Path) -> None:
    timer = (bundles / "blog" / TIMER).read_text()
    assert "OnCalendar=daily\n" in timer and "Persistent=true\n" in timer
    assert "RandomizedDelaySec=" in timer and "WantedBy=timers.target" in timer
    service = (bundles / "blog" / SERVICE).read_text()
    assert "OnFailure=gmailfix-mail-root@%n.service\n" in service
    assert "Type=oneshot\n" in service
    mailer = (bundles / "blog" / MAILER).read_text()
    assert "mail -s" in mailer and " root" in mailer and "command -v mail" in mailer


def test_the_service_command_checks_the_fixed_host_as_gmail_does(bundles: Path) -> None:
    """The blog case's fix is the ISP's name: the service checks server42.isp.test, and
    run as systemd would run it (plain words, split on spaces) it says OK."""
    service = (bundles / "blog" / SERVICE).read_text()
    line = next(x for x in service.splitlines() if x.startswith("ExecStart="))
    words = line.removeprefix("ExecStart=").split()
    assert words[:7] == [
        GMAILFIX,
        "check",
        "blog.test",
        "--smtp-host",
        "server42.isp.test",
        "--port",
        "587",
    ]
    assert words[-1] == "--fail-on-warn"
    done = subprocess.run(
        [sys.executable, "-m", "gmailfix", *words[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("OK server42.isp.test:587 Gmail would accept")


def test_the_units_are_listed_with_roles_and_the_readme_says_how(bundles: Path) -> None:
    for name in ("blog", "selfsigned"):
        manifest = json.loads((bundles / name / "MANIFEST.json").read_text())
        roles = {f["path"]: f["role"] for f in manifest["files"]}
        assert all(roles.get(unit) for unit in UNITS), roles
        readme = (bundles / name / "README.md").read_text()
        assert "Optional: keep checking" in readme
        assert f"install -m 0644 {' '.join(UNITS)} /etc/systemd/system/" in readme
        assert "systemctl enable --now gmailfix-check.timer" in readme


def test_without_timer_no_units(lab: LabInfo, tmp_path: Path) -> None:
    export(lab, "blog.test", tmp_path / "plain")
    assert not (tmp_path / "plain" / "systemd").exists()
    assert "keep checking" not in (tmp_path / "plain" / "README.md").read_text()


def test_apply_still_takes_a_bundle_with_units(bundles: Path) -> None:
    """The units are not server files apply compares: the bundle reads as before."""
    from gmailfix.server.bundle_read import read_bundle

    bundle = read_bundle(bundles / "selfsigned")
    assert set(UNITS) <= set(bundle.files)


@pytest.mark.parametrize("word", ["a b", "100%", "$HOME", "x;y", "new\nline", "'q'", ""])
def test_a_word_systemd_would_change_is_refused(word: str) -> None:
    plan = make_plan("new-certificate")
    with pytest.raises(InputError):
        systemd_units(plan, ["check", "alpha.test", "--ca-file", word])


def test_the_words_come_from_the_plan() -> None:
    plan = make_plan("new-certificate", "alpha.test", "smtp.alpha.test", port=465)
    words = plan_check_words(plan)
    assert words == [
        "check",
        "alpha.test",
        "--smtp-host",
        "smtp.alpha.test",
        "--port",
        "465",
        "--fail-on-warn",
    ]
    units = systemd_units(plan, words)
    assert f"ExecStart={GMAILFIX} {' '.join(words)}\n" in units[SERVICE]


# --- doctor's question: is the daily check installed and enabled here? ---------------------


def systemctl(root: Path, *words: str) -> None:
    """systemd's own systemctl on a copy of a server (it needs no running systemd)."""
    program = require_program("systemctl")
    done = subprocess.run(
        [program, f"--root={root}", *words], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def install_units(bundle: Path, root: Path, folder: str = "etc/systemd/system") -> None:
    """What the README's step does: the three units into the unit folder."""
    target = root / folder
    target.mkdir(parents=True, exist_ok=True)
    for unit in UNITS:
        shutil.copyfile(bundle / unit, target / Path(unit).name)


def test_nothing_installed_is_said_plainly(tmp_path: Path) -> None:
    found = find_check_timer(Root(tmp_path))
    assert not found.installed and not found.runs and found.problems == ()
    assert "not installed" in found.words


def test_installed_but_not_enabled_and_no_program(bundles: Path, tmp_path: Path) -> None:
    install_units(bundles / "blog", tmp_path)
    found = find_check_timer(Root(tmp_path))
    assert found.installed and not found.enabled and not found.runs
    assert found.program == GMAILFIX and not found.program_found
    words = found.words
    assert "gmailfix-check.timer is not enabled" in words
    assert f"{GMAILFIX} is not there" in words


def test_enabled_by_systemctl_with_its_program_runs(bundles: Path, tmp_path: Path) -> None:
    install_units(bundles / "blog", tmp_path)
    systemctl(tmp_path, "enable", "gmailfix-check.timer")
    program = tmp_path / GMAILFIX.lstrip("/")
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    found = find_check_timer(Root(tmp_path))
    assert found.enabled and found.runs and found.problems == ()
    assert found.words == "the daily check runs (gmailfix-check.timer enabled)"
    (tmp_path / "etc/systemd/system" / Path(MAILER).name).unlink()
    assert "does not mail root" in find_check_timer(Root(tmp_path)).words


def test_masked_by_systemctl(bundles: Path, tmp_path: Path) -> None:
    install_units(bundles / "blog", tmp_path, "usr/lib/systemd/system")
    systemctl(tmp_path, "mask", "gmailfix-check.timer")
    found = find_check_timer(Root(tmp_path))
    assert found.masked and not found.runs
    assert "gmailfix-check.timer is masked" in found.words
