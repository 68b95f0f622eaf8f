#!/bin/sh
# Get Let's Encrypt certificates for mail.stock.test and install them
# for Exim with the deploy hook beside this script. Run as root on the mail server.
#
# Usage: sh certbot/issue.sh [standalone | webroot DIR | dns] [more certbot options]
#   standalone  certbot answers on port 80 itself (nothing else may listen there)
#   webroot DIR your web server on port 80 serves DIR for this host name
#   dns         you add a TXT record _acme-challenge.HOST when certbot asks
# Environment:
#   ACME_SERVER  the CA's directory URL (default Let's Encrypt: https://acme-v02.api.letsencrypt.org/directory);
#                use https://acme-staging-v02.api.letsencrypt.org/directory to rehearse
#   EMAIL        for expiry notices (recommended)
#   GMAILFIX_HOOK_DIR  where the deploy hook is kept for renewals
#                (default /etc/letsencrypt/gmailfix)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# certbot remembers the hook's path for every renewal: keep it outside this folder
hook_dir="${GMAILFIX_HOOK_DIR:-/etc/letsencrypt/gmailfix}"
install -d -m 0755 "$hook_dir"
hook="$hook_dir/exim-deploy-hook.sh"
install -m 0755 "$here/deploy-hook.sh" "$hook"
server="${ACME_SERVER:-https://acme-v02.api.letsencrypt.org/directory}"
method="${1:-standalone}"
if [ $# -gt 0 ]; then shift; fi
case "$method" in
  standalone) set -- --standalone --non-interactive "$@" ;;
  webroot) root="${1:?webroot needs the document root served on port 80}"; shift
           set -- --webroot --webroot-path "$root" --non-interactive "$@" ;;
  dns) set -- --manual --preferred-challenges dns "$@" ;;
  *) echo "usage: $0 [standalone | webroot DIR | dns] [certbot options]" >&2; exit 2 ;;
esac
if [ -n "${EMAIL:-}" ]; then
  set -- "$@" --email "$EMAIL"
else
  set -- "$@" --register-unsafely-without-email
fi

certbot certonly --cert-name mail.stock.test -d mail.stock.test \
  --server "$server" --agree-tos --deploy-hook "$hook" "$@"

# certbot stores the deploy hook with each certificate: 'certbot renew' (run by its
# timer) renews them and installs them for Exim again.
