"""Postfix configuration for a Plan (Postfix 3.4 or newer).

Files, by bundle path:

- ``postfix/postconf.sh``: ``postconf -e`` / ``-M`` / ``-P`` lines that edit
  main.cf and master.cf in place (the Debian way; works on any Postfix);
- ``postfix/main.cf.snippet`` and ``postfix/master.cf.snippet``: the same
  settings to paste by hand;
- ``postfix/sni``: the SNI map source (kind ``sni``), built with ``postmap -F``;
- ``dovecot/conf.d/99-gmailfix-postfix-auth.conf``: Dovecot's login socket
  for Postfix (kinds that enable AUTH).

Both forms come from one table (``main_settings`` and ``services``), so they
cannot say different things. Postfix reads keys as root before it drops
privileges, so the certificates stay root-only in ``plan.tls_dir``, where
the deploy hook (``postfix_deploy_hook``) puts them.

``postmap -F`` stores the CONTENTS of the files named in the SNI map, not
their names: after every renewal the map must be rebuilt, or Postfix keeps
serving the old certificate for those names, reload or not. The deploy hook
does that.
"""

from __future__ import annotations

from dataclasses import dataclass
from shlex import quote

from gmailfix.remedies.model import RemedyKind
from gmailfix.remedies.plan import Plan

# Kinds whose fix is the services Gmail dials (587, 465) with login after TLS.
SERVICE_KINDS: tuple[RemedyKind, ...] = ("enable-auth", "open-port", "fix-tls-mode")

# $config_directory is /etc/postfix on Debian; Postfix expands it itself, so
# the same line also works for another instance (postfix -c DIR, MAIL_CONFIG).
SNI_MAP = "$config_directory/sni"
# Exclusions rather than ">=TLSv1.2": that form needs Postfix 3.6, and
# smtpd_tls_chain_files only 3.4 (Debian 11 has 3.5).
TLS_1_2_OR_NEWER = "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1"
DOVECOT_SOCKET = "private/auth"  # relative to queue_directory (Postfix chdirs there)
DOVECOT_FILE = "dovecot/conf.d/99-gmailfix-postfix-auth.conf"
DEBIAN_QUEUE = "/var/spool/postfix"
# Debian's own template line (master.cf.dist) after the name: smtpd, chrooted like "smtp"
MASTER_FIELDS = "inet n - y - - smtpd"

# Bundle path -> what the file is for (MANIFEST.json roles).
POSTFIX_ROLES = {
    "postfix/postconf.sh": "Postfix settings as postconf commands: run as root",
    "postfix/main.cf.snippet": "the same main.cf settings, to paste by hand",
    "postfix/master.cf.snippet": "the same master.cf services, to paste by hand",
    "postfix/sni": "SNI map: host name -> key and chain (install, then postmap -F)",
    DOVECOT_FILE: "Dovecot login socket for Postfix: /etc/dovecot/conf.d/",
}


@dataclass(frozen=True)
class Setting:
    """One main.cf parameter and why gmailfix sets it."""

    name: str
    value: str
    why: str

    @property
    def line(self) -> str:
        """``name = value`` as main.cf and ``postconf -e`` take it (``name =``: empty)."""
        return f"{self.name} = {self.value}".rstrip()


@dataclass(frozen=True)
class Service:
    """One master.cf smtpd service Gmail dials, with its ``-o`` overrides."""

    names: tuple[str, ...]  # names it may already have in master.cf; the first is added
    port: int
    options: tuple[tuple[str, str], ...]
    why: str

    @property
    def entry(self) -> str:
        return f"{self.names[0]} {MASTER_FIELDS}"


_LOGIN_ONLY = (
    ("smtpd_sasl_auth_enable", "yes"),
    ("smtpd_tls_auth_only", "yes"),
    ("smtpd_reject_unlisted_recipient", "no"),
    ("smtpd_recipient_restrictions", "permit_sasl_authenticated,reject"),
)
SUBMISSION = Service(
    ("submission", "587"),
    587,
    (
        ("syslog_name", "postfix/submission"),
        ("smtpd_tls_security_level", "encrypt"),
        ("smtpd_tls_wrappermode", "no"),
        *_LOGIN_ONLY,
    ),
    'Port 587, Gmail\'s "Secured connection using TLS": STARTTLS required, login only after it.',
)
SUBMISSIONS = Service(
    ("submissions", "smtps", "465"),
    465,
    (("syslog_name", "postfix/submissions"), ("smtpd_tls_wrappermode", "yes"), *_LOGIN_ONLY),
    'Port 465, Gmail\'s "Secured connection using SSL": TLS from the first byte.',
)


def chain_files(plan: Plan, host: str | None = None) -> tuple[str, str]:
    """The key, then its full chain, as the deploy hook installs them.

    ``host=None``: the default certificate (every host, for kind ``sni``).
    """
    directory = plan.default_dir if host is None else plan.cert_dir(host)
    return f"{directory}/privkey.pem", f"{directory}/fullchain.pem"


def main_settings(plan: Plan) -> tuple[Setting, ...]:
    """The main.cf parameters of the fix (empty when nothing changes on the server)."""
    settings: list[Setting] = []
    if plan.changes_certificate:
        key, chain = chain_files(plan)
        served = (
            "the default certificate" if plan.has("sni") else f"the certificate of {plan.smtp_host}"
        )
        settings += [
            Setting(
                "smtpd_tls_chain_files",
                f"{key}, {chain}",
                f"Serve {served}: its key, then fullchain.pem (certificate and intermediate;\n"
                "cert.pem alone makes an incomplete chain).",
            ),
            Setting(
                "smtpd_tls_cert_file",
                "",
                "Empty: the older one-file settings (Debian's snakeoil certificate) are\n"
                "ignored next to smtpd_tls_chain_files, with a warning at every connection.",
            ),
            Setting("smtpd_tls_key_file", "", "Its key, likewise."),
            Setting(
                "smtpd_tls_security_level",
                "may",
                "Offer STARTTLS to every client (services below may require it).",
            ),
            Setting("smtpd_tls_protocols", TLS_1_2_OR_NEWER, "TLS 1.2 or newer only."),
            Setting(
                "smtpd_tls_mandatory_protocols", TLS_1_2_OR_NEWER, "The same where TLS is required."
            ),
        ]
    if plan.has("sni"):
        settings.append(
            Setting(
                "tls_server_sni_maps",
                f"hash:{SNI_MAP}",
                "One certificate per host name the client asks for (SNI); any other\n"
                "name, or none, gets the default above. Built with 'postmap -F', which\n"
                "stores the files' contents: rebuild it after every renewal (the deploy\n"
                "hook does).",
            )
        )
    if plan.has(*SERVICE_KINDS):
        settings += [
            Setting(
                "smtpd_sasl_type",
                "dovecot",
                "Logins are checked by Dovecot (Debian: dovecot-core), over a socket in\n"
                f"Postfix's queue directory; see {DOVECOT_FILE}.",
            ),
            Setting("smtpd_sasl_path", DOVECOT_SOCKET, "That socket, relative to queue_directory."),
        ]
    return tuple(settings)


def services(plan: Plan) -> tuple[Service, ...]:
    """The master.cf services of the fix."""
    return (SUBMISSION, SUBMISSIONS) if plan.has(*SERVICE_KINDS) else ()


def _header(plan: Plan, what: str) -> list[str]:
    return [
        f"# Written by gmailfix for {plan.domain}: Postfix TLS that Gmail 'Send mail as' accepts.",
        f"# Gmail's SMTP Server: {plan.smtp_host}, port {plan.port}. {what}",
    ]


def _comment(text: str) -> list[str]:
    return [f"# {line}" for line in text.splitlines()]


def _port_note(plan: Plan) -> list[str]:
    if not plan.has("open-port"):
        return []
    return _comment(
        "If the port still cannot be reached: 'postconf -h inet_interfaces' must not\n"
        'say loopback-only (Debian\'s "Local only"), and a firewall must let 587 and\n'
        "465 in (e.g. 'ufw allow 587/tcp' and 'ufw allow 465/tcp')."
    )


def postconf_script(plan: Plan) -> str:
    """``postfix/postconf.sh``: edits main.cf and master.cf in place, keeping the rest."""
    lines = [
        "#!/bin/sh",
        *_header(plan, "Run as root on the mail server."),
        "# postconf edits main.cf and master.cf in place and keeps everything else;",
        "# MAIL_CONFIG=DIR edits another Postfix instance. Afterwards: postfix check,",
        "# then postfix reload.",
        "set -eu",
    ]
    if plan.changes_certificate:
        lines += [
            "",
            "# Older Postfix would take smtpd_tls_chain_files without a word and ignore it.",
            "version=$(postconf -h mail_version)",
            'case "$version" in',
            "  [012].*|3.[0-3]|3.[0-3].*)",
            '    echo "postconf.sh: Postfix $version is older than 3.4: nothing changed" >&2',
            "    exit 1 ;;",
            "esac",
        ]
    for setting in main_settings(plan):
        lines += [
            "",
            *_comment(setting.why),
            f"postconf -e {quote(setting.line)}",
        ]
    if services(plan):
        lines += [
            "",
            "# The first of these master.cf services that exists, else the first name:",
            "# an existing 'smtps' service is edited, never doubled (both would take 465).",
            "existing_service() {",
            '  for name in "$@"; do',
            '    if [ -n "$(postconf -M "$name/inet" 2>/dev/null)" ]; then echo "$name"; return; fi',
            "  done",
            '  echo "$1"',
            "}",
        ]
    for service in services(plan):
        names = " ".join(quote(n) for n in service.names)
        options = " ".join(f'"$s/inet/{k}={v}"' for k, v in service.options)
        lines += [
            "",
            *_comment(service.why),
            f"s=$(existing_service {names})",
            f'[ -n "$(postconf -M "$s/inet" 2>/dev/null)" ] || postconf -M "$s/inet=$s {MASTER_FIELDS}"',
            f"postconf -P {options}",
        ]
    lines += _port_note(plan)
    return "\n".join(lines) + "\n"


def main_snippet(plan: Plan) -> str:
    """``postfix/main.cf.snippet``: the same settings as ``name = value`` lines."""
    lines = [
        *_header(plan, "Paste into /etc/postfix/main.cf:"),
        "# replace each line of the same name (Postfix uses the last one and warns",
        "# 'overriding earlier entry'). Then: postfix check && postfix reload",
    ]
    for setting in main_settings(plan):
        lines += ["", *_comment(setting.why), setting.line]
    if services(plan):
        lines += ["", "# The services Gmail dials are in master.cf.snippet."]
    lines += _port_note(plan)
    return "\n".join(lines) + "\n"


def master_snippet(plan: Plan) -> str:
    """``postfix/master.cf.snippet``: the services, to replace or add in master.cf."""
    lines = [
        *_header(plan, "Paste into /etc/postfix/master.cf,"),
        "# replacing the 'submission' and 'submissions' (or 'smtps') lines and their",
        "# -o lines, commented or not. On a Postfix that does not chroot smtpd (the",
        "# 5th column of the 'smtp inet' line is n), put n in that column here too.",
    ]
    for service in services(plan):
        lines += ["", *_comment(service.why), service.entry]
        lines += [f"  -o {k}={v}" for k, v in service.options]
    return "\n".join(lines) + "\n"


def sni_map(plan: Plan) -> str:
    """``postfix/sni``: each host name, then its key and chain files."""
    lines = [
        "# Host name (as the client sends it in SNI) -> key file, then chain file.",
        f"# Install as {SNI_MAP} (root, mode 0600: the built map holds the keys)",
        "# and build it with: postmap -F hash:$config_directory/sni",
    ]
    lines += [f"{host} {' '.join(chain_files(plan, host))}" for host in plan.cert_hosts]
    return "\n".join(lines) + "\n"


def dovecot_auth(plan: Plan) -> str:
    """Dovecot's side of ``smtpd_sasl_type = dovecot`` (Debian's dovecot-core)."""
    return "\n".join(
        [
            f"# Written by gmailfix for {plan.domain}: Dovecot checks Gmail's login for Postfix.",
            "# Put in /etc/dovecot/conf.d/ (dovecot.conf includes conf.d/*.conf), then",
            "# 'doveadm reload'. Dovecot's own passdb (Debian: system users via PAM) decides",
            "# who may log in: Gmail's Username and Password are checked there.",
            f"# The socket is Postfix's smtpd_sasl_path ({DOVECOT_SOCKET}) inside its queue",
            f"# directory: change the path if 'postconf -h queue_directory' is not {DEBIAN_QUEUE}.",
            "service auth {",
            f"  unix_listener {DEBIAN_QUEUE}/{DOVECOT_SOCKET} {{",
            "    mode = 0660",
            "    user = postfix",
            "    group = postfix",
            "  }",
            "}",
            "# Gmail logs in with PLAIN; LOGIN is for older mail programs.",
            "auth_mechanisms = plain login",
            "",
        ]
    )


def postfix_files(plan: Plan) -> dict[str, str]:
    """Bundle path -> text; empty when the fix changes nothing in Postfix."""
    if plan.mta != "postfix" or not plan.on_server:
        return {}
    if not main_settings(plan) and not services(plan):
        return {}
    files = {
        "postfix/postconf.sh": postconf_script(plan),
        "postfix/main.cf.snippet": main_snippet(plan),
    }
    if services(plan):
        files["postfix/master.cf.snippet"] = master_snippet(plan)
        files[DOVECOT_FILE] = dovecot_auth(plan)
    if plan.has("sni"):
        files["postfix/sni"] = sni_map(plan)
    return files


def postfix_apply_commands(plan: Plan) -> list[str]:
    """Shell lines, run as root from the bundle folder, that apply the fix and check it."""
    files = postfix_files(plan)
    if not files:
        return []
    commands = [
        'conf="$(postconf -h config_directory)"',
        'cp -p "$conf/main.cf" "$conf/main.cf.before-gmailfix"',
        'cp -p "$conf/master.cf" "$conf/master.cf.before-gmailfix"',
    ]
    if DOVECOT_FILE in files:
        commands += [
            "# logins need Dovecot (Debian: apt-get install dovecot-core)",
            f"install -m 0644 {quote(DOVECOT_FILE)} /etc/dovecot/conf.d/",
            "doveadm reload",
        ]
    if "postfix/sni" in files:
        commands.append('install -m 0600 -o root -g root postfix/sni "$conf/sni"')
    commands.append("sh postfix/postconf.sh")
    if "postfix/sni" in files:
        commands.append('postmap -F "hash:$conf/sni"')
    return [*commands, "postfix check", "postfix reload"]


DEPLOY_HOOK = """\
#!/bin/sh
# gmailfix deploy hook for Postfix. certbot runs it after every issue and every
# renewal, with RENEWED_LINEAGE set to /etc/letsencrypt/live/NAME. It copies that
# key and chain to {tls_dir}/NAME (root only: Postfix reads keys as root),
# {sni_summary}then reloads Postfix so that new smtpd processes serve it.
#
# Overrides (for tests and unusual systems):
#   GMAILFIX_TLS_DIR   where Postfix reads certificates (default {tls_dir})
#   GMAILFIX_RELOAD    the reload command (default: postfix reload)
#   MAIL_CONFIG        Postfix's own: the config directory of another instance
set -eu

: "${{RENEWED_LINEAGE:?this script is run by certbot as a --deploy-hook}}"
tls_dir="${{GMAILFIX_TLS_DIR:-{tls_dir}}}"
reload="${{GMAILFIX_RELOAD:-postfix reload}}"

name=$(basename "$RENEWED_LINEAGE")
case "$name" in
  ""|.*|*[!a-z0-9.-]*) echo "deploy hook: refusing lineage name '$name'" >&2; exit 1 ;;
esac
dest="$tls_dir/$name"
umask 077
install -d -m 0755 -o root -g root "$tls_dir"
install -d -m 0700 -o root -g root "$dest"

# Copy beside the target, then rename: Postfix never reads a half-written file.
tmp=$(mktemp -d "$dest/.incoming.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
install -m 0644 -o root -g root "$RENEWED_LINEAGE/fullchain.pem" "$tmp/fullchain.pem"
install -m 0600 -o root -g root "$RENEWED_LINEAGE/privkey.pem" "$tmp/privkey.pem"
mv -f "$tmp/privkey.pem" "$dest/privkey.pem"
mv -f "$tmp/fullchain.pem" "$dest/fullchain.pem"
echo "deploy hook: installed $name in $dest"
{sni_block}
# Running smtpd processes keep the certificate they started with until reloaded.
if ! $reload; then
  echo "deploy hook: '$reload' failed; run 'postfix reload' by hand" >&2
  exit 1
fi
"""

SNI_BLOCK = """
# postmap -F stored the old files' contents in the SNI map: without a rebuild,
# Postfix serves the old certificate for these names even after a reload.
conf=$(postconf -h config_directory)
if [ -f "$conf/sni" ]; then
  # postmap reads the files as the map's owner, and gives sni.db the map's mode:
  # root and 0600, since sni.db holds the keys.
  chown root:root "$conf/sni"
  chmod 0600 "$conf/sni"
  postmap -F "hash:$conf/sni"
  echo "deploy hook: rebuilt $conf/sni.db"
else
  echo "deploy hook: no $conf/sni yet: apply the bundle's Postfix settings" >&2
fi
"""


def postfix_deploy_hook(plan: Plan) -> str:
    """The certbot deploy hook (POSIX sh) that installs a renewal for Postfix."""
    sni = plan.has("sni")
    return DEPLOY_HOOK.format(
        tls_dir=plan.tls_dir,
        sni_summary="rebuilds the SNI map (postmap -F),\n# " if sni else "",
        sni_block=SNI_BLOCK if sni else "",
    )
