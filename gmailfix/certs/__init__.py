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

The package, by concern: ``model`` (results), ``parse`` (reading, the one
guard), ``trust`` (anchors), ``names`` (host names, constraints), ``paths``
(building the path), ``checks`` (each link, the leaf), ``strict`` (the strict
verifier's second opinion), ``aia`` (a missing intermediate), ``analyse`` (the
whole judgement). Other modules import from here.
"""

from gmailfix.certs.aia import Fetcher, fetch_url
from gmailfix.certs.analyse import analyse_chain
from gmailfix.certs.model import CAUSE_ORDER, NO_CHAIN, CertInfo, CertProblem, Chain, ChainAnalysis
from gmailfix.certs.names import name_matches
from gmailfix.certs.parse import USAGE_BITS, describe, parse_chain
from gmailfix.certs.strict import QUIRKS
from gmailfix.certs.trust import TrustStore, load_pem_file

__all__ = [
    "CAUSE_ORDER",
    "NO_CHAIN",
    "QUIRKS",
    "USAGE_BITS",
    "CertInfo",
    "CertProblem",
    "Chain",
    "ChainAnalysis",
    "Fetcher",
    "TrustStore",
    "analyse_chain",
    "describe",
    "fetch_url",
    "load_pem_file",
    "name_matches",
    "parse_chain",
]
