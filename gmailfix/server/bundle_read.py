"""Read a bundle that ``gmailfix export`` wrote (a folder or a .zip), checked before use.

``gmailfix apply`` runs as root and writes what the bundle says into /etc, so
the bundle is treated as outside input: its MANIFEST.json must be gmailfix's
(schema ``gmailfix.bundle/1``), every file must be listed there with the
SHA-256 it was written with, names must be plain relative paths, and sizes
are bounded. A bundle edited by hand is refused, with the file named.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gmailfix.errors import InputError, reason
from gmailfix.ports import PORTS
from gmailfix.remedies.plan import EXIM_LAYOUTS, MTAS, safe_name
from gmailfix.server.system import ServerError, show_path

BUNDLE_SCHEMA = "gmailfix.bundle/1"
FILE_LIMIT = 1024 * 1024
TOTAL_LIMIT = 16 * 1024 * 1024
MAX_FILES = 200


@dataclass(frozen=True)
class Bundle:
    """A checked bundle: what its MANIFEST.json says, and its files by bundle path."""

    path: Path
    manifest: dict[str, Any]
    files: dict[str, bytes]

    @property
    def remedy(self) -> str:
        return str(self.manifest["remedy"])

    @property
    def mta(self) -> str:
        return str(self.manifest.get("mta") or "exim")

    @property
    def exim_layout(self) -> str | None:
        layout = self.manifest.get("exim_layout")
        return str(layout) if layout else None

    @property
    def domain(self) -> str:
        return str(self.manifest["domain"])

    @property
    def smtp_host(self) -> str:
        return str(self.manifest["smtp_host"])

    @property
    def port(self) -> int:
        return int(self.manifest["port"])

    @property
    def stack(self) -> str:
        return str(self.manifest.get("stack") or "unknown")

    def text(self, path: str) -> str:
        return self.files[path].decode("utf-8", "replace")


def read_bundle(path: str | Path) -> Bundle:
    """The bundle at ``path``, or ServerError saying in one line why it cannot be used."""
    where = Path(path)
    try:
        found = os.stat(where)
    except OSError as exc:
        raise ServerError(f"cannot read the bundle {show_path(where)}: {reason(exc)}") from None
    if stat.S_ISDIR(found.st_mode):
        manifest, files = _from_folder(where)
    elif stat.S_ISREG(found.st_mode):
        manifest, files = _from_zip(where)
    else:
        raise ServerError(f"{show_path(where)} is not a bundle folder or .zip")
    _check_manifest(where, manifest)
    return Bundle(where, manifest, _checked_files(where, manifest, files))


def _from_folder(folder: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    manifest = _manifest(folder, _read_file(folder / "MANIFEST.json"))
    files = {}
    for relative in _listed(folder, manifest):
        files[relative] = _read_file(folder / relative)
    return manifest, files


def _read_file(path: Path) -> bytes:
    """A regular file (never through a symlink), bounded."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ServerError(f"cannot read {show_path(path)} in the bundle: {reason(exc)}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ServerError(f"{show_path(path)} in the bundle is not a regular file")
        data = handle.read(FILE_LIMIT + 1)
    if len(data) > FILE_LIMIT:
        raise ServerError(f"{show_path(path)} in the bundle is too large to be one gmailfix wrote")
    return data


def _from_zip(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = [e for e in archive.infolist() if not e.is_dir()]
            tops = {e.filename.partition("/")[0] for e in entries}
            if len(entries) > MAX_FILES or len(tops) != 1:
                raise ServerError(f"{show_path(path)} is not a gmailfix bundle")
            members = {e.filename.partition("/")[2]: e for e in entries}
            if "MANIFEST.json" not in members:
                raise ServerError(f"{show_path(path)} has no MANIFEST.json: not a gmailfix bundle")
            manifest = _manifest(path, _member(archive, members["MANIFEST.json"]))
            files = {}
            for relative in _listed(path, manifest):
                entry = members.get(relative)
                if entry is None:
                    raise ServerError(
                        f"{show_path(path)} lacks {show_path(relative)} (listed in MANIFEST.json)"
                    )
                files[relative] = _member(archive, entry)
    except ServerError:
        raise
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise ServerError(f"{show_path(path)} is not a readable .zip: {reason(exc)}") from None
    return manifest, files


def _member(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> bytes:
    if entry.file_size > FILE_LIMIT:
        raise ServerError(f"{show_path(entry.filename)} in the bundle is too large")
    with archive.open(entry) as member:
        data = member.read(FILE_LIMIT + 1)
    if len(data) > FILE_LIMIT:
        raise ServerError(f"{show_path(entry.filename)} in the bundle is too large")
    return data


def _manifest(where: Path, data: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except (ValueError, RecursionError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("schema") != BUNDLE_SCHEMA:
        raise ServerError(f"{show_path(where)} is not a gmailfix bundle (MANIFEST.json)")
    return manifest


def _listed(where: Path, manifest: dict[str, Any]) -> list[str]:
    entries = manifest.get("files")
    if not isinstance(entries, list) or len(entries) > MAX_FILES:
        raise ServerError(f"{show_path(where)}: MANIFEST.json has no usable file list")
    listed = []
    for entry in entries:
        relative = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(relative, str) or not _plain_relative(relative):
            raise ServerError(
                f"{show_path(where)}: MANIFEST.json names a path gmailfix never writes"
            )
        if relative != "MANIFEST.json":
            listed.append(relative)
    return listed


def _plain_relative(path: str) -> bool:
    parts = path.split("/")
    return not path.startswith("/") and all(
        p not in ("", ".", "..") and "\0" not in p for p in parts
    )


def _checked_files(
    where: Path, manifest: dict[str, Any], files: dict[str, bytes]
) -> dict[str, bytes]:
    if sum(len(d) for d in files.values()) > TOTAL_LIMIT:
        raise ServerError(f"{show_path(where)} is too large to be a gmailfix bundle")
    sums = {e["path"]: e.get("sha256") for e in manifest["files"]}
    for relative, data in files.items():
        if hashlib.sha256(data).hexdigest() != sums.get(relative):
            raise ServerError(
                f"{show_path(relative)} in the bundle was changed after gmailfix wrote it "
                "(its SHA-256 is not the one in MANIFEST.json); export the bundle again"
            )
    return files


def _check_manifest(where: Path, manifest: dict[str, Any]) -> None:
    problem = None
    try:
        safe_name(str(manifest.get("domain", "")))
        safe_name(str(manifest.get("smtp_host", "")))
    except InputError as exc:
        problem = str(exc)
    if manifest.get("port") not in PORTS:
        problem = "its port is not 25, 465 or 587"
    if manifest.get("mta", "exim") not in MTAS:
        problem = "its MTA is not Exim or Postfix"
    layout = manifest.get("exim_layout")
    if layout is not None and layout not in EXIM_LAYOUTS:
        problem = "its Exim layout is unknown"
    if not isinstance(manifest.get("remedy"), str):
        problem = "it names no fix"
    if problem:
        raise ServerError(f"{show_path(where)}: MANIFEST.json cannot be used: {problem}")
