#!/bin/sh
# Checks what Gmail checks: a trusted chain that covers the host name as typed.
# It looks for "Verification: OK" (the return code alone says ok even when no
# certificate was shown). Run it from anywhere once the fix is in place.
# Environment:
#   CA_FILE  extra trusted roots (PEM), e.g. a test CA
#   CONNECT  ADDRESS:PORT to reach the server at, instead of HOST:PORT
set -u
failed=0

check() {
  host=$1 port=$2 mode=$3
  target=${CONNECT:-$host:$port}
  set -- -connect "$target" -servername "$host" -verify_hostname "$host" -verify_return_error
  [ "$mode" = starttls ] && set -- "$@" -starttls smtp
  [ -n "${CA_FILE:-}" ] && set -- "$@" -CAfile "$CA_FILE"
  out=$(openssl s_client "$@" </dev/null 2>&1)
  if printf '%s\n' "$out" | grep -q '^Verification: OK'; then
    echo "OK    $host port $port ($mode): Gmail's certificate check passes"
  else
    echo "FAIL  $host port $port ($mode):"
    printf '%s\n' "$out" | grep -iE 'verify error|verification|errno|refused|unable' | head -3
    failed=1
  fi
}

check server42.isp.test 465 implicit

[ "$failed" -eq 0 ] && echo "All checks passed."
exit "$failed"
