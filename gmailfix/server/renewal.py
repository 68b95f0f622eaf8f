"""certbot's renewal of the served certificate, and whether a renewal reaches the MTA.

certbot keeps one ``renewal/NAME.conf`` per certificate; ``--deploy-hook`` is
saved there as ``renew_hook``, and scripts in ``renewal-hooks/deploy/`` run
after every renewal too (FACTS.md). A renewal reaches the MTA when a hook
copies the new files to the folder the MTA reads them from (or the MTA reads
certbot's own files) and, for Postfix, reloads it: Exim re-reads changed
certificate files by itself, Postfix does not.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cryptography import x509

from gmailfix.certs import CertInfo, describe, name_matches
from gmailfix.server.mta import MtaName
from gmailfix.server.system import Root, ServerError, read_limited

LETSENCRYPT = "/etc/letsencrypt"
MAX_LINEAGES = 200
HOOK_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Renewal:
    """The certbot lineage that renews the served certificate, and its hooks."""

    lineage: str
    conf: str  # renewal/NAME.conf, as a server path
    server: str | None  # the ACME directory it renews from
    hooks: tuple[str, ...]  # renew_hook, then deploy scripts (server paths or commands)
    reaches: bool
    why: str  # plain words: how it reaches the MTA, or what is missing


@dataclass(frozen=True)
class _Lineage:
    name: str
    conf: Path
    values: dict[str, str]
    leaf: CertInfo | None


def find_renewal(
    root: Root,
    mta: MtaName,
    certificate: str,
    leaf: CertInfo | None,
    host: str,
) -> tuple[Renewal | None, str | None]:
    """(the renewal of ``certificate``, None) or (None, a note saying why there is none)."""
    renewal_dir = root.file(f"{LETSENCRYPT}/renewal")
    if not renewal_dir.is_dir():
        return None, (
            "certbot is not set up here (no /etc/letsencrypt/renewal): whatever renews this "
            "certificate must also put it where the mail server reads it"
        )
    lineages = _lineages(root, renewal_dir)
    lineage = _matching(lineages, certificate, leaf, host)
    if lineage is None:
        return None, "none of certbot's certificates is the one the mail server uses"
    hooks = _hooks(root, lineage)
    reaches, why = _reaches(root, mta, certificate, hooks)
    shown = root.shown(lineage.conf)
    server = lineage.values.get("server") or None
    return Renewal(lineage.name, shown, server, tuple(h for h, _ in hooks), reaches, why), None


def _lineages(root: Root, renewal_dir: Path) -> list[_Lineage]:
    found: list[_Lineage] = []
    with contextlib.suppress(OSError):
        for entry in sorted(renewal_dir.iterdir())[:MAX_LINEAGES]:
            if entry.suffix != ".conf":
                continue
            try:
                values = renewal_values(read_limited(entry, HOOK_LIMIT).decode("utf-8", "replace"))
            except (OSError, ServerError):
                continue
            chain = values.get("fullchain") or values.get("cert") or ""
            found.append(_Lineage(entry.stem, entry, values, _leaf(root, chain) if chain else None))
    return found


def renewal_values(text: str) -> dict[str, str]:
    """``key = value`` lines of a certbot renewal file (configobj), sections flattened."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        key = key.strip()
        if sep and re.fullmatch(r"[a-z_]+", key) and key not in values:
            values[key] = value.strip().strip("'\"")
    return values


def _leaf(root: Root, path: str) -> CertInfo | None:
    try:
        data = read_limited(root.file(path))
        certs = x509.load_pem_x509_certificates(data)
    except Exception:  # missing, unreadable or not PEM: this lineage tells nothing
        return None
    return describe(certs[0]) if certs else None


def _matching(
    lineages: list[_Lineage], certificate: str, leaf: CertInfo | None, host: str
) -> _Lineage | None:
    """The lineage whose files the MTA reads, else the one whose current certificate is
    the served one, else one that covers the host Gmail uses."""
    for lineage in lineages:
        if _inside(certificate, f"{LETSENCRYPT}/live/{lineage.name}") or _inside(
            certificate, f"{LETSENCRYPT}/archive/{lineage.name}"
        ):
            return lineage
    if leaf is not None:
        for lineage in lineages:
            if lineage.leaf is not None and lineage.leaf.sha256 == leaf.sha256:
                return lineage
    for lineage in lineages:
        if lineage.leaf is not None and name_matches(host, lineage.leaf.names):
            return lineage
    return None


def _inside(path: str, folder: str) -> bool:
    """Is ``path`` in ``folder``, also when the root's prefix is in front of it."""
    return f"{folder}/" in f"{path}"


def _hooks(root: Root, lineage: _Lineage) -> list[tuple[str, str]]:
    """(what the hook is, its text): renew_hook (and the script it names), deploy scripts."""
    hooks: list[tuple[str, str]] = []
    command = lineage.values.get("renew_hook") or lineage.values.get("deploy_hook")
    if command:
        text = command
        first = command.split()[0] if command.split() else ""
        if first.startswith("/"):
            text += "\n" + _script(root.file(first))
        hooks.append((command, text))
    deploy = root.file(f"{LETSENCRYPT}/renewal-hooks/deploy")
    with contextlib.suppress(OSError):
        for script in sorted(deploy.iterdir())[:50]:
            mode = script.stat().st_mode
            if stat.S_ISREG(mode) and mode & 0o111:
                hooks.append((root.shown(script), _script(script)))
    return hooks


def _script(path: Path) -> str:
    try:
        return read_limited(path, HOOK_LIMIT).decode("utf-8", "replace")
    except (OSError, ServerError):
        return ""


def _reaches(
    root: Root, mta: MtaName, certificate: str, hooks: list[tuple[str, str]]
) -> tuple[bool, str]:
    label = "Postfix" if mta == "postfix" else "Exim"
    reads_certbot = _inside(certificate, f"{LETSENCRYPT}/live") or _inside(
        certificate, f"{LETSENCRYPT}/archive"
    )
    folders = _folders(root, certificate)
    copies = reads_certbot or any(any(f in text for f in folders) for _, text in hooks)
    reloads = mta == "exim" or any(
        re.search(r"postfix\s+(reload|restart)|systemctl\s+(reload|restart)\s+postfix", text)
        for _, text in hooks
    )
    if not hooks:
        return False, "certbot has no deploy hook for this certificate"
    if not copies:
        return False, (
            f"no deploy hook copies the renewed files to {folders[0]}, where {label} reads them"
        )
    if not reloads:
        return False, "no deploy hook reloads Postfix, which keeps serving the old certificate"
    if reads_certbot:
        return True, f"{label} reads certbot's own files"
    return True, f"a deploy hook copies the renewed files to {folders[0]}"


def _folders(root: Root, certificate: str) -> list[str]:
    """The folders a hook may name for this file: its own and the one above (a tls dir
    holding one folder per certificate), as the server knows them and under the root."""
    shown = PurePosixPath(root.shown(root.file(certificate)))
    real = PurePosixPath(os.fspath(root.file(certificate)))
    names = [str(shown.parent), str(shown.parent.parent), str(real.parent), str(real.parent.parent)]
    return [n for n in dict.fromkeys(names) if n not in ("/", "/etc", ".")]


LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"


def dry_run_command(root: Root, lineage: str, server: str | None) -> list[str]:
    """``certbot renew --dry-run`` for one lineage: certbot asks a CA for a certificate
    and throws it away; deploy hooks do not run, nothing on the server changes.

    A dry run goes to Let's Encrypt's staging CA unless told otherwise, which
    says nothing about a lineage from another CA: ``server`` (the lineage's
    own) is passed on unless it is Let's Encrypt's. Under a copy of a server
    (``--root``) certbot keeps its state in that copy."""
    # NAME=VALUE: a lineage named like an option stays a value
    argv = ["certbot", "renew", "--dry-run", f"--cert-name={lineage}", "--no-random-sleep-on-renew"]
    if server and server.startswith("https://") and server != LETSENCRYPT_PRODUCTION:
        argv.append(f"--server={server}")
    if not root.is_system:
        argv += [
            "--config-dir",
            str(root.file(LETSENCRYPT)),
            "--work-dir",
            str(root.file("/var/lib/letsencrypt")),
            "--logs-dir",
            str(root.file("/var/log/letsencrypt")),
        ]
    return argv
