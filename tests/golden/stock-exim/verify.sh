#!/bin/sh
# Checks what Gmail checks: a trusted chain that covers the host name as typed.
# Usage: sh verify.sh            from any computer
#        sh verify.sh --server   on the mail server: also checks the running Exim config
# Environment:
#   CA_FILE  extra trusted roots (PEM), e.g. a test CA
#   CONNECT  ADDRESS:PORT to reach the server at, instead of HOST:PORT
#   SHOW     the command that prints the running config (default: exim -bP tls_certificate)
set -u
failed=0

check() {
  host=$1 port=$2 mode=$3
  target=${CONNECT:-$host:$port}
  set -- -connect "$target" -servername "$host" -verify_hostname "$host" -verify_return_error
  [ "$mode" = starttls ] && set -- "$@" -starttls smtp
  [ -n "${CA_FILE:-}" ] && set -- "$@" -CAfile "$CA_FILE"
  out=$(printf 'EHLO verify.gmailfix.invalid\nQUIT\n' | timeout 20 openssl s_client -crlf -ign_eof "$@" 2>&1)
  if printf '%s\n' "$out" | grep -q '^Verification: OK'; then
    echo "OK    $host port $port ($mode): Gmail's certificate check passes"
  else
    echo "FAIL  $host port $port ($mode):"
    printf '%s\n' "$out" | grep -iE 'verify error|verification|errno|refused|unable' | head -3
    failed=1
    return
  fi
  if [ "${need_auth:-0}" = 1 ]; then
    if printf '%s\n' "$out" | grep -qE '^250[- ]AUTH'; then
      echo "OK    $host port $port: login (AUTH) is offered after encryption"
    else
      echo "FAIL  $host port $port: no login (AUTH) offered after encryption"
      failed=1
    fi
  fi
}

server_check() {
  expected=$1
  shown=$(${SHOW:-exim -bP tls_certificate} 2>&1)
  case "$shown" in
    *"$expected"*) echo "OK    the running MTA config uses the new certificate settings" ;;
    *) echo "FAIL  the running MTA config does not use the new settings:"
       echo "      $shown"
       echo "      Most often the file went where the other Debian layout reads it: grep dc_use_split_config /etc/exim4/update-exim4.conf.conf"
       failed=1 ;;
  esac
}


need_auth=1
check mail.stock.test 587 starttls
[ "${1:-}" = --server ] && server_check /etc/exim4/tls/mail.stock.test/fullchain.pem

[ "$failed" -eq 0 ] && echo "All checks passed."
exit "$failed"
