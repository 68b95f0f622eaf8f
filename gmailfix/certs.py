"""Certificate chain analysis: what is wrong with a presented chain, by what failed.

The probe captures the chain exactly as the server sent it (DER); this module
reads it once (``parse_chain``) and judges it for one host name
(``analyse_chain``).

How a verdict is reached, and why this way:

- Every read of a certificate field happens in ``_read``, behind one guard.
  cryptography parses lazily (``.extensions``, the dates, the names can raise
  long after loading) and warns about some encodings; a certificate that
  cannot be read whole is ``certificate-unparseable``, never an exception.
- The path from the leaf to a trust anchor is built here, by names and
  signatures, the way OpenSSL builds it (trusted roots first, then what the
  server sent). Each link is then checked as OpenSSL checks it (GnuTLS
  refuses the same): an issuer must be a CA allowed to sign certificates,
  valid now, within its path length and name constraints, and not restricted
  to other purposes than TLS servers; the leaf must be usable by a TLS
  server. Checking this ourselves is what lets each failure be named.
- Leaf dates and the host name are judged on their own, so a leaf that is
  both expired and for the wrong name gets both findings.
- ``cryptography.x509.verification`` (a strict Web PKI verifier) gives a
  second opinion on chains that pass. It is stricter than OpenSSL in a few
  *named* details (``QUIRKS``); when those alone make it refuse, the
  analysis carries a ``strict-verifier-only`` warning and the verdict stays
  good. Any other refusal counts as ``invalid-chain``: a refusal nobody has
  explained is not waved through. Which it is never depends on the
  verifier's words (they change between releases): a copy of the path with
  the quirks mended is verified again (``_mended_copy``).
- A missing intermediate is fetched from the leaf's AIA caIssuers URL (plain
  HTTP, RFC 5280) to prove the chain is only incomplete, within a deadline.

tests/test_differential_openssl.py compares these verdicts with
``openssl verify`` on generated chains.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    ExtensionOID,
    NameOID,
)
from cryptography.x509.verification import PolicyBuilder, Store

from gmailfix.errors import InputError
from gmailfix.findings.codes import Code

if TYPE_CHECKING:
    import httpx

Fetcher = Callable[[str, float], Awaitable[bytes | None]]
_E = TypeVar("_E", bound=x509.ExtensionType)

MAX_CERTS = 32  # a server sending more is not sending a chain
MAX_DEPTH = 8  # intermediates between a leaf and a root; real chains have 1-3
MAX_SIGNATURE_CHECKS = 200  # bounds path building over hostile, same-named certificates
MAX_AIA_FETCHES = 3
MAX_AIA_BYTES = 64 * 1024
MAX_REDIRECTS = 2
DEFAULT_AIA_SECONDS = 10.0  # when the caller gives no deadline
_TEXT_LIMIT = 512  # subject/issuer text kept for people to read

# The order in which a cause makes Gmail refuse, most basic first.
CAUSE_ORDER: tuple[Code, ...] = (
    Code.CERTIFICATE_UNPARSEABLE,
    Code.SELF_SIGNED,
    Code.UNTRUSTED_ROOT,
    Code.INCOMPLETE_CHAIN,
    Code.INVALID_CHAIN,
    Code.NOT_SERVER_CERTIFICATE,
    Code.EXPIRED,
    Code.NOT_YET_VALID,
    Code.HOSTNAME_MISMATCH,
    Code.STRICT_VERIFIER_ONLY,
)
# Problems that are about the chain itself rather than the leaf's dates or name.
_CHAIN_CODES = frozenset(
    {
        Code.CERTIFICATE_UNPARSEABLE,
        Code.SELF_SIGNED,
        Code.UNTRUSTED_ROOT,
        Code.INCOMPLETE_CHAIN,
        Code.INVALID_CHAIN,
        Code.NOT_SERVER_CERTIFICATE,
    }
)

# extendedKeyUsage values that let a certificate serve TLS (OpenSSL also takes
# the two old "server gated crypto" values in place of serverAuth)
_SERVER_EKUS = frozenset(
    {
        ExtendedKeyUsageOID.SERVER_AUTH,
        x509.ObjectIdentifier("2.16.840.1.113730.4.1"),
        x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    }
)
# keyUsage bits of which a TLS server certificate needs at least one
_SERVER_USAGES = ("digital_signature", "key_encipherment", "key_agreement")
# Extensions clients process; any other marked critical makes them refuse the
# certificate (OpenSSL's list, v3_purp.c: "unhandled critical extension").
_HANDLED_CRITICAL = frozenset(
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


# --- what a person sees ------------------------------------------------------


@dataclass(frozen=True)
class CertInfo:
    """The facts a person needs about one certificate, read once."""

    subject: str
    names: tuple[str, ...]  # DNS names: the SAN's, or the CN when the SAN has none; lower case
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    self_signed: bool
    sha256: str
    ca_issuers: tuple[str, ...]


@dataclass(frozen=True)
class Chain:
    """The chain exactly as the server sent it, parsed once."""

    der: tuple[bytes, ...]
    certs: tuple[x509.Certificate, ...]  # () when unparseable
    infos: tuple[CertInfo, ...]  # one per certificate; () when unparseable
    error: str | None  # plain words why it cannot be read, else None
    error_detail: str | None = None  # the parser's own words, for the evidence

    @property
    def leaf(self) -> CertInfo | None:
        return self.infos[0] if self.infos else None

    def __bool__(self) -> bool:
        """A chain is there when the server sent any certificate at all."""
        return bool(self.der)


NO_CHAIN = Chain((), (), (), None)


@dataclass(frozen=True)
class CertProblem:
    """One thing wrong with a chain, with the words for this very case."""

    code: Code
    detail: str  # plain words, e.g. "The intermediate 'CN=X' expired on 2026-01-02 10:00 UTC."
    evidence: Mapping[str, str] = field(default_factory=dict)  # raw technical detail


@dataclass(frozen=True)
class ChainAnalysis:
    """What is right and wrong with a presented chain, for one host name.

    ``problems`` holds every problem found, in ``CAUSE_ORDER``: the one that
    makes Gmail refuse comes first. A ``strict-verifier-only`` entry is a
    warning and never a cause. The booleans are read from ``problems`` here,
    in one place.
    """

    host: str
    chain: Chain
    problems: tuple[CertProblem, ...]
    missing_issuer: str | None = None  # subject of the intermediate the server does not send

    @property
    def leaf(self) -> CertInfo | None:
        return self.chain.leaf

    @property
    def codes(self) -> frozenset[Code]:
        return frozenset(problem.code for problem in self.problems)

    @property
    def cause(self) -> Code | None:
        """The finding code that makes Gmail refuse this certificate, or None."""
        return next((p.code for p in self.problems if p.code != Code.STRICT_VERIFIER_ONLY), None)

    @property
    def ok(self) -> bool:
        return self.cause is None

    @property
    def parsed(self) -> bool:
        return bool(self.chain.infos)

    @property
    def name_ok(self) -> bool:
        return self.parsed and Code.HOSTNAME_MISMATCH not in self.codes

    @property
    def trusted(self) -> bool:
        """Everything but the leaf's dates and name is right: Gmail would accept the chain."""
        return self.parsed and not (self.codes & _CHAIN_CODES)

    @property
    def expired(self) -> bool:
        return Code.EXPIRED in self.codes

    @property
    def not_yet_valid(self) -> bool:
        return Code.NOT_YET_VALID in self.codes

    @property
    def self_signed(self) -> bool:
        return self.leaf is not None and self.leaf.self_signed

    @property
    def incomplete_chain(self) -> bool:
        return Code.INCOMPLETE_CHAIN in self.codes


# --- reading certificates: the one guard ---------------------------------------


class _Unreadable(Exception):
    """A certificate cannot be read whole; ``words`` say why, ``raw`` how."""

    def __init__(self, words: str, raw: str) -> None:
        super().__init__(words)
        self.words = words
        self.raw = raw


@dataclass(frozen=True)
class _Facts:
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


def _read(cert: x509.Certificate) -> _Facts:
    """All facts of one certificate, or _Unreadable. Warnings never escape."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _read_fields(cert)
    except _Unreadable:
        raise
    except Exception as exc:  # hostile input: whatever cryptography raises means "unreadable"
        raise _Unreadable(_unreadable_words(exc), _raw(exc)) from None


def _read_fields(cert: x509.Certificate) -> _Facts:
    der = cert.public_bytes(Encoding.DER)
    subject, issuer = cert.subject, cert.issuer
    extensions = cert.extensions
    constraints = _extension(extensions, x509.BasicConstraints)
    usage_ext = _extension(extensions, x509.KeyUsage)
    eku = _extension(extensions, x509.ExtendedKeyUsage)
    san = _extension(extensions, x509.SubjectAlternativeName)
    nc = _extension(extensions, x509.NameConstraints)
    aia = _extension(extensions, x509.AuthorityInformationAccess)
    san_dns = tuple(n.lower() for n in san.value.get_values_for_type(x509.DNSName)) if san else ()
    common_names = tuple(
        str(attr.value).lower() for attr in subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    )
    permitted, excluded = _dns_constraints(nc.value if nc else None)
    info = CertInfo(
        subject=_text(subject.rfc4514_string()),
        names=san_dns or common_names,
        issuer=_text(issuer.rfc4514_string()),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        self_signed=subject == issuer and _signed_by(cert, cert),
        sha256=hashlib.sha256(der).hexdigest(),
        ca_issuers=tuple(
            str(desc.access_location.value)
            for desc in (aia.value if aia else ())
            if desc.access_method == AuthorityInformationAccessOID.CA_ISSUERS
            and isinstance(desc.access_location, x509.UniformResourceIdentifier)
        ),
    )
    return _Facts(
        cert=cert,
        der=der,
        info=info,
        subject=subject,
        issuer=issuer,
        v1=cert.version == x509.Version.v1,
        ca=constraints.value.ca if constraints else None,
        ca_critical=bool(constraints and constraints.critical),
        path_length=constraints.value.path_length if constraints else None,
        usage=_usage_bits(usage_ext.value) if usage_ext else None,
        extended_usage=frozenset(eku.value) if eku else None,
        permitted=permitted,
        excluded=excluded,
        unhandled_critical=tuple(
            ext.oid.dotted_string
            for ext in extensions
            if ext.critical and ext.oid.dotted_string not in _HANDLED_CRITICAL
        ),
        san_dns=san_dns,
        has_san=san is not None,
        san_critical=bool(san and san.critical),
        subject_empty=len(subject) == 0,
        has_authority_key_id=_extension(extensions, x509.AuthorityKeyIdentifier) is not None,
        common_names=common_names,
    )


def _extension(extensions: x509.Extensions, kind: type[_E]) -> x509.Extension[_E] | None:
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


def _usage_bits(usage: x509.KeyUsage) -> frozenset[str]:
    return frozenset(name for name in USAGE_BITS if getattr(usage, name))


def _dns_constraints(
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


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cert.verify_directly_issued_by(issuer)
    except Exception:  # bad signature, unsupported or garbled key: not this issuer
        return False
    return True


def _text(value: str) -> str:
    return value if len(value) <= _TEXT_LIMIT else value[: _TEXT_LIMIT - 1] + "…"


def _raw(exc: BaseException) -> str:
    return _text(f"{type(exc).__name__}: {exc}".replace("\n", " "))


def _unreadable_words(exc: BaseException) -> str:
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
        return _read(cert).info
    except _Unreadable:
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
    facts: list[_Facts] = []
    for index, blob in enumerate(blobs):
        try:
            facts.append(_read(_load_der(blob)))
        except _Unreadable as exc:
            return Chain(blobs, (), (), f"{_which(index)} cannot be read: {exc.words}.", exc.raw)
    return Chain(blobs, tuple(f.cert for f in facts), tuple(f.info for f in facts), None)


def _load_der(blob: bytes) -> x509.Certificate:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return x509.load_der_x509_certificate(blob)
    except Exception as exc:  # hostile input: anything raised means "unreadable"
        raise _Unreadable(_unreadable_words(exc), _raw(exc)) from None


def _which(index: int) -> str:
    return "The server's certificate" if index == 0 else f"Certificate {index + 1} the server sent"


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
        self._facts: dict[x509.Name, list[_Facts]] = {}
        self._by_der: dict[bytes, x509.Certificate] | None = None

    @classmethod
    def with_ca_files(cls, paths: Sequence[str | Path]) -> TrustStore:
        return cls([cert for path in paths for cert in load_pem_file(path)])

    def has_subject(self, name: x509.Name) -> bool:
        return name in self._by_subject

    def roots_named(self, name: x509.Name) -> list[x509.Certificate]:
        return self._by_subject.get(name, [])

    @property
    def store(self) -> Store:
        """The roots as a cryptography ``Store`` (ValueError when there are none)."""
        if self._store is None:
            self._store = Store(list(self.roots))
        return self._store

    def pem(self) -> bytes:
        """All roots as PEM, e.g. for ``ssl.SSLContext.load_verify_locations(cadata=...)``."""
        return b"".join(root.public_bytes(Encoding.PEM) for root in self.roots)

    def anchors_named(self, name: x509.Name) -> list[_Facts]:
        facts = self._facts.get(name)
        if facts is None:
            facts = self._facts[name] = []
            for root in self._by_subject.get(name, []):
                try:
                    facts.append(_read(root))
                except _Unreadable:
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
        words = _unreadable_words(exc)
        raise InputError(
            f"CA file {path} holds a certificate that cannot be read: {words}"
        ) from None
    for index, cert in enumerate(certs, 1):
        try:
            _read(cert)
        except _Unreadable as exc:
            raise InputError(
                f"CA file {path}: certificate {index} cannot be used: {exc.words}"
            ) from None
    return certs


# --- names --------------------------------------------------------------------


def name_matches(host: str, patterns: Sequence[str]) -> bool:
    """RFC 6125 host name match: exact, or a wildcard for exactly the leftmost label.

    Partial wildcards (``m*.example.com``) never match: RFC 9525 and the CA/B
    Forum forbid them and strict clients refuse them.
    """
    host = host.lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower().rstrip(".")
        if pattern == host:
            return True
        if pattern.startswith("*.") and "*" not in pattern[2:]:
            first, _, rest = host.partition(".")
            if first and rest == pattern[2:] and rest.count(".") >= 1:
                return True
    return False


def _within(name: str, base: str) -> bool:
    """Is DNS ``name`` inside the name-constraint subtree ``base``? (OpenSSL's nc_dns)

    ``example.com`` covers itself and every name under it; ``.example.com``
    only the names under it. A wildcard name is compared as written.
    """
    if not base:
        return True
    if base.startswith("."):
        return name.endswith(base) or name == base
    return name == base or name.endswith("." + base)


def _wildcard_reaches(pattern: str, base: str) -> bool:
    """Does a name that ``pattern`` (``*.rest``) covers, ``label.rest``, fall inside ``base``?

    OpenSSL compares the wildcard as written and misses this: ``*.example.com``
    is not "under" an excluded ``mail.example.com``, yet it covers that name.
    """
    label, _, parent = base.partition(".")
    return pattern.startswith("*.") and bool(label) and "*" not in label and parent == pattern[2:]


def _constraint_violation(names: Sequence[str], issuer: _Facts) -> str | None:
    """The first name outside what ``issuer`` may certify, with why; None if all are allowed.

    A name with a ``*`` anywhere but as the whole leftmost label (``m*.a.test``)
    is no DNS name at all, so no constraint can be checked against it: strict
    verifiers refuse it, where OpenSSL compares the text as written.
    """
    for name in names:
        if "*" in name and not (name.startswith("*.") and "*" not in name[2:]):
            return f"{name} (not a valid DNS name, so the constraints cannot be checked)"
        for base in issuer.excluded:
            if _within(name, base) or _wildcard_reaches(name, base):
                return f"{name} (excluded: {base})"
        if issuer.permitted is not None and not any(_within(name, b) for b in issuer.permitted):
            return f"{name} (permitted only: {', '.join(issuer.permitted)})"
    return None


def _hostname_like(value: str) -> bool:
    labels = value.split(".")
    return len(labels) > 1 and all(
        label and all(c.isascii() and (c.isalnum() or c in "-_") for c in label) for label in labels
    )


# --- building the path ------------------------------------------------------------


@dataclass
class _Search:
    """Path building state: the pool of untrusted certificates and a signature budget."""

    pool: list[_Facts]
    trust: TrustStore
    budget: int = MAX_SIGNATURE_CHECKS
    deepest: tuple[_Facts, ...] = ()

    def signed(self, child: _Facts, parent: _Facts) -> bool:
        if self.budget <= 0:
            return False
        self.budget -= 1
        return _signed_by(child.cert, parent.cert)

    def issuers(
        self, child: _Facts, path: tuple[_Facts, ...], now: dt.datetime
    ) -> Iterator[tuple[_Facts, bool]]:
        """Candidate issuers, (facts, is anchor): trusted roots first, as OpenSSL does,
        then what the server sent, those valid now first."""
        for anchor in self.trust.anchors_named(child.issuer):
            if self.signed(child, anchor):
                yield anchor, True
        sent = [f for f in self.pool if f.subject == child.issuer and f not in path]
        sent.sort(key=lambda f: not f.valid_at(now))
        for parent in sent:
            if self.signed(child, parent):
                yield parent, False

    def paths(self, leaf: _Facts, now: dt.datetime) -> Iterator[tuple[_Facts, ...]]:
        """Every path from ``leaf`` to a trust anchor, best guesses first."""
        if self.trust.is_anchor(leaf.der):
            yield (leaf,)
            return
        if leaf.info.self_signed:
            return  # a self-signed leaf is trusted only as itself
        yield from self._extend((leaf,), now)

    def _extend(self, path: tuple[_Facts, ...], now: dt.datetime) -> Iterator[tuple[_Facts, ...]]:
        if len(path) > len(self.deepest):
            self.deepest = path
        if len(path) > MAX_DEPTH + 1:
            return
        for parent, anchor in self.issuers(path[-1], path, now):
            if anchor:
                yield (*path, parent)
            elif not parent.info.self_signed:
                yield from self._extend((*path, parent), now)
            elif len(path) + 1 > len(self.deepest):
                self.deepest = (*path, parent)  # a root the server sent that we do not trust


# --- checking a path --------------------------------------------------------------


def _when(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _role(index: int, path: Sequence[_Facts]) -> str:
    if index == 0:
        return "The server's certificate"
    if index == len(path) - 1:
        return f"The root '{path[index].label}'"
    return f"The intermediate '{path[index].label}'"


def _issuer_problems(path: Sequence[_Facts], now: dt.datetime) -> list[CertProblem]:
    """What makes clients refuse this path above the leaf (OpenSSL's checks, in its words)."""
    problems: list[CertProblem] = []

    def add(index: int, words: str, why: str) -> None:
        problems.append(
            CertProblem(
                Code.INVALID_CHAIN,
                f"{_role(index, path)} {words}",
                {"certificate": path[index].info.subject, "check": why},
            )
        )

    top = len(path) - 1
    below = 0  # non-self-issued intermediates between the leaf and the certificate at hand
    for index in range(1, len(path)):
        facts = path[index]
        if facts.usage is not None and "key_cert_sign" not in facts.usage:
            add(
                index,
                "is not allowed to sign certificates (its keyUsage lacks keyCertSign).",
                "keyUsage",
            )
        if facts.ca is False:
            add(
                index,
                "is not a CA certificate (basicConstraints CA:FALSE), yet it signed the "
                "certificate below it.",
                "basicConstraints",
            )
        elif facts.ca is None and not (
            index == top and ((facts.v1 and facts.info.self_signed) or facts.usage is not None)
        ):
            add(
                index,
                "is not marked as a CA (it has no basicConstraints), yet it signed the "
                "certificate below it.",
                "basicConstraints",
            )
        if facts.extended_usage is not None and not facts.extended_usage & _SERVER_EKUS:
            add(
                index,
                "may only issue certificates for other uses than TLS servers "
                "(its extendedKeyUsage lacks serverAuth).",
                "extendedKeyUsage",
            )
        if now > facts.info.not_after:
            add(index, f"expired on {_when(facts.info.not_after)}.", "expired")
        elif now < facts.info.not_before:
            add(index, f"is not valid until {_when(facts.info.not_before)}.", "not yet valid")
        if index > 1 and facts.path_length is not None and below > facts.path_length:
            add(
                index,
                f"allows at most {facts.path_length} intermediate(s) below it "
                f"(pathLenConstraint); this chain has {below}.",
                "path length",
            )
        if not facts.self_issued:
            below += 1
        violation = _names_below(path, index)
        if violation:
            add(index, f"may not certify {violation} (name constraints).", "name constraints")
        if facts.unhandled_critical:
            add(
                index,
                "marks an extension critical that clients do not process "
                f"({', '.join(facts.unhandled_critical)}).",
                "critical extension",
            )
    return problems


def _names_below(path: Sequence[_Facts], index: int) -> str | None:
    """The first name below ``path[index]`` that its DNS name constraints forbid."""
    issuer = path[index]
    if issuer.permitted is None and not issuer.excluded:
        return None
    for lower in range(index):
        facts = path[lower]
        if lower and facts.self_issued:
            continue
        names = list(facts.san_dns)
        if lower == 0 and not names:
            names = [cn for cn in facts.common_names if _hostname_like(cn)]
        violation = _constraint_violation(names, issuer)
        if violation:
            return violation
    return None


def _leaf_problems(leaf: _Facts, host: str, now: dt.datetime) -> list[CertProblem]:
    """What is wrong with the leaf itself: its purpose, dates and names."""
    out: list[CertProblem] = []
    evidence = {"certificate": leaf.info.subject}
    if leaf.extended_usage is not None and not leaf.extended_usage & _SERVER_EKUS:
        usages = ", ".join(sorted(_eku_name(oid) for oid in leaf.extended_usage)) or "nothing"
        out.append(
            CertProblem(
                Code.NOT_SERVER_CERTIFICATE,
                f"The server's certificate is not made for a TLS server: its extendedKeyUsage "
                f"allows only {usages}, not serverAuth.",
                {**evidence, "extendedKeyUsage": usages},
            )
        )
    if leaf.usage is not None and not any(bit in leaf.usage for bit in _SERVER_USAGES):
        bits = ", ".join(sorted(leaf.usage)) or "nothing"
        out.append(
            CertProblem(
                Code.NOT_SERVER_CERTIFICATE,
                "The server's certificate is not made for a TLS server: its keyUsage allows "
                f"only {bits}, none of digitalSignature, keyEncipherment or keyAgreement.",
                {**evidence, "keyUsage": bits},
            )
        )
    if leaf.unhandled_critical:
        oids = ", ".join(leaf.unhandled_critical)
        out.append(
            CertProblem(
                Code.INVALID_CHAIN,
                f"The server's certificate marks an extension critical that clients do not "
                f"process ({oids}).",
                {**evidence, "check": "critical extension", "extensions": oids},
            )
        )
    if now > leaf.info.not_after:
        out.append(
            CertProblem(
                Code.EXPIRED,
                f"The server's certificate expired on {_when(leaf.info.not_after)}.",
                {**evidence, "not_after": leaf.info.not_after.isoformat()},
            )
        )
    elif now < leaf.info.not_before:
        out.append(
            CertProblem(
                Code.NOT_YET_VALID,
                f"The server's certificate is not valid until {_when(leaf.info.not_before)}.",
                {**evidence, "not_before": leaf.info.not_before.isoformat()},
            )
        )
    if not name_matches(host, leaf.info.names):
        shown = ", ".join(leaf.info.names[:10])
        more = f" and {len(leaf.info.names) - 10} more" if len(leaf.info.names) > 10 else ""
        words = f"is for {shown}{more}, not for {host}" if shown else "names no host at all"
        out.append(
            CertProblem(
                Code.HOSTNAME_MISMATCH,
                f"The server's certificate {words}.",
                {**evidence, "names": ", ".join(leaf.info.names), "host": host},
            )
        )
    return out


def _eku_name(oid: x509.ObjectIdentifier) -> str:
    name = oid._name  # cryptography's short name, e.g. "clientAuth"
    return oid.dotted_string if name == "Unknown OID" else name


# --- the strict verifier's second opinion ----------------------------------------
#
# The verifier's refusals are never read: whether a refusal is only a named quirk
# is decided by verifying again a copy of the path in which the quirks the
# certificates show (facts read by ``_read``) are mended. The copy keeps every
# other field, and each re-signed certificate a key of the same kind and size
# and a signature of the same algorithm, so any other rule the real path breaks
# the copy breaks too. Its message is kept as evidence for people, nothing more.

_Extensions = dict[x509.ObjectIdentifier, x509.Extension[x509.ExtensionType]]


@dataclass(frozen=True)
class Quirk:
    """A detail for which the strict verifier refuses what OpenSSL accepts.

    ``shown`` reads the quirk from a path's facts (leaf first, trust anchor
    last); ``mend`` rewrites the copy's extensions, certificate by certificate,
    as a certificate without the quirk would have them.
    """

    name: str
    words: str
    shown: Callable[[Sequence[_Facts]], bool]
    mend: Callable[[list[_Extensions]], None]


def _put(exts: _Extensions, value: x509.ExtensionType, critical: bool) -> None:
    exts[value.oid] = x509.Extension(value.oid, critical, value)


def _critical(
    oid: x509.ObjectIdentifier, critical: bool, which: slice
) -> Callable[[list[_Extensions]], None]:
    def mend(path: list[_Extensions]) -> None:
        for exts in path[which]:
            if oid in exts:
                _put(exts, exts[oid].value, critical)

    return mend


def _leaf_not_ca(path: list[_Extensions]) -> None:
    _put(path[0], x509.BasicConstraints(ca=False, path_length=None), True)


def _leaf_usage_without_cert_sign(path: list[_Extensions]) -> None:
    usage = path[0][ExtensionOID.KEY_USAGE]
    value = usage.value
    assert isinstance(value, x509.KeyUsage)
    bits = {name: bool(getattr(value, name)) for name in USAGE_BITS}
    bits["key_cert_sign"] = bits["crl_sign"] = False
    agreement = bits["key_agreement"]
    only = {
        "encipher_only": agreement and value.encipher_only,
        "decipher_only": agreement and value.decipher_only,
    }
    _put(path[0], x509.KeyUsage(**bits, **only), usage.critical)


def _leaf_with_aki(path: list[_Extensions]) -> None:
    # a placeholder that marks the leaf changed: _mended_copy writes the real one,
    # which names the issuer's key in the copy
    _put(path[0], x509.AuthorityKeyIdentifier(b"\0" * 20, None, None), False)


def _ca_usage(path: list[_Extensions]) -> None:
    usage = x509.KeyUsage(True, False, False, False, False, True, True, False, False)
    for exts in path[1:]:
        if ExtensionOID.KEY_USAGE not in exts:
            _put(exts, usage, True)


def _root_constraints(path: list[_Extensions]) -> None:
    if ExtensionOID.BASIC_CONSTRAINTS not in path[-1]:
        _put(path[-1], x509.BasicConstraints(ca=True, path_length=None), True)


def _undotted(path: list[_Extensions]) -> None:
    """A leading-dot DNS constraint as OpenSSL reads it, no wider: permitted
    '.a.test' becomes 'a.test' (never refuses more), an excluded one is dropped
    (ours, ``_constraint_violation``, already applied it)."""
    for exts in path[1:]:
        nc = exts.get(ExtensionOID.NAME_CONSTRAINTS)
        if nc is None:
            continue
        value = nc.value
        assert isinstance(value, x509.NameConstraints)

        def dotted(n: x509.GeneralName) -> bool:
            return isinstance(n, x509.DNSName) and n.value.startswith(".")

        permitted = [
            x509.DNSName(n.value[1:]) if dotted(n) else n for n in value.permitted_subtrees or ()
        ]
        excluded = [n for n in value.excluded_subtrees or () if not dotted(n)]
        _put(exts, x509.NameConstraints(permitted or None, excluded or None), nc.critical)


def _has_dotted_constraint(path: Sequence[_Facts]) -> bool:
    return any(b.startswith(".") for f in path[1:] for b in (*(f.permitted or ()), *f.excluded))


_SAN = ExtensionOID.SUBJECT_ALTERNATIVE_NAME
_BC = ExtensionOID.BASIC_CONSTRAINTS

QUIRKS: Mapping[str, Quirk] = {
    q.name: q
    for q in (
        Quirk(
            "critical-san",
            "the server's certificate marks its subjectAltName critical although its subject "
            "is not empty",
            lambda p: p[0].has_san and p[0].san_critical and not p[0].subject_empty,
            _critical(_SAN, False, slice(0, 1)),
        ),
        Quirk(
            "noncritical-san-empty-subject",
            "the server's certificate has an empty subject and a subjectAltName not marked "
            "critical",
            lambda p: p[0].has_san and not p[0].san_critical and p[0].subject_empty,
            _critical(_SAN, True, slice(0, 1)),
        ),
        Quirk(
            "cn-only",
            "the server's certificate names its host only in the subject's common name, "
            "with no DNS subjectAltName",
            lambda p: not p[0].san_dns,
            lambda path: None,  # judged apart: the verifier cannot name-check such a leaf
        ),
        Quirk(
            "leaf-without-aki",
            "the server's certificate has no authorityKeyIdentifier",
            lambda p: not p[0].has_authority_key_id,
            _leaf_with_aki,
        ),
        Quirk(
            "leaf-marked-ca",
            "the server's certificate is itself marked as a CA (basicConstraints CA:TRUE)",
            lambda p: bool(p[0].ca),
            _leaf_not_ca,
        ),
        Quirk(
            "leaf-keycertsign",
            "the server's certificate's keyUsage also allows signing certificates",
            lambda p: p[0].usage is not None and "key_cert_sign" in p[0].usage,
            _leaf_usage_without_cert_sign,
        ),
        Quirk(
            "ca-constraints-not-critical",
            "a CA certificate in the chain does not mark basicConstraints critical",
            lambda p: any(f.ca is not None and not f.ca_critical for f in p[1:]),
            _critical(_BC, True, slice(1, None)),
        ),
        Quirk(
            "ca-without-keyusage",
            "a CA certificate in the chain has no keyUsage extension",
            lambda p: any(f.usage is None for f in p[1:]),
            _ca_usage,
        ),
        Quirk(
            "root-without-constraints",
            "the root has no basicConstraints extension",
            lambda p: len(p) > 1 and p[-1].ca is None,
            _root_constraints,
        ),
        Quirk(
            "dotted-name-constraint",
            "a name constraint is written with a leading dot ('.example.com')",
            _has_dotted_constraint,
            _undotted,
        ),
    )
}


def _quirks_present(path: Sequence[_Facts]) -> list[str]:
    """The named quirks this path shows (facts only; re-verifying decides if they matter)."""
    return [name for name, quirk in QUIRKS.items() if quirk.shown(path)]


@dataclass(frozen=True)
class StrictCheck:
    """One run of the strict verifier: what it was given, and whether it accepted.

    ``refusal`` is the verifier's own text, kept only to show people; no
    decision reads it.
    """

    leaf: x509.Certificate
    intermediates: tuple[x509.Certificate, ...]
    anchors: Store
    name: str
    moment: dt.datetime
    accepted: bool
    refusal: str


def strict_verify(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Store,
    name: str,
    moment: dt.datetime,
) -> None:
    """cryptography's Web PKI verifier for a TLS server; raises when it refuses.

    The one call of the verifier (tests replace its messages with noise to
    prove that no decision reads them).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        verifier = (
            PolicyBuilder().store(anchors).time(moment).build_server_verifier(x509.DNSName(name))
        )
        verifier.verify(leaf, list(intermediates))


def _check(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Store,
    name: str,
    moment: dt.datetime,
) -> StrictCheck:
    try:
        strict_verify(leaf, intermediates, anchors, name, moment)
    except Exception as exc:  # VerificationError, and anything a hostile chain provokes
        text = _text(str(exc).replace("\n", " ")) or type(exc).__name__
        return StrictCheck(leaf, tuple(intermediates), anchors, name, moment, False, text)
    return StrictCheck(leaf, tuple(intermediates), anchors, name, moment, True, "")


def _moment(path: Sequence[_Facts], now: dt.datetime) -> dt.datetime | None:
    """A moment at which every certificate of the path is within its dates: ``now`` when
    it is, else the nearest; None when there is none. Dates are judged apart, at ``now``."""
    start = max(f.info.not_before for f in path)
    end = min(f.info.not_after for f in path)
    return None if start > end else min(max(now, start), end)


def _covered_name(host: str, leaf: _Facts) -> str | None:
    """A concrete DNS name the leaf covers: the host when it matches, else one of its names.

    The name is judged apart (``_leaf_problems``): the verifier gets a name it
    must find among the leaf's own subjectAltNames."""
    if name_matches(host, leaf.info.names):
        return host.lower().rstrip(".")
    for name in leaf.san_dns:
        concrete = "wildcard-check" + name[1:] if name.startswith("*.") else name
        if _hostname_like(concrete):
            return concrete
    return None


def _second_opinion(
    path: Sequence[_Facts], trust: TrustStore, now: dt.datetime, host: str
) -> CertProblem | None:
    """The strict verifier on a chain our checks pass: None, a quirk warning, or invalid-chain.

    When it refuses the path as it is, it is asked again about copies in which
    the quirks the path shows are mended: a refusal that a mended copy does
    not get is the quirks' alone (a warning); any other is ``invalid-chain``.
    """
    if len(path) == 1:
        return None  # a pinned leaf: no CA, no Web PKI rule to apply
    present = _quirks_present(path)
    if "cn-only" in present:
        # the verifier cannot judge a leaf without a DNS SAN at all; ours matched its CN
        return _quirk_problem(["cn-only"], "") if name_matches(host, path[0].info.names) else None
    name = _covered_name(host, path[0])
    moment = _moment(path, now)
    if name is None or moment is None:
        return None
    real = _check(path[0].cert, [f.cert for f in path[1:-1]], trust.store, name, moment)
    if real.accepted:
        return None
    if present and _mended_accepted(path, present, name, moment):
        needed = [
            q
            for q in present
            if not _mended_accepted(path, [p for p in present if p != q], name, moment)
        ]
        return _quirk_problem(needed or present, real.refusal)
    return _strict_problem(path, real.refusal)


def _mended_accepted(
    path: Sequence[_Facts], quirks: Sequence[str], name: str, moment: dt.datetime
) -> bool:
    copy = _mended_copy(path, quirks)
    if copy is None:
        return False
    leaf, intermediates, anchor = copy
    return _check(leaf, intermediates, Store([anchor]), name, moment).accepted


def _mended_copy(
    path: Sequence[_Facts], quirks: Sequence[str]
) -> tuple[x509.Certificate, list[x509.Certificate], x509.Certificate] | None:
    """The path with these quirks mended, re-signed where it must be; None if it cannot be.

    The lowest certificate that changes keeps its own public key (so whatever
    it signed still verifies) and is signed anew; every certificate above it
    gets a fresh key like its own. The trust anchor is re-signed whenever
    anything changes, so a copy is never anchored to a real root.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            original = [{e.oid: e for e in f.cert.extensions} for f in path]
            mended = [dict(exts) for exts in original]
            for q in quirks:
                QUIRKS[q].mend(mended)
            changed = [i for i, (a, b) in enumerate(zip(original, mended, strict=True)) if a != b]
            lowest = min(changed, default=len(path) - 1)
            lowest = min(lowest, len(path) - 2)
            keys: dict[int, _PrivateKey] = {}
            for index in range(len(path) - 1, lowest, -1):
                key = _fresh_key(path[index].cert.public_key(), index)
                if key is None:
                    return None
                keys[index] = key
            certs = [f.cert for f in path]
            for index in range(len(path) - 1, lowest - 1, -1):
                fact = path[index]
                public = keys[index].public_key() if index in keys else fact.cert.public_key()
                signer = keys[min(index + 1, len(path) - 1)]
                exts = mended[index]
                if index == 0 and "leaf-without-aki" in quirks:
                    _put(exts, _authority_key_id(mended[1], keys[1]), False)
                certs[index] = _resigned(fact.cert, public, exts.values(), signer)
    except Exception:  # a field the builder will not copy (a hostile serial, an odd key)
        return None
    return certs[0], certs[1:-1], certs[-1]


_PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)


def _fresh_key(like: object, slot: int) -> _PrivateKey | None:
    """A new key of the same kind and size as ``like``, cached by kind and ``slot`` (a
    place in a path), so that mending costs a key generation once per process."""
    if isinstance(like, rsa.RSAPublicKey):
        exponent = like.public_numbers().e
        return _rsa_key(like.key_size, exponent if exponent in (3, 65537) else 65537, slot)
    if isinstance(like, ec.EllipticCurvePublicKey):
        return _ec_key(type(like.curve), slot)
    if isinstance(like, ed25519.Ed25519PublicKey):
        return _ed_key(ed25519.Ed25519PrivateKey, slot)
    if isinstance(like, ed448.Ed448PublicKey):
        return _ed_key(ed448.Ed448PrivateKey, slot)
    return None  # DSA and rarer kinds: no copy; the refusal then stands


@cache
def _rsa_key(size: int, exponent: int, slot: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=exponent, key_size=size)


@cache
def _ec_key(curve: type[ec.EllipticCurve], slot: int) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve())


@cache
def _ed_key(
    kind: type[ed25519.Ed25519PrivateKey] | type[ed448.Ed448PrivateKey], slot: int
) -> ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey:
    return kind.generate()


def _resigned(
    cert: x509.Certificate,
    public: object,
    extensions: Iterable[x509.Extension[x509.ExtensionType]],
    signer: _PrivateKey,
) -> x509.Certificate:
    """``cert`` with these extensions and this key, signed by ``signer`` as it was signed."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(cert.issuer)
        .public_key(public)  # type: ignore[arg-type]
        .serial_number(cert.serial_number)
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
    )
    for ext in extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    hash_algorithm = cert.signature_hash_algorithm
    padding = cert.signature_algorithm_parameters
    if isinstance(signer, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return builder.sign(signer, None)
    if isinstance(signer, rsa.RSAPrivateKey) and isinstance(padding, asym_padding.PSS):
        return builder.sign(signer, hash_algorithm, rsa_padding=padding)  # type: ignore[arg-type]
    return builder.sign(signer, hash_algorithm)  # type: ignore[arg-type]


def _authority_key_id(issuer: _Extensions, key: _PrivateKey) -> x509.AuthorityKeyIdentifier:
    """What a CA would write in the leaf for this issuer: its subjectKeyIdentifier."""
    ski = issuer.get(ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    if ski is not None and isinstance(ski.value, x509.SubjectKeyIdentifier):
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key())


def _weakness(path: Sequence[_Facts]) -> str | None:
    """Plain words for the refusals met in practice, from the certificates' own facts."""
    for index, fact in enumerate(path):
        key = fact.cert.public_key()
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
            whose = "the server's" if index == 0 else "an issuer's"
            return f"{whose} RSA key is too short ({key.key_size} bits, under 2048)"
    for fact in path[:-1]:  # a trust anchor's own signature is not checked
        try:
            algorithm = fact.cert.signature_hash_algorithm
        except Exception:  # an algorithm cryptography does not know
            return "a certificate is signed with an algorithm that is not accepted"
        if isinstance(algorithm, hashes.SHA1 | hashes.MD5):
            return (
                f"a certificate is signed with {algorithm.name.upper()}, an algorithm that is "
                "no longer accepted"
            )
    return None


def _strict_problem(path: Sequence[_Facts], refusal: str) -> CertProblem:
    words = _weakness(path)
    detail = (
        f"The chain breaks a rule that TLS clients enforce: {words}."
        if words
        else f"The chain breaks a rule that strict TLS clients enforce ({refusal})."
    )
    return CertProblem(Code.INVALID_CHAIN, detail, {"verifier": refusal})


def _quirk_problem(quirks: Sequence[str], refusal: str) -> CertProblem:
    words = "; ".join(QUIRKS[q].words for q in quirks)
    return CertProblem(
        Code.STRICT_VERIFIER_ONLY,
        f"A strict certificate verifier refuses this chain because {words}. OpenSSL "
        "accepts that, so it is a warning, not a reason for Gmail to refuse.",
        {"quirks": ", ".join(quirks), "verifier": refusal},
    )


# --- the analysis --------------------------------------------------------------------


async def analyse_chain(
    chain: Chain,
    host: str,
    *,
    trust: TrustStore,
    now: dt.datetime,
    fetch: Fetcher | None = None,
    deadline: float | None = None,
) -> ChainAnalysis:
    """Judge the chain a server presented for ``host`` (the name exactly as typed in Gmail).

    ``fetch`` (e.g. ``fetch_url``) fetches a missing intermediate from an AIA
    caIssuers URL; None fetches nothing. ``deadline`` is an absolute
    ``time.monotonic()`` value: no fetch starts after it and none runs past
    it (default: ``DEFAULT_AIA_SECONDS`` from now). Never raises.
    """
    if deadline is None:
        deadline = time.monotonic() + DEFAULT_AIA_SECONDS
    try:
        return await _analyse(chain, host, trust, now, fetch, deadline)
    except Exception as exc:  # the last guard: a diagnosis never dies on one certificate
        problem = CertProblem(
            Code.CERTIFICATE_UNPARSEABLE,
            "The certificate chain could not be analysed.",
            {"error": _raw(exc)},
        )
        return ChainAnalysis(host, chain, (problem,))


async def _analyse(
    chain: Chain,
    host: str,
    trust: TrustStore,
    now: dt.datetime,
    fetch: Fetcher | None,
    deadline: float,
) -> ChainAnalysis:
    if chain.error is not None or not chain.certs:
        words = chain.error or "The server sent no certificate that could be read."
        problem = CertProblem(
            Code.CERTIFICATE_UNPARSEABLE, words, {"parser": chain.error_detail or ""}
        )
        return ChainAnalysis(host, chain, (problem,))
    try:
        facts = [_read(cert) for cert in chain.certs]
    except _Unreadable as exc:
        words = f"A certificate the server sent cannot be read: {exc.words}."
        problem = CertProblem(Code.CERTIFICATE_UNPARSEABLE, words, {"parser": exc.raw})
        return ChainAnalysis(host, chain, (problem,))
    leaf, sent = facts[0], facts[1:]
    problems = _leaf_problems(leaf, host, now)
    search = _Search(list(sent), trust)
    found = _judged_paths(search, leaf, now)
    missing: str | None = None
    if not found and not leaf.info.self_signed and fetch is not None:
        fetched = await _fetch_issuers(search, fetch, deadline)
        if fetched:
            search = _Search([*sent, *(f for f, _ in fetched)], trust)
            found = _judged_paths(search, leaf, now)
            used = [(f, url) for f, url in fetched if found and f in found[_best(found)][0]]
            if used:
                missing = used[0][0].info.subject
                problems.append(_incomplete(used))
    if found:
        path, path_problems = found[_best(found)]
        problems += path_problems
        if not any(p.code in _CHAIN_CODES for p in problems):
            opinion = _second_opinion(path, trust, now, host)
            if opinion is not None:
                problems.append(opinion)
    else:
        problems.append(_untrusted(leaf, search))
    problems.sort(key=lambda p: CAUSE_ORDER.index(p.code))
    return ChainAnalysis(host, chain, tuple(problems), missing)


_Judged = tuple[tuple[_Facts, ...], list[CertProblem]]


def _judged_paths(search: _Search, leaf: _Facts, now: dt.datetime) -> list[_Judged]:
    """Candidate paths to a trust anchor, each with what is wrong with it; stops at a good one."""
    found: list[_Judged] = []
    for path in search.paths(leaf, now):
        problems = _issuer_problems(path, now)
        found.append((path, problems))
        if not problems or len(found) >= 8:
            break
    return found


def _best(found: Sequence[_Judged]) -> int:
    """Which path to report: the first without problems, else the first found (OpenSSL's)."""
    return next((i for i, (_, problems) in enumerate(found) if not problems), 0)


def _untrusted(leaf: _Facts, search: _Search) -> CertProblem:
    if leaf.info.self_signed:
        return CertProblem(
            Code.SELF_SIGNED,
            "The server's certificate is self-signed: it vouches for itself, and no "
            "certificate authority Gmail trusts stands behind it.",
            {"certificate": leaf.info.subject},
        )
    top = search.deepest[-1] if search.deepest else leaf
    known = search.trust.has_subject(top.issuer) or any(
        f.subject == top.issuer for f in search.pool
    )
    if top.info.self_signed:
        detail = (
            f"The chain ends at the root '{top.label}', which is not a root Gmail trusts "
            "(a private or unknown certificate authority)."
        )
    elif known:
        detail = (
            f"The certificate '{top.label}' names '{top.info.issuer}' as its issuer, but its "
            "signature does not match any certificate of that name."
        )
    else:
        detail = (
            f"The certificate was issued by '{top.info.issuer}', which is neither a root "
            "Gmail trusts nor among the certificates the server sent."
        )
    return CertProblem(
        Code.UNTRUSTED_ROOT, detail, {"chain_top": top.info.subject, "issuer": top.info.issuer}
    )


def _incomplete(used: Sequence[tuple[_Facts, str]]) -> CertProblem:
    names = ", ".join(f"'{f.label}'" for f, _ in used)
    return CertProblem(
        Code.INCOMPLETE_CHAIN,
        f"The server does not send the intermediate certificate {names}. A client that "
        "does not fetch it by itself cannot link the certificate to a trusted root, and "
        "whether Gmail fetches it is not known: the server must send the full chain "
        "(fullchain.pem, not cert.pem).",
        {"missing": names, "fetched_from": ", ".join(url for _, url in used)},
    )


# --- fetching a missing intermediate -----------------------------------------------


async def _fetch_issuers(
    search: _Search, fetch: Fetcher, deadline: float
) -> list[tuple[_Facts, str]]:
    """Fetch the issuers missing above the deepest partial path, following AIA upward.

    Only when the missing issuer's name is nowhere at hand: a certificate of
    that name that does not link up is not mended by fetching another.
    """
    fetched: list[tuple[_Facts, str]] = []
    top = search.deepest[-1] if search.deepest else None
    while top is not None and len(fetched) < MAX_AIA_FETCHES:
        at_hand = [f.subject for f in search.pool] + [f.subject for f, _ in fetched]
        if top.info.self_signed or top.issuer in at_hand or search.trust.has_subject(top.issuer):
            break
        got = await _fetch_one(top, fetch, deadline)
        if got is None:
            break
        fetched.append(got)
        top = got[0]
    return fetched


async def _fetch_one(child: _Facts, fetch: Fetcher, deadline: float) -> tuple[_Facts, str] | None:
    """The issuer of ``child`` from its caIssuers URLs (two at most), within the deadline."""
    for url in child.info.ca_issuers[:2]:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            async with asyncio.timeout(left):  # even a fetcher that ignores `left` stops
                data = await fetch(url, left)
        except Exception:  # a fetcher's failure, timeout included, is "not fetched"
            continue
        if not data or len(data) > MAX_AIA_BYTES:
            continue
        for cert in _certificates_in(data):
            try:
                facts = _read(cert)
            except _Unreadable:
                continue
            if facts.subject == child.issuer and _signed_by(child.cert, cert):
                return facts, url
    return None


def _certificates_in(data: bytes) -> list[x509.Certificate]:
    """Certificates in an AIA answer: DER, PEM or PKCS#7 (.p7c), as CAs publish them."""
    loaders: tuple[Callable[[bytes], list[x509.Certificate]], ...] = (
        lambda d: [x509.load_der_x509_certificate(d)],
        x509.load_pem_x509_certificates,
        pkcs7.load_der_pkcs7_certificates,
        pkcs7.load_pem_pkcs7_certificates,
    )
    for loader in loaders:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return loader(data)[:MAX_CERTS]
        except Exception:  # not this format, or garbage: try the next
            continue
    return []


async def fetch_url(url: str, timeout: float) -> bytes | None:
    """GET an AIA caIssuers URL; None on any failure. Bounded in every way:

    - plain ``http:`` only (RFC 5280 4.2.2.1 publishes caIssuers over HTTP;
      an ``https:`` URL would need the very chain being checked);
    - at most ``MAX_REDIRECTS`` redirects, each to ``http:`` again;
    - one deadline, ``timeout`` seconds, for the whole fetch (connects,
      redirects, headers and body together), so a server dripping a byte a
      second cannot hold the run;
    - the body is streamed and dropped past ``MAX_AIA_BYTES``; compressed
      bodies are refused, so nothing expands past that either.

    httpx rather than a hand-written client: it parses HTTP (status line,
    headers, chunked bodies) with h11's size limits, and streams. Its timeouts
    bound each read alone, so the one overall deadline is ``asyncio.timeout``
    around everything.
    """
    if timeout <= 0 or not _is_http(url):
        return None
    import httpx  # only when an intermediate is missing: keeps start-up light

    try:
        async with asyncio.timeout(timeout):
            async with httpx.AsyncClient(
                timeout=timeout, follow_redirects=False, trust_env=False
            ) as client:
                for _ in range(MAX_REDIRECTS + 1):
                    outcome = await _get_once(client, url)
                    if not isinstance(outcome, str):
                        return outcome
                    url = outcome
    except Exception:  # timeouts, refused connections, garbled HTTP: all mean "not fetched"
        return None
    return None  # more redirects than allowed


async def _get_once(client: httpx.AsyncClient, url: str) -> bytes | str | None:
    """One GET: the body, the ``http:`` URL a redirect points to, or None."""
    headers = {"Accept-Encoding": "identity", "Accept": "application/pkix-cert, */*"}
    async with client.stream("GET", url, headers=headers) as response:
        if response.is_redirect:
            target = str(response.url.join(response.headers.get("location", "")))
            return target if _is_http(target) else None
        if response.status_code != 200:
            return None
        if response.headers.get("content-encoding", "identity").lower() not in ("", "identity"):
            return None
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_AIA_BYTES:
            return None
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > MAX_AIA_BYTES:
                return None
        return bytes(body)


def _is_http(url: str) -> bool:
    return url[:7].lower() == "http://" and len(url) <= 2048
