"""From Debian's Exim as a person has it to Gmail's "accept" and back, as they do it.

Each test runs in a machine of its own (tests/support/namespace.py): as root,
without --root, on the machine's own /etc/exim4, with Debian's init script
starting the real daemon on 127.0.0.1 and ``gmailfix apply`` restarting it
with ``invoke-rc.d exim4 restart``. The way (tests/support/namespace_journey.py):
diagnose (refused), export, the README's certificate step (the bundle's deploy
hook, given a certificate from a private CA), apply --yes, diagnose
(accepted), rollback, every file as before, diagnose (refused again).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gmailfix.remedies.plan import EximLayout
from gmailfix.server.mta import LAYOUT_WORDS
from tests.support import namespace as ns
from tests.support.namespace_journey import Person, journey

pytestmark = pytest.mark.exim
DOMAIN = "stock.test"
HOST = f"mail.{DOMAIN}"
SETTINGS = Path("/etc/exim4/update-exim4.conf.conf")


def set_layout(layout: str) -> None:
    """Debian's layout switch, as dpkg-reconfigure exim4-config leaves it."""
    split = "true" if layout == "debian-split" else "false"
    lines = [
        ln for ln in SETTINGS.read_text().splitlines() if not ln.startswith("dc_use_split_config=")
    ]
    SETTINGS.write_text("\n".join([*lines, f"dc_use_split_config='{split}'"]) + "\n")


def deploy_hook(pki: ns.Pki, host: str) -> Any:
    """The README's certificate step: certbot's deploy hook installs what was issued."""

    def place(bundle: Path) -> None:
        leaf = pki.leaf(host)
        chain = leaf.cert_pem() + pki.intermediate.cert_pem()
        ns.run_deploy_hook(bundle, ns.lineage(host, chain, leaf.key_pem()))

    return place


def stock_exim(layout: str) -> dict[str, Any]:
    """Debian's Exim as installed: the built-in certificate, no login, port 25 only."""
    set_layout(layout)
    pki = ns.make_pki()
    with ns.dns(DOMAIN, HOST) as dns_server:
        ns.service("exim4", "start")
        person = Person(DOMAIN, HOST, dns_server, pki.root_file)
        return journey(person, certificate=deploy_hook(pki, HOST))


@pytest.mark.parametrize("layout", ["debian-single", "debian-split"])
def test_stock_exim_reaches_accept_with_one_plan_and_rolls_back(layout: EximLayout) -> None:
    trip = ns.run_inside(stock_exim, layout=layout)
    # the blog's case: Exim's built-in certificate and no login, one plan for both
    assert {"self-signed", "no-auth"} <= set(trip["causes"])
    assert trip["kinds"] == ["new-certificate", "enable-auth"]
    assert f"Mail server: {LAYOUT_WORDS[layout]}" in trip["applied"]
    assert trip["accepted"]["smtp_server"] == HOST
    assert "Gmail would accept it" in trip["applied"]
    assert trip["changed"] == []
    assert trip["refused_again"] == "self-signed"
