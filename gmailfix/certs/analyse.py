"""The analysis: a presented chain judged for one host name (``analyse_chain``)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

from gmailfix.certs.aia import DEFAULT_AIA_SECONDS, Fetcher, fetch_issuers
from gmailfix.certs.checks import issuer_problems, leaf_problems
from gmailfix.certs.model import CAUSE_ORDER, CHAIN_CODES, CertProblem, Chain, ChainAnalysis
from gmailfix.certs.parse import Facts, Unreadable, raw_text, read_facts
from gmailfix.certs.paths import PathSearch
from gmailfix.certs.strict import second_opinion
from gmailfix.certs.trust import TrustStore
from gmailfix.vocabulary import Code

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
            {"error": raw_text(exc)},
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
        facts = [read_facts(cert) for cert in chain.certs]
    except Unreadable as exc:
        words = f"A certificate the server sent cannot be read: {exc.words}."
        problem = CertProblem(Code.CERTIFICATE_UNPARSEABLE, words, {"parser": exc.raw})
        return ChainAnalysis(host, chain, (problem,))
    leaf, sent = facts[0], facts[1:]
    problems = leaf_problems(leaf, host, now)
    search = PathSearch(list(sent), trust)
    found = _judged_paths(search, leaf, now)
    missing: str | None = None
    if not found and not leaf.info.self_signed and fetch is not None:
        fetched = await fetch_issuers(search, fetch, deadline)
        if fetched:
            search = PathSearch([*sent, *(f for f, _ in fetched)], trust)
            found = _judged_paths(search, leaf, now)
            used = [(f, url) for f, url in fetched if found and f in found[_best(found)][0]]
            if used:
                missing = used[0][0].info.subject
                problems.append(_incomplete(used))
    if found:
        path, path_problems = found[_best(found)]
        problems += path_problems
        if not any(p.code in CHAIN_CODES for p in problems):
            opinion = second_opinion(path, trust, now, host)
            if opinion is not None:
                problems.append(opinion)
    else:
        problems.append(_untrusted(leaf, search))
    problems.sort(key=lambda p: CAUSE_ORDER.index(p.code))
    return ChainAnalysis(host, chain, tuple(problems), missing)


Judged = tuple[tuple[Facts, ...], list[CertProblem]]


def _judged_paths(search: PathSearch, leaf: Facts, now: dt.datetime) -> list[Judged]:
    """Candidate paths to a trust anchor, each with what is wrong with it; stops at a good one."""
    found: list[Judged] = []
    for path in search.paths(leaf, now):
        problems = issuer_problems(path, now)
        found.append((path, problems))
        if not problems or len(found) >= 8:
            break
    return found


def _best(found: Sequence[Judged]) -> int:
    """Which path to report: the first without problems, else the first found (OpenSSL's)."""
    return next((i for i, (_, problems) in enumerate(found) if not problems), 0)


def _untrusted(leaf: Facts, search: PathSearch) -> CertProblem:
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


def _incomplete(used: Sequence[tuple[Facts, str]]) -> CertProblem:
    names = ", ".join(f"'{f.label}'" for f, _ in used)
    return CertProblem(
        Code.INCOMPLETE_CHAIN,
        f"The server does not send the intermediate certificate {names}. A client that "
        "does not fetch it by itself cannot link the certificate to a trusted root, and "
        "whether Gmail fetches it is not known: the server must send the full chain "
        "(fullchain.pem, not cert.pem).",
        {"missing": names, "fetched_from": ", ".join(url for _, url in used)},
    )
