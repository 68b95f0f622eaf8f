#!/bin/sh
# The same with certbot in Docker (for Exim in Docker or no certbot package).
# certbot cannot reload Exim from inside its container, so the deploy hook runs
# here on the host afterwards. Run as root; port 80 must be free.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
server="${ACME_SERVER:-https://acme-v02.api.letsencrypt.org/directory}"
docker run --rm -p 80:80 \
  -v /etc/letsencrypt:/etc/letsencrypt -v /var/lib/letsencrypt:/var/lib/letsencrypt \
  certbot/certbot certonly --standalone --cert-name mail.stock.test -d mail.stock.test \
  --server "$server" --agree-tos --non-interactive --register-unsafely-without-email
RENEWED_LINEAGE=/etc/letsencrypt/live/mail.stock.test sh "$here/deploy-hook.sh"
