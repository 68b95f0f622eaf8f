#!/bin/sh
# gmailfix deploy hook. certbot runs it after every issue and every renewal, with
# RENEWED_LINEAGE set to /etc/letsencrypt/live/NAME. It copies that certificate
# and key to /etc/exim4/tls/NAME, where Exim's user can read them
# (/etc/letsencrypt/live is root-only), then reloads Exim.
#
# Overrides (for tests and unusual systems):
#   GMAILFIX_TLS_DIR   where Exim reads certificates (default /etc/exim4/tls)
#   GMAILFIX_GROUP     the group Exim runs as (default Debian-exim)
#   GMAILFIX_RELOAD    the reload command (default: invoke-rc.d exim4 reload)
set -eu

: "${RENEWED_LINEAGE:?this script is run by certbot as a --deploy-hook}"
tls_dir="${GMAILFIX_TLS_DIR:-/etc/exim4/tls}"
group="${GMAILFIX_GROUP:-Debian-exim}"
reload="${GMAILFIX_RELOAD:-invoke-rc.d exim4 reload}"

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
