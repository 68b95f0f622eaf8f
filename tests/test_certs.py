"""Chain analysis on certificates made here, shaped like a public CA's.

One test per cause a chain can be refused for, in the order Gmail would name
them; certificates OpenSSL loads but cryptography cannot read; the trust
store and --ca-file loading. tests/test_differential_openssl.py checks the
same verdicts against `openssl verify` on generated chains.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gmailfix.certs import (
    Chain,
    ChainAnalysis,
    Fetcher,
    TrustStore,
    analyse_chain,
    load_pem_file,
    name_matches,
    parse_chain,
)
from gmailfix.errors import InputError
from gmailfix.lab import ca
from gmailfix.vocabulary import Code
from tests.support.aio import run
from tests.support.programs import require_program

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)
AIA = "http://aia.test/int.der"


@pytest.fixture(autouse=True)
def no_warning_escapes() -> Iterator[None]:
    """cryptography's warnings (e.g. negative serial numbers) must never reach the user."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.fixture(scope="module")
def pki() -> tuple[ca.Issued, ca.Issued, TrustStore]:
    root = ca.make_root(now=NOW)
    intermediate = ca.make_intermediate(root, now=NOW)
    return root, intermediate, TrustStore([root.cert], public=False)


def analyse(
    certs: Sequence[x509.Certificate],
    host: str,
    trust: TrustStore,
    *,
    fetch: Fetcher | None = None,
    deadline: float | None = None,
) -> ChainAnalysis:
    chain = parse_chain([c.public_bytes(Encoding.DER) for c in certs])
    return run(analyse_chain(chain, host, trust=trust, now=NOW, fetch=fetch, deadline=deadline))


def codes(result: ChainAnalysis) -> list[Code]:
    return [p.code for p in result.problems]


def issue_ca(issuer: ca.Issued, cn: str = "Odd Intermediate", **shape: object) -> ca.Issued:
    """An intermediate under ``issuer`` shaped like the lab's, but for ``shape``."""
    fields: dict[str, Any] = {
        "not_before": NOW - 30 * DAY,
        "not_after": NOW + 365 * DAY,
        "ca": True,
        "path_length": 0,
        "usage": ca.CA_USAGE,
    }
    fields.update(shape)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return ca.issue(name, ca.new_key(), issuer, **fields)


def issue_leaf(issuer: ca.Issued | None, names: Sequence[str], **shape: Any) -> ca.Issued:
    fields: dict[str, Any] = {
        "not_before": NOW - DAY,
        "not_after": NOW + 90 * DAY,
        "ca": False,
        "usage": ca.SERVER_USAGE,
        "extended_usage": [ExtendedKeyUsageOID.SERVER_AUTH],
        "dns_names": names,
    }
    fields.update(shape)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    return ca.issue(name, ca.new_key(), issuer, **fields)


# --- names ----------------------------------------------------------------------


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


# --- good chains -------------------------------------------------------------------


def test_good_chain(pki: tuple[ca.Issued, ca.Issued, TrustStore]) -> None:
    _, intermediate, trust = pki
    leaf = ca.make_leaf(intermediate, ["mail.a.test"], now=NOW)
    result = analyse([leaf.cert, intermediate.cert], "mail.a.test", trust)
    assert result.ok and result.trusted and result.name_ok and result.problems == ()
    assert result.leaf is not None and result.leaf.names == ("mail.a.test",)
    assert result.cause is None


def test_the_root_sent_too_changes_nothing(pki: tuple[ca.Issued, ca.Issued, TrustStore]) -> None:
    root, intermediate, trust = pki
    leaf = ca.make_leaf(intermediate, ["mail.a.test"], now=NOW)
    assert analyse([leaf.cert, intermediate.cert, root.cert], "mail.a.test", trust).ok


def test_a_pinned_self_signed_leaf_is_trusted() -> None:
    own = ca.make_leaf(None, ["mail.pin.test"], now=NOW)
    result = analyse([own.cert], "mail.pin.test", TrustStore([own.cert], public=False))
    assert result.ok and result.trusted and result.self_signed


def test_names_are_lower_case_and_the_cn_counts_only_without_a_san(
    pki: tuple[ca.Issued, ca.Issued, TrustStore],
) -> None:
    _, intermediate, _ = pki
    with_san = issue_leaf(intermediate, ["Mail.A.test", "*.B.test"])
    cn_only = issue_leaf(intermediate, ["cn-only.test"], dns_names=None)
    chain = parse_chain([with_san.cert_der(), cn_only.cert_der()])
    assert [info.names for info in chain.infos] == [("mail.a.test", "*.b.test"), ("cn-only.test",)]


# --- one test per cause, most basic first --------------------------------------------


def test_self_signed(pki: tuple[ca.Issued, ca.Issued, TrustStore]) -> None:
    _, _, trust = pki
    own = ca.make_leaf(None, ["mail.c.test"], now=NOW)
    result = analyse([own.cert], "mail.c.test", trust)
    assert codes(result) == [Code.SELF_SIGNED]
    assert result.self_signed and not result.trusted and not result.ok


@pytest.mark.parametrize("send_root", [False, True])
def test_untrusted_root(pki: tuple[ca.Issued, ca.Issued, TrustStore], send_root: bool) -> None:
    _, _, trust = pki
    other_root = ca.make_root("Private Corp Root", now=NOW)
    other = ca.make_intermediate(other_root, "Private Corp CA", now=NOW)
    leaf = ca.make_leaf(other, ["mail.c.test"], now=NOW)
    sent = [leaf.cert, other.cert] + ([other_root.cert] if send_root else [])
    result = analyse(sent, "mail.c.test", trust)
    assert codes(result) == [Code.UNTRUSTED_ROOT]
    assert not result.trusted and not result.self_signed
    assert "Private Corp" in result.problems[0].detail


def test_an_issuer_of_the_right_name_and_the_wrong_key_is_not_trusted(
    pki: tuple[ca.Issued, ca.Issued, TrustStore],
) -> None:
    root, intermediate, trust = pki
    impostor = ca.make_intermediate(root, now=NOW)  # same name as the real one, another key
    leaf = ca.make_leaf(intermediate, ["mail.c.test"], now=NOW)
    result = analyse([leaf.cert, impostor.cert], "mail.c.test", trust)
    assert codes(result) == [Code.UNTRUSTED_ROOT]
    assert "signature does not match" in result.problems[0].detail


def test_an_empty_trust_store_trusts_nothing(pki: tuple[ca.Issued, ca.Issued, TrustStore]) -> None:
    _, intermediate, _ = pki
    leaf = ca.make_leaf(intermediate, ["mail.c.test"], now=NOW)
    result = analyse([leaf.cert, intermediate.cert], "mail.c.test", TrustStore([], public=False))
    assert codes(result) == [Code.UNTRUSTED_ROOT]


def der_fetcher(body: bytes, calls: list[str]) -> Fetcher:
    async def fetch(url: str, seconds_left: float) -> bytes:
        calls.append(url)
        return body

    return fetch


@pytest.mark.parametrize("form", ["der", "pem", "pkcs7"])
def test_incomplete_chain(pki: tuple[ca.Issued, ca.Issued, TrustStore], form: str) -> None:
    _, intermediate, trust = pki
    leaf = ca.make_leaf(intermediate, ["mail.e.test"], now=NOW, ca_issuers_url=AIA)
    body = {
        "der": intermediate.cert_der(),
        "pem": intermediate.cert_pem(),
        "pkcs7": pkcs7.serialize_certificates([intermediate.cert], Encoding.DER),
    }[form]
    calls: list[str] = []
    result = analyse([leaf.cert], "mail.e.test", trust, fetch=der_fetcher(body, calls))
    assert calls == [AIA]
    assert codes(result) == [Code.INCOMPLETE_CHAIN] and result.incomplete_chain
    assert result.missing_issuer == intermediate.cert.subject.rfc4514_string()
    assert result.problems[0].evidence["fetched_from"] == AIA


def test_incomplete_chain_two_levels_up(pki: tuple[ca.Issued, ca.Issued, TrustStore]) -> None:
    root, _, trust = pki
    upper = ca.make_intermediate(root, "Upper CA", now=NOW, path_length=1)
    lower = issue_ca(upper, "Lower CA", ca_issuers_url="http://aia.test/upper.der")
    leaf = ca.make_leaf(lower, ["mail.e.test"], now=NOW, ca_issuers_url=AIA)
    answers = {AIA: lower.cert_der(), "http://aia.test/upper.der": upper.cert_der()}

    async def fetch(url: str, seconds_left: float) -> bytes:
        return answers[url]

    result = analyse([leaf.cert], "mail.e.test", trust, fetch=fetch)
    assert codes(result) == [Code.INCOMPLETE_CHAIN]
    assert "Lower CA" in result.problems[0].detail and "Upper CA" in result.problems[0].detail


def test_without_a_fetcher_an_unsent_intermediate_is_an_untrusted_chain(
    pki: tuple[ca.Issued, ca.Issued, TrustStore],
) -> None:
    _, intermediate, trust = pki
    leaf = ca.make_leaf(intermediate, ["mail.e.test"], now=NOW, ca_issuers_url=AIA)
    assert codes(analyse([leaf.cert], "mail.e.test", trust)) == [Code.UNTRUSTED_ROOT]


def test_a_deadline_in_the_past_fetches_nothing(
    pki: tuple[ca.Issued, ca.Issued, TrustStore],
) -> None:
    _, intermediate, trust = pki
    leaf = ca.make_leaf(intermediate, ["mail.e.test"], now=NOW, ca_issuers_url=AIA)
    calls: list[str] = []
    fetch = der_fetcher(intermediate.cert_der(), calls)
    result = analyse([leaf.cert], "mail.e.test", trust, fetch=fetch, deadline=time.monotonic() - 1)
    assert calls == [] and codes(result) == [Code.UNTRUSTED_ROOT]


def test_a_fetcher_that_never_answers_is_cut_at_the_deadline(
    pki: tuple[ca.Issued, ca.Issued, TrustStore],
) -> None:
    _, intermediate, trust = pki
    leaf = ca.make_leaf(intermediate, ["mail.e.test"], now=NOW, ca_issuers_url=AIA)

    async def hang(url: str, seconds_left: float) -> bytes:
        await asyncio.Event().wait()  # ignores the time it was given
        return b""

    result = analyse([leaf.cert], "mail.e.test", trust, fetch=hang, deadline=time.monotonic() + 0.2)
    assert codes(result) == [Code.UNTRUSTED_ROOT]


@pytest.mark.parametrize("answer", [b"", b"junk", b"\x30" * 70_000, None, "raise"])
def test_a_bad_aia_answer_is_not_a_crash(
    pki: tuple[ca.Issued, ca.Issued, TrustStore], answer: bytes | str | None
) -> None:
    _, intermediate, trust = pki
    leaf = ca.make_leaf(intermediate, ["mail.e.test"], now=NOW, ca_issuers_url=AIA)

    async def fetch(url: str, seconds_left: float) -> bytes | None:
        if answer == "raise":
            raise RuntimeError("boom")
        assert not isinstance(answer, str)
        return answer

    assert codes(analyse([leaf.cert], "mail.e.test", trust, fetch=fetch)) == [Code.UNTRUSTED_ROOT]


def test_the_wrong_certificate_from_aia_is_not_a_missing_intermediate(
    pki: tuple[ca.Issued, ca.Issued, TrustStore],
) -> None:
    root, intermediate, trust = pki
    impostor = ca.make_intermediate(root, now=NOW)  # same name, another key
    leaf = ca.make_leaf(intermediate, ["mail.e.test"], now=NOW, ca_issuers_url=AIA)
    fetch = der_fetcher(impostor.cert_der(), [])
    assert codes(analyse([leaf.cert], "mail.e.test", trust, fetch=fetch)) == [Code.UNTRUSTED_ROOT]


INVALID_INTERMEDIATES: dict[str, tuple[dict[str, Any], str]] = {
    "expired": ({"not_before": NOW - 400 * DAY, "not_after": NOW - 2 * DAY}, "expired on"),
    "not yet valid": (
        {"not_before": NOW + 2 * DAY, "not_after": NOW + 400 * DAY},
        "not valid until",
    ),
    "not a CA": ({"ca": False}, "CA:FALSE"),
    "no basicConstraints": ({"ca": None}, "no basicConstraints"),
    "no keyCertSign": ({"usage": frozenset({"digital_signature", "crl_sign"})}, "keyCertSign"),
    "other purposes": ({"extended_usage": [ExtendedKeyUsageOID.CLIENT_AUTH]}, "serverAuth"),
    "name constraints": ({"permitted": ["b.test"]}, "name constraints"),
}


@pytest.mark.parametrize("case", sorted(INVALID_INTERMEDIATES))
def test_invalid_chain(pki: tuple[ca.Issued, ca.Issued, TrustStore], case: str) -> None:
    root, _, trust = pki
    shape, words = INVALID_INTERMEDIATES[case]
    odd = issue_ca(root, **shape)
    leaf = ca.make_leaf(odd, ["mail.a.test"], now=NOW)
    result = analyse([leaf.cert, odd.cert], "mail.a.test", trust)
    assert codes(result) == [Code.INVALID_CHAIN], result.problems
    assert words in result.problems[0].detail and "Odd Intermediate" in result.problems[0].detail
    assert not result.trusted and not result.ok


def test_invalid_chain_path_length(pki: tuple[ca.Issued, ca.Issued, TrustStore]) -> None:
    root, _, trust = pki
    upper = issue_ca(root, "Upper CA", path_length=0)
    lower = issue_ca(upper, "Lower CA", path_length=None)
    leaf = ca.make_leaf(lower, ["mail.a.test"], now=NOW)
    result = analyse([leaf.cert, lower.cert, upper.cert], "mail.a.test", trust)
    assert codes(result) == [Code.INVALID_CHAIN]
    assert "Upper CA" in result.problems[0].detail and "pathLen" in result.problems[0].detail


@pytest.mark.parametrize(
    ("shape", "words"),
    [
        ({"extended_usage": [ExtendedKeyUsageOID.CLIENT_AUTH]}, "clientAuth"),
        ({"usage": frozenset({"data_encipherment"})}, "data_encipherment"),
    ],
)
def test_not_server_certificate(
    pki: tuple[ca.Issued, ca.Issued, TrustStore], shape: dict[str, Any], words: str
) -> None:
    _, intermediate, trust = pki
    leaf = issue_leaf(intermediate, ["mail.a.test"], **shape)
    result = analyse([leaf.cert, intermediate.cert], "mail.a.test", trust)
    assert codes(result) == [Code.NOT_SERVER_CERTIFICATE]
    assert words in result.problems[0].detail


def test_expired_is_judged_apart_from_trust(pki: tuple[ca.Issued, ca.Issued, TrustStore]) -> None:
    _, intermediate, trust = pki
    old = ca.make_leaf(intermediate, ["mail.d.test"], now=NOW, valid_from=-100 * DAY)
    result = analyse([old.cert, intermediate.cert], "mail.d.test", trust)
    assert codes(result) == [Code.EXPIRED]
    assert result.expired and result.trusted and result.name_ok and not result.ok


def test_not_yet_valid(pki: tuple[ca.Issued, ca.Issued, TrustStore]) -> None:
    _, intermediate, trust = pki
    early = ca.make_leaf(intermediate, ["mail.d.test"], now=NOW, valid_from=3 * DAY)
    result = analyse([early.cert, intermediate.cert], "mail.d.test", trust)
    assert codes(result) == [Code.NOT_YET_VALID] and result.not_yet_valid


def test_wrong_name_is_only_a_name_problem(pki: tuple[ca.Issued, ca.Issued, TrustStore]) -> None:
    _, intermediate, trust = pki
    leaf = ca.make_leaf(intermediate, ["server42.isp.test"], now=NOW)
    result = analyse([leaf.cert, intermediate.cert], "mail.b.test", trust)
    assert codes(result) == [Code.HOSTNAME_MISMATCH]
    assert result.trusted and not result.name_ok and not result.ok
    assert "server42.isp.test" in result.problems[0].detail


def test_every_problem_is_reported_most_basic_first(
    pki: tuple[ca.Issued, ca.Issued, TrustStore],
) -> None:
    root, _, trust = pki
    stale = issue_ca(root, not_before=NOW - 400 * DAY, not_after=NOW - 2 * DAY)
    leaf = issue_leaf(
        stale,
        ["server42.isp.test"],
        not_before=NOW - 100 * DAY,
        not_after=NOW - DAY,
        extended_usage=[ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    result = analyse([leaf.cert, stale.cert], "mail.b.test", trust)
    assert codes(result) == [
        Code.INVALID_CHAIN,
        Code.NOT_SERVER_CERTIFICATE,
        Code.EXPIRED,
        Code.HOSTNAME_MISMATCH,
    ]
    assert result.cause == Code.INVALID_CHAIN


def test_a_quirk_of_the_strict_verifier_is_a_warning_not_a_cause(
    pki: tuple[ca.Issued, ca.Issued, TrustStore],
) -> None:
    """A critical SAN with a non-empty subject (as trustme makes): docs/FACTS.md's named quirk."""
    _, intermediate, trust = pki
    leaf = issue_leaf(intermediate, ["mail.f.test"], san_critical=True)
    result = analyse([leaf.cert, intermediate.cert], "mail.f.test", trust)
    assert codes(result) == [Code.STRICT_VERIFIER_ONLY]
    assert result.ok and result.trusted and result.cause is None
    assert result.problems[0].evidence["quirks"] == "critical-san"


# --- certificates OpenSSL loads and cryptography cannot read -------------------------


def _tlv(data: bytes, at: int = 0) -> tuple[int, bytes, int]:
    """(tag, value, end) of the DER element at ``at``."""
    tag, size, start = data[at], data[at + 1], at + 2
    if size & 0x80:
        count = size & 0x7F
        size, start = int.from_bytes(data[start : start + count], "big"), start + count
    return tag, data[start : start + size], start + size


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + body


def _elements(body: bytes) -> list[bytes]:
    out, at = [], 0
    while at < len(body):
        end = _tlv(body, at)[2]
        out.append(body[at:end])
        at = end
    return out


Edit = Callable[[list[bytes]], list[bytes]]


def tampered(cert: ca.Issued, signer: ca.Issued, edit: Edit) -> bytes:
    """``cert`` with its TBSCertificate fields edited, signed again by ``signer``."""
    tbs, algorithm, _ = _elements(_tlv(cert.cert_der())[1])
    new_tbs = _der(0x30, b"".join(edit(_elements(_tlv(tbs)[1]))))
    signature = signer.key.sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    return _der(0x30, new_tbs + algorithm + _der(0x03, b"\x00" + signature))


def version_2(fields: list[bytes]) -> list[bytes]:
    return [bytes.fromhex("a003020101"), *fields[1:]]


def time_without_seconds(fields: list[bytes]) -> list[bytes]:
    """UTCTime "YYMMDDhhmmZ": BER allows it, DER does not; OpenSSL reads it."""
    not_before, not_after = _elements(_tlv(fields[4])[1])
    tag, text, _ = _tlv(not_before)
    validity = _der(0x30, _der(tag, text[:-3] + b"Z") + not_after)
    return [*fields[:4], validity, *fields[5:]]


def garbled_san(fields: list[bytes]) -> list[bytes]:
    """The SAN's value claims 16 bytes of DNS name and holds 3."""
    extensions = []
    for extension in _elements(_tlv(_tlv(fields[-1])[1])[1]):
        parts = _elements(_tlv(extension)[1])
        if parts[0] == _der(0x06, bytes.fromhex("551d11")):
            parts[-1] = _der(0x04, bytes.fromhex("3005821061626364"))
        extensions.append(_der(0x30, b"".join(parts)))
    return [*fields[:-1], _der(0xA3, _der(0x30, b"".join(extensions)))]


def negative_serial(fields: list[bytes]) -> list[bytes]:
    """Readable, but cryptography warns about it: the warning must not escape."""
    return [fields[0], bytes.fromhex("0201ff"), *fields[2:]]


UNREADABLE: dict[str, tuple[Edit, str]] = {
    "version 2": (version_2, "version 2"),
    "time without seconds": (time_without_seconds, "validity dates"),
    "garbled SAN": (garbled_san, "subjectAltName"),
}


def openssl_loads(der: bytes) -> bool:
    openssl = require_program("openssl")
    done = subprocess.run(
        [openssl, "x509", "-inform", "DER", "-noout", "-subject"], input=der, capture_output=True
    )
    return done.returncode == 0 and b"mail.u.test" in done.stdout


@pytest.mark.parametrize("case", sorted(UNREADABLE))
@pytest.mark.parametrize("position", ["leaf", "intermediate"])
def test_unparseable_certificate(
    pki: tuple[ca.Issued, ca.Issued, TrustStore], case: str, position: str
) -> None:
    _, intermediate, trust = pki
    edit, words = UNREADABLE[case]
    leaf = ca.make_leaf(intermediate, ["mail.u.test"], now=NOW)
    bad = tampered(leaf, intermediate, edit)
    assert openssl_loads(bad), "OpenSSL reads it: a real server could send it"
    der = [bad, intermediate.cert_der()] if position == "leaf" else [leaf.cert_der(), bad]
    chain = parse_chain(der)
    assert chain.certs == () and chain.infos == () and chain.leaf is None
    assert chain.error is not None and words in chain.error, chain.error
    assert ("server's certificate" in chain.error) is (position == "leaf")
    result = run(analyse_chain(chain, "mail.u.test", trust=trust, now=NOW))
    assert codes(result) == [Code.CERTIFICATE_UNPARSEABLE]
    assert not (result.ok or result.trusted or result.name_ok)


def test_a_negative_serial_number_is_read_without_a_warning(
    pki: tuple[ca.Issued, ca.Issued, TrustStore],
) -> None:
    _, intermediate, trust = pki
    leaf = ca.make_leaf(intermediate, ["mail.u.test"], now=NOW)
    odd = tampered(leaf, intermediate, negative_serial)
    chain = parse_chain([odd, intermediate.cert_der()])
    assert chain.error is None and len(chain.infos) == 2
    result = run(analyse_chain(chain, "mail.u.test", trust=trust, now=NOW))
    assert Code.CERTIFICATE_UNPARSEABLE not in codes(result)


@pytest.mark.parametrize(
    "der", [[], [b""], [b"\x30\x03\x02\x01\x01"], [b"garbage"], [b"\x30\x82\xff\xff"]]
)
def test_garbage_is_unparseable_never_a_crash(
    pki: tuple[ca.Issued, ca.Issued, TrustStore], der: list[bytes]
) -> None:
    _, _, trust = pki
    chain = parse_chain(der)
    assert chain.error and chain.certs == ()
    result = run(analyse_chain(chain, "mail.u.test", trust=trust, now=NOW))
    assert codes(result) == [Code.CERTIFICATE_UNPARSEABLE]


def test_a_hand_made_inconsistent_chain_is_not_a_crash(
    pki: tuple[ca.Issued, ca.Issued, TrustStore],
) -> None:
    _, _, trust = pki
    chain = Chain(der=(b"x",), certs=(), infos=(), error=None)
    result = run(analyse_chain(chain, "mail.u.test", trust=trust, now=NOW))
    assert codes(result) == [Code.CERTIFICATE_UNPARSEABLE]


# --- trust store and --ca-file --------------------------------------------------------


def test_trust_store_pem_feeds_an_ssl_context(pki: tuple[ca.Issued, ca.Issued, TrustStore]) -> None:
    root, _, trust = pki
    context = ssl.create_default_context(cadata=trust.pem().decode())
    (loaded,) = context.get_ca_certs(binary_form=True)
    assert loaded == root.cert_der()


def test_ca_file_loads(tmp_path: Path, pki: tuple[ca.Issued, ca.Issued, TrustStore]) -> None:
    root, intermediate, _ = pki
    path = tmp_path / "ca.pem"
    path.write_bytes(root.cert_pem() + intermediate.cert_pem())
    assert load_pem_file(path) == [root.cert, intermediate.cert]
    assert TrustStore.with_ca_files([path]).has_subject(root.cert.subject)


def _pem(der: bytes) -> bytes:
    return ssl.DER_cert_to_PEM_cert(der).encode()


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "garbage", "v2", "garbled SAN"])
def test_ca_file_problems_are_one_readable_line(
    tmp_path: Path, pki: tuple[ca.Issued, ca.Issued, TrustStore], case: str
) -> None:
    root, intermediate, _ = pki
    path = tmp_path / "ca.pem"
    leaf = ca.make_leaf(intermediate, ["mail.u.test"], now=NOW)
    contents = {
        "empty": b"",
        "garbage": b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
        "v2": _pem(tampered(leaf, intermediate, version_2)),
        "garbled SAN": root.cert_pem() + _pem(tampered(leaf, intermediate, garbled_san)),
    }
    if case == "directory":
        path.mkdir()
    elif case in contents:
        path.write_bytes(contents[case])
    with pytest.raises(InputError) as caught:
        load_pem_file(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message and "Error" not in message
