"""DNS records the fix needs, as zone-file lines."""

from __future__ import annotations

import ipaddress

from gmailfix.inputs import is_ip_address
from gmailfix.remedies.plan import Plan


def zone_lines(plan: Plan) -> str:
    lines = [
        f"; DNS records for the mail server of {plan.domain}, written by gmailfix.",
        "; Zone-file lines: add them in your DNS provider's panel (type, name, value).",
        "",
    ]
    stale = plan.get("fix-dns-address")
    if stale is not None:
        lines.append(f"; Remove these records of {stale.smtp_host} (or point them at the server")
        lines.append("; that passes): Gmail picks any address, and these fail.")
        for address in stale.addresses:
            kind = "AAAA" if ":" in address else "A"
            lines.append(f"; remove: {stale.smtp_host}. IN {kind} {address}")
        lines.append("")
    if plan.cert_hosts and plan.needs_certificate:
        lines += _certificate_records(plan)
    return "\n".join(lines) + "\n"


def _certificate_records(plan: Plan) -> list[str]:
    lines = ["; Let's Encrypt checks these names from the internet before it issues."]
    seen = [a for a in plan.addresses if is_ip_address(a)]
    public = [a for a in seen if ipaddress.ip_address(a).is_global]
    for host in plan.cert_hosts:
        for address in public:
            kind = "AAAA" if ":" in address else "A"
            lines.append(f"{host}. 3600 IN {kind} {address}")
        if not public:
            lines.append(f"; {host}. 3600 IN A <your mail server's public IPv4 address>")
    private = [a for a in seen if a not in public]
    if private:
        lines.append(
            f"; gmailfix saw only non-public addresses ({', '.join(private)}): Let's Encrypt "
            "needs the public one."
        )
    lines += [
        "",
        "; Only for the DNS-01 method (sh certbot/issue.sh dns): certbot prints a value for",
    ]
    lines += [
        f';   _acme-challenge.{h}. 300 IN TXT "<the value certbot prints>"' for h in plan.cert_hosts
    ]
    lines += [
        "",
        "; Reverse DNS (PTR) of the server's address should name the host; your ISP sets it.",
    ]
    return lines
