"""A private key and CSR made locally, for people who do not let certbot make the key."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_key_and_csr(hosts: Sequence[str]) -> tuple[bytes, bytes]:
    """(private key PEM, CSR PEM) for ``hosts`` (ECDSA P-256, as Let's Encrypt issues)."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, csr.public_bytes(serialization.Encoding.PEM)


def write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` holding ``data`` with exactly ``mode``; never over or through a file.

    O_EXCL|O_NOFOLLOW: anything already at ``path`` -- a key the user keeps, or
    a symlink planted in a shared folder -- makes this raise FileExistsError
    before a byte is written anywhere. The mode is set on the open descriptor
    before the first byte, so the umask can neither widen nor narrow it. If
    writing fails the half-written file is removed.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, mode & 0o700)  # owner-only until fchmod says otherwise
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)  # a key that vanishes after a power cut would orphan its certificate
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Write a secret 0600 from the first byte; FileExistsError if anything is at ``path``.

    A private key is never replaced: the caller tells the user to move the old
    one away, because a certificate may already have been issued for it.
    """
    write_new(path, data, 0o600)
