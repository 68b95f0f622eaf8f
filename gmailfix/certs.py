"""Certificate chain analysis: trust, name, dates, completeness.

The probe captures the chain exactly as the server sent it; this module judges
it. Trust is checked with ``cryptography.x509.verification`` (a strict,
WebPKI-style verifier) against Mozilla's roots from certifi plus any extra
anchors. The name check is separate (RFC 6125 against the host exactly as
typed) so each failure can be named on its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from gmailfix.errors import InputError

Fetcher = Callable[[str, float], Awaitable[bytes | None]]


@dataclass(frozen=True)
class CertInfo:
    """The facts a person needs about one certificate."""

    subject: str
    names: tuple[str, ...]
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    self_signed: bool
    sha256: str
    ca_issuers: tuple[str, ...]


@dataclass(frozen=True)
class ChainAnalysis:
    """What is right and wrong with a presented chain, for one host name."""

    host: str
    leaf: CertInfo
    chain: "Chain"
    name_ok: bool
    trusted: bool
    expired: bool
    not_yet_valid: bool
    self_signed: bool
    incomplete_chain: bool
    missing_issuer: str | None
    policy_error: str | None
    verify_error: str | None

    @property
    def ok(self) -> bool:
        return self.cause is None

    @property
    def problems(self) -> tuple[CertProblem, ...]:  # interim
        from gmailfix.findings.codes import Code

        out = []
        names = ", ".join(self.leaf.names) or "no host name"
        if self.self_signed and not self.trusted:
            out.append(CertProblem(Code.SELF_SIGNED, f"Certificate: {self.leaf.subject}.", {}))
        if self.incomplete_chain:
            out.append(CertProblem(Code.INCOMPLETE_CHAIN, f"Missing: {self.missing_issuer}.", {}))
        if not self.trusted and not self.self_signed:
            out.append(CertProblem(Code.UNTRUSTED_ROOT, f"Issuer: {self.leaf.issuer}.", {"verifier": self.verify_error or ""}))
        if self.expired:
            out.append(CertProblem(Code.EXPIRED, f"It expired on {self.leaf.not_after:%Y-%m-%d}.", {}))
        if self.not_yet_valid:
            out.append(CertProblem(Code.NOT_YET_VALID, f"It starts on {self.leaf.not_before:%Y-%m-%d}.", {}))
        if not self.name_ok:
            out.append(CertProblem(Code.HOSTNAME_MISMATCH, f"Gmail connects to {self.host}; the certificate covers {names}.", {"names": names}))
        if self.policy_error and self.trusted:
            out.append(CertProblem(Code.STRICT_VERIFIER_ONLY, f"Verifier: {self.policy_error}.", {}))
        return tuple(out)

    @property
    def cause(self) -> Code | None:  # type: ignore[name-defined]  # interim
        return next((p.code for p in self.problems if p.code != "strict-verifier-only"), None)


class TrustStore:
    """Trust anchors: Mozilla's roots (certifi) plus any extra PEM files."""

    def __init__(self, extra: Sequence[x509.Certificate] = (), *, public: bool = True) -> None:
        self.roots: tuple[x509.Certificate, ...] = (
            *(_mozilla_roots() if public else ()),
            *extra,
        )
        self._store = Store(list(self.roots))
        self._by_subject: dict[x509.Name, list[x509.Certificate]] = {}
        for root in self.roots:
            self._by_subject.setdefault(root.subject, []).append(root)

    @classmethod
    def with_ca_files(cls, paths: Sequence[str | Path]) -> TrustStore:
        return cls([cert for path in paths for cert in load_pem_file(path)])

    def has_subject(self, name: x509.Name) -> bool:
        return name in self._by_subject

    def roots_named(self, name: x509.Name) -> list[x509.Certificate]:
        return self._by_subject.get(name, [])

    @property
    def store(self) -> Store:
        return self._store

    def pem(self) -> bytes:
        return b"".join(r.public_bytes(Encoding.PEM) for r in self.roots)


@cache
def _mozilla_roots() -> tuple[x509.Certificate, ...]:
    with warnings.catch_warnings():
        # a few old roots carry negative serial numbers; they are still roots
        warnings.simplefilter("ignore")
        return tuple(x509.load_pem_x509_certificates(Path(certifi.where()).read_bytes()))


def load_pem_file(path: str | Path) -> list[x509.Certificate]:
    """Certificates from a PEM file, or InputError with a readable reason."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read CA file {path}: {exc.strerror}") from None
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise InputError(f"{path} holds no PEM certificate") from None


def describe(cert: x509.Certificate) -> CertInfo:
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        names=tuple(dns_names(cert)),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        self_signed=is_self_signed(cert),
        sha256=hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest(),
        ca_issuers=tuple(ca_issuer_urls(cert)),
    )


def dns_names(cert: x509.Certificate) -> list[str]:
    """The DNS names the certificate covers (SAN; the CN only when there is no SAN)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return [str(cn.value).lower() for cn in cns]
    return [name.lower() for name in san.value.get_values_for_type(x509.DNSName)]


def ca_issuer_urls(cert: x509.Certificate) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except x509.ExtensionNotFound:
        return []
    return [
        desc.access_location.value
        for desc in aia.value
        if desc.access_method == AuthorityInformationAccessOID.CA_ISSUERS
        and isinstance(desc.access_location, x509.UniformResourceIdentifier)
    ]


def is_self_signed(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject and _signed_by(cert, cert)


def name_matches(host: str, patterns: Sequence[str]) -> bool:
    """RFC 6125 host name match: exact, or a wildcard for exactly the leftmost label."""
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


async def analyse_chain(
    presented: Chain,
    host: str,
    *,
    trust: TrustStore,
    now: dt.datetime,
    fetch: Fetcher | None = None,
    deadline: float | None = None,
) -> ChainAnalysis:
    """Judge the chain a server presented for ``host`` (the name as typed in Gmail)."""
    import time
    timeout = max(0.1, (deadline - time.monotonic()) if deadline else 5.0)
    chain = presented.certs
    leaf, intermediates = chain[0], list(chain[1:])
    info = describe(leaf)
    trusted, error, policy = _verify(leaf, intermediates, trust, now)
    missing: str | None = None
    incomplete = False
    if not trusted and policy is None and not info.self_signed:
        fetched = await _fetch_missing_issuer(leaf, intermediates, trust, fetch, timeout)
        if fetched is not None:
            ok, _, _ = _verify(leaf, [*intermediates, fetched], trust, now)
            if ok:
                incomplete, missing = True, fetched.subject.rfc4514_string()
    return ChainAnalysis(
        host=host,
        leaf=info,
        chain=presented,
        name_ok=name_matches(host, info.names),
        trusted=trusted or policy is not None,
        expired=now > info.not_after,
        not_yet_valid=now < info.not_before,
        self_signed=info.self_signed,
        incomplete_chain=incomplete,
        missing_issuer=missing,
        policy_error=policy,
        verify_error=None if trusted else error,
    )


def _verify(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    trust: TrustStore,
    now: dt.datetime,
) -> tuple[bool, str | None, str | None]:
    """(trusted, error, policy_error): trust only; names and dates are judged elsewhere.

    The strict verifier always checks a name and a time, so it is given a name
    the certificate covers and a moment inside its validity. When it refuses a
    chain whose signatures do lead to a trusted root, the refusal is about a
    rule of the profile, not about trust: that is returned as policy_error.
    """
    if is_self_signed(leaf):
        if leaf in trust.roots_named(leaf.subject):
            return True, None, None
        return False, "the certificate is self-signed", None
    names = [n for n in dns_names(leaf) if n]
    subject = names[0].replace("*", "wildcard-check", 1) if names else "invalid.invalid"
    moment = min(max(now, leaf.not_valid_before_utc), leaf.not_valid_after_utc)
    try:
        builder = PolicyBuilder().store(trust.store).time(moment)
        builder.build_server_verifier(x509.DNSName(subject)).verify(leaf, intermediates)
    except (VerificationError, ValueError) as exc:
        message = str(exc) if names else "the certificate names no host"
        if _links_to_root(leaf, intermediates, trust):
            return False, message, message
        return False, message, None
    return True, None, None


def _links_to_root(
    leaf: x509.Certificate, intermediates: list[x509.Certificate], trust: TrustStore
) -> bool:
    """Do the signatures alone lead from the leaf to a trust anchor?"""
    current, pool = leaf, list(intermediates)
    for _ in range(len(intermediates) + 1):
        if any(_signed_by(current, root) for root in trust.roots_named(current.issuer)):
            return True
        parent = next(
            (c for c in pool if c.subject == current.issuer and _signed_by(current, c)), None
        )
        if parent is None:
            return False
        pool.remove(parent)
        current = parent
    return False


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


async def _fetch_missing_issuer(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    trust: TrustStore,
    fetch: Fetcher | None,
    timeout: float,
) -> x509.Certificate | None:
    sent = {cert.subject for cert in intermediates}
    if leaf.issuer in sent or trust.has_subject(leaf.issuer):
        return None
    for url in ca_issuer_urls(leaf):
        data = await (fetch or fetch_url)(url, timeout)
        cert = _parse_any(data) if data else None
        if cert is not None and cert.subject == leaf.issuer:
            return cert
    return None


async def fetch_url(url: str, timeout: float) -> bytes | None:
    """GET a caIssuers URL (plain HTTP by RFC 5280); None on any failure."""
    if not url.lower().startswith(("http://", "https://")):
        return None
    import httpx  # only when an intermediate is missing: keeps start-up light

    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client:
            response = await client.get(url)
    except (httpx.HTTPError, OSError, ValueError):
        return None
    if response.status_code != 200 or len(response.content) > 64 * 1024:
        return None
    return response.content


def _parse_any(data: bytes) -> x509.Certificate | None:
    for loader in (x509.load_der_x509_certificate, x509.load_pem_x509_certificate):
        try:
            return loader(data)
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class CertProblem:
    code: str
    detail: str
    evidence: dict[str, str]


# --- interim: the parsed chain (to be replaced by the full guarded version) ---


@dataclass(frozen=True)
class Chain:
    """The chain exactly as the server sent it, parsed once."""

    der: tuple[bytes, ...] = ()
    certs: tuple[x509.Certificate, ...] = ()
    infos: tuple[CertInfo, ...] = ()
    error: str | None = None

    @property
    def leaf(self) -> CertInfo | None:
        return self.infos[0] if self.infos else None

    def __bool__(self) -> bool:
        return bool(self.der)


def parse_chain(der: Sequence[bytes]) -> Chain:
    try:
        certs = tuple(x509.load_der_x509_certificate(d) for d in der)
        infos = tuple(describe(c) for c in certs)
    except Exception as exc:  # noqa: BLE001 - interim guard
        return Chain(tuple(der), (), (), f"the certificate cannot be read ({exc})")
    return Chain(tuple(der), certs, infos)
