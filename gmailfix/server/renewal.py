"""certbot's renewal of the served certificate, and whether a renewal reaches the MTA.

certbot keeps one ``renewal/NAME.conf`` per certificate; ``--deploy-hook`` is
saved there as ``renew_hook``, and scripts in ``renewal-hooks/deploy/`` run
after every renewal too (docs/FACTS.md). A renewal reaches the MTA when a hook
copies the new files to the folder the MTA reads them from (or the MTA reads
certbot's own files) and, for Postfix, reloads it: Exim re-reads changed
certificate files by itself, Postfix does not.

A renewal, and a dry run too, also runs the lineage's pre and post hooks
(``pre_hook``/``post_hook`` in ``renewal/NAME.conf``, ``cli.ini``, the scripts in
``renewal-hooks/pre`` and ``post``): they often stop and start a web server.
gmailfix's dry run turns them off and says which they were.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from cryptography import x509

from gmailfix.certs import CertInfo, describe, name_matches
from gmailfix.server.system import Root, ServerError, read_limited
from gmailfix.vocabulary import Mta

LETSENCRYPT = "/etc/letsencrypt"
MAX_LINEAGES = 200
HOOK_LIMIT = 64 * 1024


# renewal options shown to the person (renewal/NAME.conf, sections flattened)
SHOWN_OPTIONS = (
    "authenticator",
    "installer",
    "renew_before_expiry",
    "reuse_key",
    "key_type",
    "preferred_chain",
    "http01_port",
    "webroot_path",
    "manual_auth_hook",
    "manual_cleanup_hook",
)
# what a renewal runs besides the deploy hooks (certbot renew --help: "--dry-run ...
# also calls --pre-hook and --post-hook commands")
HookTime = Literal["pre", "post"]
HOOK_TIMES: tuple[HookTime, ...] = ("pre", "post")
# certbot's own answer to "run no pre or post hook": the options win over
# renewal/NAME.conf and cli.ini, and --no-directory-hooks skips renewal-hooks/
NO_HOOKS = ("--pre-hook=", "--post-hook=", "--no-directory-hooks")
# authenticators that a dry run on a copy (--root) may use: standalone only
# listens on a port; the others run the copy's commands (manual), write where
# the copy says (webroot) or change this computer's web server (nginx, apache)
COPY_AUTHENTICATORS = frozenset({"standalone"})


@dataclass(frozen=True)
class Hook:
    """A command certbot runs around a renewal, and where it is set."""

    when: HookTime
    command: str  # the command, or the script's path on the server
    source: str  # e.g. "renewal/NAME.conf", "renewal-hooks/pre", "cli.ini"


@dataclass(frozen=True)
class Renewal:
    """The certbot lineage that renews the served certificate, and its hooks."""

    lineage: str
    conf: str  # renewal/NAME.conf, as a server path
    server: str | None  # the ACME directory it renews from
    hooks: tuple[str, ...]  # renew_hook, then deploy scripts (server paths or commands)
    reaches: bool
    why: str  # plain words: how it reaches the MTA, or what is missing
    options: Mapping[str, str] = field(default_factory=dict)  # SHOWN_OPTIONS that are set
    around: tuple[Hook, ...] = ()  # the pre and post hooks a renewal (and a dry run) runs
    newest: CertInfo | None = None  # the lineage's current certificate: certbot's newest
    version: str | None = None  # the certbot that last wrote renewal/NAME.conf


@dataclass(frozen=True)
class _Lineage:
    name: str
    conf: Path
    values: dict[str, str]
    leaf: CertInfo | None


def find_renewal(
    root: Root,
    mta: Mta,
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
    options = {k: lineage.values[k] for k in SHOWN_OPTIONS if lineage.values.get(k)}
    return Renewal(
        lineage.name,
        shown,
        server,
        tuple(h for h, _ in hooks),
        reaches,
        why,
        options,
        _around(root, lineage, shown),
        lineage.leaf,
        lineage.values.get("version") or None,
    ), None


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
        if sep and re.fullmatch(r"[a-z_][a-z0-9_]*", key) and key not in values:
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


def _around(root: Root, lineage: _Lineage, shown: str) -> tuple[Hook, ...]:
    """The pre and post hooks certbot runs for this lineage: its own, cli.ini's, and the
    executable scripts in renewal-hooks/pre and post (as certbot lists them)."""
    found: list[Hook] = []
    try:
        ini = renewal_values(
            read_limited(root.file(f"{LETSENCRYPT}/cli.ini"), HOOK_LIMIT)
            .decode("utf-8", "replace")
            .replace("-hook", "_hook")
        )
    except (OSError, ServerError):
        ini = {}
    for when in HOOK_TIMES:
        own = lineage.values.get(f"{when}_hook")
        if own:
            found.append(Hook(when, own, shown))
        if ini.get(f"{when}_hook"):
            found.append(Hook(when, ini[f"{when}_hook"], f"{LETSENCRYPT}/cli.ini"))
        folder = root.file(f"{LETSENCRYPT}/renewal-hooks/{when}")
        with contextlib.suppress(OSError):
            for script in sorted(folder.iterdir())[:50]:
                mode = script.stat().st_mode
                if stat.S_ISREG(mode) and mode & 0o111 and not script.name.endswith("~"):
                    found.append(Hook(when, root.shown(script), root.shown(folder)))
    return tuple(found)


def _script(path: Path) -> str:
    try:
        return read_limited(path, HOOK_LIMIT).decode("utf-8", "replace")
    except (OSError, ServerError):
        return ""


def _reaches(
    root: Root, mta: Mta, certificate: str, hooks: list[tuple[str, str]]
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


@dataclass(frozen=True)
class DryRun:
    """certbot's dry run for one lineage, said in words before it runs."""

    argv: tuple[str, ...]
    does: str  # what certbot will do
    skipped: tuple[Hook, ...]  # the pre and post hooks turned off
    refused: str | None = None  # why it is not run at all (a copy's lineage)


def dry_run(root: Root, renewal: Renewal) -> DryRun:
    """``certbot renew --dry-run`` for one lineage, with its pre and post hooks off.

    certbot asks a CA for a certificate and throws it away; deploy hooks do
    not run on a dry run, and gmailfix turns the pre and post hooks off too
    (they often stop and start a web server). A renewal that needs them (a web
    server that must stop for certbot to listen on port 80) can fail here and
    work for real: the report says which hooks were left out.

    A dry run goes to Let's Encrypt's staging CA unless told otherwise, which
    says nothing about a lineage from another CA: the lineage's own server is
    passed on unless it is Let's Encrypt's. On a copy of a server (``--root``)
    certbot keeps its state in that copy, and only a standalone lineage is
    tried: any other authenticator would run the copy's commands or change
    this computer (manual hooks, webroot paths, nginx or apache)."""
    lineage, server = renewal.lineage, renewal.server
    # NAME=VALUE: a lineage named like an option stays a value
    argv = ["certbot", "renew", "--dry-run", f"--cert-name={lineage}", "--no-random-sleep-on-renew"]
    argv += NO_HOOKS
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
    authenticator = renewal.options.get("authenticator", "")
    refused = None
    if not root.is_system and (
        authenticator not in COPY_AUTHENTICATORS
        or renewal.options.get("manual_auth_hook")
        or renewal.options.get("installer", "None") not in ("None", "null")
    ):
        refused = (
            f"on a copy of a server gmailfix tries only a standalone renewal; this one uses "
            f"{authenticator or 'an unnamed authenticator'}, which would run the copy's "
            "commands or change this computer"
        )
    return DryRun(tuple(argv), _does(renewal), renewal.around, refused)


def _does(renewal: Renewal) -> str:
    ca = renewal.server if renewal.server and renewal.server != LETSENCRYPT_PRODUCTION else None
    where = f"the CA at {ca}" if ca else "Let's Encrypt's staging CA"
    options = renewal.options
    authenticator = options.get("authenticator", "")
    how = {
        "standalone": f"listening on port {options.get('http01_port', '80')} for a moment",
        "webroot": f"writing a file under {options.get('webroot_path', 'the web root')}",
        "nginx": "changing nginx's configuration for a moment and reloading it",
        "apache": "changing Apache's configuration for a moment and reloading it",
    }.get(authenticator)
    if authenticator == "manual":
        hook = options.get("manual_auth_hook")
        how = f"running its authentication hook ({hook})" if hook else "asking a person"
    proof = f", proving the name by {how}" if how else ""
    return f"certbot asks {where} for a test certificate{proof}, and keeps nothing"
