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

import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from gmailfix.remedies.manifest import parse_manifest
from gmailfix.render.certbot import deploy_hook as render_hook
from gmailfix.render.exim import authenticators
from gmailfix.server.mta import LAYOUT_WORDS
from gmailfix.vocabulary import EximLayout
from tests.support import namespace as ns
from tests.support import pebble as ph
from tests.support.namespace_journey import Person, journey
from tests.support.programs import sha512_crypt
from tests.support.servers import http_files

pytestmark = pytest.mark.exim
DOMAIN = "stock.test"
HOST = f"mail.{DOMAIN}"
SETTINGS = Path("/etc/exim4/update-exim4.conf.conf")
MACROS = Path("/etc/exim4/exim4.conf.localmacros")
TEMPLATE = Path("/etc/exim4/exim4.conf.template")
CRT, KEY = Path("/etc/exim4/exim.crt"), Path("/etc/exim4/exim.key")
LIVE = Path(f"/etc/letsencrypt/live/{HOST}")
EXIM_USER = "Debian-exim"


def set_layout(layout: str) -> None:
    """Debian's layout switch, as dpkg-reconfigure exim4-config leaves it."""
    split = "true" if layout == "debian-split" else "false"
    lines = [
        ln for ln in SETTINGS.read_text().splitlines() if not ln.startswith("dc_use_split_config=")
    ]
    SETTINGS.write_text("\n".join([*lines, f"dc_use_split_config='{split}'"]) + "\n")


def deploy_hook(pki: ns.Pki, host: str) -> Callable[[Path], object]:
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


# --- a server the person already set up, with one thing wrong -------------------------


NOT_ON_25 = "${if and{{def:tls_in_cipher}{!eq{$received_port}{25}}}}"


def with_login(advertise: str | None = None) -> None:
    """Login after TLS, as the person added it (Debian's template, a password file): Gmail
    sees AUTH, so what is left is the state's own fault. ``advertise`` replaces the
    condition under which AUTH is offered."""
    passwd = Path("/etc/exim4/passwd")
    passwd.write_text(f"me@{DOMAIN}:{sha512_crypt('a password 7')}\n")
    shutil.chown(passwd, "root", EXIM_USER)
    passwd.chmod(0o640)
    block = authenticators(str(passwd))
    if advertise is not None:
        block = block.replace("${if def:tls_in_cipher}", advertise)
    text = TEMPLATE.read_text().replace(
        "begin authenticators\n", "begin authenticators\n" + block, 1
    )
    TEMPLATE.write_text(text)


def install(crt: Path, key: Path, chain: bytes, private: bytes, *, group: str = EXIM_USER) -> None:
    for path, data, mode in ((crt, chain, 0o644), (key, private, 0o640)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        shutil.chown(path, "root", group)
        path.chmod(mode)


def tls_macros(crt: Path, key: Path, ports: str = "25 : 465 : 587", implicit: bool = True) -> None:
    lines = [
        "MAIN_TLS_ENABLE = yes",
        f"MAIN_TLS_CERTIFICATE = {crt}",
        f"MAIN_TLS_PRIVATEKEY = {key}",
        f"daemon_smtp_ports = {ports}",
        *(["tls_on_connect_ports = 465"] if implicit else []),
    ]
    MACROS.write_text("\n".join(lines) + "\n")


@contextmanager
def leaf_only(pki: ns.Pki) -> Iterator[Callable[[Path], object]]:
    """The server sends its certificate without the intermediate (cert.pem, not
    fullchain.pem); the intermediate is fetched from its AIA URL on loopback."""
    with_login()
    with http_files({"/int.der": pki.intermediate.cert_der()}) as base:
        leaf = pki.leaf(HOST, ca_issuers_url=f"{base}/int.der")
        install(CRT, KEY, leaf.cert_pem(), leaf.key_pem())
        tls_macros(CRT, KEY)
        full = leaf.cert_pem() + pki.intermediate.cert_pem()
        yield lambda bundle: ns.run_deploy_hook(bundle, ns.lineage(HOST, full, leaf.key_pem()))


@contextmanager
def root_only_key(pki: ns.Pki) -> Iterator[Callable[[Path], object]]:
    """Exim pointed at certbot's live/ folder, which only root may read: Exim's user
    cannot read the key, and STARTTLS answers '454 TLS currently unavailable'."""
    with_login()
    leaf = pki.leaf(HOST)
    full = leaf.cert_pem() + pki.intermediate.cert_pem()
    install(LIVE / "fullchain.pem", LIVE / "privkey.pem", full, leaf.key_pem(), group="root")
    (LIVE / "privkey.pem").chmod(0o600)
    for folder in (LIVE, LIVE.parent):
        folder.chmod(0o700)
    tls_macros(LIVE / "fullchain.pem", LIVE / "privkey.pem")
    yield lambda bundle: ns.run_deploy_hook(bundle, LIVE)


@contextmanager
def starttls_off(pki: ns.Pki) -> Iterator[Callable[[Path], object]]:
    """The person turned STARTTLS off (Exim's own option, in the macros file)."""
    with_login()
    MACROS.write_text("tls_advertise_hosts =\ndaemon_smtp_ports = 25 : 587\n")
    yield deploy_hook(pki, HOST)


@contextmanager
def starttls_off_macro(pki: ns.Pki) -> Iterator[Callable[[Path], object]]:
    """The same with Debian's macro: TLS on, but offered to no one."""
    with_login()
    leaf = pki.leaf(HOST)
    install(CRT, KEY, leaf.cert_pem() + pki.intermediate.cert_pem(), leaf.key_pem())
    tls_macros(CRT, KEY, ports="25 : 587", implicit=False)
    with MACROS.open("a") as macros:
        macros.write("MAIN_TLS_ADVERTISE_HOSTS =\n")
    yield deploy_hook(pki, HOST)


@contextmanager
def starttls_on_465(pki: ns.Pki) -> Iterator[None]:
    """465 listens, but speaks STARTTLS (no tls_on_connect_ports); 587 is closed, and port
    25 (for other mail servers) offers no login: no port works for Gmail as it is."""
    with_login(advertise=NOT_ON_25)
    leaf = pki.leaf(HOST)
    install(CRT, KEY, leaf.cert_pem() + pki.intermediate.cert_pem(), leaf.key_pem())
    tls_macros(CRT, KEY, ports="25 : 465", implicit=False)
    yield None  # the certificate is fine: the plan has no certificate step


STATES: dict[str, Callable[[ns.Pki], Any]] = {
    "leaf-only": leaf_only,
    "root-only-key": root_only_key,
    "starttls-off": starttls_off,
    "starttls-off-macro": starttls_off_macro,
    "starttls-on-465": starttls_on_465,
}


def configured_exim(state: str, port: int | None) -> dict[str, Any]:
    pki = ns.make_pki()
    with ns.dns(DOMAIN, HOST) as dns_server, STATES[state](pki) as certificate:
        ns.service("exim4", "start")
        person = Person(DOMAIN, HOST, dns_server, pki.root_file, port=port)
        return journey(person, certificate=certificate)


@pytest.mark.parametrize(
    ("state", "port", "cause", "kinds"),
    [
        ("leaf-only", None, "incomplete-chain", ["serve-full-chain"]),
        ("root-only-key", None, "starttls-refused", ["new-certificate"]),
        ("starttls-off", None, "no-starttls", ["enable-starttls"]),
        ("starttls-off-macro", None, "no-starttls", ["enable-starttls"]),
        ("starttls-on-465", 465, "wrong-tls-mode", ["fix-tls-mode"]),
    ],
)
def test_exim_state_reaches_accept_and_rolls_back(
    state: str, port: int | None, cause: str, kinds: list[str]
) -> None:
    trip = ns.run_inside(configured_exim, state=state, port=port)
    assert cause in trip["causes"]
    assert trip["kinds"] == kinds
    assert "Gmail would accept it" in trip["applied"]
    assert trip["accepted"]["port"] == (port or 587)
    assert trip["changed"] == []
    assert trip["refused_again"] == cause


# --- the certificate step inside apply: certbot against Pebble --------------------------


def certbot_in_apply() -> dict[str, Any]:
    """Debian's stock Exim again, but the person skips the README's certificate step:
    apply gets the certificate itself (certbot --standalone on port 80, against Pebble on
    loopback, which checks http-01 there), installs it with gmailfix's own deploy hook,
    and goes on. Rollback removes what the hook installed for Exim; certbot's lineage
    stays in /etc/letsencrypt."""
    with ns.dns(DOMAIN, HOST) as dns_server, ph.pebble(ns.scratch(), dns_server, 80) as pebble:
        ns.service("exim4", "start")
        person = Person(DOMAIN, HOST, dns_server, pebble.root)
        trip = journey(
            person,
            apply=("--acme-server", ph.ACME_DIRECTORY),
            apply_env={"REQUESTS_CA_BUNDLE": str(pebble.api_ca)},  # Pebble's API is private
        )
    live = Path("/etc/letsencrypt/live") / HOST
    trip["lineage_kept"] = (live / "fullchain.pem").is_file()
    renewal = Path("/etc/letsencrypt/renewal") / f"{HOST}.conf"
    trip["renewal"] = renewal.read_text() if renewal.exists() else ""
    hook = Path("/etc/letsencrypt/gmailfix/exim-deploy-hook.sh")
    trip["hook_is_gmailfix_own"] = hook.is_file() and hook.read_text() == deploy_hook_text()
    return trip


def deploy_hook_text() -> str:
    """The hook as the installed gmailfix renders it for the exported plan."""
    manifest = json.loads((ns.scratch() / "bundle/MANIFEST.json").read_text())
    return render_hook(parse_manifest(manifest).plan())


@pytest.mark.pebble
def test_certbot_inside_apply_against_pebble_reaches_accept_and_rolls_back() -> None:
    trip = ns.run_inside(certbot_in_apply)
    assert {"self-signed", "no-auth"} <= set(trip["causes"])
    assert trip["kinds"] == ["new-certificate", "enable-auth"]
    applied = trip["applied"]
    assert "  1. get a certificate for mail.stock.test from https://127.0.0.1:14000/dir" in applied
    assert (
        "--server https://127.0.0.1:14000/dir --deploy-hook /etc/letsencrypt/gmailfix/" in applied
    )
    assert "leaves the issued certificate there" in applied  # said before anything is done
    assert "Gmail would accept it" in applied
    assert "certificate for mail.stock.test is kept in /etc/letsencrypt/live/" in applied
    # rollback: the hook's copies and the folders it needed go, certbot's lineage stays
    assert "removed /etc/exim4/tls/mail.stock.test/privkey.pem" in trip["rolled_back"]
    assert "removed the empty folder /etc/exim4/tls " in trip["rolled_back"]
    assert "stays in /etc/letsencrypt/live/mail.stock.test" in trip["rolled_back"]
    assert trip["changed"] == []
    assert trip["refused_again"] == "self-signed"
    assert trip["lineage_kept"]
    # renewals run gmailfix's own hook (rendered by gmailfix, not read from the bundle)
    assert "renew_hook = /etc/letsencrypt/gmailfix/exim-deploy-hook.sh" in trip["renewal"]
    assert trip["hook_is_gmailfix_own"]
