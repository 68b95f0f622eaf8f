"""Each server-side fix on real Exim 4.96: Gmail would refuse before, accept after.

A throwaway Exim listens on its own loopback address (127.0.5.1) on the ports
its config names, so the generated daemon_smtp_ports and tls_on_connect_ports
are what is tested. "Before" is a server with one fault; "after" is the same
server with the bundle's files for the recommended fix.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from gmailfix import gmail
from gmailfix.connection import build
from gmailfix.lab import ca
from gmailfix.login import Credentials
from gmailfix.remedies.model import Proposal, RemedyKind
from gmailfix.render.certbot import deploy_hook
from gmailfix.render.exim import authenticators, exim_files
from tests.support import exim as eh
from tests.support.diagnosis import run_proposal
from tests.support.plans import plan_from
from tests.support.programs import require_program, sha512_crypt
from tests.support.servers import dns_for, http_files

pytestmark = pytest.mark.exim
HOST = "mail.fix.test"
IFACE = f"127.0.5.{random.randint(2, 250)}"  # its own address: no clash with other daemons
PASSWORD = "correct horse battery staple 7"


@dataclass
class Server:
    workdir: Path
    tls_dir: Path
    root: Path
    dns: str

    def diagnose(self, port: int = 587, credentials: Credentials | None = None) -> Proposal:
        connection = build(
            dns_server=self.dns,
            ca_files=[str(self.root)],
            connect={(HOST, p): (IFACE, p) for p in (587, 465, 25)},
            timeout=5,
        )
        return run_proposal(connection, f"me@{HOST[5:]}", HOST, port, credentials=credentials)

    def config(self, lines: list[str], *, auth: str | None = None, name: str = "exim.conf") -> Path:
        main = self.workdir / f"{name}.main"
        main.write_text("\n".join(lines) + "\n")
        auth_file = None
        if auth is not None:
            auth_file = self.workdir / f"{name}.auth"
            auth_file.write_text(auth)
        conf = eh.minimal_config(self.workdir, [main], auth_file, interface=IFACE)
        return conf.rename(self.workdir / name)

    def run(self, conf: Path, port: int = 587, credentials: Credentials | None = None) -> Proposal:
        with eh.exim_daemon(conf, self.workdir, interface=IFACE):
            result = self.diagnose(port, credentials)
        return result

    def bundle(self, diagnosis: Proposal, kind: RemedyKind) -> dict[str, str]:
        plan = plan_from(diagnosis, kind, exim_layout="plain", tls_dir=str(self.tls_dir))
        files = exim_files(plan)
        # the bundle's main-section file, as the plain layout's README installs it
        (self.workdir / "tls-main.conf").write_text(files["exim4/tls-main.conf"])
        return files


@pytest.fixture(scope="module")
def pki() -> tuple[ca.Issued, ca.Issued]:
    root = ca.make_root("Remedy Test Root")
    return root, ca.make_intermediate(root, "Remedy Test Intermediate")


@pytest.fixture
def server(pki: tuple[ca.Issued, ca.Issued]) -> Iterator[Server]:
    require_program("exim")
    root, intermediate = pki
    workdir = eh.shared_dir()
    tls_dir = workdir / "tls"
    tls_dir.mkdir()
    leaf = ca.make_leaf(intermediate, [HOST])
    eh.install_cert(tls_dir, HOST, leaf.cert_pem() + intermediate.cert_pem(), leaf.key_pem())
    (workdir / "root.pem").write_bytes(root.cert_pem())
    with dns_for({HOST: IFACE}) as dns:
        yield Server(workdir, tls_dir, workdir / "root.pem", dns)
    shutil.rmtree(workdir, ignore_errors=True)


def certificate_lines(server: Server) -> list[str]:
    directory = server.tls_dir / HOST
    return [
        f"tls_certificate = {directory}/fullchain.pem",
        f"tls_privatekey = {directory}/privkey.pem",
    ]


def with_tls_main(server: Server, extra: list[str] = ()) -> list[str]:  # type: ignore[assignment]
    return [*extra, f".include {server.workdir / 'tls-main.conf'}"]


def add_login(server: Server, user: str = "me@fix.test", password: str = PASSWORD) -> Path:
    """A passwd file as the README makes it: a SHA-512 crypt hash from openssl passwd -6."""
    hashed = sha512_crypt(password)
    passwd = server.workdir / "passwd"
    passwd.write_text(f"{user}:{hashed}\n")
    shutil.chown(passwd, "root", eh.EXIM_USER)
    passwd.chmod(0o640)
    return passwd


def test_enable_starttls(server: Server) -> None:
    auth = authenticators(str(add_login(server)))
    before = server.run(
        server.config(["daemon_smtp_ports = 587", "tls_advertise_hosts ="], auth=auth)
    )
    assert before.diagnosis.verdict.cause == "no-starttls"
    assert before.diagnosis.verdict.error == gmail.NO_STARTTLS
    assert before.remedies[0].kind == "enable-starttls"
    server.bundle(before, "enable-starttls")
    after = server.run(server.config(with_tls_main(server), auth=auth, name="after.conf"))
    assert after.diagnosis.verdict.accept, after.diagnosis.findings


def test_enable_auth_and_a_real_login(server: Server) -> None:
    passwd = add_login(server)
    before = server.run(server.config([*certificate_lines(server), "daemon_smtp_ports = 587"]))
    assert before.diagnosis.verdict.cause == "no-auth"
    assert before.remedies[0].kind == "enable-auth"
    # the real Exim is recognised from outside by its greeting (its own config: not Debian's)
    assert before.diagnosis.mail_stack is not None and before.diagnosis.mail_stack.name in (
        "exim",
        "exim-debian",
    )
    files = server.bundle(before, "enable-auth")
    assert "/etc/exim4/passwd" in files["exim4/auth-tls-only.conf"]
    auth = authenticators(str(passwd))  # the same text, with the test's passwd file
    conf = server.config(
        with_tls_main(server, certificate_lines(server)), auth=auth, name="after.conf"
    )
    with eh.exim_daemon(conf, server.workdir, interface=IFACE):
        after = server.diagnose()
        right = server.diagnose(credentials=Credentials("me@fix.test", PASSWORD))
        wrong = server.diagnose(credentials=Credentials("me@fix.test", "not the password"))
    assert after.diagnosis.verdict.accept, after.diagnosis.findings
    assert not after.diagnosis.chosen.probe.auth_before_tls  # type: ignore[union-attr]
    assert right.diagnosis.verdict.accept, right.diagnosis.findings
    assert right.diagnosis.chosen.main.login is not None and right.diagnosis.chosen.main.login.ok  # type: ignore[union-attr]
    assert wrong.diagnosis.verdict.cause == "auth-failed"
    assert wrong.diagnosis.verdict.error == gmail.MISCONFIGURED.format(
        response=gmail.AUTH_REFUSED_RESPONSE
    )
    assert "auth-failed" in {f.code for f in wrong.diagnosis.findings}
    assert next(r for r in wrong.remedies if r.kind == "enable-auth").applicable


def test_serve_full_chain(server: Server, pki: tuple[ca.Issued, ca.Issued]) -> None:
    _, intermediate = pki
    auth = authenticators(str(add_login(server)))
    der = intermediate.cert.public_bytes(Encoding.DER)
    with http_files({"/intermediate.der": der}) as base:
        leaf = ca.make_leaf(intermediate, [HOST], ca_issuers_url=f"{base}/intermediate.der")
        # before: the certificate alone, as when cert.pem is used instead of fullchain.pem
        eh.install_cert(server.tls_dir, HOST, leaf.cert_pem(), leaf.key_pem())
        conf = server.config([*certificate_lines(server), "daemon_smtp_ports = 587"], auth=auth)
        before = server.run(conf)
        assert before.diagnosis.verdict.cause == "incomplete-chain", before.diagnosis.findings
        assert before.remedies[0].kind == "serve-full-chain"
        plan = plan_from(before, "serve-full-chain", tls_dir=str(server.tls_dir))
        # the README's step: the deploy hook installs the full chain from certbot's lineage
        lineage = server.workdir / "live" / HOST
        lineage.mkdir(parents=True)
        (lineage / "fullchain.pem").write_bytes(leaf.cert_pem() + intermediate.cert_pem())
        (lineage / "privkey.pem").write_bytes(leaf.key_pem())
        hook = server.workdir / "deploy-hook.sh"
        hook.write_text(deploy_hook(plan))
        env = {
            "PATH": "/usr/sbin:/usr/bin:/bin",
            "RENEWED_LINEAGE": str(lineage),
            "GMAILFIX_RELOAD": "true",
        }
        done = subprocess.run(
            ["sh", str(hook)], env=env, capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        after = server.run(conf)
    assert after.diagnosis.verdict.accept, after.diagnosis.findings


def test_open_port(server: Server) -> None:
    auth = authenticators(str(add_login(server)))
    base = [*certificate_lines(server), "tls_advertise_hosts = *"]
    before = server.run(server.config([*base, "daemon_smtp_ports = 2525"], auth=auth))
    assert before.diagnosis.verdict.cause == "connection-failed"
    assert before.diagnosis.verdict.error == gmail.UNREACHABLE
    assert before.remedies[0].kind == "open-port"
    server.bundle(before, "open-port")
    after = server.run(server.config(with_tls_main(server, base), auth=auth, name="after.conf"))
    assert after.diagnosis.verdict.accept, after.diagnosis.findings
    assert server.run(server.workdir / "after.conf", port=465).diagnosis.verdict.accept


def test_fix_tls_mode_on_the_server(server: Server) -> None:
    auth = authenticators(str(add_login(server)))
    base = [*certificate_lines(server), "tls_advertise_hosts = *"]
    swapped = ["daemon_smtp_ports = 465 : 587", "tls_on_connect_ports = 587"]
    before = server.run(server.config([*base, *swapped], auth=auth))
    assert before.diagnosis.verdict.cause == "wrong-tls-mode"
    first = before.remedies[0]
    assert (first.kind, first.recommended, first.verified) == ("fix-tls-mode", True, False)
    server.bundle(before, "fix-tls-mode")
    after = server.run(server.config(with_tls_main(server, base), auth=auth, name="after.conf"))
    assert after.diagnosis.verdict.accept, after.diagnosis.findings
