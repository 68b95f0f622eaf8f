"""Turn DNS facts, probe results and chain analyses into Findings."""

from __future__ import annotations

from dataclasses import replace

from gmailfix.certs import ChainAnalysis, dns_names
from gmailfix.dns import DnsFacts
from gmailfix.findings import Finding, Severity, finding
from gmailfix.gmail import certificate_cause
from gmailfix.inputs import is_ip_address
from gmailfix.smtp import ProbeResult


def dns_findings(
    facts: DnsFacts, smtp_host: str | None, candidates: tuple[str, ...]
) -> list[Finding]:
    out: list[Finding] = []
    domain = facts.domain
    if not facts.exists:
        out.append(finding("nxdomain", f"{domain} does not exist in DNS.", host=domain))
    elif facts.null_mx:
        out.append(finding("null-mx", f"{domain} publishes MX 0 '.'.", host=domain))
    elif facts.implicit_mx:
        out.append(finding("no-mx", f"{domain} has an address but no MX record.", host=domain))
    elif not facts.mx and not any(a.name == domain and a.rdtype == "MX" for a in facts.errors):
        out.append(finding("no-mx", f"{domain} has neither MX nor address records.", host=domain))
    for mx in facts.mx:
        if is_ip_address(mx.host):
            out.append(
                finding(
                    "no-mx",
                    f"The MX record points at the IP address {mx.host}, which RFC 5321 forbids.",
                    host=mx.host,
                    severity=Severity.WARNING,
                )
            )
    if smtp_host and is_ip_address(smtp_host):
        out.append(
            finding("ip-smtp-host", f"'{smtp_host}' was typed as SMTP Server.", host=smtp_host)
        )
    for host in candidates:
        if host in facts.cnames:
            out.append(
                finding(
                    "cname-smtp-host",
                    f"{host} is an alias of {facts.cnames[host]}.",
                    host=host,
                    evidence={"target": facts.cnames[host]},
                )
            )
    if smtp_host and smtp_host in facts.nxdomain_hosts:
        out.append(
            finding("nxdomain", f"The SMTP host {smtp_host} does not exist.", host=smtp_host)
        )
    if not candidates:
        out.append(finding("no-candidates", host=domain))
    if facts.errors:
        failed = "; ".join(f"{a.rdtype} {a.name}: {a.error}" for a in facts.errors[:6])
        more = f" (and {len(facts.errors) - 6} more)" if len(facts.errors) > 6 else ""
        out.append(finding("dns-error", f"{failed}{more}.", host=domain))
    return out


def probe_findings(
    probe: ProbeResult, no_sni: ProbeResult | None, analysis: ChainAnalysis | None
) -> list[Finding]:
    out: list[Finding] = []
    if probe.error_code and probe.error_code != "no-auth":
        out.append(_at(probe, probe.error_code, _sentence(probe.error)))
    if analysis is not None:
        out += _certificate_findings(analysis, probe)
    if probe.error_code == "no-auth":
        out.append(_at(probe, "no-auth", _sentence(probe.error)))
    if probe.tls_version in ("TLSv1", "TLSv1.1", "SSLv3"):
        out.append(_at(probe, "old-tls-version", f"The server chose {probe.tls_version}."))
    sni = _sni_finding(probe, no_sni)
    if sni is not None:
        out.append(sni)
    return out


def _certificate_findings(analysis: ChainAnalysis, probe: ProbeResult) -> list[Finding]:
    leaf = analysis.leaf
    names = ", ".join(leaf.names) or "no host name"
    out: list[Finding] = []
    cause = certificate_cause(analysis)
    if cause == "self-signed":
        out.append(_at(probe, "self-signed", f"Certificate: {leaf.subject}.", names=names))
    elif cause == "incomplete-chain":
        out.append(
            _at(
                probe,
                "incomplete-chain",
                f"Missing: {analysis.missing_issuer}.",
                missing=analysis.missing_issuer or "",
            )
        )
    elif cause == "untrusted-root":
        out.append(
            _at(
                probe,
                "untrusted-root",
                f"Issuer: {leaf.issuer}. Verifier: {analysis.verify_error}.",
                issuer=leaf.issuer,
            )
        )
    if analysis.expired:
        out.append(_at(probe, "expired", f"It expired on {leaf.not_after:%Y-%m-%d}."))
    if analysis.not_yet_valid:
        out.append(_at(probe, "not-yet-valid", f"It starts on {leaf.not_before:%Y-%m-%d}."))
    if not analysis.name_ok:
        out.append(
            _at(
                probe,
                "hostname-mismatch",
                f"Gmail connects to {probe.host}; the certificate covers {names}.",
                names=names,
            )
        )
    if analysis.policy_error and analysis.trusted:
        out.append(_at(probe, "strict-verifier-only", f"Verifier: {analysis.policy_error}."))
    return out


def _sni_finding(probe: ProbeResult, no_sni: ProbeResult | None) -> Finding | None:
    if no_sni is None or not probe.chain:
        return None
    if not no_sni.chain:
        if no_sni.error_code in ("tls-handshake-failed", "starttls-refused"):
            detail = f"Without SNI the server fails: {no_sni.error}."
            return _at(probe, "sni-dependent-certificate", detail)
        return None
    if no_sni.chain[0] != probe.chain[0]:
        other = ", ".join(dns_names(no_sni.chain[0])) or no_sni.chain[0].subject.rfc4514_string()
        detail = f"Without SNI the certificate is for {other}."
        return _at(probe, "sni-dependent-certificate", detail, without_sni=other)
    return None


def _at(probe: ProbeResult, code: str, detail: str = "", **evidence: str) -> Finding:
    return replace(finding(code, detail, host=probe.host, port=probe.port), evidence=evidence)


def _sentence(text: str | None) -> str:
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith(".") else text + "."
