"""`gmailfix export` as a user runs it, and bundles a non-expert can follow to the end."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from gmailfix.bundle import bundle_files
from gmailfix.connection import Connection
from gmailfix.lab.runner import LabInfo
from gmailfix.lab.scenarios import SCENARIOS, TRICKY, Scenario
from gmailfix.remedies.manifest import parse_manifest
from gmailfix.remedies.model import REMEDY_KINDS
from gmailfix.server.plan import rendered_server_files
from tests.support.diagnosis import propose_lab
from tests.support.plans import plan_from
from tests.test_cli import gmailfix

ALWAYS = {
    "README.md",
    "MANIFEST.json",
    "gmail-settings.txt",
    "report.md",
    "report.json",
    "verify.sh",
}
# a file named in a README: `dir/name.ext` or `name.ext` in backticks
FILE_REFERENCE = re.compile(
    r"`((?:[a-z0-9_-]+/)*[A-Za-z0-9_.-]+\.(?:sh|txt|md|json|conf|zone|yml|map|pem))`"
)
BUNDLE_DIRS = ("certbot/", "exim4/", "dns/", "csr/", "private/")


def manifest_paths(folder: Path) -> set[str]:
    return {f["path"] for f in json.loads((folder / "MANIFEST.json").read_text())["files"]}


def files_in(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


REJECTED = [s for s in SCENARIOS + TRICKY if s.expect != "accept"]


@pytest.mark.parametrize("scenario", REJECTED, ids=lambda s: s.domain)
def test_every_bundle_can_be_followed_to_the_end(
    lab: LabInfo, lab_connection: Connection, scenario: Scenario
) -> None:
    result = propose_lab(lab, lab_connection, scenario.domain)
    plan = plan_from(result)
    files = {f.path: f.content.decode() for f in bundle_files(plan, result)}
    readme = files["README.md"]
    for name in FILE_REFERENCE.findall(readme):
        if name.startswith(BUNDLE_DIRS) or name in ALWAYS:
            assert name in files, f"README names {name}, which the bundle lacks"
    assert readme.index("verify.sh") < readme.index("gmail-settings.txt"), "verify before Gmail"
    assert "Gmail accepts" + " today" not in readme, "no accept words on a reject"
    assert "Today Gmail refuses" in readme
    uses_certbot = any(p.startswith("certbot/") for p in files)
    if uses_certbot and plan.needs_certificate:
        assert "apt-get install certbot" in readme
    for step in re.findall(r"^\d+\. (.*)$", readme, re.M):
        if "```sh" in step or "certbot/issue.sh" in step:
            assert "root" in step, f"a step that needs root says so: {step[:80]}"
    manifest = parse_manifest(json.loads(files["MANIFEST.json"]))
    recommended = [r.kind for r in result.remedies if r.recommended]
    assert list(manifest.kinds) == (
        sorted(recommended, key=REMEDY_KINDS.index) or [result.remedies[0].kind]
    )
    # the manifest alone gives back every server file, as apply renders them
    for path, text in rendered_server_files(manifest.plan()).items():
        assert files[path] == text, path
    assert "you@" not in files["gmail-settings.txt"], "no made-up address shown as real"


def test_isp_hostname_bundle_for_the_blog_case(lab: LabInfo, tmp_path: Path) -> None:
    out = tmp_path / "fix"
    done = gmailfix("export", "me@blog.test", "--out", str(out), *lab.diagnose_args("blog.test"))
    assert done.returncode == 0, done.stderr
    assert files_in(out) == ALWAYS == manifest_paths(out)
    settings = (out / "gmail-settings.txt").read_text()
    assert "SMTP Server:        server42.isp.test" in settings
    assert "Username:           me@blog.test" in settings
    readme = (out / "README.md").read_text()
    assert "server42.isp.test" in readme and "Nothing on the server changes" in readme
    assert "CA_FILE=" in readme, "verify.sh is shown with the lab's CA, so it works here"
    report = json.loads((out / "report.json").read_text())
    assert report["remedies"][0]["kind"] == "isp-hostname"


def test_no_auth_gets_the_auth_fix_not_a_certificate(lab: LabInfo, tmp_path: Path) -> None:
    out = tmp_path / "fix"
    done = gmailfix("export", "noauth.test", "--out", str(out), *lab.diagnose_args("noauth.test"))
    assert done.returncode == 0, done.stderr
    assert "enable-auth" in done.stdout
    readme = (out / "README.md").read_text()
    assert "Let's Encrypt" not in readme and "certbot" not in readme
    assert "openssl passwd -6" in readme and "auth-tls-only.conf" in readme
    assert {"exim4/auth-tls-only.conf", "exim4/conf.d/auth/30_gmailfix_tls_auth"} <= files_in(out)


def test_sni_bundle_as_zip_with_every_file(lab: LabInfo, tmp_path: Path) -> None:
    target = tmp_path / "sni-fix.zip"
    args = [
        "export",
        "blog.test",
        "--remedy",
        "sni",
        "--alias-domain",
        "Other.Test",
        "--alias-domain",
        "third.test",
        "--exim-layout",
        "debian-split",
        "--zip",
        str(target),
        *lab.diagnose_args("blog.test"),
    ]
    done = gmailfix(*args)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(target) as archive:
        names = set(archive.namelist())
        sni_map = archive.read("sni-fix/exim4/tls/sni.map").decode()
    assert {f"sni-fix/{p}" for p in ALWAYS} <= names
    assert "sni-fix/exim4/conf.d/main/000_localmacros" in names
    assert "sni-fix/exim4/exim4.conf.localmacros" not in names, "only the layout asked for"
    for host in ("mail.blog.test", "mail.other.test", "mail.third.test"):
        assert f"{host}: /etc/exim4/tls/{host}" in sni_map


def test_unknown_layout_gives_every_file_and_the_command_that_tells(
    lab: LabInfo, tmp_path: Path
) -> None:
    out = tmp_path / "fix"
    done = gmailfix(
        "export", "selfsigned.test", "--out", str(out), *lab.diagnose_args("selfsigned.test")
    )
    assert done.returncode == 0, done.stderr
    readme = (out / "README.md").read_text()
    # gmailfix apply finds the layout itself; by hand, the command that tells comes first
    hand = readme.index("## By hand")
    assert hand < readme.index("grep dc_use_split_config") < readme.index("Debian, one file")
    assert {
        "exim4/exim4.conf.localmacros",
        "exim4/conf.d/main/000_localmacros",
        "exim4/tls-main.conf",
    } <= files_in(out)
    assert "Debian's default" in readme


def test_new_certificate_bundle_and_a_key_kept_out_of_it(lab: LabInfo, tmp_path: Path) -> None:
    out = tmp_path / "fix"
    done = gmailfix(
        "export",
        "selfsigned.test",
        "--make-csr",
        "--out",
        str(out),
        *lab.diagnose_args("selfsigned.test"),
    )
    assert done.returncode == 0, done.stderr
    assert "csr/request.csr.pem" in files_in(out)
    assert not any(p.startswith("private/") for p in files_in(out))
    key = tmp_path / "fix.key.pem"
    assert key.exists() and key.stat().st_mode & 0o777 == 0o600


def test_existing_target_is_refused_with_exit_2(lab: LabInfo, tmp_path: Path) -> None:
    out = tmp_path / "fix"
    args = ["export", "blog.test", "--out", str(out), *lab.diagnose_args("blog.test")]
    assert gmailfix(*args).returncode == 0
    again = gmailfix(*args)
    assert again.returncode == 2 and "--force" in again.stderr
    assert gmailfix(*args, "--force").returncode == 0


def test_a_fix_that_cannot_help_is_refused(lab: LabInfo, tmp_path: Path) -> None:
    done = gmailfix(
        "export",
        "selfsigned.test",
        "--remedy",
        "isp-hostname",
        "--out",
        str(tmp_path / "x"),
        *lab.diagnose_args("selfsigned.test"),
    )
    assert done.returncode == 1 and "cannot help here" in done.stderr
    assert not (tmp_path / "x").exists()


def test_nothing_to_fix_when_gmail_accepts(lab: LabInfo, tmp_path: Path) -> None:
    done = gmailfix(
        "export",
        "good.test",
        "--remedy",
        "new-certificate",
        "--out",
        str(tmp_path / "x"),
        *lab.diagnose_args("good.test"),
    )
    assert done.returncode == 1 and "cannot help here" in done.stderr


@pytest.mark.parametrize("domain", ["good.test", "sni.test"])
def test_the_default_fix_for_an_accepted_server_is_none(
    lab: LabInfo, tmp_path: Path, domain: str
) -> None:
    """Before: the only "available" kind (SNI, to prepare more domains) was taken as the
    best fix, and export failed with a message about other domains."""
    done = gmailfix("export", domain, "--out", str(tmp_path / "x"), *lab.diagnose_args(domain))
    assert done.returncode == 1, done.stderr
    assert "nothing to fix" in done.stderr and "--remedy sni --alias-domain" in done.stderr
    assert not (tmp_path / "x").exists()


def test_the_readmes_own_check_commands_work_where_the_diagnosis_ran(
    lab: LabInfo, tmp_path: Path
) -> None:
    """Before: in the demo the README's 'gmailfix diagnose' and verify.sh lines lacked the
    lab's DNS server, CA and addresses, so a person following it got a failure."""
    import shlex
    import subprocess

    out = tmp_path / "fix"
    args = ["export", "me@blog.test", "--port", "587", "--out", str(out)]
    assert gmailfix(*args, *lab.diagnose_args("blog.test")).returncode == 0
    readme = (out / "README.md").read_text()
    assert "they work while that lab runs" in readme
    commands = re.findall(r"`((?:gmailfix diagnose|CA_FILE=)[^`]*)`", readme)
    diagnose = next(c for c in commands if c.startswith("gmailfix diagnose"))
    assert gmailfix(*shlex.split(diagnose)[1:]).returncode == 0  # the ISP's name: accepted
    verify = next(c for c in commands if c.startswith("CA_FILE="))
    done = subprocess.run(["sh", "-c", verify], cwd=out, capture_output=True, text=True)
    assert done.returncode == 0 and "FAIL" not in done.stdout, done.stdout + done.stderr
