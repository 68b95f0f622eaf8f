"""What a chain is, and what is wrong with it, as results other modules read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography import x509

from gmailfix.vocabulary import Code

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
CHAIN_CODES = frozenset(
    {
        Code.CERTIFICATE_UNPARSEABLE,
        Code.SELF_SIGNED,
        Code.UNTRUSTED_ROOT,
        Code.INCOMPLETE_CHAIN,
        Code.INVALID_CHAIN,
        Code.NOT_SERVER_CERTIFICATE,
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
        return self.parsed and not (self.codes & CHAIN_CODES)

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
