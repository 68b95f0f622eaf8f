"""Facts -> findings: DNS facts, probe results and chain analyses become Findings.

Each finding's detail says in plain words what is wrong in this case; the raw
technical text (a resolver's or TLS library's own message) goes to
``evidence``, one key away, never into the detail.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from gmailfix.dns import Answer, DnsFacts, Failure
from gmailfix.findings import Finding, Severity, finding
from gmailfix.inputs import is_ip_address
from gmailfix.vocabulary import Code

if TYPE_CHECKING:
    from gmailfix.check import AddressCheck, Endpoint
    from gmailfix.smtp import ProbeResult

_DNS_FAILURE_WORDS: dict[Failure, str] = {
    "timeout": "got no answer in time",
    "servfail": "answered that it failed to look the name up",
    "refused": "refused to answer",
    "unreachable": "could not be reached",
    "untrusted": "has a certificate this computer does not trust",
    "broken": "sent a reply that could not be used",
}
_LOCAL_CAUSE: dict[Failure, str] = {
    "timeout": "did not answer at all",
    "servfail": "answers, but cannot look anything up, not even the root of DNS (it probably "
    "has no connection to the internet)",
    "refused": "refuses to answer this computer",
    "unreachable": "cannot be reached: the network is unreachable from this computer",
    "untrusted": "is a DNS-over-HTTPS server whose certificate this computer does not trust",
    "broken": "sends replies that cannot be used",
}


def cannot_check_findings(facts: DnsFacts) -> list[Finding]:
    """Nothing could be learnt from DNS: say what is wrong *here* and what to try."""
    failure = facts.health.failure if facts.health else None
    failures = [a.failure for a in facts.errors if a.failure]
    kind: Failure = failure or (failures[0] if failures else "timeout")
    detail = (
        f"The DNS server gmailfix asked ({facts.resolver}) {_LOCAL_CAUSE[kind]}, so "
        f"nothing can be said about {facts.domain} from here. Check this computer's network "
        "connection and try again, or check from another computer."
    )
    evidence = {"resolver": facts.resolver}
    if facts.health is not None and facts.health.error:
        evidence["root query"] = facts.health.error
    for answer in facts.errors[:4]:
        evidence[f"{answer.rdtype} {answer.name}"] = answer.error or str(answer.failure)
    return [finding(Code.CANNOT_CHECK_HERE, detail, host=facts.domain, evidence=evidence)]


def diagnosis_findings(
    facts: DnsFacts,
    smtp_host: str | None,
    candidates: tuple[str, ...],
    endpoints: Sequence[Endpoint],
) -> list[Finding]:
    out = dns_findings(facts, smtp_host, candidates)
    for endpoint in endpoints:
        out += endpoint_findings(endpoint)
    return dedupe(out)


def dns_findings(
    facts: DnsFacts, smtp_host: str | None, candidates: tuple[str, ...]
) -> list[Finding]:
    out: list[Finding] = []
    domain = facts.domain
    mx_failed = any(a.name == domain and a.rdtype == "MX" for a in facts.errors)
    if not facts.exists:
        out.append(finding(Code.NXDOMAIN, f"{domain} does not exist in DNS.", host=domain))
    elif facts.null_mx:
        out.append(finding(Code.NULL_MX, f"{domain} publishes the 'no mail' record.", host=domain))
    elif facts.implicit_mx:
        out.append(finding(Code.NO_MX, f"{domain} has an address but no MX record.", host=domain))
    elif not facts.mx and not mx_failed and not facts.invalid_names:
        out.append(
            finding(Code.NO_MX, f"{domain} has neither MX nor address records.", host=domain)
        )
    for mx in facts.mx:
        if is_ip_address(mx.host):
            out.append(
                finding(
                    Code.NO_MX,
                    f"The MX record holds the IP address {mx.host} where a host name belongs; "
                    "mail servers may ignore it.",
                    host=mx.host,
                )
            )
    for where, name in facts.invalid_names:
        out.append(
            finding(
                Code.INVALID_DNS_NAME,
                f"The {where} record names a host that is not a valid host name.",
                host=domain,
                evidence={"name": name[:300]},
            )
        )
    if facts.skipped_mx:
        out.append(
            finding(
                Code.MX_SKIPPED,
                f"{facts.skipped_mx} more MX hosts were not checked.",
                host=domain,
            )
        )
    if smtp_host and is_ip_address(smtp_host):
        out.append(
            finding(Code.IP_SMTP_HOST, f"'{smtp_host}' was typed as SMTP Server.", host=smtp_host)
        )
    for host in candidates:
        if host in facts.cnames:
            out.append(
                finding(
                    Code.CNAME_SMTP_HOST,
                    f"{host} is an alias of {facts.cnames[host]}.",
                    host=host,
                    evidence={"target": facts.cnames[host]},
                )
            )
    if smtp_host and smtp_host in facts.nxdomain_hosts:
        out.append(
            finding(Code.NXDOMAIN, f"The SMTP server {smtp_host} does not exist.", host=smtp_host)
        )
    if not candidates:
        out.append(finding(Code.NO_CANDIDATES, host=domain))
    out += dns_error_findings(facts.domain, facts.errors)
    return out


def dns_error_findings(domain: str, errors: Iterable[Answer]) -> list[Finding]:
    """One finding per kind of DNS failure, the names in the detail, raw text as evidence."""
    by_kind: dict[Failure, list[Answer]] = defaultdict(list)
    for answer in errors:
        by_kind[answer.failure or "broken"].append(answer)
    out = []
    for kind, answers in by_kind.items():
        names = ", ".join(dict.fromkeys(a.name for a in answers[:6]))
        more = f" and {len(answers) - 6} more" if len(answers) > 6 else ""
        detail = f"The DNS server {_DNS_FAILURE_WORDS[kind]} for {names}{more}."
        evidence = {f"{a.rdtype} {a.name}": a.error or kind for a in answers[:6]}
        out.append(finding(Code.DNS_ERROR, detail, host=domain, evidence=evidence))
    return out


def endpoint_findings(endpoint: Endpoint) -> list[Finding]:
    out: list[Finding] = []
    for check in endpoint.checks:
        out += check_findings(check)
    outcomes = {c.address: c.verdict.outcome for c in endpoint.checks}
    total = len(outcomes) + endpoint.not_checked
    if len(set(outcomes.values())) > 1:
        good = [a for a, o in outcomes.items() if o == "accept"]
        bad = [a for a, o in outcomes.items() if o != "accept"]
        out.append(
            finding(
                Code.INCONSISTENT_ADDRESSES,
                f"{endpoint.host} has {total} addresses: {_some(bad)} fails, "
                f"{_some(good) or 'none'} passes.",
                host=endpoint.host,
                port=endpoint.port,
                address=bad[0],
                evidence={"fails": ", ".join(bad), "passes": ", ".join(good) or "none"},
            )
        )
    if endpoint.not_checked:
        checked = len(endpoint.checks)
        out.append(
            finding(
                Code.ADDRESSES_NOT_CHECKED,
                f"{endpoint.host} has {total} addresses: {checked} were checked, "
                f"{endpoint.not_checked} were not.",
                host=endpoint.host,
                port=endpoint.port,
                evidence={
                    "addresses in DNS": str(total),
                    "checked": str(checked),
                    "not checked": str(endpoint.not_checked),
                },
            )
        )
    return out


def _some(addresses: Sequence[str], shown: int = 4) -> str:
    """A few addresses in words: "a, b, c, d and 60 more"."""
    more = len(addresses) - shown
    listed = ", ".join(addresses[:shown])
    return f"{listed} and {more} more" if more > 0 else listed


def check_findings(check: AddressCheck) -> list[Finding]:
    probe = check.probe
    out: list[Finding] = []

    def at(code: Code, detail: str = "", **evidence: str) -> Finding:
        return finding(
            code,
            detail,
            host=probe.host,
            port=probe.port,
            address=check.address or None,
            evidence=evidence,
        )

    if probe.error_code and probe.error_code != Code.NO_AUTH:
        out.append(at(probe.error_code, _where(probe), **_said(probe.error)))
    if check.analysis is not None:
        for problem in check.analysis.problems:
            severity = Severity.WARNING if problem.code == Code.STRICT_VERIFIER_ONLY else None
            item = at(problem.code, problem.detail, **dict(problem.evidence))
            out.append(item if severity is None else _with_severity(item, severity))
    if probe.error_code == Code.NO_AUTH:
        out.append(at(Code.NO_AUTH, _where(probe), **_said(probe.error)))
    if check.login is not None and not check.login.ok and check.login.code is not None:
        out.append(
            at(check.login.code, "The server answered the login.", reply=check.login.reply or "")
        )
    if probe.tls_version in ("TLSv1", "TLSv1.1", "SSLv3"):
        out.append(at(Code.OLD_TLS_VERSION, f"The server chose {probe.tls_version}."))
    sni = _sni_finding(check)
    if sni is not None:
        out.append(sni)
    return out


def _with_severity(item: Finding, severity: Severity) -> Finding:
    from dataclasses import replace

    return replace(item, severity=severity)


def _sni_finding(check: AddressCheck) -> Finding | None:
    probe, no_sni = check.probe, check.probe_no_sni
    if no_sni is None or not probe.chain:
        return None
    where = {"host": probe.host, "port": probe.port, "address": check.address or None}
    if not no_sni.chain:
        if no_sni.error_code in (Code.TLS_HANDSHAKE_FAILED, Code.STARTTLS_REFUSED):
            detail = "Without SNI the server cannot set up encryption at all."
            return finding(
                Code.SNI_DEPENDENT_CERTIFICATE,
                detail,
                evidence={"without SNI": no_sni.error or ""},
                **where,  # type: ignore[arg-type]
            )
        return None
    if no_sni.chain.der[:1] != probe.chain.der[:1]:
        leaf = no_sni.chain.leaf
        other = (
            (", ".join(leaf.names) or leaf.subject) if leaf else "a certificate that cannot be read"
        )
        return finding(
            Code.SNI_DEPENDENT_CERTIFICATE,
            f"Without SNI the certificate is for {other}.",
            evidence={"without SNI": other},
            **where,  # type: ignore[arg-type]
        )
    return None


def dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str | None, int | None, str | None]] = set()
    unique = []
    for item in findings:
        key = (item.code, item.host, item.port, item.address)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _where(probe: ProbeResult) -> str:
    """Which check it was, in plain words: the technical account goes to the evidence."""
    how = "SSL" if probe.mode == "implicit" else "TLS"
    return f"Seen on port {probe.port} ({how}) of {probe.host}."


def _said(text: str | None) -> dict[str, str]:
    return {"what happened": text} if text else {}
