"""Building the path from a leaf to a trust anchor, as OpenSSL does."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from gmailfix.certs.parse import Facts, signed_by
from gmailfix.certs.trust import TrustStore

MAX_DEPTH = 8  # intermediates between a leaf and a root; real chains have 1-3
MAX_SIGNATURE_CHECKS = 200  # bounds path building over hostile, same-named certificates

# --- building the path ------------------------------------------------------------


@dataclass
class PathSearch:
    """Path building state: the pool of untrusted certificates and a signature budget."""

    pool: list[Facts]
    trust: TrustStore
    budget: int = MAX_SIGNATURE_CHECKS
    deepest: tuple[Facts, ...] = ()

    def signed(self, child: Facts, parent: Facts) -> bool:
        if self.budget <= 0:
            return False
        self.budget -= 1
        return signed_by(child.cert, parent.cert)

    def issuers(
        self, child: Facts, path: tuple[Facts, ...], now: dt.datetime
    ) -> Iterator[tuple[Facts, bool]]:
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

    def paths(self, leaf: Facts, now: dt.datetime) -> Iterator[tuple[Facts, ...]]:
        """Every path from ``leaf`` to a trust anchor, best guesses first."""
        if self.trust.is_anchor(leaf.der):
            yield (leaf,)
            return
        if leaf.info.self_signed:
            return  # a self-signed leaf is trusted only as itself
        yield from self._extend((leaf,), now)

    def _extend(self, path: tuple[Facts, ...], now: dt.datetime) -> Iterator[tuple[Facts, ...]]:
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
