"""verify.sh: check from anywhere what Gmail checks, and on the server what the MTA runs.

The network checks use openssl s_client and look for "Verification: OK" (the
return code alone says ok even when no certificate was shown). ``--server``
adds what only the mail server can show: that the *running* Exim config holds
the fix (``exim -bP``), because a macros file in the place the active Debian
layout does not read passes ``exim -bV`` and changes nothing.
"""

from __future__ import annotations

from shlex import quote

from gmailfix.remedies.plan import Plan
from gmailfix.render.exim import WHICH_LAYOUT, expected_certificate_text

HEAD = """\
#!/bin/sh
# Checks what Gmail checks: a trusted chain that covers the host name as typed.
# Usage: sh verify.sh            from any computer
#        sh verify.sh --server   on the mail server: also checks the running Exim config
# Environment:
#   CA_FILE  extra trusted roots (PEM), e.g. a test CA
#   CONNECT  ADDRESS:PORT to reach the server at, instead of HOST:PORT
#   SHOW     the command that prints the running config (default: SHOW_DEFAULT)
set -u
failed=0

check() {
  host=$1 port=$2 mode=$3
  target=${CONNECT:-$host:$port}
  set -- -connect "$target" -servername "$host" -verify_hostname "$host" -verify_return_error
  [ "$mode" = starttls ] && set -- "$@" -starttls smtp
  [ -n "${CA_FILE:-}" ] && set -- "$@" -CAfile "$CA_FILE"
  out=$(printf 'EHLO verify.gmailfix.invalid\\nQUIT\\n' | timeout 20 openssl s_client -crlf -ign_eof "$@" 2>&1)
  if printf '%s\\n' "$out" | grep -q '^Verification: OK'; then
    echo "OK    $host port $port ($mode): Gmail's certificate check passes"
  else
    echo "FAIL  $host port $port ($mode):"
    printf '%s\\n' "$out" | grep -iE 'verify error|verification|errno|refused|unable' | head -3
    failed=1
    return
  fi
  if [ "${need_auth:-0}" = 1 ]; then
    if printf '%s\\n' "$out" | grep -qE '^250[- ]AUTH'; then
      echo "OK    $host port $port: login (AUTH) is offered after encryption"
    else
      echo "FAIL  $host port $port: no login (AUTH) offered after encryption"
      failed=1
    fi
  fi
}

server_check() {
  expected=$1
  shown=$(${SHOW:-SHOW_DEFAULT} 2>&1)
  case "$shown" in
    *"$expected"*) echo "OK    the running MTA config uses the new certificate settings" ;;
    *) echo "FAIL  the running MTA config does not use the new settings:"
       echo "      $shown"
       echo "      HINT"
       failed=1 ;;
  esac
}

"""


SHOW_COMMAND = {
    "exim": "exim -bP tls_certificate",
    "postfix": "postconf -h smtpd_tls_chain_files",
}
HINT = {
    "exim": f"Most often the file went where the other Debian layout reads it: {WHICH_LAYOUT}",
    "postfix": "Run the README's postconf step again, then: postfix reload",
}


def expected_server_text(plan: Plan) -> str:
    """What the running config must show once the fix is live."""
    if plan.mta == "postfix":
        return f"{plan.default_dir}/fullchain.pem"
    return expected_certificate_text(plan)


def verify_script(plan: Plan) -> str:
    hosts = plan.cert_hosts if plan.has("sni") else (plan.smtp_host,)
    mode = "implicit" if plan.port == 465 else "starttls"
    head = HEAD.replace("SHOW_DEFAULT", SHOW_COMMAND[plan.mta]).replace("HINT", HINT[plan.mta])
    lines = [head]
    if plan.has("enable-auth"):
        lines.append("need_auth=1")
    lines += [f"check {quote(h)} {plan.port} {mode}" for h in hosts]
    if plan.on_server and plan.changes_certificate:
        expected = quote(expected_server_text(plan))
        lines.append(f'[ "${{1:-}}" = --server ] && server_check {expected}')
    lines.append('\n[ "$failed" -eq 0 ] && echo "All checks passed."\nexit "$failed"\n')
    return "\n".join(lines)


def verify_command(plan: Plan) -> str:
    """How to run verify.sh for this plan: with the test CA and address when the
    diagnosis used them (the lab), plain otherwise."""
    env = []
    if plan.ca_files:
        env.append(f"CA_FILE={quote(plan.ca_files[0])}")
    target = plan.connect.get((plan.smtp_host, plan.port))
    if target is not None:
        env.append(f"CONNECT={quote(f'{target[0]}:{target[1]}')}")
    return " ".join([*env, "sh verify.sh"])


def diagnose_command(plan: Plan) -> str:
    """The ``gmailfix diagnose`` line that checks this fix as Gmail will use it, with the
    DNS server, trust anchors and addresses the diagnosis used (the lab's), if any."""
    words = [
        f"gmailfix diagnose {quote(plan.domain)} --smtp-host {quote(plan.smtp_host)}",
        f"--port {plan.port}",
    ]
    if plan.dns_server:
        words.append(f"--dns-server {quote(plan.dns_server)}")
    words += [f"--ca-file {quote(path)}" for path in plan.ca_files]
    for (host, port), (address, to) in sorted(plan.connect.items()):
        if port == plan.port and (host == plan.smtp_host or host in plan.addresses):
            words.append("--connect " + quote(f"{host}:{port}={_endpoint(address, to)}"))
    return " ".join(words)


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
