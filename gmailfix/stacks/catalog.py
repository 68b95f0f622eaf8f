"""Each mail stack's own words and steps: where its certificate lives, the
simplest fix, and the stack's own way to get a certificate for the name typed
in Gmail.

One place for all of it, so the wizard, the report and the bundle say the
same thing. Only what docs/FACTS.md states (it cites the vendors' documentation) is
here; what docs/FACTS.md marks "not confirmed" is said to be so. ``source`` is
"proven" only for what this project runs on the real program (Debian's Exim
and Postfix); the rest is "documented", and its ``note`` says gmailfix has not
run it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from gmailfix.stacks.recognise import STACK_NAMES, Confidence, MailStack, StackName

Mta = Literal["exim", "postfix", "other"]
Source = Literal["proven", "documented"]

NOT_RUN = "not run by gmailfix"  # every documented note says this, in these words
RECHECK = "Run gmailfix again to check that the server now shows the new certificate."


@dataclass(frozen=True)
class StackInfo:
    """What a person needs to know about one stack to fix Gmail's complaint."""

    name: StackName
    label: str  # for people: "cPanel (Exim)", "Debian with Exim", ...
    mta: Mta
    certificate_home: str  # where its certificate lives, in plain words
    simplest_fix: str  # the simplest fix first, in plain words
    own_steps: tuple[str, ...]  # the stack's own way, one sentence per step, in order
    source: Source
    note: str  # where the words come from, and what is not confirmed
    # A panel or a container image keeps the mail config: its files are not
    # edited by hand (gmailfix apply refuses), its own way comes first.
    managed: bool = False


def info(name: StackName) -> StackInfo:
    """The catalog entry for ``name``; every stack name has one."""
    return STACKS[name]


_SURE: dict[Confidence, str] = {"high": "", "medium": " (probably)", "low": " (a weak guess)"}


def looks_like(found: MailStack | None) -> tuple[str, str, str | None] | None:
    """For "Your server looks like LABEL SURE: REASON.": (label, how sure, the first
    reason, which quotes the server) or None when the stack is unknown."""
    if found is None or found.name == "unknown":
        return None
    reason = found.evidence[0] if found.evidence else None
    return info(found.name).label, _SURE[found.confidence], reason


def own_way_lines(entry: StackInfo) -> list[str]:
    """A panel's own way to a certificate, in plain lines (the simplest first)."""
    return [
        f"Simplest: {entry.simplest_fix}",
        f"Or get a certificate for your alias's name the {entry.label} way:",
        *(f"{n}. {step}" for n, step in enumerate(entry.own_steps, 1)),
        f"({entry.note})",
    ]


def _documented(vendor: str, extra: str = "") -> str:
    return f"From {vendor}'s documentation; {NOT_RUN}." + (f" {extra}" if extra else "")


_ENTRIES: tuple[StackInfo, ...] = (
    StackInfo(
        name="exim-debian",
        label="Debian with Exim",
        mta="exim",
        certificate_home=(
            "Debian's Exim reads the certificate and key named by the macros "
            "MAIN_TLS_CERTIFICATE and MAIN_TLS_PRIVATEKEY (by default /etc/exim4/exim.crt and "
            "/etc/exim4/exim.key). Until it has one, it shows its built-in self-signed "
            "certificate (O=Exim Developers), which Gmail refuses."
        ),
        simplest_fix=(
            "Get a free Let's Encrypt certificate for the name you type in Gmail and point "
            "Exim at a copy it can read; gmailfix writes the settings and the certbot hook "
            "for you."
        ),
        own_steps=(
            "Look in /etc/exim4/update-exim4.conf.conf: dc_use_split_config='false' (Debian's "
            "default) means one config file, 'true' means the conf.d folders.",
            "Get the certificate with certbot, with a deploy hook that copies fullchain.pem "
            "and privkey.pem into a folder owned by root with group Debian-exim (folder 0750, "
            "key 0640): Exim reads them as Debian-exim, and certbot's own folders are "
            "readable by root only.",
            "Put MAIN_TLS_ENABLE = yes, MAIN_TLS_CERTIFICATE and MAIN_TLS_PRIVATEKEY (pointing "
            "at those copies) in /etc/exim4/exim4.conf.localmacros (one file) or "
            "/etc/exim4/conf.d/main/000_localmacros (conf.d).",
            "Run update-exim4.conf, then invoke-rc.d exim4 restart.",
            RECHECK,
        ),
        source="proven",
        note="Checked by gmailfix on the real Debian Exim 4.96.",
    ),
    StackInfo(
        name="exim",
        label="Exim",
        mta="exim",
        certificate_home=(
            "Exim reads the files named by tls_certificate and tls_privatekey in its "
            "configuration; exim -bP tls_certificate shows which file it uses."
        ),
        simplest_fix=(
            "Get a free Let's Encrypt certificate for the name you type in Gmail and set "
            "tls_certificate and tls_privatekey to a copy Exim's user can read; gmailfix "
            "writes the settings and the certbot hook for you."
        ),
        own_steps=(
            "Get the certificate with certbot, with a deploy hook that copies fullchain.pem "
            "(not cert.pem, which lacks the intermediate) and privkey.pem to a folder Exim's "
            "user can read.",
            "Load gmailfix's exim4/tls-main.conf with .include in the main section of your "
            "exim.conf, or set tls_certificate and tls_privatekey to those copies yourself.",
            "Check the file with exim -bV -C followed by the config file's path; it catches "
            "misspelt options, but not a missing or unreadable certificate, which shows only "
            "when a client connects.",
            "Restart Exim. Later renewals need no restart: Exim picks up replaced files by itself.",
            RECHECK,
        ),
        source="proven",
        note="Checked by gmailfix on the real Exim 4.96.",
    ),
    StackInfo(
        name="postfix-debian",
        label="Debian with Postfix",
        mta="postfix",
        certificate_home=(
            "Postfix reads the files named in /etc/postfix/main.cf: smtpd_tls_chain_files "
            "(Postfix 3.4 and later: the key, then its certificate chain) or the older "
            "smtpd_tls_cert_file and smtpd_tls_key_file. Debian starts it with a self-signed "
            '"snakeoil" certificate (/etc/ssl/certs/ssl-cert-snakeoil.pem), which Gmail '
            "refuses."
        ),
        simplest_fix=(
            "Get a free Let's Encrypt certificate for the name you type in Gmail and point "
            "smtpd_tls_chain_files at its key and full chain; gmailfix writes the commands "
            "and the certbot hook for you."
        ),
        own_steps=(
            "Get the certificate with certbot for the name you type in Gmail.",
            "Set smtpd_tls_chain_files to privkey.pem followed by fullchain.pem with "
            "postconf -e; Postfix reads keys as root, so certbot's own folder works.",
            "For several names on one server, list each name's files in "
            "tls_server_sni_maps = hash:/etc/postfix/sni and build it with postmap -F; that "
            "map holds copies of the files, so it must be rebuilt after every renewal.",
            "Run postfix reload, and have certbot's deploy hook run it (and postmap -F, if "
            "you use the map) after each renewal: Postfix keeps the old certificate until "
            "reloaded.",
            RECHECK,
        ),
        source="proven",
        note="Checked by gmailfix on the real Debian Postfix 3.7.",
    ),
    StackInfo(
        name="postfix",
        label="Postfix",
        mta="postfix",
        certificate_home=(
            "Postfix reads the files named by smtpd_tls_chain_files (Postfix 3.4 and later) "
            "or smtpd_tls_cert_file and smtpd_tls_key_file in main.cf; postconf followed by "
            "those names shows which files it uses."
        ),
        simplest_fix=(
            "Get a free Let's Encrypt certificate for the name you type in Gmail and point "
            "smtpd_tls_chain_files at its key and full chain; gmailfix writes the commands "
            "and the certbot hook for you."
        ),
        own_steps=(
            "Get the certificate with certbot for the name you type in Gmail.",
            "Set smtpd_tls_chain_files to privkey.pem followed by fullchain.pem with postconf -e.",
            "For several names on one server, use tls_server_sni_maps built with postmap -F, "
            "and rebuild it after every renewal.",
            "Run postfix reload, and have certbot's deploy hook run it after each renewal.",
            RECHECK,
        ),
        source="proven",
        note="Checked by gmailfix on the real Postfix 3.7.",
    ),
    StackInfo(
        name="cpanel",
        label="cPanel & WHM (Exim)",
        mta="exim",
        certificate_home=(
            "cPanel gives Exim a service certificate for the server's own host name, managed "
            "in WHM. Since version 60 it also serves each domain's own certificate to clients "
            "that ask for that name (mail SNI). AutoSSL covers the names cPanel knows for your "
            "sites, not a mail. name you added yourself as a CNAME."
        ),
        simplest_fix=(
            "Type the server's own host name (the name its certificate covers; your host can "
            "tell you, and it looks like server123.host.example) as 'SMTP Server' in Gmail, "
            "instead of mail.yourdomain."
        ),
        own_steps=(
            "If you run WHM: open Manage Service SSL Certificates and install, for the Exim "
            "service, a certificate that covers the name you type in Gmail.",
            "The same can be done from the command line with whmapi1 "
            "install_service_ssl_certificate service=exim; cPanel's documentation lists the "
            "certificate and key it also needs.",
            "If the name belongs to one of your cPanel domains, let AutoSSL cover it, then "
            "rebuild the mail SNI setup with uapi SSL rebuild_mail_sni_config.",
            RECHECK,
        ),
        source="documented",
        managed=True,
        note=_documented(
            "cPanel",
            "Recognising cPanel by its greeting notice is inferred, not confirmed.",
        ),
    ),
    StackInfo(
        name="directadmin",
        label="DirectAdmin (Exim)",
        mta="exim",
        certificate_home=(
            "DirectAdmin's Exim reads /etc/exim.cert and /etc/exim.key. Certificates for "
            "other names are said to be listed in /etc/virtual/snidomains; that is not "
            "confirmed in DirectAdmin's documentation."
        ),
        simplest_fix=(
            "Type the server's own host name (the name its certificate covers) as "
            "'SMTP Server' in Gmail."
        ),
        own_steps=(
            "In DirectAdmin, use its Let's Encrypt feature to get a certificate that also "
            "covers the mail name you type in Gmail; the exact menu depends on your version.",
            RECHECK,
        ),
        source="documented",
        managed=True,
        note=_documented(
            "DirectAdmin",
            "From outside, DirectAdmin looks like any Exim server, so gmailfix cannot "
            "recognise it by itself.",
        ),
    ),
    StackInfo(
        name="hestiacp",
        label="HestiaCP (Exim)",
        mta="exim",
        certificate_home=(
            "HestiaCP's Exim serves /usr/local/hestia/ssl/mail/NAME.crt for a client that "
            "asks for NAME, and /usr/local/hestia/ssl/certificate.crt (the server's own "
            "certificate) otherwise."
        ),
        simplest_fix=(
            "Let HestiaCP get a Let's Encrypt certificate for the domain's mail, then type "
            "mail.yourdomain as 'SMTP Server' in Gmail."
        ),
        own_steps=(
            "Make sure mail.yourdomain and webmail.yourdomain both point to this server: "
            "Let's Encrypt checks both.",
            "As root, run v-add-letsencrypt-domain USER DOMAIN '' yes, where USER is the "
            "HestiaCP user who owns DOMAIN; the final yes asks for the mail certificate.",
            "For the server's own host name, run v-add-letsencrypt-host.",
            RECHECK,
        ),
        source="documented",
        managed=True,
        note=_documented("HestiaCP"),
    ),
    StackInfo(
        name="plesk",
        label="Plesk (Postfix)",
        mta="postfix",
        certificate_home=(
            "Plesk's Postfix uses /etc/postfix/postfix_default.pem. Whether Plesk serves a "
            "separate certificate per domain for mail is not confirmed."
        ),
        simplest_fix=(
            "In Plesk, choose a certificate for mail that covers the name you type in Gmail, "
            "or type a name that the current mail certificate covers."
        ),
        own_steps=(
            "In Plesk, go to Tools & Settings > SSL/TLS Certificates and pick the certificate "
            "that secures mail; it must cover the name you type in Gmail.",
            "Restart the mail service with mailmng --restart-service (Plesk's mail tool).",
            RECHECK,
        ),
        source="documented",
        managed=True,
        note=_documented(
            "Plesk",
            "From outside, Plesk looks like any Postfix server, so gmailfix cannot "
            "recognise it by itself.",
        ),
    ),
    StackInfo(
        name="mailcow",
        label="mailcow (Postfix)",
        mta="postfix",
        certificate_home=(
            "mailcow's acme container gets the certificate for MAILCOW_HOSTNAME and for the "
            "extra names in ADDITIONAL_SAN, both set in mailcow.conf; with ENABLE_SSL_SNI=y "
            "it serves each domain's own certificate."
        ),
        simplest_fix=(
            "Type MAILCOW_HOSTNAME (the server name in mailcow.conf) as 'SMTP Server' in Gmail."
        ),
        own_steps=(
            "In mailcow.conf, add the names to ADDITIONAL_SAN; for example "
            "ADDITIONAL_SAN=smtp.*,mail.* covers smtp. and mail. of every mail domain.",
            "Set ENABLE_SSL_SNI=y in mailcow.conf if each domain should get its own certificate.",
            "Restart the acme-mailcow container so it asks for the new names; mailcow's "
            "documentation gives the docker compose command for your version.",
            RECHECK,
        ),
        source="documented",
        managed=True,
        note=_documented("mailcow"),
    ),
    StackInfo(
        name="docker-mailserver",
        label="docker-mailserver (Postfix)",
        mta="postfix",
        certificate_home=(
            "docker-mailserver uses one certificate for the container's full host name, "
            "chosen by SSL_TYPE: letsencrypt (a Let's Encrypt folder named after that host "
            "name) or manual (files you give it). Without one it falls back to a certificate "
            "for docker-mailserver.invalid. It has no per-domain certificates."
        ),
        simplest_fix=(
            "Give the container a real certificate for its full host name, and type that "
            "host name as 'SMTP Server' in Gmail."
        ),
        own_steps=(
            "Get a Let's Encrypt certificate for the container's full host name.",
            "Set SSL_TYPE=letsencrypt (the folder must be named after the host name), or "
            "SSL_TYPE=manual with your own certificate and key files.",
            "Restart the container.",
            "Type the container's full host name as 'SMTP Server' in Gmail.",
            RECHECK,
        ),
        source="documented",
        managed=True,
        note=_documented("docker-mailserver"),
    ),
    StackInfo(
        name="iredmail",
        label="iRedMail (Postfix)",
        mta="postfix",
        certificate_home=(
            "iRedMail uses one self-signed certificate for every service and name: "
            "/etc/ssl/certs/iRedMail.crt with its key iRedMail.key."
        ),
        simplest_fix=(
            "Get a free Let's Encrypt certificate for the name you type in Gmail and put it "
            "in place of iRedMail's own certificate."
        ),
        own_steps=(
            "Get a Let's Encrypt certificate with certbot for the name you type in Gmail.",
            "Keep a copy of iRedMail.crt and iRedMail.key, then replace them with links to "
            "certbot's fullchain.pem and privkey.pem.",
            "Restart postfix, dovecot and nginx, which all use that certificate.",
            RECHECK,
        ),
        source="documented",
        managed=True,
        note=_documented("iRedMail"),
    ),
    StackInfo(
        name="mail-in-a-box",
        label="Mail-in-a-Box (Postfix)",
        mta="postfix",
        certificate_home=(
            "Mail-in-a-Box keeps one certificate for its box name (PRIMARY_HOSTNAME) and "
            "accepts only TLS 1.2 or later."
        ),
        simplest_fix=(
            "Type the box name (PRIMARY_HOSTNAME, like box.yourdomain) as 'SMTP Server' in Gmail."
        ),
        own_steps=(
            "In the Mail-in-a-Box admin panel, provision the TLS certificates.",
            "Type the box name as 'SMTP Server' in Gmail.",
            RECHECK,
        ),
        source="documented",
        managed=True,
        note=_documented("Mail-in-a-Box"),
    ),
    StackInfo(
        name="zimbra",
        label="Zimbra (Postfix)",
        mta="postfix",  # its own Postfix, kept by Zimbra's tools
        certificate_home=(
            "Zimbra installs its commercial certificate with its own tool, zmcertmgr. How a "
            "Zimbra server looks from outside is not confirmed."
        ),
        simplest_fix=(
            "Install a certificate that covers the name you type in Gmail, following "
            "Zimbra's documentation."
        ),
        own_steps=(
            "Deploy the certificate and its chain with zmcertmgr deploycrt comm cert.pem "
            "chain.pem; Zimbra's documentation describes the steps around it.",
            RECHECK,
        ),
        source="documented",
        managed=True,
        note=_documented(
            "Zimbra",
            "From outside, gmailfix cannot recognise Zimbra.",
        ),
    ),
    StackInfo(
        name="unknown",
        label="an unrecognised mail server",
        mta="other",
        certificate_home=(
            "gmailfix could not tell which mail server software this is, so it cannot say "
            "where the certificate lives."
        ),
        simplest_fix=(
            "Ask whoever runs the mail server which host name its certificate covers, and "
            "type that name as 'SMTP Server' in Gmail."
        ),
        own_steps=(
            "Get a certificate from a public authority (Let's Encrypt is free) for the name "
            "you type in Gmail.",
            "Configure the mail server with the full chain (fullchain.pem, not cert.pem) and "
            "its key, then restart or reload it.",
            RECHECK,
        ),
        source="documented",
        note=f"General steps for any mail server; {NOT_RUN} as such.",
    ),
)

STACKS: Mapping[StackName, StackInfo] = MappingProxyType({e.name: e for e in _ENTRIES})

# a stack added to StackName without words here fails at import, not in front of a user
assert set(STACKS) == set(STACK_NAMES), sorted(set(STACK_NAMES) ^ set(STACKS))
