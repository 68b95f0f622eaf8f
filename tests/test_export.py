"""`gmailfix export` as a user runs it, and the bundle writer's guarantees."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

import pytest

from gmailfix.bundle import BundleFile, write_folder, write_zip
from gmailfix.errors import BundleError
from gmailfix.lab.runner import LabInfo
from tests.test_cli import gmailfix

ALWAYS = {
    "README.md",
    "MANIFEST.json",
    "gmail-settings.txt",
    "report.md",
    "report.json",
    "verify.sh",
}


def manifest_paths(folder: Path) -> set[str]:
    return {f["path"] for f in json.loads((folder / "MANIFEST.json").read_text())["files"]}


def files_in(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_isp_hostname_bundle_for_the_blog_case(lab: LabInfo, tmp_path: Path) -> None:
    out = tmp_path / "fix"
    done = gmailfix("export", "me@blog.test", "--out", str(out), *lab.diagnose_args("blog.test"))
    assert done.returncode == 0, done.stderr
    assert files_in(out) == ALWAYS == manifest_paths(out)
    settings = (out / "gmail-settings.txt").read_text()
    assert "SMTP Server:        server42.isp.test" in settings
    assert "Username:           me@blog.test" in settings
    readme = (out / "README.md").read_text()
    assert "1. Nothing changes on the server" in readme and "server42.isp.test" in readme
    report = json.loads((out / "report.json").read_text())
    assert report["remedies"][0]["kind"] == "isp-hostname"


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
        "debian-single",
        "--zip",
        str(target),
    ]
    done = gmailfix(*args, *lab.diagnose_args("blog.test"))
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(target) as archive:
        names = {n.removeprefix("sni-fix/") for n in archive.namelist()}
        manifest = json.loads(archive.read("sni-fix/MANIFEST.json"))
        sni_map = archive.read("sni-fix/exim4/tls/sni.map").decode()
        hook_mode = archive.getinfo("sni-fix/certbot/deploy-hook.sh").external_attr >> 16
    expected = ALWAYS | {
        "exim4/tls-main.conf",
        "exim4/auth-tls-only.conf",
        "exim4/exim4.conf.localmacros",
        "exim4/tls/sni.map",
        "certbot/issue.sh",
        "certbot/deploy-hook.sh",
        "certbot/docker-run.sh",
        "certbot/docker-compose.yml",
        "dns/records.zone",
    }
    assert names == expected == {f["path"] for f in manifest["files"]}
    assert all(f["role"] for f in manifest["files"])
    assert "mail.other.test: /etc/exim4/tls/mail.other.test" in sni_map
    assert "mail.third.test:" in sni_map
    assert hook_mode & 0o777 == 0o755


def test_new_certificate_bundle_and_a_key_kept_out_of_it(lab: LabInfo, tmp_path: Path) -> None:
    out = tmp_path / "cert"
    done = gmailfix(
        "export",
        "selfsigned.test",
        "--remedy",
        "new-certificate",
        "--make-csr",
        "--out",
        str(out),
        *lab.diagnose_args("selfsigned.test"),
    )
    assert done.returncode == 0, done.stderr
    key = tmp_path / "cert.key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "PRIVATE KEY" in key.read_text()
    assert "csr/request.csr.pem" in files_in(out)
    assert not any("PRIVATE KEY" in p.read_text() for p in out.rglob("*") if p.is_file())
    assert "private key" in done.stdout


def test_key_in_the_bundle_only_when_asked_and_0600(lab: LabInfo, tmp_path: Path) -> None:
    out = tmp_path / "cert"
    done = gmailfix(
        "export",
        "selfsigned.test",
        "--remedy",
        "new-certificate",
        "--make-csr",
        "--include-key",
        "--out",
        str(out),
        *lab.diagnose_args("selfsigned.test"),
    )
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((out / "private/privkey.pem").stat().st_mode) == 0o600


def test_existing_target_needs_force(lab: LabInfo, tmp_path: Path) -> None:
    out = tmp_path / "fix"
    args = ["export", "blog.test", "--out", str(out), *lab.diagnose_args("blog.test")]
    assert gmailfix(*args).returncode == 0
    (out / "README.md").write_text("my notes")
    again = gmailfix(*args)
    assert again.returncode == 1 and "--force" in again.stderr
    assert (out / "README.md").read_text() == "my notes"
    assert gmailfix(*args, "--force").returncode == 0
    assert (out / "README.md").read_text() != "my notes"
    assert [p.name for p in tmp_path.iterdir()] == ["fix"]  # no leftovers


def test_force_never_replaces_a_folder_that_is_not_a_bundle(lab: LabInfo, tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "precious.txt").write_text("keep")
    done = gmailfix(
        "export",
        "blog.test",
        "--out",
        str(tmp_path / "home"),
        "--force",
        *lab.diagnose_args("blog.test"),
    )
    assert done.returncode == 1 and "not a gmailfix bundle" in done.stderr
    assert (tmp_path / "home" / "precious.txt").read_text() == "keep"


def test_isp_fix_refused_where_it_does_not_apply(lab: LabInfo, tmp_path: Path) -> None:
    done = gmailfix(
        "export",
        "selfsigned.test",
        "--remedy",
        "isp-hostname",
        "--out",
        str(tmp_path / "x"),
        *lab.diagnose_args("selfsigned.test"),
    )
    assert done.returncode == 1 and "does not apply" in done.stderr
    assert not (tmp_path / "x").exists()


FILES = [
    BundleFile("README.md", "r", b"a"),
    BundleFile("sub/b.txt", "b", b"b"),
    BundleFile("MANIFEST.json", "m", b"{}"),
]


class Interrupted(Exception):
    pass


def _interrupt(_: Path) -> None:
    raise Interrupted


@pytest.mark.parametrize("writer, name", [(write_folder, "out"), (write_zip, "out.zip")])
def test_a_failure_mid_write_leaves_nothing_behind(tmp_path: Path, writer, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Interrupted):
        writer(FILES, tmp_path / name, before_rename=_interrupt)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("writer, name", [(write_folder, "out"), (write_zip, "out.zip")])
def test_a_failure_mid_replace_keeps_the_old_bundle(tmp_path: Path, writer, name: str) -> None:  # type: ignore[no-untyped-def]
    target = writer(FILES, tmp_path / name)
    before = target.read_bytes() if target.is_file() else (target / "README.md").read_bytes()
    changed = [BundleFile("README.md", "r", b"new"), *FILES[1:]]
    with pytest.raises(Interrupted):
        writer(changed, target, force=True, before_rename=_interrupt)
    after = target.read_bytes() if target.is_file() else (target / "README.md").read_bytes()
    assert after == before
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_exists_error_is_a_bundle_error(tmp_path: Path) -> None:
    write_folder(FILES, tmp_path / "b")
    with pytest.raises(BundleError):
        write_folder(FILES, tmp_path / "b")


@pytest.mark.parametrize("writer, name", [(write_folder, "out"), (write_zip, "out.zip")])
def test_a_failure_while_writing_files_leaves_nothing(tmp_path: Path, writer, name: str) -> None:  # type: ignore[no-untyped-def]
    """The same path twice makes the folder writer fail on the second file, mid-write."""
    clash = [*FILES, BundleFile("sub/b.txt", "again", b"x")]
    if writer is write_zip:  # zipfile accepts duplicates; make the content unwritable instead
        clash = [*FILES, BundleFile("c.txt", "c", None)]  # type: ignore[arg-type]
    with pytest.raises((FileExistsError, TypeError)):
        writer(clash, tmp_path / name)
    assert list(tmp_path.iterdir()) == []
