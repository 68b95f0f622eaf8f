"""The certificate and key files an MTA is told to read: there, readable by its user, usable.

Permissions are judged the way the kernel does for the MTA's user (owner,
then group, then others, on every folder on the way and on the file), from
the file's mode bits; ACLs are not read. Nothing here needs the key's
contents beyond checking that it is the certificate's key.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gmailfix.certs import Chain, parse_chain
from gmailfix.errors import reason
from gmailfix.findings import Finding, finding
from gmailfix.server.system import Root, ServerError, read_limited
from gmailfix.vocabulary import Code

READ, EXECUTE = 4, 1


@dataclass(frozen=True)
class OnDisk:
    """What the certificate file holds, when it could be read."""

    path: str  # as configured
    key_path: str
    chain: Chain  # the certificates in the file, the served one first


def check_files(
    root: Root, certificate: str, key: str, user: str
) -> tuple[OnDisk | None, list[Finding]]:
    """Read and judge one certificate/key pair; the findings say what is wrong in plain words."""
    findings: list[Finding] = []
    cert_path, key_path = root.file(certificate), root.file(key)
    chain = _read_chain(cert_path, certificate, findings)
    for path, shown, what in ((cert_path, certificate, "certificate"), (key_path, key, "key")):
        if path.exists():
            blocked = unreadable_part(root, path, user)
            if blocked is not None:
                findings.append(_unreadable(root, blocked, shown, what, user))
    if chain is None:
        return None, findings
    if key_path != cert_path or key != certificate:
        _check_key(key_path, key, chain, findings)
    else:
        _check_key(cert_path, certificate, chain, findings)
    return OnDisk(certificate, key, chain), findings


def _read_chain(path: Path, shown: str, findings: list[Finding]) -> Chain | None:
    try:
        data = read_limited(path)
    except FileNotFoundError:
        findings.append(
            finding(Code.CERTIFICATE_FILE_MISSING, f"The certificate file {shown} does not exist.")
        )
        return None
    except IsADirectoryError:
        findings.append(_invalid(f"{shown} is a folder, not a certificate file."))
        return None
    except (OSError, ServerError) as exc:
        findings.append(_invalid(f"gmailfix cannot read {shown}: {reason(exc)}."))
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            certs = x509.load_pem_x509_certificates(data)
    except Exception:  # anything cryptography raises: the file is not a PEM chain
        findings.append(_invalid(f"{shown} holds no PEM certificate."))
        return None
    chain = parse_chain([c.public_bytes(Encoding.DER) for c in certs])
    if chain.error:
        findings.append(_invalid(f"{shown}: {chain.error}"))
        return None
    return chain


def _check_key(path: Path, shown: str, chain: Chain, findings: list[Finding]) -> None:
    try:
        data = read_limited(path)
    except FileNotFoundError:
        findings.append(
            finding(Code.CERTIFICATE_FILE_MISSING, f"The key file {shown} does not exist.")
        )
        return
    except (OSError, ServerError) as exc:
        findings.append(_invalid(f"gmailfix cannot read the key file {shown}: {reason(exc)}."))
        return
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        findings.append(
            _invalid(
                f"The key in {shown} is protected by a passphrase; the mail server cannot use it."
            )
        )
        return
    except Exception:  # not a PEM key of a kind cryptography reads
        findings.append(_invalid(f"{shown} holds no private key the mail server can use."))
        return
    public = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    served = (
        chain.certs[0].public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    if public != served:
        findings.append(
            finding(
                Code.KEY_DOES_NOT_MATCH,
                f"{shown} is not the key of the first certificate in the certificate file.",
            )
        )


def _invalid(detail: str) -> Finding:
    return finding(Code.CERTIFICATE_FILE_INVALID, detail)


def _unreadable(root: Root, blocked: Path, shown: str, what: str, user: str) -> Finding:
    where = root.shown(blocked)
    try:
        found = blocked.stat()
        owner = f"{_user_name(found.st_uid)}:{_group_name(found.st_gid)}"
        mode = f"{stat.S_IMODE(found.st_mode):04o}"
    except OSError:
        owner, mode = "?", "?"
    if blocked == root.file(shown):
        why = f"The {what} file {shown} is {owner}, mode {mode}, so {user} cannot read it."
    else:
        why = (
            f"The folder {where} ({owner}, mode {mode}) does not let {user} in, so it cannot "
            f"read the {what} file {shown}."
        )
    fix = (
        f" Make the file group {_group_name_of(user)} with mode 0640 and its folders 0750 "
        "(the gmailfix deploy hook does this at every renewal)."
    )
    evidence = {"path": where, "mode": mode, "owner": owner, "user": user}
    return finding(Code.KEY_UNREADABLE_BY_MTA, why + fix, evidence=evidence)


def unreadable_part(root: Root, path: Path, user: str) -> Path | None:
    """The first folder ``user`` cannot enter on the way to ``path``, or ``path`` itself
    when it cannot read it; None when it can (or the user is unknown here: not judged).

    Symbolic links are followed as the kernel would, so certbot's live/ links to
    archive/ are judged on both folders.
    """
    ids = _ids(user)
    if ids is None or ids[0] == 0:
        return None
    uid, groups = ids
    for candidate in dict.fromkeys([path, Path(os.path.realpath(path))]):
        for folder in _folders_to(root, candidate):
            if not _allowed(folder, uid, groups, EXECUTE):
                return folder
        if not _allowed(candidate, uid, groups, READ):
            return candidate
    return None


def _folders_to(root: Root, path: Path) -> list[Path]:
    """The folders from the root down to ``path``'s folder (above the root is not the server's)."""
    folders = [p for p in reversed(path.parents)]
    return [f for f in folders if root.is_system or root.contains(f)]


def _allowed(path: Path, uid: int, groups: set[int], bit: int) -> bool:
    try:
        found = os.stat(path)
    except OSError:
        return True  # a missing part is reported as missing, not as unreadable
    mode = found.st_mode
    if found.st_uid == uid:
        return bool(mode & (bit << 6))
    if found.st_gid in groups:
        return bool(mode & (bit << 3))
    return bool(mode & bit)


def _ids(user: str) -> tuple[int, set[int]] | None:
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    groups = {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}
    return entry.pw_uid, groups


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _group_name_of(user: str) -> str:
    try:
        return _group_name(pwd.getpwnam(user).pw_gid)
    except KeyError:
        return user
