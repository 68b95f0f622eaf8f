"""The verdict stays honest: gmailfix against ``openssl verify`` on generated chains.

Hypothesis builds chains the way real servers get them wrong (validity windows
of every certificate, CA flags, keyUsage, extendedKeyUsage, path lengths, name
constraints, SAN names and wildcards against the host typed, intermediates
missing or extra, the root sent too, self-signed leaves, private roots) and
asks both gmailfix and

    openssl verify -purpose sslserver -verify_hostname HOST -attime EPOCH
                   -CAfile ROOTS -untrusted SENT LEAF

They must agree on accept/reject and, on a reject, on what kind of failure it
is. No AIA fetching here: an intermediate the server does not send is a reject
on both sides.

Every single defect is tried alone, and known interacting pairs, before
hypothesis mixes them (300 chains, derandomized). Where the two may differ is
written down, each entry with why and with a test of its own below:

- ``certs.QUIRKS``: the strict verifier (cryptography) refuses, OpenSSL
  accepts; gmailfix accepts with a ``strict-verifier-only`` warning.
- ``STRICTER_THAN_OPENSSL``: gmailfix refuses what OpenSSL accepts, on purpose
  (partial wildcards; wildcards that reach a name a CA may not certify).
- ``LENIENT_BY_DESIGN``: a --ca-file certificate is an anchor even when it is
  not self-signed (OpenSSL's -partial_chain).
- not generated here, tested on its own: an issuer key under 2048 bits, which
  plain ``openssl verify`` does not check and OpenSSL's TLS at Debian's
  security level refuses (test_a_weak_issuer_key_...).
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gmailfix.certs import (
    QUIRKS,
    CertProblem,
    ChainAnalysis,
    TrustStore,
    analyse_chain,
    parse_chain,
)
from gmailfix.lab import ca
from gmailfix.vocabulary import Code
from tests.support.aio import run
from tests.support.programs import require_program

NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)

# Keys are made once: building the certificates per example is then cheap.
KEYS = {name: ca.new_key() for name in ("root", "other", "int1", "int2", "leaf", "stray")}

HOSTS = ("mail.a.test", "a.test", "x.mail.a.test", "mail.b.test")
NAMES = (
    "mail.a.test",
    "*.a.test",
    "m*.a.test",
    "a.test",
    "other.b.test",
    "*.test",
    "x.mail.a.test",
)
SUBTREES = ("a.test", "mail.a.test", "b.test", ".a.test", "test")

Window = Literal["valid", "expired", "not-yet-valid"]
# (not before, not after) around NOW
WINDOWS: dict[str, tuple[dt.timedelta, dt.timedelta]] = {
    "valid": (-30 * DAY, 365 * DAY),
    "expired": (-400 * DAY, -2 * DAY),
    "not-yet-valid": (2 * DAY, 400 * DAY),
}
EKUS: dict[str, list[x509.ObjectIdentifier] | None] = {
    "none": None,
    "server": [ExtendedKeyUsageOID.SERVER_AUTH],
    "server+client": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
    "client": [ExtendedKeyUsageOID.CLIENT_AUTH],
    "any": [ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE],
}
USAGES: dict[str, frozenset[str] | None] = {
    "none": None,
    "ca": ca.CA_USAGE,
    "no-certsign": frozenset({"digital_signature", "crl_sign"}),
    "ds": frozenset({"digital_signature"}),
    "ke": frozenset({"key_encipherment"}),
    "ds+ke": frozenset({"digital_signature", "key_encipherment"}),
    "dataenc": frozenset({"data_encipherment"}),
    "ds+certsign": frozenset({"digital_signature", "key_cert_sign"}),
}


@dataclass(frozen=True)
class CaShape:
    window: Window = "valid"
    constraints: Literal["critical", "not-critical", "ca-false", "absent"] = "critical"
    usage: Literal["ca", "none", "no-certsign"] = "ca"
    eku: Literal["none", "server", "client", "any"] = "none"
    path_length: int | None = None
    permitted: tuple[str, ...] | None = None
    excluded: tuple[str, ...] | None = None


@dataclass(frozen=True)
class LeafShape:
    window: Window = "valid"
    eku: Literal["server", "server+client", "client", "none", "any"] = "server"
    usage: Literal["ds", "ke", "ds+ke", "dataenc", "none", "ds+certsign"] = "ds"
    constraints: Literal["ca-false", "absent", "ca-true"] = "ca-false"
    names: tuple[str, ...] | None = ("mail.a.test",)  # None: no SAN, the name in the CN only
    cn: str = "mail.a.test"
    san_critical: bool = False
    empty_subject: bool = False
    authority_key_id: bool = True
    self_signed: bool = False


@dataclass(frozen=True)
class Scenario:
    host: str = "mail.a.test"
    root: CaShape = CaShape()
    intermediates: tuple[CaShape, ...] = (CaShape(path_length=0),)
    leaf: LeafShape = LeafShape()
    sent: tuple[bool, ...] = (True,)  # per intermediate, from the leaf up: does the server send it?
    send_root: bool = False
    send_stray: bool = False  # an unrelated intermediate from another CA
    send_expired_copy: bool = False  # an expired copy of the first intermediate, same key
    root_trusted: bool = True
    pin_leaf: bool = False  # a self-signed leaf given as a trust anchor (--ca-file)
    pin_any_leaf: bool = False  # pin even a CA-issued leaf (see LENIENT_BY_DESIGN)
    reverse: bool = False  # send the intermediates top-down


@dataclass(frozen=True)
class Built:
    leaf: x509.Certificate
    sent: tuple[x509.Certificate, ...]
    anchors: tuple[x509.Certificate, ...]


def _name(cn: str | None) -> x509.Name:
    if cn is None:
        return x509.Name([])
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(shape: CaShape, cn: str, key: ca.Key, issuer: ca.Issued | None) -> ca.Issued:
    start, end = WINDOWS[shape.window]
    return ca.issue(
        _name(cn),
        key,
        issuer,
        not_before=NOW + start,
        not_after=NOW + end,
        ca={"critical": True, "not-critical": True, "ca-false": False, "absent": None}[
            shape.constraints
        ],
        ca_critical=shape.constraints != "not-critical",
        path_length=shape.path_length,
        usage=USAGES[shape.usage],
        extended_usage=EKUS[shape.eku],
        permitted=shape.permitted,
        excluded=shape.excluded,
        authority_key_id=issuer is not None,
    )


def _leaf(shape: LeafShape, issuer: ca.Issued | None) -> ca.Issued:
    start, end = WINDOWS[shape.window]
    return ca.issue(
        _name(None if shape.empty_subject else shape.cn),
        KEYS["leaf"],
        issuer,
        not_before=NOW + start,
        not_after=NOW + end,
        ca={"ca-false": False, "absent": None, "ca-true": True}[shape.constraints],
        usage=USAGES[shape.usage],
        extended_usage=EKUS[shape.eku],
        dns_names=shape.names,
        san_critical=shape.san_critical,
        authority_key_id=shape.authority_key_id and issuer is not None,
    )


def build(s: Scenario) -> Built:
    root = _ca(s.root, "Root", KEYS["root"], None)
    other = _ca(CaShape(), "Other Root", KEYS["other"], None)
    chain: list[ca.Issued] = []
    issuer = root
    for index, shape in reversed(list(enumerate(s.intermediates))):
        issuer = _ca(shape, f"Int {index + 1}", KEYS[f"int{index + 1}"], issuer)
        chain.insert(0, issuer)
    leaf = _leaf(s.leaf, None if s.leaf.self_signed else issuer)
    sent = [c.cert for c, wanted in zip(chain, s.sent, strict=True) if wanted]
    if s.reverse:
        sent.reverse()
    if s.send_expired_copy and chain:
        old = replace(s.intermediates[0], window="expired")
        sent.append(_ca(old, "Int 1", KEYS["int1"], chain[1] if len(chain) > 1 else root).cert)
    if s.send_stray:
        sent.append(_ca(CaShape(), "Stray Int", KEYS["stray"], other).cert)
    if s.send_root:
        sent.append(root.cert)
    anchors = [root.cert if s.root_trusted else other.cert]
    if s.pin_leaf and (s.leaf.self_signed or s.pin_any_leaf):
        anchors.append(leaf.cert)
    return Built(leaf.cert, tuple(sent), tuple(anchors))


GOOD = Scenario()


# --- openssl verify ---------------------------------------------------------------

# Errors after which `openssl verify` carries on (apps/verify.c): any other stops it.
CONTINUES = frozenset({10, 18, 24, 79, 37, 25, 34, 26})


@dataclass(frozen=True)
class OpenSSLVerdict:
    ok: bool
    errors: tuple[tuple[int, int], ...]  # (error code, depth), in the order printed
    output: str

    @property
    def classes(self) -> set[str]:
        return {_openssl_class(code, depth) for code, depth in self.errors}

    @property
    def stopped(self) -> bool:
        """Did OpenSSL stop at an error before making all its checks?"""
        return bool(self.errors) and self.errors[-1][0] not in CONTINUES


def _openssl_class(code: int, depth: int) -> str:
    if code in (2, 18, 19, 20, 21, 7, 30, 31):
        return "trust"
    if code in (9, 10):
        if depth:
            return "chain"
        return "expired" if code == 10 else "not-yet-valid"
    if code == 26:
        return "chain" if depth else "purpose"
    if code in (24, 79, 37, 25, 32, 34, 47, 48, 49, 51):
        return "chain"
    if code == 62:
        return "name"
    return f"unknown-{code}"


def _pem(certs: Sequence[x509.Certificate]) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return b"".join(c.public_bytes(Encoding.PEM) for c in certs)


def openssl_verify(built: Built, host: str, *flags: str) -> OpenSSLVerdict:
    openssl = require_program("openssl")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "leaf.pem").write_bytes(_pem([built.leaf]))
        (folder / "roots.pem").write_bytes(_pem(built.anchors))
        command = [openssl, "verify", *flags, "-purpose", "sslserver", "-verify_hostname", host]
        command += ["-attime", str(int(NOW.timestamp())), "-CAfile", str(folder / "roots.pem")]
        if built.sent:
            (folder / "sent.pem").write_bytes(_pem(built.sent))
            command += ["-untrusted", str(folder / "sent.pem")]
        done = subprocess.run(
            [*command, str(folder / "leaf.pem")], capture_output=True, text=True, timeout=30
        )
    output = done.stdout + done.stderr
    errors = tuple(
        (int(code), int(depth)) for code, depth in re.findall(r"error (\d+) at (\d+) depth", output)
    )
    return OpenSSLVerdict(done.returncode == 0 and not errors, errors, output)


# --- gmailfix ---------------------------------------------------------------------

CLASS_OF = {
    Code.SELF_SIGNED: "trust",
    Code.UNTRUSTED_ROOT: "trust",
    Code.INCOMPLETE_CHAIN: "trust",
    Code.INVALID_CHAIN: "chain",
    Code.NOT_SERVER_CERTIFICATE: "purpose",
    Code.EXPIRED: "expired",
    Code.NOT_YET_VALID: "not-yet-valid",
    Code.HOSTNAME_MISMATCH: "name",
}


def gmailfix_verify(built: Built, host: str) -> ChainAnalysis:
    from cryptography.hazmat.primitives.serialization import Encoding

    chain = parse_chain([c.public_bytes(Encoding.DER) for c in (built.leaf, *built.sent)])
    trust = TrustStore(built.anchors, public=False)
    return run(analyse_chain(chain, host, trust=trust, now=NOW, fetch=None))


def _classes(analysis: ChainAnalysis) -> set[str]:
    return {CLASS_OF[p.code] for p in analysis.problems if p.code in CLASS_OF}


# --- where gmailfix refuses what OpenSSL accepts, on purpose ----------------------


def _partial_wildcard_only(s: Scenario) -> bool:
    """The host matches only a partial wildcard such as ``m*.a.test``.

    OpenSSL matches partial wildcards by default. RFC 9525 (which replaced
    RFC 6125) forbids them, the CA/B Forum forbids public CAs to issue them,
    and Chrome, Go and cryptography refuse them: gmailfix is right to refuse.
    """
    cn = () if s.leaf.empty_subject else (s.leaf.cn,)
    names = s.leaf.names if s.leaf.names is not None else cn
    first, _, rest = s.host.partition(".")
    partial = [n for n in names if "*" in n and not n.startswith("*.")]
    return any(
        n.split(".", 1)[1] == rest
        and re.fullmatch(re.escape(n.split(".")[0]).replace(r"\*", ".*"), first)
        for n in partial
    )


def _partial_wildcard_under_constraints(s: Scenario) -> bool:
    """A partial wildcard SAN under a CA with DNS name constraints.

    ``m*.a.test`` is not a DNS name, so no name constraint can be checked
    against it: cryptography (like Chrome) refuses such a certificate, OpenSSL
    compares the text as written. A constrained CA that issued it broke the
    rules it was given; gmailfix refuses with the strict verifiers.
    """
    names = s.leaf.names or ()
    partial = any("*" in n and not (n.startswith("*.") and "*" not in n[2:]) for n in names)
    shapes = (s.root, *s.intermediates)
    return partial and any(shape.permitted or shape.excluded for shape in shapes)


def _wildcard_reaches_excluded(s: Scenario) -> bool:
    """A wildcard SAN (``*.a.test``) covers a name a CA above excludes (``mail.a.test``).

    OpenSSL compares the wildcard as written ("*.a.test" is not under
    "mail.a.test") and accepts; the CA was not allowed to certify
    mail.a.test, yet this certificate does. cryptography refuses too, and so
    does gmailfix: the certificate breaks its issuer's constraint.
    """
    wildcards = [n[2:] for n in s.leaf.names or () if n.startswith("*.")]
    shapes = (s.root, *s.intermediates)
    return any(
        base.partition(".")[2] == rest and not base.startswith(".")
        for rest in wildcards
        for shape in shapes
        for base in shape.excluded or ()
    )


def _is_name_problem(problem: CertProblem) -> bool:
    return problem.code == Code.HOSTNAME_MISMATCH


def _is_excluded_name_problem(problem: CertProblem) -> bool:
    return (
        problem.code == Code.INVALID_CHAIN
        and problem.evidence.get("check") == "name constraints"
        and "excluded" in problem.detail
    )


def _is_unchecked_name_problem(problem: CertProblem) -> bool:
    return (
        problem.code == Code.INVALID_CHAIN
        and problem.evidence.get("check") == "name constraints"
        and "cannot be checked" in problem.detail
    )


# name: (the scenario shows it, the problem gmailfix reports for it)
STRICTER_THAN_OPENSSL = {
    "partial-wildcard": (_partial_wildcard_only, _is_name_problem),
    "partial-wildcard-under-constraints": (
        _partial_wildcard_under_constraints,
        _is_unchecked_name_problem,
    ),
    "wildcard-reaches-excluded-name": (_wildcard_reaches_excluded, _is_excluded_name_problem),
}


def _explained_refusal(s: Scenario, analysis: ChainAnalysis) -> bool:
    """Is every cause gmailfix gives one of the deliberate STRICTER_THAN_OPENSSL refusals?"""
    entries = [problem_check for check, problem_check in STRICTER_THAN_OPENSSL.values() if check(s)]
    causes = [p for p in analysis.problems if p.code != Code.STRICT_VERIFIER_ONLY]
    return all(any(check(p) for check in entries) for p in causes)


# --- the generator ----------------------------------------------------------------
#
# A good chain, then changes, each one way a real chain goes wrong. Every single
# change is tried alone (test_each_defect_alone_agrees_with_openssl); hypothesis
# then mixes up to four, and shrinking goes toward the fewest.

Change = tuple[str, str, object]  # (which certificate or "scenario", field, new value)

LEAF_CHANGES: dict[str, tuple[object, ...]] = {
    "window": ("expired", "not-yet-valid"),
    "eku": ("server+client", "client", "none", "any"),
    "usage": ("ke", "ds+ke", "dataenc", "none", "ds+certsign"),
    "constraints": ("absent", "ca-true"),
    "names": (None, *((name,) for name in NAMES)),
    "cn": NAMES,
    "san_critical": (True,),
    "empty_subject": (True,),
    "authority_key_id": (False,),
    "self_signed": (True,),
}
CA_CHANGES: dict[str, tuple[object, ...]] = {
    "window": ("expired", "not-yet-valid"),
    "constraints": ("not-critical", "ca-false", "absent"),
    "usage": ("none", "no-certsign"),
    "eku": ("server", "client", "any"),
    "path_length": (None, 0, 1),
    "permitted": (None, *((base,) for base in SUBTREES)),
    "excluded": (None, *((base,) for base in SUBTREES)),
}
SCENARIO_CHANGES: dict[str, tuple[object, ...]] = {
    "host": HOSTS,
    "unsent": (0, 1),
    "send_root": (True,),
    "send_stray": (True,),
    "send_expired_copy": (True,),
    "root_trusted": (False,),
    "pin_leaf": (True,),
    "reverse": (True,),
}
TARGETS = {"leaf": LEAF_CHANGES, "root": CA_CHANGES, "int1": CA_CHANGES, "int2": CA_CHANGES}
TARGETS["scenario"] = SCENARIO_CHANGES


def _values(field: str, values: tuple[object, ...]) -> st.SearchStrategy[object]:
    """The table's values, and for lists of names also several at once."""
    one: st.SearchStrategy[object] = st.sampled_from(values)
    if field == "names":
        several = st.lists(st.sampled_from(NAMES), min_size=2, max_size=3, unique=True)
        return st.one_of(one, several.map(tuple))
    if field in ("permitted", "excluded"):
        several = st.lists(st.sampled_from(SUBTREES), min_size=2, max_size=2, unique=True)
        return st.one_of(one, several.map(tuple))
    return one


def changes() -> st.SearchStrategy[Change]:
    return st.one_of(
        [
            st.tuples(st.just(target), st.just(field), _values(field, values))
            for target, table in TARGETS.items()
            for field, values in table.items()
        ]
    )


def every_single_change() -> Iterator[Change]:
    for target, table in TARGETS.items():
        for field, values in table.items():
            for value in values:
                yield target, field, value


def apply(base: Scenario, change: Change) -> Scenario:
    target, name, value = change
    field: dict[str, Any] = {name: value}
    if target == "leaf":
        return replace(base, leaf=replace(base.leaf, **field))
    if target == "root":
        return replace(base, root=replace(base.root, **field))
    if target in ("int1", "int2"):
        index = int(target[-1]) - 1
        if index >= len(base.intermediates):
            return base
        shapes = list(base.intermediates)
        shapes[index] = replace(shapes[index], **field)
        return replace(base, intermediates=tuple(shapes))
    if name == "unsent":
        sent = [wanted and i != value for i, wanted in enumerate(base.sent)]
        return replace(base, sent=tuple(sent))
    return replace(base, **field)


def with_intermediates(count: int) -> Scenario:
    shapes = (CaShape(path_length=0), CaShape())[:count]
    return replace(GOOD, intermediates=shapes, sent=(True,) * count)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    scenario = with_intermediates(draw(st.sampled_from((1, 1, 0, 2))))
    for change in draw(st.lists(changes(), max_size=4)):
        scenario = apply(scenario, change)
    return scenario


def disagreement(s: Scenario) -> str | None:
    """Why gmailfix and OpenSSL disagree on ``s``, or None when they agree."""
    built = build(s)
    ours, theirs = gmailfix_verify(built, s.host), openssl_verify(built, s.host)
    report = (
        f"gmailfix: {[(p.code.value, p.detail) for p in ours.problems]}\nopenssl: {theirs.output}"
    )
    if ours.ok != theirs.ok:
        if not ours.ok and theirs.ok and _explained_refusal(s, ours):
            return None
        return f"verdicts differ\n{report}"
    if ours.ok:
        return None
    mine = _classes(ours)
    cause = CLASS_OF[ours.cause] if ours.cause in CLASS_OF else str(ours.cause)
    if not theirs.classes <= mine:
        return f"OpenSSL names failures gmailfix misses\n{report}"
    if cause not in theirs.classes and not theirs.stopped:
        return f"gmailfix's cause is not among OpenSSL's\n{report}"
    return None


@settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_gmailfix_agrees_with_openssl(s: Scenario) -> None:
    assert disagreement(s) is None, disagreement(s)


SINGLE = [
    (with_intermediates(2 if target == "int2" else 1), ((target, field, value),))
    for target, field, value in every_single_change()
]
# Defects that only show together, where a rule depends on two facts at once.
PAIRS: list[tuple[Change, ...]] = [
    (("root", "constraints", "absent"), ("root", "usage", "none")),
    (("root", "constraints", "absent"), ("root", "usage", "no-certsign")),
    (("leaf", "names", None), ("int1", "permitted", ("b.test",))),
    (("leaf", "names", None), ("int1", "excluded", ("mail.a.test",))),
    (("leaf", "names", None), ("leaf", "cn", "*.a.test")),
    (("leaf", "names", None), ("leaf", "empty_subject", True)),
    (("leaf", "names", ("*.a.test",)), ("int1", "excluded", ("mail.a.test",))),
    (("leaf", "names", ("*.a.test",)), ("int1", "permitted", ("mail.a.test",))),
    (("leaf", "names", ("*.a.test",)), ("scenario", "host", "a.test")),
    (("leaf", "self_signed", True), ("scenario", "pin_leaf", True)),
    (("leaf", "self_signed", True), ("leaf", "eku", "client")),
    (("leaf", "self_signed", True), ("scenario", "send_root", True)),
    (("scenario", "unsent", 0), ("scenario", "send_root", True)),
    (("scenario", "unsent", 0), ("scenario", "send_stray", True)),
    (("int1", "window", "expired"), ("scenario", "send_expired_copy", True)),
    (("scenario", "root_trusted", False), ("scenario", "send_root", True)),
    (("int1", "path_length", None), ("root", "path_length", 0)),
]
CASES = SINGLE + [(with_intermediates(1), pair) for pair in PAIRS]


@pytest.mark.parametrize(
    ("base", "defects"),
    CASES,
    ids=[" + ".join(f"{t}.{f}={v!r}" for t, f, v in defects) for _, defects in CASES],
)
def test_each_defect_alone_and_known_pairs_agree_with_openssl(
    base: Scenario, defects: tuple[Change, ...]
) -> None:
    s = _apply_all(base, defects)
    assert disagreement(s) is None, disagreement(s)


def _apply_all(base: Scenario, defects: Sequence[Change]) -> Scenario:
    s = base
    for change in defects:
        s = apply(s, change)
    return s


# --- each named difference, on its own ---------------------------------------------


def _quirk_scenarios() -> Iterator[tuple[str, Scenario]]:
    leaf, inter = GOOD.leaf, GOOD.intermediates[0]
    yield "critical-san", replace(GOOD, leaf=replace(leaf, san_critical=True))
    yield "noncritical-san-empty-subject", replace(GOOD, leaf=replace(leaf, empty_subject=True))
    yield "cn-only", replace(GOOD, leaf=replace(leaf, names=None))
    yield "leaf-without-aki", replace(GOOD, leaf=replace(leaf, authority_key_id=False))
    yield "leaf-marked-ca", replace(GOOD, leaf=replace(leaf, constraints="ca-true"))
    yield "leaf-keycertsign", replace(GOOD, leaf=replace(leaf, usage="ds+certsign"))
    not_critical = (replace(inter, constraints="not-critical"),)
    yield "ca-constraints-not-critical", replace(GOOD, intermediates=not_critical)
    yield "ca-without-keyusage", replace(GOOD, intermediates=(replace(inter, usage="none"),))
    yield "root-without-constraints", replace(GOOD, root=replace(GOOD.root, constraints="absent"))
    dotted = (replace(inter, permitted=(".a.test",)),)
    yield "dotted-name-constraint", replace(GOOD, intermediates=dotted)


QUIRK_CASES = dict(_quirk_scenarios())


def test_every_quirk_has_a_case() -> None:
    assert set(QUIRK_CASES) == set(QUIRKS)


@pytest.mark.parametrize("quirk", sorted(QUIRK_CASES))
def test_quirk_openssl_accepts_and_gmailfix_only_warns(quirk: str) -> None:
    s = QUIRK_CASES[quirk]
    built = build(s)
    assert openssl_verify(built, s.host).ok
    analysis = gmailfix_verify(built, s.host)
    assert analysis.ok, analysis.problems
    assert [p.code for p in analysis.problems] == [Code.STRICT_VERIFIER_ONLY]
    assert quirk in analysis.problems[0].evidence["quirks"]


def test_the_baseline_is_clean() -> None:
    built = build(GOOD)
    assert openssl_verify(built, GOOD.host).ok
    assert gmailfix_verify(built, GOOD.host).problems == ()


def test_partial_wildcard_openssl_accepts_gmailfix_refuses() -> None:
    """m*.a.test for mail.a.test: see _partial_wildcard_only for why gmailfix is right."""
    s = replace(GOOD, leaf=replace(GOOD.leaf, names=("m*.a.test",), cn="m*.a.test"))
    built = build(s)
    assert _partial_wildcard_only(s)
    assert openssl_verify(built, s.host).ok
    assert gmailfix_verify(built, s.host).cause == Code.HOSTNAME_MISMATCH


# Where gmailfix accepts what `openssl verify` (without -partial_chain) refuses, on purpose.
LENIENT_BY_DESIGN = {
    "pinned-leaf": "A certificate given with --ca-file is a trust anchor even when it is not "
    "self-signed, as in cryptography, Go and BoringSSL (OpenSSL needs -partial_chain). Only "
    "someone testing their own server does this; Gmail has no pinning at all.",
}


def test_pinned_ca_issued_leaf_is_trusted_as_with_partial_chain() -> None:
    s = replace(GOOD, root_trusted=False, sent=(False,), pin_leaf=True, pin_any_leaf=True)
    built = build(s)
    assert not openssl_verify(built, s.host).ok
    assert openssl_verify(built, s.host, "-partial_chain").ok
    assert gmailfix_verify(built, s.host).ok


def test_partial_wildcard_under_constraints_openssl_accepts_gmailfix_refuses() -> None:
    """See _partial_wildcard_under_constraints for why gmailfix is right."""
    inter = replace(GOOD.intermediates[0], permitted=("test",))
    leaf = replace(GOOD.leaf, names=("mail.a.test", "m*.a.test"))
    s = replace(GOOD, intermediates=(inter,), leaf=leaf)
    built = build(s)
    assert _partial_wildcard_under_constraints(s)
    assert openssl_verify(built, s.host).ok
    analysis = gmailfix_verify(built, s.host)
    assert [p.code for p in analysis.problems] == [Code.INVALID_CHAIN]
    assert _is_unchecked_name_problem(analysis.problems[0])


def test_every_deliberate_difference_has_a_test() -> None:
    tests = {name for name in globals() if name.startswith("test_")}
    assert "test_partial_wildcard_openssl_accepts_gmailfix_refuses" in tests
    assert "test_partial_wildcard_under_constraints_openssl_accepts_gmailfix_refuses" in tests
    assert "test_wildcard_over_excluded_name_openssl_accepts_gmailfix_refuses" in tests
    assert "test_pinned_ca_issued_leaf_is_trusted_as_with_partial_chain" in tests
    assert len(STRICTER_THAN_OPENSSL) == 3 and set(LENIENT_BY_DESIGN) == {"pinned-leaf"}


def test_wildcard_over_excluded_name_openssl_accepts_gmailfix_refuses() -> None:
    """*.a.test under a CA that excludes mail.a.test: see _wildcard_reaches_excluded."""
    inter = replace(GOOD.intermediates[0], excluded=("mail.a.test",))
    s = replace(
        GOOD,
        host="www.a.test",
        intermediates=(inter,),
        leaf=replace(GOOD.leaf, names=("*.a.test",), cn="*.a.test"),
    )
    built = build(s)
    assert _wildcard_reaches_excluded(s)
    assert openssl_verify(built, s.host).ok
    analysis = gmailfix_verify(built, s.host)
    assert analysis.cause == Code.INVALID_CHAIN
    assert "mail.a.test" in analysis.problems[0].detail


def test_a_reissued_self_signed_certificate_is_not_its_own_anchor() -> None:
    """Someone made a new self-signed certificate with the same key and gave the old one
    as --ca-file: OpenSSL trusts a self-signed leaf only as itself, and so does gmailfix."""
    s = replace(GOOD, leaf=replace(GOOD.leaf, self_signed=True), pin_leaf=True)
    old = build(s).leaf  # random serial numbers: two builds, two different certificates
    built = replace(build(s), anchors=(old,))
    assert built.leaf != old and built.leaf.public_key() == old.public_key()
    assert 18 in dict(openssl_verify(built, s.host).errors)
    assert gmailfix_verify(built, s.host).cause == Code.SELF_SIGNED


def test_a_weak_issuer_key_is_refused_as_openssl_refuses_it_in_tls() -> None:
    """An intermediate with a 1024-bit RSA key: the strict verifier refuses it for reasons
    of its own (no named quirk), so gmailfix says invalid-chain. Plain `openssl verify`
    checks no key sizes; at -auth_level 2 (the security level Debian's OpenSSL uses for
    TLS) it refuses too, as do the CA/B Forum rules and every browser."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa

    root = _ca(CaShape(), "Root", KEYS["root"], None)
    weak_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("Weak Int"))
        .issuer_name(root.cert.subject)
        .public_key(weak_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - 30 * DAY)
        .not_valid_after(NOW + 365 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(ca.key_usage(ca.CA_USAGE), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(weak_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(KEYS["root"].public_key()), False
        )
    )
    weak = builder.sign(KEYS["root"], hashes.SHA256())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("mail.a.test"))
        .issuer_name(weak.subject)
        .public_key(KEYS["leaf"].public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 90 * DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("mail.a.test")]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(weak_key.public_key()), False
        )
        .sign(weak_key, hashes.SHA256())
    )
    built = Built(leaf, (weak,), (root.cert,))
    assert openssl_verify(built, "mail.a.test").ok
    assert not openssl_verify(built, "mail.a.test", "-auth_level", "2").ok
    analysis = gmailfix_verify(built, "mail.a.test")
    assert [p.code for p in analysis.problems] == [Code.INVALID_CHAIN]
    assert "an issuer's RSA key is too short (1024 bits" in analysis.problems[0].detail
    # with a named quirk on top, the mended copy keeps the weak key: still invalid-chain
    no_aki = (
        x509.CertificateBuilder()
        .subject_name(leaf.subject)
        .issuer_name(weak.subject)
        .public_key(KEYS["leaf"].public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 90 * DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("mail.a.test")]), False)
        .sign(weak_key, hashes.SHA256())
    )
    quirky = gmailfix_verify(Built(no_aki, (weak,), (root.cert,)), "mail.a.test")
    assert [p.code for p in quirky.problems] == [Code.INVALID_CHAIN]


# --- no decision reads the verifier's words ------------------------------------------

# What the verifier might say instead: its old words for every quirk, and words that
# would mean something else if anything read them.
NOISE = (
    "subjectAltName MUST NOT be critical when subject is nonempty; 2.5.29.35: Certificate "
    "is missing required extension; malformed DNS name constraint; RSA key is too weak; "
    "not valid at validation time; no matching subjectAltName; Forbidden signature algorithm"
)


def _noisy(real: Any, refused: list[int]) -> Any:
    def verify(*args: Any) -> None:
        try:
            real(*args)
        except Exception:
            refused.append(1)
            raise x509.verification.VerificationError(NOISE) from None

    return verify


def _findings(analysis: ChainAnalysis) -> list[tuple[Code, str]]:
    return [(p.code, p.evidence.get("quirks", "")) for p in analysis.problems]


NOISE_CASES = [*(s for s in QUIRK_CASES.values()), *(_apply_all(b, d) for b, d in CASES)]


@pytest.mark.parametrize("index", range(len(NOISE_CASES)))
def test_findings_do_not_depend_on_the_verifiers_words(
    index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same chain, judged with the real verifier and with one whose every refusal
    says the noise above, gets the same findings: the verifier's text decides nothing."""
    from gmailfix.certs import strict

    s = NOISE_CASES[index]
    built = build(s)
    plain = _findings(gmailfix_verify(built, s.host))
    refused: list[int] = []
    monkeypatch.setattr(strict, "strict_verify", _noisy(strict.strict_verify, refused))
    assert _findings(gmailfix_verify(built, s.host)) == plain
    if index < len(QUIRK_CASES) and s != QUIRK_CASES["cn-only"]:
        assert refused, "the verifier refused nothing: the noise was never heard"
