"""The strict verifier's second opinion, decided without reading its words."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.x509.oid import (
    ExtensionOID,
)
from cryptography.x509.verification import PolicyBuilder, Store

from gmailfix.certs.model import CertProblem
from gmailfix.certs.names import hostname_like, name_matches
from gmailfix.certs.parse import USAGE_BITS, Facts, short_text
from gmailfix.certs.trust import TrustStore
from gmailfix.vocabulary import Code

# --- the strict verifier's second opinion ----------------------------------------
#
# The verifier's refusals are never read: whether a refusal is only a named quirk
# is decided by verifying again a copy of the path in which the quirks the
# certificates show (facts read by ``read_facts``) are mended. The copy keeps every
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
    shown: Callable[[Sequence[Facts]], bool]
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
    (ours, ``constraint_violation``, already applied it)."""
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


def _has_dotted_constraint(path: Sequence[Facts]) -> bool:
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


def _quirks_present(path: Sequence[Facts]) -> list[str]:
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
        text = short_text(str(exc).replace("\n", " ")) or type(exc).__name__
        return StrictCheck(leaf, tuple(intermediates), anchors, name, moment, False, text)
    return StrictCheck(leaf, tuple(intermediates), anchors, name, moment, True, "")


def _moment(path: Sequence[Facts], now: dt.datetime) -> dt.datetime | None:
    """A moment at which every certificate of the path is within its dates: ``now`` when
    it is, else the nearest; None when there is none. Dates are judged apart, at ``now``."""
    start = max(f.info.not_before for f in path)
    end = min(f.info.not_after for f in path)
    return None if start > end else min(max(now, start), end)


def _covered_name(host: str, leaf: Facts) -> str | None:
    """A concrete DNS name the leaf covers: the host when it matches, else one of its names.

    The name is judged apart (``leaf_problems``): the verifier gets a name it
    must find among the leaf's own subjectAltNames."""
    if name_matches(host, leaf.info.names):
        return host.lower().rstrip(".")
    for name in leaf.san_dns:
        concrete = "wildcard-check" + name[1:] if name.startswith("*.") else name
        if hostname_like(concrete):
            return concrete
    return None


def second_opinion(
    path: Sequence[Facts], trust: TrustStore, now: dt.datetime, host: str
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
    path: Sequence[Facts], quirks: Sequence[str], name: str, moment: dt.datetime
) -> bool:
    copy = _mended_copy(path, quirks)
    if copy is None:
        return False
    leaf, intermediates, anchor = copy
    return _check(leaf, intermediates, Store([anchor]), name, moment).accepted


def _mended_copy(
    path: Sequence[Facts], quirks: Sequence[str]
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


def _weakness(path: Sequence[Facts]) -> str | None:
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


def _strict_problem(path: Sequence[Facts], refusal: str) -> CertProblem:
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
