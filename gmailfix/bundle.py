"""The config bundle: render every file, then write a folder or a zip atomically.

Everything is written beside the target under a temporary name and renamed
into place at the end, so an interrupted export leaves either the old target
or the complete new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gmailfix.diagnose import Diagnosis
from gmailfix.errors import BundleError
from gmailfix.remedies.plan import FixPlan
from gmailfix.render.bundle_readme import bundle_readme
from gmailfix.render.certbot import certbot_files
from gmailfix.render.dns_records import zone_lines
from gmailfix.render.exim import exim_files
from gmailfix.render.gmail_settings import gmail_settings_text
from gmailfix.render.json_report import dumps
from gmailfix.render.markdown_report import markdown_report
from gmailfix.render.verify import verify_script

EXECUTABLE = 0o755
SECRET = 0o600


@dataclass(frozen=True)
class BundleFile:
    path: str  # relative, forward slashes
    role: str
    content: bytes
    mode: int = 0o644


def bundle_files(
    plan: FixPlan, diagnosis: Diagnosis, extra: tuple[BundleFile, ...] = ()
) -> list[BundleFile]:
    """Every file of the bundle, MANIFEST.json last. Only what the plan's steps use."""
    files = [
        _text(
            "README.md",
            "the steps to follow, written for this case",
            bundle_readme(plan, diagnosis),
        ),
        _text(
            "gmail-settings.txt",
            "what to type in Gmail's 'Send mail as' form",
            gmail_settings_text(plan),
        ),
        _text("report.md", "the diagnosis, for people", markdown_report(diagnosis)),
        _text("report.json", "the diagnosis, schema gmailfix.diagnosis/1", dumps(diagnosis) + "\n"),
        _text("verify.sh", "checks that the fix works, as Gmail does", verify_script(plan), EXECUTABLE),
    ]
    files += [_text(p, EXIM_ROLES[p], t) for p, t in exim_files(plan).items()]
    if plan.needs_certificate or plan.kind == "serve-full-chain":
        files += [
            _text(p, CERTBOT_ROLES[p], t, EXECUTABLE if p.endswith(".sh") else 0o644)
            for p, t in certbot_files(plan).items()
        ]
    if plan.needs_certificate:
        files.append(
            _text("dns/records.zone", "DNS records to add (zone-file lines)", zone_lines(plan))
        )
    files += list(extra)
    files.append(_manifest(plan, files))
    return files


EXIM_ROLES = {
    "exim4/tls-main.conf": "Exim main-section options for any exim.conf (.include it)",
    "exim4/auth-tls-only.conf": "Exim authenticators offered only over TLS",
    "exim4/conf.d/auth/30_gmailfix_tls_auth": "the same, for Debian's split config: conf.d/auth/",
    "exim4/conf.d/main/000_localmacros": "Debian split config: /etc/exim4/conf.d/main/",
    "exim4/exim4.conf.localmacros": "Debian single-file config (Debian's default): /etc/exim4/",
    "exim4/tls/sni.map": "SNI name to certificate directory map",
}
CERTBOT_ROLES = {
    "certbot/issue.sh": "gets the certificates with certbot (standalone, webroot or DNS-01)",
    "certbot/deploy-hook.sh": "certbot deploy hook: installs certificates for Exim, reloads it",
    "certbot/docker-run.sh": "the same with certbot in Docker",
    "certbot/docker-compose.yml": "certbot renewals in Docker Compose",
}


def _text(path: str, role: str, text: str, mode: int = 0o644) -> BundleFile:
    return BundleFile(path, role, text.encode("utf-8"), mode)


def _manifest(plan: FixPlan, files: list[BundleFile]) -> BundleFile:
    data = {
        "schema": "gmailfix.bundle/1",
        "domain": plan.domain,
        "remedy": plan.kind,
        "smtp_host": plan.smtp_host,
        "port": plan.port,
        "exim_layout": plan.exim_layout,
        "files": [
            {
                "path": f.path,
                "role": f.role,
                "mode": oct(f.mode),
                "sha256": hashlib.sha256(f.content).hexdigest(),
            }
            for f in files
        ]
        + [{"path": "MANIFEST.json", "role": "this list", "mode": "0o644", "sha256": None}],
    }
    return _text("MANIFEST.json", "this list", json.dumps(data, indent=2) + "\n")


def write_folder(
    files: list[BundleFile],
    target: Path,
    *,
    force: bool = False,
    before_rename: Callable[[Path], None] | None = None,
) -> Path:
    """Write the bundle as a folder; ``before_rename`` is a seam for failure tests."""
    return _write(files, target, force, before_rename, as_zip=False)


def write_zip(
    files: list[BundleFile],
    target: Path,
    *,
    force: bool = False,
    before_rename: Callable[[Path], None] | None = None,
) -> Path:
    """Write the bundle as a .zip holding one folder named like the file."""
    return _write(files, target, force, before_rename, as_zip=True)


def _write(
    files: list[BundleFile],
    target: Path,
    force: bool,
    before_rename: Callable[[Path], None] | None,
    as_zip: bool,
) -> Path:
    target = target.resolve()
    _check_target(target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}."
    if as_zip:
        fd, name = tempfile.mkstemp(prefix=prefix, dir=target.parent)
        os.close(fd)
        staging = Path(name)
    else:
        staging = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    try:
        (_fill_zip if as_zip else _fill_folder)(files, staging, target.stem)
        if before_rename is not None:
            before_rename(staging)
        if as_zip:
            os.replace(staging, target)
        else:
            _swap_into_place(staging, target)
    except BaseException:
        _remove(staging)
        raise
    return target


def _fill_folder(files: list[BundleFile], staging: Path, _: str) -> None:
    for item in files:
        path = staging / item.path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, item.mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(item.content)
        os.chmod(path, item.mode)  # the umask must not loosen or tighten it
    os.chmod(staging, 0o755)


def _fill_zip(files: list[BundleFile], staging: Path, folder: str) -> None:
    with zipfile.ZipFile(staging, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in files:
            # a fixed date: the same bundle gives the same bytes
            info = zipfile.ZipInfo(f"{folder}/{item.path}", date_time=(2020, 4, 16, 0, 0, 0))
            info.external_attr = (0o100000 | item.mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, item.content)
    os.chmod(staging, 0o644)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _check_target(target: Path, force: bool) -> None:
    if not target.exists():
        return
    if not force:
        raise BundleError(f"{target} already exists; use --force to replace it")
    if target.is_dir() and not (target / "MANIFEST.json").exists():
        raise BundleError(f"{target} is a folder that is not a gmailfix bundle; not replacing it")


def _swap_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        os.rename(staging, target)
        return
    old = target.with_name(f".{target.name}.old")
    _remove(old)
    os.rename(target, old)
    os.rename(staging, target)
    _remove(old)
