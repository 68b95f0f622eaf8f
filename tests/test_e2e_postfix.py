"""From Debian's stock Postfix 3.7 with Dovecot 2.3 to Gmail's "accept" and back, as a
person does it.

The test machine (tests/support/namespace.py) has Debian's postfix package
installed in it (tests/support/namespace_postfix.py): main.cf as its postinst
writes it, the snakeoil certificate, no SASL, only port 25; Debian's
dovecot-core runs with its stock config. gmailfix apply sets Postfix with
postconf, writes Dovecot's login socket for Postfix, checks both with their
own tools and reloads both; rollback puts every file back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gmailfix.lab.ca import DAY
from tests.support import namespace as ns
from tests.support import namespace_postfix as npf
from tests.support.namespace_journey import LEFT_OUT, WATCHED, Person, journey

pytestmark = pytest.mark.exim
AUTH_SOCKET = Path("/var/spool/postfix/private/auth")  # Dovecot's login socket for Postfix
DOMAIN = "postfix.test"
HOST = f"mail.{DOMAIN}"


def deploy_hook(pki: ns.Pki, host: str) -> Any:
    def place(bundle: Path) -> None:
        leaf = pki.leaf(host)
        chain = leaf.cert_pem() + pki.intermediate.cert_pem()
        ns.run_deploy_hook(bundle, ns.lineage(host, chain, leaf.key_pem()))

    return place


def stock_postfix() -> dict[str, Any]:
    npf.install_postfix(HOST)
    pki = ns.make_pki()
    with ns.dns(DOMAIN, HOST) as dns_server:
        npf.start_dovecot()
        npf.start_postfix()
        person = Person(DOMAIN, HOST, dns_server, pki.root_file)
        trip = journey(person, certificate=deploy_hook(pki, HOST))
        trip["socket_gone"] = ns.settles(lambda: not AUTH_SOCKET.exists())
    return trip


def test_stock_postfix_with_dovecot_reaches_accept_and_rolls_back() -> None:
    trip = ns.run_inside(stock_postfix)
    assert {"self-signed", "no-auth"} <= set(trip["causes"])
    assert trip["kinds"] == ["new-certificate", "enable-auth"]
    # login is on the submission services only, so Gmail's port is 587, not 25
    assert "Fix: new-certificate, enable-auth for mail.postfix.test port 587" in trip["applied"]
    assert "reload Dovecot (its login socket for Postfix): done" in trip["applied"]
    assert trip["accepted"]["port"] == 587
    assert trip["changed"] == []
    # rollback reloads Dovecot too: its login socket for Postfix is gone again
    assert "reloaded Dovecot with the old config: done" in trip["rolled_back"]
    assert trip["socket_gone"]
    assert trip["refused_again"] == "self-signed"


# --- renewed on disk, the old certificate still served --------------------------------

LIVE = Path(f"/etc/letsencrypt/live/{HOST}")
DOVECOT_OWN = Path("/etc/dovecot/conf.d/90-postfix-auth.conf")
SUBMISSION = (
    "submission/inet/smtpd_tls_security_level=encrypt",
    "submission/inet/smtpd_sasl_auth_enable=yes",
    "submission/inet/smtpd_tls_auth_only=yes",
    "submission/inet/smtpd_recipient_restrictions=permit_sasl_authenticated,reject",
)


def renewed_on_disk() -> dict[str, Any]:
    """Postfix serves certbot's live/ files with login on 587 (through Dovecot), the way
    the person set it up; certbot renewed the certificate without a deploy hook, so the
    running smtpd process still serves the expired one: it read its certificate when it
    started, and Postfix keeps it for up to 100 connections or 100 idle seconds. One
    process (maxproc 1) serves 587 here, so every connection of the test meets it."""
    npf.install_postfix(HOST)
    pki = ns.make_pki()
    old = pki.leaf(HOST, valid_from=-100 * DAY, valid_for=90 * DAY)  # expired
    LIVE.mkdir(parents=True)
    for folder in (LIVE, LIVE.parent):
        folder.chmod(0o700)
    write_lineage(old.cert_pem() + pki.intermediate.cert_pem(), old.key_pem())
    npf.postconf(
        "-e",
        f"smtpd_tls_chain_files = {LIVE}/privkey.pem, {LIVE}/fullchain.pem",
        "smtpd_tls_cert_file =",
        "smtpd_tls_key_file =",
        "smtpd_sasl_type = dovecot",
        "smtpd_sasl_path = private/auth",
    )
    npf.postconf("-M", "submission/inet=submission inet n - y - 1 smtpd")
    npf.postconf("-P", *SUBMISSION)
    DOVECOT_OWN.write_text(
        "service auth {\n  unix_listener /var/spool/postfix/private/auth {\n"
        "    mode = 0660\n    user = postfix\n    group = postfix\n  }\n}\n"
    )
    with ns.dns(DOMAIN, HOST) as dns_server:
        npf.start_dovecot()
        npf.start_postfix()
        ns.smtp_banner(587)  # the submission smtpd starts, with the certificate of today
        new = pki.leaf(HOST)
        write_lineage(new.cert_pem() + pki.intermediate.cert_pem(), new.key_pem())  # renewed
        person = Person(DOMAIN, HOST, dns_server, pki.root_file, port=587)
        return journey(
            person,
            certificate=lambda bundle: ns.run_deploy_hook(bundle, LIVE),
            refused_again=False,
        )


def write_lineage(chain: bytes, key: bytes) -> None:
    (LIVE / "fullchain.pem").write_bytes(chain)
    (LIVE / "privkey.pem").write_bytes(key)
    (LIVE / "privkey.pem").chmod(0o600)


def test_postfix_serving_the_old_certificate_reaches_accept_and_rolls_back() -> None:
    trip = ns.run_inside(renewed_on_disk)
    assert trip["causes"] == ["expired"]  # while live/ on disk held the renewed one
    assert trip["kinds"] == ["new-certificate"]
    assert "Gmail would accept it" in trip["applied"]
    assert trip["changed"] == []
    # The fault was only in what smtpd had loaded: the certificate step's deploy hook
    # reloads Postfix, so once the files are as before Gmail still accepts (rollback
    # cannot bring an expired certificate back, and should not).
    assert trip["refused_again"] is None


# --- a failed apply puts the daemons back too -------------------------------------------


def failed_apply() -> dict[str, Any]:
    """Stock Postfix again, but the certificate the person places is for another name:
    apply writes, reloads Dovecot and Postfix, and Gmail's check refuses. Everything goes
    back, and both daemons are reloaded with the old files: no submission port, no login
    socket."""
    npf.install_postfix(HOST)
    pki = ns.make_pki()
    with ns.dns(DOMAIN, HOST) as dns_server:
        npf.start_dovecot()
        npf.start_postfix()
        person = Person(DOMAIN, HOST, dns_server, pki.root_file)
        bundle = ns.scratch() / "bundle"
        exported = ns.gmailfix("export", *person.target, *person.checks, "--out", str(bundle))
        assert exported.code == 0, str(exported)
        wrong = pki.leaf("other.test")
        chain = wrong.cert_pem() + pki.intermediate.cert_pem()
        ns.run_deploy_hook(bundle, ns.lineage(HOST, chain, wrong.key_pem()))
        original = ns.snapshot(WATCHED, leave_out=LEFT_OUT)
        applied = ns.gmailfix("apply", str(bundle), "--yes", *person.checks)
        changed = ns.differences(original, ns.snapshot(WATCHED, leave_out=LEFT_OUT))
    return {
        "code": applied.code,
        "out": applied.out,
        "changed": changed,
        # the daemons were signalled to reload: wait until they have
        "submission_closed": ns.settles(lambda: not ns.listening(587)),
        "socket_gone": ns.settles(lambda: not AUTH_SOCKET.exists()),
    }


def test_a_failed_apply_reloads_dovecot_and_postfix_with_the_old_files() -> None:
    found = ns.run_inside(failed_apply)
    assert found["code"] == 1, found["out"]
    assert "FAILED  check mail.postfix.test port 587" in found["out"]
    assert "restarted with the old config: done" in found["out"]
    assert found["changed"] == []
    assert found["submission_closed"]  # Postfix runs the old master.cf again
    assert found["socket_gone"]  # and Dovecot without gmailfix's listener
