"""The generated Exim config on real Exim 4.96: parsed, and served by a daemon."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from gmailfix.certs import describe
from gmailfix.connection import build
from gmailfix.lab import ca
from gmailfix.lab.runner import LabInfo
from gmailfix.remedies.model import RemedyKind
from gmailfix.remedies.plan import AliasHost, Plan
from gmailfix.render.exim import (
    AUTHENTICATORS,
    LAYOUT_FILES,
    exim_files,
    sni_map,
    tls_main,
)
from gmailfix.render.verify import verify_script
from gmailfix.vocabulary import EXIM_LAYOUTS
from tests.support import exim as eh
from tests.support.diagnosis import run_diagnosis
from tests.support.plans import make_plan
from tests.support.programs import require_program

pytestmark = pytest.mark.exim
ALIASES = (AliasHost("alpha.test", "mail.alpha.test"), AliasHost("beta.test", "mail.beta.test"))


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = eh.shared_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


SERVER_KINDS: tuple[RemedyKind, ...] = (
    "new-certificate",
    "sni",
    "serve-full-chain",
    "enable-starttls",
    "enable-auth",
    "open-port",
)


def sni_plan(tls_dir: str = "/etc/exim4/tls", layout: str | None = "plain") -> Plan:
    return make_plan("sni", aliases=ALIASES, layout=layout, tls_dir=tls_dir)  # type: ignore[arg-type]


def plan_for(kind: RemedyKind, layout: str | None = "plain") -> Plan:
    if kind == "sni":
        return sni_plan(layout=layout)
    return make_plan(kind, layout=layout)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_plain_layout_passes_exim_bV(workdir: Path, kind: RemedyKind) -> None:
    files = exim_files(plan_for(kind))
    (workdir / "tls-main.conf").write_text(files["exim4/tls-main.conf"])
    auth = None
    if "exim4/auth-tls-only.conf" in files:
        auth = workdir / "auth.conf"
        auth.write_text(files["exim4/auth-tls-only.conf"])
    conf = eh.minimal_config(workdir, [workdir / "tls-main.conf"], auth)
    done = eh.check_config(conf)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Exim version 4.96" in done.stdout


@pytest.mark.parametrize("layout", ["debian-split", "debian-single"])
@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_debian_layouts_pass_update_exim4_conf(
    workdir: Path, layout: str, kind: RemedyKind
) -> None:
    require_program("update-exim4.conf")
    plan = plan_for(kind, layout)
    files = exim_files(plan)
    done, output = eh.debian_update(workdir, layout, files[LAYOUT_FILES[layout][0]], files)  # type: ignore[index]
    assert done.returncode == 0, done.stderr
    text = output.read_text()
    check = eh.check_config(output)
    assert check.returncode == 0, check.stdout + check.stderr
    if kind == "enable-auth":
        assert "server_advertise_condition = ${if def:tls_in_cipher}" in text
    elif kind != "open-port":
        assert "MAIN_TLS_ENABLE = yes" in text
        # Debian's config turned our macros into the real options
        assert "tls_certificate = MAIN_TLS_CERTIFICATE" in text


@pytest.mark.parametrize("layout", ["debian-split", "debian-single"])
def test_the_wrong_layout_is_caught_by_the_verify_step(workdir: Path, layout: str) -> None:
    """The macros file put where the *other* layout reads it: update-exim4.conf and
    exim -bV both succeed and nothing changes. verify.sh --server must say so."""
    require_program("update-exim4.conf")
    plan = make_plan("new-certificate", layout=layout)  # type: ignore[arg-type]
    wrong = "debian-single" if layout == "debian-split" else "debian-split"
    macros = exim_files(plan)[LAYOUT_FILES[layout][0]]  # type: ignore[index]
    done, output = eh.debian_update(workdir, wrong, macros, place_as=layout)
    assert done.returncode == 0, done.stderr
    assert eh.check_config(output).returncode == 0, "the trap: the check passes"
    script = workdir / "verify.sh"
    script.write_text(verify_script(plan))
    env = {
        "PATH": "/usr/sbin:/usr/bin:/bin",
        "SHOW": f"{eh.exim()} -C {output} -bP tls_certificate",
        "CONNECT": "127.0.0.1:1",
    }
    ran = subprocess.run(
        ["sh", str(script), "--server"], env=env, capture_output=True, text=True, timeout=60
    )
    assert "FAIL  the running MTA config does not use the new settings" in ran.stdout
    assert "dc_use_split_config" in ran.stdout
    # and in the right place the same check passes
    shutil.rmtree(workdir / "etc-exim4")
    done, output = eh.debian_update(workdir, layout, macros)
    env["SHOW"] = f"{eh.exim()} -C {output} -bP tls_certificate"
    ran = subprocess.run(
        ["sh", str(script), "--server"], env=env, capture_output=True, text=True, timeout=60
    )
    assert "OK    the running MTA config uses the new certificate settings" in ran.stdout


def test_every_layout_is_rendered() -> None:
    for layout in EXIM_LAYOUTS:
        files = exim_files(plan_for("new-certificate", layout))
        assert LAYOUT_FILES[layout][0] in files
    unknown = exim_files(plan_for("new-certificate", None))
    assert {LAYOUT_FILES[k][0] for k in EXIM_LAYOUTS} <= set(unknown)


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
    info = describe(x509.load_pem_x509_certificate(match.group().encode()))
    return list(info.names) if info else []


def test_sni_fix_serves_each_alias_its_certificate(
    sni_daemon: int, lab: LabInfo, pki: tuple[ca.Issued, ca.Issued], workdir: Path
) -> None:
    root, _ = pki
    (workdir / "root.pem").write_bytes(root.cert_pem())
    for alias in ALIASES:
        connection = build(
            dns_server=f"{lab.dns[0]}:{lab.dns[1]}",
            ca_files=[str(workdir / "root.pem")],
            connect={(alias.host, 587): ("127.0.0.1", sni_daemon)},
            timeout=5,
        )
        result = run_diagnosis(connection, alias.domain, alias.host, 587)
        assert result.verdict.accept, (result.findings, eh.read_logs(workdir))
        assert result.chosen is not None and result.chosen.analysis is not None
        assert result.chosen.analysis.chain.leaf is not None
        assert result.chosen.analysis.chain.leaf.names == (alias.host,)
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
