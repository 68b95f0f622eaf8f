"""A private CA that issues certificates shaped like a public CA's.

Shapes follow the Web PKI profile so the strict verifier accepts them:
critical basicConstraints and keyUsage on CAs, SKI/AKI everywhere, the SAN not
critical, serverAuth on leaves and an AIA caIssuers URL.

``issue`` is the one place a certificate is built. Tests of the chain verdict
call it directly to depart from that shape one detail at a time (a CA flag, a
key usage, a validity window, a name constraint...), the way a misissued or
misconfigured real certificate does.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from gmailfix.certs import USAGE_BITS

Key = ec.EllipticCurvePrivateKey
DAY = dt.timedelta(days=1)

# keyUsage bits by their cryptography argument names
CA_USAGE = frozenset({"digital_signature", "key_cert_sign", "crl_sign"})
SERVER_USAGE = frozenset({"digital_signature"})


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: Key

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def new_key() -> Key:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str, org: str = "gmailfix lab") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def key_usage(bits: frozenset[str]) -> x509.KeyUsage:
    """A keyUsage extension asserting exactly ``bits`` (names as in ``x509.KeyUsage``)."""
    unknown = bits - set(USAGE_BITS)
    if unknown:
        raise ValueError(f"unknown keyUsage bits: {sorted(unknown)}")
    return x509.KeyUsage(
        **{bit: bit in bits for bit in USAGE_BITS},
        encipher_only=False,
        decipher_only=False,
    )


def issue(
    subject: x509.Name,
    key: Key,
    issuer: Issued | None,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
    ca: bool | None,
    ca_critical: bool = True,
    path_length: int | None = None,
    usage: frozenset[str] | None,
    extended_usage: Sequence[x509.ObjectIdentifier] | None = None,
    dns_names: Sequence[str] | None = None,
    ips: Sequence[str] = (),
    san_critical: bool = False,
    permitted: Sequence[str] | None = None,
    excluded: Sequence[str] | None = None,
    ca_issuers_url: str | None = None,
    authority_key_id: bool = True,
) -> Issued:
    """One certificate signed by ``issuer`` (``None``: by ``key`` itself).

    ``ca=None`` leaves basicConstraints out, ``usage=None`` keyUsage,
    ``extended_usage=None`` extendedKeyUsage, ``dns_names=None`` (and no
    ``ips``) the subjectAltName; ``permitted``/``excluded`` add DNS name
    constraints. A subjectKeyIdentifier is always present, an
    authorityKeyIdentifier unless ``authority_key_id`` is false.
    """
    signer = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if ca is not None:
        constraints = x509.BasicConstraints(ca=ca, path_length=path_length if ca else None)
        builder = builder.add_extension(constraints, critical=ca_critical)
    if usage is not None:
        builder = builder.add_extension(key_usage(usage), critical=True)
    if extended_usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended_usage), critical=False)
    if dns_names is not None or ips:
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names or ()]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=san_critical)
    if permitted is not None or excluded is not None:
        constraints_ext = x509.NameConstraints(
            permitted_subtrees=[x509.DNSName(n) for n in permitted] if permitted else None,
            excluded_subtrees=[x509.DNSName(n) for n in excluded] if excluded else None,
        )
        builder = builder.add_extension(constraints_ext, critical=True)
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
    )
    if authority_key_id:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False,
        )
    if ca_issuers_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(ca_issuers_url),
                    )
                ]
            ),
            critical=False,
        )
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def make_root(
    common_name: str = "gmailfix Lab Root",
    now: dt.datetime | None = None,
    *,
    key: Key | None = None,
) -> Issued:
    now = now or dt.datetime.now(dt.UTC)
    return issue(
        _name(common_name),
        key or new_key(),
        None,
        not_before=now - 30 * DAY,
        not_after=now + 3650 * DAY,
        ca=True,
        usage=CA_USAGE,
        authority_key_id=False,
    )


def make_intermediate(
    root: Issued,
    common_name: str = "gmailfix Lab Intermediate",
    now: dt.datetime | None = None,
    *,
    key: Key | None = None,
    path_length: int | None = 0,
    valid_from: dt.timedelta = -30 * DAY,
    valid_for: dt.timedelta = 1855 * DAY,
    ca_issuers_url: str | None = None,
) -> Issued:
    now = now or dt.datetime.now(dt.UTC)
    return issue(
        _name(common_name),
        key or new_key(),
        root,
        not_before=now + valid_from,
        not_after=now + valid_from + valid_for,
        ca=True,
        path_length=path_length,
        usage=CA_USAGE,
        ca_issuers_url=ca_issuers_url,
    )


def make_leaf(
    issuer: Issued | None,
    names: Sequence[str],
    *,
    now: dt.datetime | None = None,
    valid_from: dt.timedelta = -DAY,
    valid_for: dt.timedelta = 90 * DAY,
    ca_issuers_url: str | None = None,
    org: str = "gmailfix lab",
    ips: Sequence[str] = (),
    key: Key | None = None,
    subject: x509.Name | None = None,
) -> Issued:
    """A server certificate for ``names``; ``issuer=None`` makes it self-signed.

    ``subject`` replaces the usual ``O=org, CN=first name`` (a stack's own look)."""
    now = now or dt.datetime.now(dt.UTC)
    return issue(
        subject or _name(names[0], org),
        key or new_key(),
        issuer,
        not_before=now + valid_from,
        not_after=now + valid_from + valid_for,
        ca=False,
        usage=SERVER_USAGE,
        extended_usage=[ExtendedKeyUsageOID.SERVER_AUTH],
        dns_names=names,
        ips=ips,
        ca_issuers_url=ca_issuers_url,
        authority_key_id=issuer is not None,
    )
