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

from tests.support import namespace as ns
from tests.support import namespace_postfix as npf
from tests.support.namespace_journey import Person, journey

pytestmark = pytest.mark.exim
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
    trip["socket_left"] = Path("/var/spool/postfix/private/auth").exists()
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
    assert trip["socket_left"] is False
    assert trip["refused_again"] == "self-signed"
