"""Chain analysis on certificates made here, shaped like a public CA's."""

import datetime as dt

import pytest

from gmailfix.certs import TrustStore, analyse_chain, name_matches
from gmailfix.lab import ca
from tests.conftest import run

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def pki() -> tuple[ca.Issued, ca.Issued, TrustStore]:
    root = ca.make_root(now=NOW)
    intermediate = ca.make_intermediate(root, now=NOW)
    return root, intermediate, TrustStore([root.cert], public=False)


@pytest.mark.parametrize(
    ("host", "patterns", "expected"),
    [
        ("mail.example.com", ["mail.example.com"], True),
        ("MAIL.example.com.", ["mail.example.com"], True),
        ("mail.example.com", ["*.example.com"], True),
        ("a.mail.example.com", ["*.example.com"], False),
        ("example.com", ["*.example.com"], False),
        ("mail.example.com", ["*.com"], False),
        ("mail.example.com", ["m*.example.com"], False),
        ("mail.example.com", ["server42.isp.test"], False),
    ],
)
def test_rfc6125_name_matching(host: str, patterns: list[str], expected: bool) -> None:
    assert name_matches(host, patterns) is expected


def test_good_chain(pki: tuple[ca.Issued, ca.Issued, TrustStore]) -> None:
    _, intermediate, trust = pki
    leaf = ca.make_leaf(intermediate, ["mail.a.test"], now=NOW)
    result = run(analyse_chain([leaf.cert, intermediate.cert], "mail.a.test", trust=trust, now=NOW))
    assert result.ok and result.trusted and result.name_ok
    assert result.leaf.names == ("mail.a.test",)


def test_wrong_name_is_only_a_name_problem(pki: tuple[ca.Issued, ca.Issued, TrustStore]) -> None:
    _, intermediate, trust = pki
    leaf = ca.make_leaf(intermediate, ["server42.isp.test"], now=NOW)
    result = run(analyse_chain([leaf.cert, intermediate.cert], "mail.b.test", trust=trust, now=NOW))
    assert result.trusted and not result.name_ok and not result.ok


def test_self_signed_and_untrusted(pki: tuple[ca.Issued, ca.Issued, TrustStore]) -> None:
    _, _, trust = pki
    own = ca.make_leaf(None, ["mail.c.test"], now=NOW)
    result = run(analyse_chain([own.cert], "mail.c.test", trust=trust, now=NOW))
    assert result.self_signed and not result.trusted
    other_root = ca.make_root("Other", now=NOW)
    other = ca.make_intermediate(other_root, now=NOW)
    leaf = ca.make_leaf(other, ["mail.c.test"], now=NOW)
    result = run(analyse_chain([leaf.cert, other.cert], "mail.c.test", trust=trust, now=NOW))
    assert not result.trusted and not result.self_signed and result.policy_error is None


def test_dates_are_judged_apart_from_trust(pki: tuple[ca.Issued, ca.Issued, TrustStore]) -> None:
    _, intermediate, trust = pki
    old = ca.make_leaf(
        intermediate,
        ["mail.d.test"],
        now=NOW,
        valid_from=dt.timedelta(days=-100),
        valid_for=dt.timedelta(days=90),
    )
    result = run(analyse_chain([old.cert, intermediate.cert], "mail.d.test", trust=trust, now=NOW))
    assert result.expired and result.trusted and not result.ok


def test_missing_intermediate_is_fetched_and_named(
    pki: tuple[ca.Issued, ca.Issued, TrustStore],
) -> None:
    _, intermediate, trust = pki
    leaf = ca.make_leaf(
        intermediate, ["mail.e.test"], now=NOW, ca_issuers_url="http://x.test/i.der"
    )
    fetched: list[str] = []

    async def fetch(url: str, timeout: float) -> bytes:
        fetched.append(url)
        from cryptography.hazmat.primitives.serialization import Encoding

        return intermediate.cert.public_bytes(Encoding.DER)

    result = run(analyse_chain([leaf.cert], "mail.e.test", trust=trust, now=NOW, fetch=fetch))
    assert fetched == ["http://x.test/i.der"]
    assert result.incomplete_chain
    assert result.missing_issuer == intermediate.cert.subject.rfc4514_string()


def test_profile_breach_on_a_trusted_chain_is_a_policy_detail(
    pki: tuple[ca.Issued, ca.Issued, TrustStore],
) -> None:
    """A critical SAN with a non-empty subject (as trustme makes) is refused by the
    strict verifier; the signatures still lead to the root, so it is not 'untrusted'."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    _, intermediate, trust = pki
    key = ca.new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "mail.f.test")]))
        .issuer_name(intermediate.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("mail.f.test")]), critical=True)
        .sign(intermediate.key, hashes.SHA256())
    )
    result = run(analyse_chain([cert, intermediate.cert], "mail.f.test", trust=trust, now=NOW))
    assert result.trusted and result.policy_error
