"""The bundle's README: numbered steps written for this user's case."""

from __future__ import annotations

from gmailfix.diagnose import Diagnosis
from gmailfix.remedies.fix import FixPlan
from gmailfix.render.exim import apply_commands


def bundle_readme(plan: FixPlan, diagnosis: Diagnosis) -> str:
    before = "accepts" if diagnosis.accepted else "rejects"
    intro = [
        f"# Your Gmail fix for {plan.domain}",
        "",
        f"gmailfix checked your mail server as Gmail does. Today Gmail {before} it"
        + (f":\n\n> {diagnosis.verdict.error}\n" if diagnosis.verdict.error else "."),
        "",
        f"The fix in this folder: **{_title(plan)}**.",
        "",
        "Nothing here holds a password. `report.md` has the full diagnosis.",
        "",
        "## Steps",
        "",
    ]
    steps = {"isp-hostname": _isp_steps, "new-certificate": _cert_steps, "sni": _sni_steps}[
        plan.kind
    ](plan)
    numbered = [f"{n}. {step}" for n, step in enumerate(steps, 1)]
    return "\n".join(intro + numbered) + "\n\n" + _files_note(plan)


def _title(plan: FixPlan) -> str:
    return {
        "isp-hostname": f"type {plan.smtp_host} as SMTP Server in Gmail",
        "new-certificate": f"a free Let's Encrypt certificate for {plan.smtp_host}",
        "sni": "one certificate per domain on your Exim server, chosen by SNI",
    }[plan.kind]


def _gmail_step(plan: FixPlan) -> str:
    return (
        "In Gmail, enter the settings from `gmail-settings.txt`, field by field "
        f"(SMTP Server `{plan.smtp_host}`, port {plan.port}, "
        f"{'TLS' if plan.security == 'TLS' else 'SSL'})."
        if plan.kind != "sni"
        else "In Gmail, for each address, enter its block from `gmail-settings.txt`."
    )


def _check_step() -> str:
    return (
        "Check it worked: `sh verify.sh` must print OK for every line, and "
        "`gmailfix diagnose` must say *Gmail would accept this server*."
    )


def _isp_steps(plan: FixPlan) -> list[str]:
    return [
        f"Nothing changes on the server. Its certificate is for `{plan.smtp_host}`, which "
        "leads to the same server (gmailfix made a verified TLS connection to it).",
        _gmail_step(plan),
        _check_step(),
        "If your provider moves you to another server one day, run gmailfix again.",
    ]


def _apply_block(plan: FixPlan) -> str:
    commands = "\n".join(f"   {line}" for line in apply_commands(plan))
    return (
        f"Install the Exim settings ({plan.exim_layout} layout), check them, restart Exim:\n\n"
        f"   ```sh\n{commands}\n   ```\n\n"
        "   `exim4 -bV` must end without an error before you restart. If Exim "
        "listens only on 127.0.0.1 (Debian's default), run `dpkg-reconfigure exim4-config` "
        "and let it listen on all interfaces, or on the public one."
    )


def _cert_steps(plan: FixPlan) -> list[str]:
    host = plan.smtp_host
    return [
        f"Make `{host}` point at your mail server: add the records in `dns/records.zone` "
        "(skip what is already there). Port 80 must reach the server for the standard method.",
        "On the mail server, as root, install certbot (`apt-get install certbot`), then run "
        "`sh certbot/issue.sh` from this folder. It gets the certificate and its deploy hook "
        f"copies it to `{plan.cert_dir(host)}`, readable by Exim. No port 80? Use "
        "`sh certbot/issue.sh dns`. certbot in Docker? Use `sh certbot/docker-run.sh`.",
        _apply_block(plan),
        _gmail_step(plan),
        _check_step(),
        "Renewal is automatic: certbot's timer renews every 60 days and runs the deploy hook "
        "again. Test it with `certbot renew --dry-run`.",
    ]


def _sni_steps(plan: FixPlan) -> list[str]:
    hosts = ", ".join(f"`{h}`" for h in plan.cert_hosts)
    return [
        f"Point every host name at this server: {hosts} (records in `dns/records.zone`).",
        "As root on the server: `sh certbot/issue.sh`. It gets one certificate per host, plus a "
        f"default certificate covering all of them (for clients that send no SNI), and installs "
        f"them under `{plan.tls_dir}`.",
        _apply_block(plan),
        "Exim now picks each domain's certificate by the name Gmail asks for (SNI), through "
        f"the map `{plan.tls_dir}/sni.map`. A name that is not in the map, or no name, gets the "
        "default certificate: a client cannot make Exim read any other file.",
        _gmail_step(plan),
        _check_step(),
        "To add a domain later, run `gmailfix export` again with every `--alias-domain`.",
    ]


def _files_note(plan: FixPlan) -> str:
    return (
        "## What each file is\n\n"
        "See `MANIFEST.json` for the list with each file's role. The Exim file "
        "`exim4/tls-main.conf` works with any exim.conf (`.include` it in the main section).\n"
    )
