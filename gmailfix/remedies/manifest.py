"""MANIFEST.json: the bundle's typed plan, written by export and read by apply.

A bundle is data. ``gmailfix apply`` reads only this manifest: the remedy
kinds and their parameters, every name validated on the way in. It then
renders every file again with the installed gmailfix's own renderers; the
bundle's own texts are only compared with that. So the manifest holds exactly
what the server's files are made from, and nothing that could be run.

Schema ``gmailfix.bundle/2`` (``/1`` held one remedy and is refused: export
again).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from gmailfix.errors import InputError, shorten
from gmailfix.inbound import RISK_KINDS, InboundRisk
from gmailfix.remedies.model import REMEDY_KINDS, Remedy, RemedyKind
from gmailfix.remedies.plan import AliasHost, Plan, safe_name
from gmailfix.stacks.recognise import STACK_NAMES, StackName
from gmailfix.vocabulary import EXIM_LAYOUTS, MTAS, PORTS, EximLayout, Mta, security_for

BUNDLE_SCHEMA = "gmailfix.bundle/2"
OLD_SCHEMAS = frozenset({"gmailfix.bundle/1"})
MAX_REMEDIES = len(REMEDY_KINDS)
MAX_ALIASES = 50
MAX_FILES = 200
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(InputError):
    """A MANIFEST.json that gmailfix cannot use; the message says why, in one line."""


@dataclass(frozen=True)
class ManifestFile:
    path: str  # relative, forward slashes
    role: str
    mode: int
    sha256: str | None  # None only for MANIFEST.json itself


@dataclass(frozen=True)
class ManifestRemedy:
    """One remedy of the plan, as much of it as the server's files are made from."""

    kind: RemedyKind
    smtp_host: str
    port: int
    names: tuple[str, ...]
    verified: bool


@dataclass(frozen=True)
class Manifest:
    domain: str
    remedies: tuple[ManifestRemedy, ...]
    aliases: tuple[AliasHost, ...]
    mta: Mta
    exim_layout: EximLayout | None
    stack: StackName
    tls_dir: str
    files: tuple[ManifestFile, ...]
    inbound: tuple[InboundRisk, ...] = ()  # the plan has the inbound-mail guard step

    @classmethod
    def of(cls, plan: Plan, files: Sequence[ManifestFile]) -> Manifest:
        return cls(
            domain=plan.domain,
            remedies=tuple(
                ManifestRemedy(r.kind, r.smtp_host, r.port, r.names, r.verified)
                for r in plan.remedies
            ),
            aliases=plan.aliases,
            mta=plan.mta,
            exim_layout=plan.exim_layout,
            stack=plan.stack,
            tls_dir=plan.tls_dir,
            files=tuple(files),
            inbound=plan.inbound,
        )

    def plan(self) -> Plan:
        """The plan the bundle was made from, as far as the server's files need it."""
        remedies = tuple(
            Remedy(
                r.kind,
                "recommended",
                "",
                r.smtp_host,
                r.port,
                security_for(r.port),
                r.verified,
                r.names,
            )
            for r in self.remedies
        )
        return Plan(
            remedies=remedies,
            domain=self.domain,
            username=None,
            aliases=self.aliases,
            exim_layout=self.exim_layout,
            tls_dir=self.tls_dir,
            mta=self.mta,
            stack=self.stack,
            inbound=self.inbound,
        )

    @property
    def kinds(self) -> tuple[RemedyKind, ...]:
        return tuple(r.kind for r in self.remedies)

    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema": BUNDLE_SCHEMA,
            "domain": self.domain,
            "remedies": [
                {
                    "kind": r.kind,
                    "smtp_host": r.smtp_host,
                    "port": r.port,
                    "names": list(r.names),
                    "verified": r.verified,
                }
                for r in self.remedies
            ],
            "aliases": [{"domain": a.domain, "host": a.host} for a in self.aliases],
            "mta": self.mta,
            "exim_layout": self.exim_layout,
            "stack": self.stack,
            "tls_dir": self.tls_dir,
            "files": [
                {"path": f.path, "role": f.role, "mode": oct(f.mode), "sha256": f.sha256}
                for f in self.files
            ],
        }
        if self.inbound:  # only then: every other bundle's manifest stays as it was
            data["inbound"] = [
                {"kind": r.kind, "host": r.host, "validated": r.validated} for r in self.inbound
            ]
        return data

    def text(self) -> str:
        return json.dumps(self.data(), indent=2) + "\n"


def parse_manifest(data: object) -> Manifest:
    """A manifest read from outside, every field checked; ManifestError says what is wrong."""
    if not isinstance(data, dict):
        raise ManifestError("it is not a JSON object")
    schema = data.get("schema")
    if schema in OLD_SCHEMAS:
        raise ManifestError(
            "it was written by an older gmailfix (one fix per bundle): export it again"
        )
    if schema != BUNDLE_SCHEMA:
        raise ManifestError("it is not a gmailfix bundle's manifest")
    mta = _one_of(data.get("mta"), MTAS, "its MTA is not Exim or Postfix")
    layout = data.get("exim_layout")
    if layout is not None:
        layout = _one_of(layout, EXIM_LAYOUTS, "its Exim layout is unknown")
    stack = _one_of(data.get("stack"), STACK_NAMES, "its mail stack is unknown")
    remedies = _remedies(data.get("remedies"))
    return Manifest(
        domain=_name(data.get("domain"), "its domain"),
        remedies=remedies,
        aliases=_aliases(data.get("aliases")),
        mta=mta,
        exim_layout=layout if mta == "exim" else None,
        stack=stack,
        tls_dir=_tls_dir(data.get("tls_dir")),
        files=_files(data.get("files")),
        inbound=_inbound(data.get("inbound")),
    )


def _one_of(value: object, allowed: Sequence[str], problem: str) -> Any:
    if not isinstance(value, str) or value not in allowed:
        raise ManifestError(problem)
    return value


def _name(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ManifestError(f"{what} is not a host name")
    try:
        return safe_name(value)
    except InputError:
        raise ManifestError(f"{what} {shorten(value)!r} is not a host name") from None


def _list(value: object, limit: int, what: str) -> list[Any]:
    if not isinstance(value, list) or len(value) > limit:
        raise ManifestError(f"its {what} is not a list gmailfix writes")
    return value


def _remedies(value: object) -> tuple[ManifestRemedy, ...]:
    entries = _list(value, MAX_REMEDIES, "list of fixes")
    if not entries:
        raise ManifestError("it names no fix")
    found: list[ManifestRemedy] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise ManifestError("a fix in it is not an object")
        kind = _one_of(entry.get("kind"), REMEDY_KINDS, "it names a fix gmailfix does not know")
        port = entry.get("port")
        if not isinstance(port, int) or isinstance(port, bool) or port not in PORTS:
            raise ManifestError("its port is not 25, 465 or 587")
        names = _list(entry.get("names", []), MAX_ALIASES, "list of certificate names")
        verified = entry.get("verified", False)
        if not isinstance(verified, bool):
            raise ManifestError("a fix's 'verified' is not true or false")
        found.append(
            ManifestRemedy(
                kind=cast(RemedyKind, kind),
                smtp_host=_name(entry.get("smtp_host"), "its SMTP server"),
                port=port,
                names=tuple(_name(n, "a certificate name") for n in names),
                verified=verified,
            )
        )
    kinds = [r.kind for r in found]
    if len(set(kinds)) != len(kinds):
        raise ManifestError("it names a fix twice")
    return tuple(found)


def _aliases(value: object) -> tuple[AliasHost, ...]:
    found = []
    for entry in _list(value if value is not None else [], MAX_ALIASES, "list of domains"):
        if not isinstance(entry, dict):
            raise ManifestError("a domain in it is not an object")
        found.append(
            AliasHost(_name(entry.get("domain"), "a domain"), _name(entry.get("host"), "a host"))
        )
    return tuple(found)


def _inbound(value: object) -> tuple[InboundRisk, ...]:
    """The inbound-mail risks the plan's guard step is about (absent: none)."""
    found = []
    for entry in _list(value if value is not None else [], MAX_ALIASES, "list of inbound risks"):
        if not isinstance(entry, dict):
            raise ManifestError("an inbound risk in it is not an object")
        kind = _one_of(
            entry.get("kind"), RISK_KINDS, "it names an inbound risk gmailfix does not know"
        )
        validated = entry.get("validated", False)
        if not isinstance(validated, bool):
            raise ManifestError("an inbound risk's 'validated' is not true or false")
        found.append(InboundRisk(kind, _name(entry.get("host"), "an MX host"), validated))
    return tuple(found)


def _tls_dir(value: object) -> str:
    """Where the MTA reads certificates from: a plain absolute path (it is only read;
    apply writes below it only inside the MTA's own folder)."""
    if (
        not isinstance(value, str)
        or len(value) > 200
        or not re.fullmatch(r"/[A-Za-z0-9._/-]*", value)
        or any(part in ("", ".", "..") for part in value[1:].rstrip("/").split("/"))
    ):
        raise ManifestError("its certificate folder is not a plain absolute path")
    return value.rstrip("/")


def _files(value: object) -> tuple[ManifestFile, ...]:
    found = []
    for entry in _list(value, MAX_FILES, "file list"):
        if not isinstance(entry, dict):
            raise ManifestError("its file list holds something that is not a file")
        path, role, mode, sha = (entry.get(k) for k in ("path", "role", "mode", "sha256"))
        if not isinstance(path, str) or not plain_relative(path):
            raise ManifestError("it names a path gmailfix never writes")
        if not isinstance(role, str) or len(role) > 500:
            raise ManifestError("a file's role is not text")
        if not isinstance(mode, str) or not re.fullmatch(r"0o[0-7]{3}", mode):
            raise ManifestError("a file's mode is not one gmailfix writes")
        if path != "MANIFEST.json" and (not isinstance(sha, str) or not _SHA256.match(sha)):
            raise ManifestError(f"{shorten(path)!r} has no SHA-256 in it")
        found.append(ManifestFile(path, role, int(mode, 8), sha if isinstance(sha, str) else None))
    paths = [f.path for f in found]
    if len(set(paths)) != len(paths):
        raise ManifestError("it lists a file twice")
    return tuple(found)


def plain_relative(path: str) -> bool:
    """A bundle path: relative, forward slashes, no '.', '..', empty parts or NUL."""
    parts = path.split("/")
    return (
        0 < len(path) <= 200
        and not path.startswith("/")
        and all(p not in ("", ".", "..") and "\0" not in p and "\\" not in p for p in parts)
    )


def files_by_path(manifest: Manifest) -> Mapping[str, ManifestFile]:
    return {f.path: f for f in manifest.files}
