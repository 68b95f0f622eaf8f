"""Trust anchors: Mozilla's roots (certifi) and any ``--ca-file``."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.verification import Store

from gmailfix.certs.parse import Facts, Unreadable, read_facts, unreadable_words
from gmailfix.errors import InputError

# --- trust anchors --------------------------------------------------------------


class TrustStore:
    """Trust anchors: Mozilla's roots (certifi) plus any extra PEM files."""

    def __init__(self, extra: Sequence[x509.Certificate] = (), *, public: bool = True) -> None:
        self.roots: tuple[x509.Certificate, ...] = (
            *(_mozilla_roots() if public else ()),
            *extra,
        )
        self._store: Store | None = None
        self._by_subject: dict[x509.Name, list[x509.Certificate]] = {}
        for root in self.roots:
            self._by_subject.setdefault(root.subject, []).append(root)
        # Facts are read per subject when a chain asks: reading all of
        # Mozilla's roots up front was a quarter of a one-port diagnosis.
        self._facts: dict[x509.Name, list[Facts]] = {}
        self._by_der: dict[bytes, x509.Certificate] | None = None

    @classmethod
    def with_ca_files(cls, paths: Sequence[str | Path]) -> TrustStore:
        return cls([cert for path in paths for cert in load_pem_file(path)])

    def has_subject(self, name: x509.Name) -> bool:
        return name in self._by_subject

    @property
    def store(self) -> Store:
        """The roots as a cryptography ``Store`` (ValueError when there are none)."""
        if self._store is None:
            self._store = Store(list(self.roots))
        return self._store

    def pem(self) -> bytes:
        """All roots as PEM, e.g. for ``ssl.SSLContext.load_verify_locations(cadata=...)``."""
        return b"".join(root.public_bytes(Encoding.PEM) for root in self.roots)

    def anchors_named(self, name: x509.Name) -> list[Facts]:
        facts = self._facts.get(name)
        if facts is None:
            facts = self._facts[name] = []
            for root in self._by_subject.get(name, []):
                try:
                    facts.append(read_facts(root))
                except Unreadable:
                    continue  # an unreadable root anchors nothing
        return facts

    def is_anchor(self, der: bytes) -> bool:
        if self._by_der is None:
            self._by_der = {root.public_bytes(Encoding.DER): root for root in self.roots}
        root = self._by_der.get(der)
        return root is not None and any(f.der == der for f in self.anchors_named(root.subject))


@cache
def _mozilla_roots() -> tuple[x509.Certificate, ...]:
    with warnings.catch_warnings():
        # a few old roots carry negative serial numbers; they are still roots
        warnings.simplefilter("ignore")
        return tuple(x509.load_pem_x509_certificates(Path(certifi.where()).read_bytes()))


MAX_CA_FILE_BYTES = 16 * 1024 * 1024


def load_pem_file(path: str | Path) -> list[x509.Certificate]:
    """Certificates from a PEM file, or InputError with one readable line why not."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CA_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read CA file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_CA_FILE_BYTES:
        raise InputError(f"CA file {path} is larger than 16 MiB; it is not a PEM bundle")
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise InputError(f"CA file {path} holds no PEM certificate")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            certs = x509.load_pem_x509_certificates(data)
    except Exception as exc:  # any parse failure is the file's fault, not ours
        words = unreadable_words(exc)
        raise InputError(
            f"CA file {path} holds a certificate that cannot be read: {words}"
        ) from None
    for index, cert in enumerate(certs, 1):
        try:
            read_facts(cert)
        except Unreadable as exc:
            raise InputError(
                f"CA file {path}: certificate {index} cannot be used: {exc.words}"
            ) from None
    return certs
