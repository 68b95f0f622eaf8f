"""Rank the fixes for a diagnosis, and verify the ISP host name for real."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from gmailfix.certs import ChainAnalysis, name_matches
from gmailfix.gmail import Verdict, security_for
from gmailfix.remedies.plan import Remedy
from gmailfix.smtp import ProbeResult

CERTIFICATE_CAUSES = frozenset(
    {
        "hostname-mismatch",
        "self-signed",
        "untrusted-root",
        "incomplete-chain",
        "expired",
        "not-yet-valid",
        "starttls-refused",
        "tls-handshake-failed",
    }
)

# checks one candidate name on the same port: returns (verified, evidence)
Checker = Callable[[str], Awaitable[bool]]


def isp_candidates(analysis: ChainAnalysis, ptr_names: Sequence[str]) -> list[str]:
    """Names the presented certificate covers: its SANs, and PTR names for a wildcard."""
    names = [n for n in analysis.leaf.names if "*" not in n]
    wildcards = [n for n in analysis.leaf.names if n.startswith("*.")]
    names += [p for p in ptr_names if wildcards and name_matches(p, wildcards)]
    return list(dict.fromkeys(n for n in names if n != analysis.host))


async def propose(
    *,
    domain: str,
    host: str,
    port: int,
    probe: ProbeResult | None,
    analysis: ChainAnalysis | None,
    verdict: Verdict,
    ptr_names: Sequence[str],
    check: Checker,
) -> tuple[Remedy, ...]:
    """The three fixes, the recommended one first.

    None when Gmail already accepts, or when the trouble is not the certificate
    (nothing listening, wrong TLS mode, no AUTH): a certificate cannot fix those,
    and the findings say what will.
    """
    if verdict.accept or verdict.cause not in CERTIFICATE_CAUSES:
        return ()
    security = security_for(port)
    isp = await _isp_hostname(host, port, analysis, ptr_names, check)
    cert_names = (host,)
    new_cert = Remedy(
        kind="new-certificate",
        recommended=not isp.verified,
        applicable=True,
        title="Get a free certificate for your mail server's name",
        reason=(
            f"A Let's Encrypt certificate for {host} makes Gmail's check pass and keeps the "
            "name you typed."
        ),
        smtp_host=host,
        port=port,
        security=security,
        names=cert_names,
    )
    served = tuple(analysis.leaf.names) if analysis else ()
    sni = Remedy(
        kind="sni",
        recommended=False,
        applicable=True,
        title="One certificate per domain on your own Exim server (SNI)",
        reason=(
            "If your Exim server sends mail for several domains, it can show each domain its own "
            f"certificate. Gmail then connects to mail.{domain} and gets a certificate for it."
            + (f" Today it shows one for {', '.join(served[:3])}." if served else "")
        ),
        smtp_host=host,
        port=port,
        security=security,
        names=(host,),
    )
    ranked = [isp, new_cert, sni] if isp.verified else [new_cert, isp, sni]
    return tuple(ranked)


async def _isp_hostname(
    host: str,
    port: int,
    analysis: ChainAnalysis | None,
    ptr_names: Sequence[str],
    check: Checker,
) -> Remedy:
    security = security_for(port)
    if analysis is None or not analysis.chain:
        return _isp_unavailable(host, port, "the server showed no certificate to take a name from")
    if not analysis.trusted or analysis.expired or analysis.incomplete_chain:
        return _isp_unavailable(
            host, port, "the certificate itself is not acceptable, so no name on it can help"
        )
    for name in isp_candidates(analysis, ptr_names):
        if await check(name):
            return Remedy(
                kind="isp-hostname",
                recommended=True,
                applicable=True,
                title=f"Type {name} as SMTP Server in Gmail",
                reason=(
                    f"The server's certificate is for {name}, which points to the same server "
                    "and passed a verified TLS handshake. Nothing on the server needs to change."
                ),
                smtp_host=name,
                port=port,
                security=security,
                verified=True,
                names=(name,),
            )
    return _isp_unavailable(
        host, port, "no name on the certificate reaches the same server with a valid handshake"
    )


def _isp_unavailable(host: str, port: int, why: str) -> Remedy:
    return Remedy(
        kind="isp-hostname",
        recommended=False,
        applicable=False,
        title="Use the name the certificate already covers",
        reason=f"Not available: {why}.",
        smtp_host=host,
        port=port,
        security=security_for(port),
    )
