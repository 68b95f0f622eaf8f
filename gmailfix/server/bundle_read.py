"""Read a bundle that ``gmailfix export`` wrote (a folder or a .zip), checked before use.

``gmailfix apply`` runs as root, so a bundle is outside input and only data:
its MANIFEST.json is parsed into a typed ``Manifest`` (schema
``gmailfix.bundle/2``, every name validated), every other file must be listed
there with its SHA-256, names must be plain relative paths, and sizes are
bounded. Nothing in a bundle is run: apply renders the server's files again
from the manifest's plan and only compares them with the bundle's.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from gmailfix.errors import reason
from gmailfix.remedies.manifest import Manifest, ManifestError, parse_manifest
from gmailfix.remedies.plan import Plan
from gmailfix.server.system import ServerError, show_path

FILE_LIMIT = 1024 * 1024
TOTAL_LIMIT = 16 * 1024 * 1024
MAX_FILES = 200


@dataclass(frozen=True)
class Bundle:
    """A checked bundle: its typed manifest, and its files by bundle path."""

    path: Path
    manifest: Manifest
    files: dict[str, bytes]

    @property
    def plan(self) -> Plan:
        return self.manifest.plan()

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
    return Bundle(where, manifest, _checked_files(where, manifest, files))


def _from_folder(folder: Path) -> tuple[Manifest, dict[str, bytes]]:
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


def _from_zip(path: Path) -> tuple[Manifest, dict[str, bytes]]:
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


def _manifest(where: Path, data: bytes) -> Manifest:
    try:
        found = json.loads(data)
    except (ValueError, RecursionError):
        raise ServerError(f"{show_path(where)} is not a gmailfix bundle (MANIFEST.json)") from None
    try:
        return parse_manifest(found)
    except ManifestError as exc:
        raise ServerError(f"{show_path(where)}: MANIFEST.json cannot be used: {exc}") from None


def _listed(where: Path, manifest: Manifest) -> list[str]:
    if len(manifest.files) > MAX_FILES:
        raise ServerError(f"{show_path(where)}: MANIFEST.json has no usable file list")
    return [f.path for f in manifest.files if f.path != "MANIFEST.json"]


def _checked_files(where: Path, manifest: Manifest, files: dict[str, bytes]) -> dict[str, bytes]:
    if sum(len(d) for d in files.values()) > TOTAL_LIMIT:
        raise ServerError(f"{show_path(where)} is too large to be a gmailfix bundle")
    sums = {f.path: f.sha256 for f in manifest.files}
    for relative, data in files.items():
        if hashlib.sha256(data).hexdigest() != sums.get(relative):
            raise ServerError(
                f"{show_path(relative)} in the bundle was changed after gmailfix wrote it "
                "(its SHA-256 is not the one in MANIFEST.json); export the bundle again"
            )
    return files
