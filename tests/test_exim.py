"""The generated Exim config on real Exim 4.96: parsed, and served by a daemon."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from gmailfix.certs import TrustStore, dns_names
from gmailfix.diagnose import diagnose
from gmailfix.dns import make_resolver
from gmailfix.lab import ca
from gmailfix.lab.runner import LabInfo
from gmailfix.remedies.fix import EXIM_LAYOUTS, AliasHost, FixPlan
from gmailfix.render.exim import AUTHENTICATORS, debian_macros, exim_files, sni_map, tls_main
from tests import exim_harness as eh
from tests.conftest import require_program, run

pytestmark = pytest.mark.exim
ALIASES = (AliasHost("alpha.test", "mail.alpha.test"), AliasHost("beta.test", "mail.beta.test"))


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = eh.shared_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def sni_plan(tls_dir: str = "/etc/exim4/tls", layout: str = "plain") -> FixPlan:
    return FixPlan(
        "sni",
        "alpha.test",
        "mail.alpha.test",
        587,
        None,
        aliases=ALIASES,
        exim_layout=layout,
        tls_dir=tls_dir,  # type: ignore[arg-type]
    )


def cert_plan(layout: str = "plain") -> FixPlan:
    return FixPlan(
        "new-certificate", "alpha.test", "mail.alpha.test", 587, None, exim_layout=layout
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("make_plan", [cert_plan, sni_plan], ids=["new-certificate", "sni"])
def test_plain_layout_passes_exim_bV(workdir: Path, make_plan) -> None:  # type: ignore[no-untyped-def]
    plan = make_plan()
    files = exim_files(plan)
    (workdir / "tls-main.conf").write_text(files["exim4/tls-main.conf"])
    (workdir / "auth.conf").write_text(files["exim4/auth-tls-only.conf"])
    conf = eh.minimal_config(workdir, [workdir / "tls-main.conf"], workdir / "auth.conf")
    done = eh.check_config(conf)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Exim version 4.96" in done.stdout


@pytest.mark.parametrize("layout", ["debian-split", "debian-single"])
@pytest.mark.parametrize("make_plan", [cert_plan, sni_plan], ids=["new-certificate", "sni"])
def test_debian_layouts_pass_update_exim4_conf(workdir: Path, layout: str, make_plan) -> None:  # type: ignore[no-untyped-def]
    require_program("update-exim4.conf")
    plan = make_plan(layout=layout)
    done, output = eh.debian_update(workdir, layout, debian_macros(plan, "test"))
    assert done.returncode == 0, done.stderr
    text = output.read_text()
    assert "MAIN_TLS_ENABLE = yes" in text
    check = eh.check_config(output)
    assert check.returncode == 0, check.stdout + check.stderr
    # Debian's config turned our macros into the real options
    assert "tls_certificate = MAIN_TLS_CERTIFICATE" in text


def test_every_layout_is_rendered() -> None:
    for layout in EXIM_LAYOUTS:
        files = exim_files(cert_plan(layout))
        assert "exim4/tls-main.conf" in files
    assert "exim4/conf.d/main/000_localmacros" in exim_files(cert_plan("debian-split"))
    assert "exim4/exim4.conf.localmacros" in exim_files(cert_plan("debian-single"))


# --- the SNI fix, served by a real daemon ---------------------------------------------


@pytest.fixture(scope="module")
def pki() -> tuple[ca.Issued, ca.Issued]:
    root = ca.make_root("SNI Test Root")
    return root, ca.make_intermediate(root, "SNI Test Intermediate")


@pytest.fixture
def sni_daemon(workdir: Path, pki: tuple[ca.Issued, ca.Issued]) -> Iterator[int]:
    _, intermediate = pki
    tls_dir = workdir / "tls"
    tls_dir.mkdir()
    every = [a.host for a in ALIASES]
    for name, hosts in [*((h, [h]) for h in every), ("default", every)]:
        leaf = ca.make_leaf(intermediate, hosts)
        eh.install_cert(tls_dir, name, leaf.cert_pem() + intermediate.cert_pem(), leaf.key_pem())
    plan = sni_plan(str(tls_dir))
    (tls_dir / "sni.map").write_text(sni_map(plan))
    (workdir / "tls-main.conf").write_text(tls_main(plan))
    (workdir / "auth.conf").write_text(AUTHENTICATORS)
    conf = eh.minimal_config(workdir, [workdir / "tls-main.conf"], workdir / "auth.conf")
    with eh.exim_daemon(conf, workdir) as port:
        yield port


def s_client(port: int, sni: str | None) -> str:
    args = [
        require_program("openssl"),
        "s_client",
        "-connect",
        f"127.0.0.1:{port}",
        "-starttls",
        "smtp",
    ]
    args += ["-noservername"] if sni is None else ["-servername", sni]
    done = subprocess.run(args, input="", capture_output=True, text=True, timeout=30)
    return done.stdout + done.stderr


def served_names(port: int, sni: str | None) -> list[str]:
    """The certificate names Exim shows for an SNI value (None: no SNI at all)."""
    output = s_client(port, sni)
    match = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", output, re.S)
    assert match, output
    return dns_names(x509.load_pem_x509_certificate(match.group().encode()))


def test_sni_fix_serves_each_alias_its_certificate(
    sni_daemon: int, lab: LabInfo, pki: tuple[ca.Issued, ca.Issued], workdir: Path
) -> None:
    root, _ = pki
    resolver = make_resolver(dns_server=f"{lab.dns[0]}:{lab.dns[1]}", timeout=3)
    for alias in ALIASES:
        result = run(
            diagnose(
                alias.domain,
                smtp_host=alias.host,
                ports=[587],
                resolver=resolver,
                connect={(alias.host, 587): ("127.0.0.1", sni_daemon)},
                trust=TrustStore([root.cert], public=False),
                timeout=5,
                now=dt.datetime.now(dt.UTC),
            )
        )
        assert result.verdict.accept, (result.findings, eh.read_logs(workdir))
        assert result.chosen is not None and result.chosen.analysis is not None
        assert result.chosen.analysis.leaf.names == (alias.host,)
        assert "PLAIN" in result.chosen.probe.auth_mechanisms
        assert not result.chosen.probe.auth_before_tls  # AUTH only after TLS


@pytest.mark.parametrize("sni", [None, "mail.alpha.test.", "..", ".", "unknown.test"])
def test_sni_fix_gives_strangers_the_default_certificate(sni_daemon: int, sni: str | None) -> None:
    assert served_names(sni_daemon, sni) == ["mail.alpha.test", "mail.beta.test"]


def test_sni_lookup_ignores_case(sni_daemon: int) -> None:
    """lsearch keys are case-insensitive: MAIL.BETA.TEST gets beta's own certificate,
    which is what a client asking in capitals expects (host names ignore case)."""
    assert served_names(sni_daemon, "MAIL.BETA.TEST") == ["mail.beta.test"]


@pytest.mark.parametrize("sni", ["../default", "mail.alpha.test/../x", "a b", "*"])
def test_sni_with_path_characters_never_reaches_the_config(sni_daemon: int, sni: str) -> None:
    """GnuTLS refuses such names itself (alert 47) before Exim expands anything."""
    output = s_client(sni_daemon, sni)
    assert "BEGIN CERTIFICATE" not in output
    assert "alert" in output


def test_generated_verify_script_passes_against_the_sni_fix(
    sni_daemon: int, pki: tuple[ca.Issued, ca.Issued], workdir: Path
) -> None:
    from gmailfix.render.verify import verify_script

    root, _ = pki
    (workdir / "root.pem").write_bytes(root.cert_pem())
    script = workdir / "verify.sh"
    script.write_text(verify_script(sni_plan()))
    env = {
        "PATH": "/usr/bin:/bin",
        "CA_FILE": str(workdir / "root.pem"),
        "CONNECT": f"127.0.0.1:{sni_daemon}",
    }
    done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("OK ") == 2 and "All checks passed" in done.stdout
    # and without trusting the test CA, the same check fails, as Gmail would
    env.pop("CA_FILE")
    done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "FAIL" in done.stdout
