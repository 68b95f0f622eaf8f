"""The bundle's README: numbered steps written for this person's case.

Every step names a file the bundle holds, says who runs it (root on the mail
server, or anyone), and comes in the order that works: get the certificate,
install the settings, prove the running config holds them, check as Gmail
does, and only then change Gmail. Outside text appears only as quoted code.
"""

from __future__ import annotations

from shlex import quote

from gmailfix.diagnose import Diagnosis
from gmailfix.inbound import DANE_KINDS, tlsa_name
from gmailfix.remedies.model import panel_way
from gmailfix.remedies.plan import Plan
from gmailfix.render.exim import (
    LAYOUT_FILES,
    LAYOUT_LABELS,
    PASSWD,
    WHICH_LAYOUT,
    check_commands,
    install_commands,
    layouts,
)
from gmailfix.render.postfix import DOVECOT_FILE, postfix_apply_commands, postfix_files
from gmailfix.render.systemd import GMAILFIX, SYSTEMD_ROLES, TIMER, TIMER_NAME, UNIT_FOLDER
from gmailfix.render.verify import SHOW_COMMAND, diagnose_command, verify_command
from gmailfix.stacks.catalog import info
from gmailfix.text import md_code, md_text


def bundle_readme(plan: Plan, diagnosis: Diagnosis, extras: tuple[str, ...] = ()) -> str:
    """``extras``: paths of optional files the bundle also holds (the systemd timer)."""
    lines = [f"# Your Gmail fix for {md_text(plan.domain)}", ""]
    lines += _today(plan, diagnosis)
    lines += _the_fix(plan)
    lines += [
        "Nothing here holds a password. `report.md` has the full diagnosis; `MANIFEST.json` "
        "lists every file with its role and the plan `gmailfix apply` reads.",
        "",
    ]
    by_hand = "## Steps"
    managed = any(panel_way(plan.stack, kind) for kind in plan.kinds)
    if managed:
        lines += _panel_section(plan, diagnosis)
        by_hand = f"## Or, if you manage {_MTA_LABEL[plan.mta]} by hand"
    lines += [by_hand, ""]
    steps: list[str] = []
    hand: list[str] = []
    if plan.has("fix-dns-address"):
        steps.append(_dns_address_step(plan))
    if plan.on_server:
        if plan.needs_certificate:
            steps.append(_dns_step(plan))
        steps.append(_copy_step(plan))
        if plan.inbound:
            steps.append(_inbound_step(plan))
        if plan.needs_certificate:
            steps.append(_issue_step(plan))
        if plan.has("serve-full-chain"):
            steps.append(_full_chain_step(plan))
        if managed:  # gmailfix apply leaves a panel's files alone: the commands by hand
            steps += _hand_steps(plan)
        else:
            hand = _hand_steps(plan)
            steps.append(_apply_step(plan))
        if plan.has("enable-auth") and plan.mta == "exim":
            steps.append(_password_step(plan))
        if plan.has("open-port"):
            steps.append(_firewall_step(plan))
    steps += [_verify_step(plan), _gmail_step(plan), *_after(plan)]
    if TIMER in extras:
        steps.append(_timer_step())
    lines += [f"{n}. {step}" for n, step in enumerate(steps, 1)]
    if hand:
        apply_number = next(n for n, s in enumerate(steps, 1) if s.startswith(_APPLY_START))
        lines += [
            "",
            f"## By hand, instead of step {apply_number}",
            "",
            "If gmailfix cannot run on the mail server, these commands make the same "
            "changes (without the automatic backup, check and rollback):",
            "",
        ]
        lines += [f"{n}. {step}" for n, step in enumerate(hand, 1)]
    return "\n".join(lines) + "\n"


def _the_fix(plan: Plan) -> list[str]:
    if len(plan.remedies) == 1:
        remedy = plan.remedy
        return [f"**The fix: {remedy.title}.** {md_text(remedy.reason, limit=1000)}", ""]
    lines = [f"**The fix, {len(plan.remedies)} parts in one plan** (each is needed):", ""]
    lines += [
        f"- **{r.title}.** {md_text(r.reason, limit=1000)}" if r.reason else f"- **{r.title}.**"
        for r in plan.remedies
    ]
    return [*lines, ""]


def _dns_address_step(plan: Plan) -> str:
    remedy = plan.get("fix-dns-address")
    assert remedy is not None
    where = ", ".join(md_code(a) for a in remedy.addresses)
    return (
        f"In your DNS provider's panel, remove the record of {md_code(remedy.smtp_host)} that "
        f"points at {where} (or point it at the server that passes): `dns/records.zone` names "
        "it. Gmail picks any of the host's addresses, so while that record is there, some "
        "sends fail. A change can take up to the record's TTL to reach everyone."
    )


def _copy_step(plan: Plan) -> str:
    return (
        "Copy this folder to the mail server (for example `scp -r THIS-FOLDER "
        "root@your-server:`) and open a shell there, as root, in the folder. The steps below "
        "run there; `gmailfix` must be installed on the server (see gmailfix's README)."
    )


_APPLY_START = "As root on the mail server, in this folder, let gmailfix make the changes"


def _apply_step(plan: Plan) -> str:
    what = [
        step.title[0].lower() + step.title[1:]
        for step in plan.steps
        if step.where == "server" and step.key not in ("dns-records", "certificate", "full-chain")
    ]
    return (
        f"{_APPLY_START}: {'; '.join(what)}."
        + _block(["gmailfix apply .", "gmailfix apply . --yes"])
        + "\n\n   The first command only shows the changes, as a diff. With `--yes` it backs up "
        "every file it touches, writes, checks the configuration with the mail server's own "
        "tool, restarts it, checks as Gmail does, and puts everything back if any of that "
        "fails. `gmailfix rollback` undoes it later. It reads only `MANIFEST.json` and writes "
        "what the installed gmailfix makes of it; the other files are for reading."
    )


def _dns_step(plan: Plan) -> str:
    hosts = ", ".join(md_code(h) for h in plan.cert_hosts)
    return (
        f"In your DNS provider's panel, make {hosts} point at your mail server: "
        "`dns/records.zone` lists the records to add (skip those already there). Let's "
        "Encrypt checks the name from the internet before it issues."
    )


def _issue_step(plan: Plan) -> str:
    return (
        "As root on the mail server, install certbot and get the certificate:"
        + _block(["apt-get install certbot", "sh certbot/issue.sh"])
        + "\n\n   `issue.sh` answers Let's Encrypt on port 80 itself. If a web server already "
        "uses port 80, run `sh certbot/issue.sh webroot /var/www/html` (its document root) "
        "instead; with no port 80 at all, `sh certbot/issue.sh dns` (you add a TXT record "
        "when asked). certbot in Docker: `sh certbot/docker-run.sh`. The deploy hook then "
        f"copies the certificate to {md_code(plan.tls_dir)}, where the mail server reads it, and "
        "does so again at every renewal."
    )


def _hand_steps(plan: Plan) -> list[str]:
    """The server's changes without gmailfix on the server: what apply would do."""
    if plan.mta == "postfix":
        return _postfix_steps(plan)
    steps: list[str] = []
    if plan.exim_layout is None:
        steps.append(_which_layout_step())
    steps.append(_install_step(plan))
    return steps


_MTA_LABEL = {"exim": "Exim", "postfix": "Postfix"}


def _panel_section(plan: Plan, diagnosis: Diagnosis) -> list[str]:
    """A control panel's own way first: its files are not to be edited by hand."""
    stack = info(plan.stack)
    seen = diagnosis.mail_stack
    lines = [f"## Your server looks like {md_text(stack.label)}", ""]
    if seen is not None and seen.evidence and seen.name == plan.stack:
        lines += [f"gmailfix thinks so because {md_text(seen.evidence[0], limit=300)}.", ""]
    lines += [
        f"**Simplest:** {md_text(stack.simplest_fix, limit=1000)}",
        "",
        "Or get a certificate for your alias's name the panel's own way:",
        "",
    ]
    lines += [f"{n}. {md_text(step, limit=1000)}" for n, step in enumerate(stack.own_steps, 1)]
    lines += ["", f"*{md_text(stack.note, limit=500)}*", ""]
    return lines


def _today(plan: Plan, diagnosis: Diagnosis) -> list[str]:
    verdict = diagnosis.verdict
    where = f"{md_code(verdict.settings.smtp_server)} port {verdict.settings.port}"
    if verdict.outcome == "accept":
        return [
            f"gmailfix checked your mail server as Gmail does: Gmail accepts {where} today.",
            "",
        ]
    return [
        f"gmailfix checked your mail server as Gmail does. Today Gmail refuses {where} and says:",
        "",
        f"> {md_text(verdict.error or '', limit=500)}",
        "",
    ]


def _block(commands: list[str]) -> str:
    body = "\n".join(f"   {line}" for line in commands)
    return f"\n\n   ```sh\n{body}\n   ```"


def _postfix_steps(plan: Plan) -> list[str]:
    steps: list[str] = []
    commands = postfix_apply_commands(plan)
    text = (
        "As root on the mail server, from this folder, apply the Postfix settings (the "
        "commands keep copies of main.cf and master.cf as `.before-gmailfix`), check and "
        "reload:" + _block(commands)
    )
    if DOVECOT_FILE in postfix_files(plan):
        text += (
            "\n\n   Logins go through Dovecot (`apt-get install dovecot-core`): the username "
            "and password Gmail uses are those Dovecot accepts (on Debian, the system's users)."
        )
    steps.append(text + "\n\n   `postfix check` must print nothing before the reload.")
    return steps


def _which_layout_step() -> str:
    return (
        "Find out how your Exim is configured. On the mail server run:"
        + _block([WHICH_LAYOUT])
        + "\n\n   `'false'` or no line: **Debian, one file** (Debian's default). `'true'`: "
        "**Debian, split**. No such file: not Debian's Exim, use **any exim.conf**. The steps "
        "below give the files for each; use only yours. Settings put in the other layout's "
        "file are silently ignored."
    )


def _mta_user(plan: Plan) -> str:
    return "root only" if plan.mta == "postfix" else "group Debian-exim, mode 0640"


def _full_chain_step(plan: Plan) -> str:
    host = plan.cert_hosts[0] if plan.cert_hosts else plan.smtp_host
    directory = plan.cert_dir(host)
    return (
        "As root on the mail server, put the full chain where Exim will read it. With a "
        "certbot certificate, let the deploy hook copy `fullchain.pem` (replace NAME with the "
        "folder under /etc/letsencrypt/live/), and keep it for renewals:"
        + _block(
            [
                "RENEWED_LINEAGE=/etc/letsencrypt/live/NAME sh certbot/deploy-hook.sh",
                "install -m 0755 certbot/deploy-hook.sh "
                f"/etc/letsencrypt/renewal-hooks/deploy/gmailfix-{plan.mta}.sh",
            ]
        )
        + "\n\n   With a certificate from another authority, join your certificate and the "
        "intermediate certificate it gave you, in that order, into "
        f"{md_code(directory + '/fullchain.pem')} and put the key in "
        f"{md_code(directory + '/privkey.pem')} ({_mta_user(plan)})."
    )


def _password_step(plan: Plan) -> str:
    user = plan.username or "me@example.com"
    text = (
        "As root on the mail server, give each person who sends through Gmail a login. "
        "Make a hashed password (you type it; it is not shown) and add a line "
        f"`user:hash` to {md_code(PASSWD)}:"
        + _block(
            [
                "hash=$(openssl passwd -6)",
                f'printf "%s:%s\\n" {quote(user)} "$hash" >> {PASSWD}',
                f"chown root:Debian-exim {PASSWD} && chmod 0640 {PASSWD}",
            ]
        )
    )
    if plan.username is None:
        who = f"Replace {md_code(user)} with the username you will type in Gmail."
    else:
        who = f"{md_code(user)} is the username you type in Gmail; one line per person."
    return text + f"\n\n   {who} The password itself is never written anywhere."


def _install_step(plan: Plan) -> str:
    blocks = []
    for layout in layouts(plan):
        label = LAYOUT_LABELS[layout]
        commands = install_commands(plan, layout) + check_commands(layout)
        blocks.append(f"\n\n   **{label}** (`{LAYOUT_FILES[layout][0]}`):" + _block(commands))
    note = (
        "\n\n   `exim4 -bV` must end without an error before you restart. If a file already "
        "exists, the commands keep a copy (`.before-gmailfix`) and ask you to add our lines "
        "to it by hand. If Exim listens only on 127.0.0.1 (Debian's default), set "
        "`dc_local_interfaces=''` in /etc/exim4/update-exim4.conf.conf so it listens on "
        "the public address too."
    )
    return (
        "As root on the mail server, install the Exim settings, check them, restart:"
        + "".join(blocks)
        + note
    )


def _firewall_step(plan: Plan) -> str:
    return (
        "Let Gmail reach the ports through the server's firewall (use the one your server has):"
        + _block(
            [
                "ufw allow 587/tcp && ufw allow 465/tcp",
                "# or: iptables -I INPUT -p tcp -m multiport --dports 587,465 -j ACCEPT",
            ]
        )
        + "\n\n   A firewall at your hosting provider (a security group or panel setting) "
        "must allow them as well."
    )


def _verify_step(plan: Plan) -> str:
    command = verify_command(plan)
    text = f"Check it works, before you touch Gmail: `{command}` must print OK for every line."
    if plan.on_server and plan.changes_certificate:
        text += (
            f" On the mail server, `{command} --server` also proves the running "
            f"{_MTA_LABEL[plan.mta]} uses the new settings (it runs "
            f"`{SHOW_COMMAND[plan.mta]}`)."
        )
    text += f" Then {md_code(diagnose_command(plan))} must say *Gmail would accept this server*."
    if plan.dns_server or plan.ca_files:  # a lab's (the demo's): gone when it stops
        text += (
            " These commands carry the DNS server and CA of the test lab this fix was made "
            "with: they work while that lab runs."
        )
    return text


def _gmail_step(plan: Plan) -> str:
    if plan.has("sni"):
        return "In Gmail, for each address, enter its block from `gmail-settings.txt`."
    how = "TLS" if plan.security == "TLS" else "SSL"
    return (
        "In Gmail, enter the settings from `gmail-settings.txt`, field by field "
        f"(SMTP Server {md_code(plan.smtp_host)}, port {plan.port}, "
        f"'Secured connection using {how}')."
    )


def _after(plan: Plan) -> list[str]:
    steps = []
    if plan.needs_certificate:
        steps.append(
            "Renewal is automatic: certbot's timer renews about every 60 days and runs the "
            "deploy hook again. Test it as root with `certbot renew --dry-run`."
        )
    if plan.has("sni"):
        steps.append("To add a domain later, run `gmailfix export` again with every alias domain.")
    if steps:
        return steps
    if not plan.on_server:
        return ["If your provider moves you to another server one day, run gmailfix again."]
    return []


def _timer_step() -> str:
    units = " ".join(SYSTEMD_ROLES)
    return (
        "Optional: keep checking. As root on the mail server (or any Linux machine with "
        "gmailfix and systemd), let systemd check daily as Gmail does:"
        + _block(
            [
                f'test -x {GMAILFIX} || ln -s "$(command -v gmailfix)" {GMAILFIX}',
                f"install -m 0644 {units} {UNIT_FOLDER}/",
                f"systemctl daemon-reload && systemctl enable --now {TIMER_NAME}",
            ]
        )
        + "\n\n   Each day it writes one line to the journal (`journalctl -u gmailfix-check`): "
        "OK, WARN when less than a third of the certificate's lifetime is left (a renewal "
        "should have replaced it by then), REFUSED with Gmail's words, or UNKNOWN when it "
        "could not check. Anything but OK also mails root, when the server has a `mail` "
        f"command (`apt-get install bsd-mailx`). `systemctl list-timers {TIMER_NAME}` shows "
        "the next run."
    )


def _inbound_step(plan: Plan) -> str:
    """Before the new certificate reaches port 25: what DANE or MTA-STS needs first."""
    risks = plan.inbound
    hosts = ", ".join(md_code(h) for h in dict.fromkeys(r.host for r in risks))
    text = (
        f"**Before the switch, keep mail to you arriving.** Other mail servers deliver to "
        f"{hosts} on port 25, and the new certificate will be served there too. "
    )
    # one sentence per MX host, however many of its records pin something
    dane = {r.host: r.validated for r in risks if r.kind in DANE_KINDS and r.kind != "dane-unread"}
    for host, validated in dane.items():
        checked = (
            "the answer was DNSSEC-validated"
            if validated
            else "the resolver gmailfix asked did not say it was DNSSEC-validated; if the "
            "zone is signed, it is in force"
        )
        text += (
            f"{md_code(tlsa_name(host))} has a DANE record (TLSA, {checked}) that those "
            "servers check the certificate against, and the new certificate has a new key. "
        )
    for risk in risks:
        if risk.kind == "dane-unread":
            text += (
                f"The TLSA look-up of {md_code(tlsa_name(risk.host))} failed from here: look in "
                "your DNS panel whether it has TLSA records; if it does, do as below. "
            )
    if dane or any(r.kind == "dane-unread" for r in risks):
        host = plan.cert_hosts[0] if plan.cert_hosts else plan.smtp_host
        fullchain = f"{plan.cert_dir(host)}/fullchain.pem"
        records = " and ".join(md_code(f"{tlsa_name(h)}.") for h in dane) or "that name"
        text += (
            "So: in the next step, get the certificate with its key kept at every renewal "
            "(`sh certbot/issue.sh standalone --reuse-key`), then compute the record for its key:"
            + _block(
                [
                    f"openssl x509 -in {fullchain} -noout -pubkey | openssl pkey -pubin "
                    "-outform DER | sha256sum"
                ]
            )
            + f"\n\n   In your DNS panel, add to {records} a record `TLSA 3 1 1 HASH` (HASH: "
            "the 64 hex digits printed) next to the one there now, keep the old one, and wait "
            "for the old record's time to live (often an hour) before `gmailfix apply`. Once "
            "port 25 serves the new certificate, remove the old record. "
        )
    for risk in risks:
        if risk.kind == "mta-sts":
            text += (
                f"Your MTA-STS policy (mode enforce) lists {md_code(risk.host)}, which the new "
                f"certificate does not cover: add it when you get the certificate "
                f"(`sh certbot/issue.sh standalone -d {risk.host}`). "
            )
        elif risk.kind == "mta-sts-unread":
            text += (
                "Your domain announces an MTA-STS policy that gmailfix could not read: if its "
                f"`mx:` lines list {md_code(risk.host)}, the new certificate must cover it too. "
            )
    return text + (
        "Or keep port 25 on today's certificate and use the new one for 587 and 465 only "
        "(gmailfix does not write that setting). `gmailfix apply` will not use this bundle "
        "until you say this is done: `gmailfix apply . --inbound-done` (then with `--yes`)."
    )
