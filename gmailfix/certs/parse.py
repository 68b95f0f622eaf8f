"""Reading certificates: every field read once, behind one guard (``read_facts``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtensionOID,
    NameOID,
)

from gmailfix.certs.model import CertInfo, Chain

_E = TypeVar("_E", bound=x509.ExtensionType)

MAX_CERTS = 32  # a server sending more is not sending a chain
TEXT_LIMIT = 512  # subject/issuer text kept for people to read

# Extensions clients process; any other marked critical makes them refuse the
# certificate (OpenSSL's list, v3_purp.c: "unhandled critical extension").
HANDLED_CRITICAL = frozenset(
    {
        "2.16.840.1.113730.1.1",  # Netscape certificate type
        ExtensionOID.KEY_USAGE.dotted_string,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME.dotted_string,
        ExtensionOID.BASIC_CONSTRAINTS.dotted_string,
        ExtensionOID.CERTIFICATE_POLICIES.dotted_string,
        ExtensionOID.CRL_DISTRIBUTION_POINTS.dotted_string,
        ExtensionOID.EXTENDED_KEY_USAGE.dotted_string,
        "1.3.6.1.5.5.7.1.7",  # IP address blocks (RFC 3779)
        "1.3.6.1.5.5.7.1.8",  # AS identifiers (RFC 3779)
        ExtensionOID.OCSP_NO_CHECK.dotted_string,
        ExtensionOID.POLICY_CONSTRAINTS.dotted_string,
        "1.3.6.1.5.5.7.1.14",  # proxy certificate info
        ExtensionOID.NAME_CONSTRAINTS.dotted_string,
        ExtensionOID.POLICY_MAPPINGS.dotted_string,
        ExtensionOID.INHIBIT_ANY_POLICY.dotted_string,
    }
)


# --- reading certificates: the one guard ---------------------------------------


class Unreadable(Exception):
    """A certificate cannot be read whole; ``words`` say why, ``raw`` how."""

    def __init__(self, words: str, raw: str) -> None:
        super().__init__(words)
        self.words = words
        self.raw = raw


@dataclass(frozen=True)
class Facts:
    """Everything the analysis reads from one certificate, read once, behind the guard."""

    cert: x509.Certificate
    der: bytes
    info: CertInfo
    subject: x509.Name
    issuer: x509.Name
    v1: bool
    ca: bool | None  # basicConstraints cA; None: no basicConstraints
    ca_critical: bool
    path_length: int | None
    usage: frozenset[str] | None  # keyUsage bits; None: no keyUsage
    extended_usage: frozenset[x509.ObjectIdentifier] | None
    permitted: tuple[str, ...] | None  # DNS name constraints; None: none permitted-listed
    excluded: tuple[str, ...]
    unhandled_critical: tuple[str, ...]
    san_dns: tuple[str, ...]
    has_san: bool
    san_critical: bool
    subject_empty: bool
    has_authority_key_id: bool
    common_names: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.info.subject or "(empty subject)"

    @property
    def self_issued(self) -> bool:
        return self.subject == self.issuer

    def valid_at(self, moment: dt.datetime) -> bool:
        return self.info.not_before <= moment <= self.info.not_after


def read_facts(cert: x509.Certificate) -> Facts:
    """All facts of one certificate, or Unreadable. Warnings never escape."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _read_fields(cert)
    except Unreadable:
        raise
    except Exception as exc:  # hostile input: whatever cryptography raises means "unreadable"
        raise Unreadable(unreadable_words(exc), raw_text(exc)) from None


def _read_fields(cert: x509.Certificate) -> Facts:
    der = cert.public_bytes(Encoding.DER)
    subject, issuer = cert.subject, cert.issuer
    extensions = cert.extensions
    constraints = extension(extensions, x509.BasicConstraints)
    usage_ext = extension(extensions, x509.KeyUsage)
    eku = extension(extensions, x509.ExtendedKeyUsage)
    san = extension(extensions, x509.SubjectAlternativeName)
    nc = extension(extensions, x509.NameConstraints)
    aia = extension(extensions, x509.AuthorityInformationAccess)
    san_dns = tuple(n.lower() for n in san.value.get_values_for_type(x509.DNSName)) if san else ()
    common_names = tuple(
        str(attr.value).lower() for attr in subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    )
    permitted, excluded = dns_constraints(nc.value if nc else None)
    info = CertInfo(
        subject=short_text(subject.rfc4514_string()),
        names=san_dns or common_names,
        issuer=short_text(issuer.rfc4514_string()),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        self_signed=subject == issuer and signed_by(cert, cert),
        sha256=hashlib.sha256(der).hexdigest(),
        ca_issuers=tuple(
            str(desc.access_location.value)
            for desc in (aia.value if aia else ())
            if desc.access_method == AuthorityInformationAccessOID.CA_ISSUERS
            and isinstance(desc.access_location, x509.UniformResourceIdentifier)
        ),
    )
    return Facts(
        cert=cert,
        der=der,
        info=info,
        subject=subject,
        issuer=issuer,
        v1=cert.version == x509.Version.v1,
        ca=constraints.value.ca if constraints else None,
        ca_critical=bool(constraints and constraints.critical),
        path_length=constraints.value.path_length if constraints else None,
        usage=usage_bits(usage_ext.value) if usage_ext else None,
        extended_usage=frozenset(eku.value) if eku else None,
        permitted=permitted,
        excluded=excluded,
        unhandled_critical=tuple(
            ext.oid.dotted_string
            for ext in extensions
            if ext.critical and ext.oid.dotted_string not in HANDLED_CRITICAL
        ),
        san_dns=san_dns,
        has_san=san is not None,
        san_critical=bool(san and san.critical),
        subject_empty=len(subject) == 0,
        has_authority_key_id=extension(extensions, x509.AuthorityKeyIdentifier) is not None,
        common_names=common_names,
    )


def extension(extensions: x509.Extensions, kind: type[_E]) -> x509.Extension[_E] | None:
    try:
        return extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None


# keyUsage bits by their cryptography argument names (the lab builds with the same)
USAGE_BITS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def usage_bits(usage: x509.KeyUsage) -> frozenset[str]:
    return frozenset(name for name in USAGE_BITS if getattr(usage, name))


def dns_constraints(
    nc: x509.NameConstraints | None,
) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """(permitted DNS subtrees or None, excluded DNS subtrees).

    Constraints of other kinds (IP addresses, directory names) are left to the
    strict verifier's second opinion, whose core rules apply them.
    """
    if nc is None:
        return None, ()
    permitted = [
        n.value.lower() for n in nc.permitted_subtrees or () if isinstance(n, x509.DNSName)
    ]
    excluded = [n.value.lower() for n in nc.excluded_subtrees or () if isinstance(n, x509.DNSName)]
    return (tuple(permitted) if permitted else None), tuple(excluded)


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cert.verify_directly_issued_by(issuer)
    except Exception:  # bad signature, unsupported or garbled key: not this issuer
        return False
    return True


def short_text(value: str) -> str:
    return value if len(value) <= TEXT_LIMIT else value[: TEXT_LIMIT - 1] + "…"


def raw_text(exc: BaseException) -> str:
    return short_text(f"{type(exc).__name__}: {exc}".replace("\n", " "))


def unreadable_words(exc: BaseException) -> str:
    """Plain words for why cryptography could not read a certificate."""
    if isinstance(exc, x509.InvalidVersion):
        return (
            f"it declares X.509 version {exc.parsed_version + 1}, which no CA issues (v3 is used)"
        )
    if isinstance(exc, x509.DuplicateExtension):
        return "it carries the same extension twice"
    if isinstance(exc, x509.UnsupportedGeneralNameType):
        return "it holds a name of a kind that cannot be read"
    text = str(exc).lower().replace("_", "")
    if "validity" in text or "utctime" in text or "generalizedtime" in text:
        return "its validity dates are not written in a valid format"
    for where, name in _GARBLED_EXTENSIONS:
        if where in text:
            return f"its {name} extension is garbled"
    if "extension" in text:
        return "one of its extensions is garbled"
    return "it is not a well-formed certificate"


# where cryptography's parse errors point (lower case, no underscores) -> the name people know
_GARBLED_EXTENSIONS = (
    ("subjectalternativename", "subjectAltName"),
    ("generalname", "subjectAltName"),
    ("2.5.29.17", "subjectAltName"),
    ("basicconstraints", "basicConstraints"),
    ("extendedkeyusage", "extendedKeyUsage"),
    ("keyusage", "keyUsage"),
    ("nameconstraints", "nameConstraints"),
    ("authorityinformationaccess", "authorityInfoAccess"),
)


def describe(cert: x509.Certificate) -> CertInfo | None:
    """The facts a person needs about one certificate; None when it cannot be read."""
    try:
        return read_facts(cert).info
    except Unreadable:
        return None


def parse_chain(der: Sequence[bytes]) -> Chain:
    """Read the chain a server sent. Never raises; no warning escapes."""
    blobs = tuple(bytes(item) for item in der)
    if not blobs:
        return Chain(blobs, (), (), "The server sent no certificate.")
    if len(blobs) > MAX_CERTS:
        return Chain(
            blobs,
            (),
            (),
            f"The server sent {len(blobs)} certificates; more than {MAX_CERTS} "
            "cannot be a certificate chain.",
        )
    facts: list[Facts] = []
    for index, blob in enumerate(blobs):
        try:
            facts.append(read_facts(_load_der(blob)))
        except Unreadable as exc:
            return Chain(blobs, (), (), f"{_which(index)} cannot be read: {exc.words}.", exc.raw)
    return Chain(blobs, tuple(f.cert for f in facts), tuple(f.info for f in facts), None)


def _load_der(blob: bytes) -> x509.Certificate:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return x509.load_der_x509_certificate(blob)
    except Exception as exc:  # hostile input: anything raised means "unreadable"
        raise Unreadable(unreadable_words(exc), raw_text(exc)) from None


def _which(index: int) -> str:
    return "The server's certificate" if index == 0 else f"Certificate {index + 1} the server sent"
