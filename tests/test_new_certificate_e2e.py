"""The new-certificate fix end to end: the generated certbot script gets a real
certificate from Pebble, the generated deploy hook installs it, real Exim serves
it, and gmailfix's verdict goes from reject to accept."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gmailfix import gmail
from gmailfix.connection import build
from gmailfix.diagnose import Diagnosis
from gmailfix.lab import ca
from gmailfix.render.certbot import certbot_files
from gmailfix.render.exim import AUTHENTICATORS, tls_main
from tests.support import exim as eh
from tests.support import pebble as ph
from tests.support.diagnosis import run_diagnosis
from tests.support.plans import make_plan
from tests.support.programs import require_program
from tests.support.servers import dns_for

pytestmark = pytest.mark.pebble
HOST = "mail.newcert.test"


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = eh.shared_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def check(port: int, dns: str, root: Path) -> Diagnosis:
    connection = build(
        dns_server=dns, ca_files=[str(root)], connect={(HOST, 587): ("127.0.0.1", port)}, timeout=5
    )
    return run_diagnosis(connection, "newcert.test", HOST, 587)


def test_certbot_with_generated_scripts_turns_reject_into_accept(workdir: Path) -> None:
    require_program("certbot")
    tls_dir = workdir / "tls"
    tls_dir.mkdir()
    plan = make_plan("new-certificate", "newcert.test", HOST, tls_dir=str(tls_dir))
    bundle = workdir / "bundle"
    for path, text in certbot_files(plan).items():
        (bundle / path).parent.mkdir(parents=True, exist_ok=True)
        (bundle / path).write_text(text)
    # before: the server has a self-signed certificate, as many do
    own = ca.make_leaf(None, [HOST])
    eh.install_cert(tls_dir, HOST, own.cert_pem(), own.key_pem())
    (workdir / "tls-main.conf").write_text(tls_main(plan))
    (workdir / "auth.conf").write_text(AUTHENTICATORS)
    conf = eh.minimal_config(workdir, [workdir / "tls-main.conf"], workdir / "auth.conf")

    with dns_for({HOST: "127.0.0.1"}) as dns, ph.pebble(workdir, dns) as pebble:
        with eh.exim_daemon(conf, workdir) as port:
            before = check(port, dns, pebble.root)
        assert before.verdict.cause == "self-signed"
        assert before.verdict.error == gmail.CERT_ERROR

        state = workdir / "letsencrypt"
        env = {
            **os.environ,
            "ACME_SERVER": ph.ACME_DIRECTORY,
            "REQUESTS_CA_BUNDLE": str(pebble.api_ca),
            "GMAILFIX_TLS_DIR": str(tls_dir),
            "GMAILFIX_RELOAD": "true",
            "GMAILFIX_HOOK_DIR": str(workdir / "hooks"),
        }
        done = subprocess.run(
            [
                "sh",
                str(bundle / "certbot/issue.sh"),
                "standalone",
                *ph.STANDALONE,
                *ph.certbot_state(state),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "deploy hook: installed" in done.stdout + done.stderr
        key = tls_dir / HOST / "privkey.pem"
        assert oct(key.stat().st_mode & 0o777) == "0o640"
        assert oct((tls_dir / HOST).stat().st_mode & 0o777) == "0o750"
        assert key.stat().st_gid == eh._gid()

        with eh.exim_daemon(conf, workdir) as port:
            after = check(port, dns, pebble.root)
        assert after.verdict.accept, after.findings
        assert after.chosen is not None and after.chosen.analysis is not None
        leaf = after.chosen.analysis.leaf
        assert leaf is not None and leaf.names == (HOST,)
