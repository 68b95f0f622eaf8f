"""certbot scripts: issue, the Exim deploy hook, and the Docker variant.

Every name placed in these scripts has passed ``safe_name`` and is quoted
with ``shlex.quote`` as well.
"""

from __future__ import annotations

from shlex import quote

from gmailfix.remedies.plan import Plan

LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
DEFAULT_LINEAGE = "default"
# where the deploy hook is kept: certbot remembers its path for every renewal
HOOK_DIR = "/etc/letsencrypt/gmailfix"

DEPLOY_HOOK = """\
#!/bin/sh
# gmailfix deploy hook. certbot runs it after every issue and every renewal, with
# RENEWED_LINEAGE set to /etc/letsencrypt/live/NAME. It copies that certificate
# and key to {tls_dir}/NAME, where Exim's user can read them
# (/etc/letsencrypt/live is root-only), then reloads Exim.
#
# Overrides (for tests and unusual systems):
#   GMAILFIX_TLS_DIR   where Exim reads certificates (default {tls_dir})
#   GMAILFIX_GROUP     the group Exim runs as (default Debian-exim)
#   GMAILFIX_RELOAD    the reload command (default: invoke-rc.d exim4 reload)
set -eu

: "${{RENEWED_LINEAGE:?this script is run by certbot as a --deploy-hook}}"
tls_dir="${{GMAILFIX_TLS_DIR:-{tls_dir}}}"
group="${{GMAILFIX_GROUP:-Debian-exim}}"
reload="${{GMAILFIX_RELOAD:-invoke-rc.d exim4 reload}}"

name=$(basename "$RENEWED_LINEAGE")
case "$name" in
  ""|.*|*[!a-z0-9.-]*) echo "deploy hook: refusing lineage name '$name'" >&2; exit 1 ;;
esac
dest="$tls_dir/$name"
install -d -m 0750 -o root -g "$group" "$tls_dir" "$dest"

# Copy beside the target, then rename: Exim never reads a half-written file.
tmp=$(mktemp -d "$dest/.incoming.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
install -m 0644 -o root -g "$group" "$RENEWED_LINEAGE/fullchain.pem" "$tmp/fullchain.pem"
install -m 0640 -o root -g "$group" "$RENEWED_LINEAGE/privkey.pem" "$tmp/privkey.pem"
mv -f "$tmp/privkey.pem" "$dest/privkey.pem"
mv -f "$tmp/fullchain.pem" "$dest/fullchain.pem"
echo "deploy hook: installed $name in $dest"

# Exim rereads changed certificate files by itself; the reload makes it immediate.
$reload || echo "deploy hook: '$reload' failed; restart Exim by hand" >&2
"""


def deploy_hook(plan: Plan) -> str:
    """The deploy hook for the plan's MTA: the one place certbot hands over to it."""
    if plan.mta == "postfix":
        from gmailfix.render.postfix import postfix_deploy_hook

        return postfix_deploy_hook(plan)
    return DEPLOY_HOOK.format(tls_dir=plan.tls_dir)


def mta_label(plan: Plan) -> str:
    return "Postfix" if plan.mta == "postfix" else "Exim"


def certificates(plan: Plan) -> list[tuple[str, tuple[str, ...]]]:
    """(lineage name, host names) for every certificate the plan needs."""
    certs: list[tuple[str, tuple[str, ...]]] = [(host, (host,)) for host in plan.cert_hosts]
    if plan.has("sni"):
        certs.append((DEFAULT_LINEAGE, plan.cert_hosts))
    return certs


def issue_script(plan: Plan) -> str:
    lines = [
        "#!/bin/sh",
        f"# Get Let's Encrypt certificates for {', '.join(plan.cert_hosts)} and install them",
        f"# for {mta_label(plan)} with the deploy hook beside this script. Run as root on the mail server.",
        "#",
        "# Usage: sh certbot/issue.sh [standalone | webroot DIR | dns] [more certbot options]",
        "#   standalone  certbot answers on port 80 itself (nothing else may listen there)",
        "#   webroot DIR your web server on port 80 serves DIR for this host name",
        "#   dns         you add a TXT record _acme-challenge.HOST when certbot asks",
        "# Environment:",
        f"#   ACME_SERVER  the CA's directory URL (default Let's Encrypt: {LETS_ENCRYPT});",
        "#                use https://acme-staging-v02.api.letsencrypt.org/directory to rehearse",
        "#   EMAIL        for expiry notices (recommended)",
        "#   GMAILFIX_HOOK_DIR  where the deploy hook is kept for renewals",
        f"#                (default {HOOK_DIR})",
        "set -eu",
        'here=$(cd "$(dirname "$0")" && pwd)',
        "# certbot remembers the hook's path for every renewal: keep it outside this folder",
        f'hook_dir="${{GMAILFIX_HOOK_DIR:-{HOOK_DIR}}}"',
        'install -d -m 0755 "$hook_dir"',
        f'hook="$hook_dir/{plan.mta}-deploy-hook.sh"',
        'install -m 0755 "$here/deploy-hook.sh" "$hook"',
        f'server="${{ACME_SERVER:-{LETS_ENCRYPT}}}"',
        'method="${1:-standalone}"',
        "if [ $# -gt 0 ]; then shift; fi",
        'case "$method" in',
        '  standalone) set -- --standalone --non-interactive "$@" ;;',
        '  webroot) root="${1:?webroot needs the document root served on port 80}"; shift',
        '           set -- --webroot --webroot-path "$root" --non-interactive "$@" ;;',
        '  dns) set -- --manual --preferred-challenges dns "$@" ;;',
        '  *) echo "usage: $0 [standalone | webroot DIR | dns] [certbot options]" >&2; exit 2 ;;',
        "esac",
        'if [ -n "${EMAIL:-}" ]; then',
        '  set -- "$@" --email "$EMAIL"',
        "else",
        '  set -- "$@" --register-unsafely-without-email',
        "fi",
        "",
    ]
    for lineage, hosts in certificates(plan):
        domains = " ".join(f"-d {quote(h)}" for h in hosts)
        lines += [
            f"certbot certonly --cert-name {quote(lineage)} {domains} \\",
            '  --server "$server" --agree-tos --deploy-hook "$hook" "$@"',
        ]
    lines += [
        "",
        "# certbot stores the deploy hook with each certificate: 'certbot renew' (run by its",
        f"# timer) renews them and installs them for {mta_label(plan)} again.",
    ]
    return "\n".join(lines) + "\n"


def docker_script(plan: Plan) -> str:
    lines = [
        "#!/bin/sh",
        f"# The same with certbot in Docker (for {mta_label(plan)} in Docker or no certbot package).",
        f"# certbot cannot reload {mta_label(plan)} from inside its container, so the deploy hook runs",
        "# here on the host afterwards. Run as root; port 80 must be free.",
        "set -eu",
        'here=$(cd "$(dirname "$0")" && pwd)',
        f'server="${{ACME_SERVER:-{LETS_ENCRYPT}}}"',
    ]
    for lineage, hosts in certificates(plan):
        domains = " ".join(f"-d {quote(h)}" for h in hosts)
        lines += [
            "docker run --rm -p 80:80 \\",
            "  -v /etc/letsencrypt:/etc/letsencrypt -v /var/lib/letsencrypt:/var/lib/letsencrypt \\",
            f"  certbot/certbot certonly --standalone --cert-name {quote(lineage)} {domains} \\",
            '  --server "$server" --agree-tos --non-interactive --register-unsafely-without-email',
            f'RENEWED_LINEAGE=/etc/letsencrypt/live/{quote(lineage)} sh "$here/deploy-hook.sh"',
        ]
    return "\n".join(lines) + "\n"


def docker_compose(plan: Plan) -> str:
    """A compose file for people who run Exim in Docker: renew twice a day."""
    names = [f'"{h}"' for h in plan.cert_hosts]  # safe names; quoted for YAML anyway
    return "\n".join(
        [
            f"# certbot for {plan.domain}'s mail server. First issue: sh certbot/docker-run.sh",
            "# This service then renews twice a day. After a renewal, run the deploy hook on",
            f"# the host (or mount {plan.tls_dir} into your {mta_label(plan)} container and restart it).",
            f"# Host names: {', '.join(names)}",
            "services:",
            "  certbot:",
            "    image: certbot/certbot",
            "    restart: unless-stopped",
            "    ports:",
            '      - "80:80"',
            "    volumes:",
            "      - /etc/letsencrypt:/etc/letsencrypt",
            "      - /var/lib/letsencrypt:/var/lib/letsencrypt",
            "    entrypoint: /bin/sh -c",
            '    command: ["trap exit TERM; while :; do certbot renew --standalone; sleep 12h & wait $${!}; done"]',
            "",
        ]
    )


def certbot_files(plan: Plan) -> dict[str, str]:
    return {
        "certbot/issue.sh": issue_script(plan),
        "certbot/deploy-hook.sh": deploy_hook(plan),
        "certbot/docker-run.sh": docker_script(plan),
        "certbot/docker-compose.yml": docker_compose(plan),
    }
