"""The generated Postfix config on a real Postfix 3.7: parsed, served, renewed.

Every instance starts as a fresh Debian install (STARTTLS with a self-signed
snakeoil certificate) and gets the bundle's files and commands as the README
gives them. Verdicts come from the ``gmailfix diagnose`` command, run as a
user runs it, against a lab DNS server and a CA made here.
"""

from __future__ import annotations

import json
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from gmailfix import gmail
from gmailfix.lab import ca
from gmailfix.remedies.plan import AliasHost, Plan
from gmailfix.render.certbot import certbot_files
from gmailfix.render.postfix import (
    DOVECOT_FILE,
    main_settings,
    postfix_apply_commands,
    postfix_deploy_hook,
    postfix_files,
    services,
)
from gmailfix.render.verify import verify_script
from tests.support import pebble as pebble_h
from tests.support import postfix as ph
from tests.support.plans import make_plan as plan_of
from tests.support.programs import require_program
from tests.support.servers import dns_for

HOST = "mail.pf.test"
ALIASES = (AliasHost("alpha.test", "mail.alpha.test"), AliasHost("beta.test", "mail.beta.test"))
EVERY_ALIAS = [a.host for a in ALIASES]
SERVER_KINDS = [
    "new-certificate",
    "sni",
    "serve-full-chain",
    "enable-starttls",
    "enable-auth",
    "open-port",
    "fix-tls-mode",
]
# Every kind above renders one of these configurations (comments aside):
# test_every_kind_renders_a_configuration_proven_below
PROVEN_KINDS = ["new-certificate", "sni", "enable-auth"]


def make_plan(kind: str, tls_dir: Path) -> Plan:
    if kind == "sni":
        return plan_of("sni", "alpha.test", aliases=ALIASES, tls_dir=str(tls_dir), mta="postfix")
    return plan_of(kind, "pf.test", HOST, tls_dir=str(tls_dir), mta="postfix")  # type: ignore[arg-type]


@dataclass(frozen=True)
class Pki:
    root: ca.Issued
    intermediate: ca.Issued
    root_file: Path

    def issue(self, names: list[str]) -> tuple[bytes, bytes]:
        """(fullchain, key) PEM for names, as a public CA would hand them out."""
        leaf = ca.make_leaf(self.intermediate, names)
        return leaf.cert_pem() + self.intermediate.cert_pem(), leaf.key_pem()


@pytest.fixture(scope="module")
def pki() -> Iterator[Pki]:
    root = ca.make_root("Postfix Test Root")
    directory = ph.shared_dir()
    (directory / "root.pem").write_bytes(root.cert_pem())
    yield Pki(root, ca.make_intermediate(root, "Postfix Test Intermediate"), directory / "root.pem")
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def dns() -> Iterator[str]:
    with dns_for({h: "127.0.0.1" for h in (HOST, *EVERY_ALIAS)}) as server:
        yield server


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = ph.shared_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def write_bundle(plan: Plan, bundle: Path) -> Path:
    """The bundle's Postfix files, with the Postfix deploy hook as certbot's hook."""
    files = {**postfix_files(plan), "certbot/deploy-hook.sh": postfix_deploy_hook(plan)}
    for path, text in files.items():
        (bundle / path).parent.mkdir(parents=True, exist_ok=True)
        (bundle / path).write_text(text)
    return bundle


def apply(pf: ph.Postfix, plan: Plan, bundle: Path) -> dict[int, int]:
    """Run the bundle's apply commands, in order, from the bundle folder.

    Departures, all the test's own: Dovecot is the test's instance (it loads
    the rendered Dovecot file, see ``ph.dovecot``); right after postconf.sh the
    services for 587 and 465 move to free ports; and before ``postfix check``
    the finished config is aged (``ph.Postfix.age_config``). Returns {Gmail's
    port: where that service listens}, once the reload is done.
    """
    moved = {s.port: ph.free_port() for s in services(plan)}
    edit, check = ["set -eu"], ["set -eu"]
    for command in postfix_apply_commands(plan):
        if command.startswith("#") or "dovecot" in command or command.startswith("doveadm"):
            continue
        if command.startswith("conf="):
            edit.append(command)
            check.append(command)
        else:
            (check if command.startswith("postfix ") else edit).append(command)
        if command == "sh postfix/postconf.sh":
            edit += [
                f"postconf -F {s.names[0]}/inet/service={moved[s.port]}" for s in services(plan)
            ]
    assert check[-2:] == ["postfix check", "postfix reload"]
    seen = pf.reloads()
    for script in (edit, check):
        done = pf.run(["sh", "-c", "\n".join(script)], cwd=bundle)
        assert done.returncode == 0, done.stdout + done.stderr + pf.log()
        pf.age_config()
    pf.wait_for_reload(seen)
    for port in moved.values():
        assert ph.wait_for_port(port), pf.log()
    return moved


def deploy(pf: ph.Postfix, bundle: Path, live: Path, name: str, cert: tuple[bytes, bytes]) -> str:
    """certbot's side of an issue or renewal: a lineage, then the rendered deploy hook."""
    lineage = ph.write_lineage(live, name, *cert)
    seen = pf.reloads()
    done = ph.run_hook(pf, bundle / "certbot/deploy-hook.sh", lineage)
    assert done.returncode == 0, done.stdout + done.stderr + pf.log()
    if pf.is_running():
        pf.wait_for_reload(seen)
    return done.stdout + done.stderr


def diagnose(
    host: str, port: int, real_port: int, dns: str, ca_file: Path
) -> tuple[int, dict[str, Any]]:
    """``gmailfix diagnose --json`` as a user runs it: (exit status, the JSON)."""
    domain = host.split(".", 1)[1]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gmailfix",
            "diagnose",
            domain,
            "--smtp-host",
            host,
            "--port",
            str(port),
            "--connect",
            f"{host}:{port}=127.0.0.1:{real_port}",
            "--ca-file",
            str(ca_file),
            "--dns-server",
            dns,
            "--timeout",
            "5",
            "--json",
        ],
        cwd=ph.REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def with_sni(report: dict[str, Any]) -> dict[str, Any]:
    """The probe that sent SNI, as Gmail is believed to."""
    return next(p for p in report["probes"] if p["sni"] is not None)


def first_certificate(chain_pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(chain_pem)


def warnings_in(log: str) -> list[str]:
    return [ln for ln in log.splitlines() if any(w in ln for w in ("warning:", "fatal:", "error:"))]


# --- every form passes Postfix's own checks -------------------------------------------


def configuration(kind: str) -> tuple[object, ...]:
    """What Postfix sees of a kind's fix: settings and services, without the words."""
    plan = make_plan(kind, Path("/etc/postfix/tls"))
    files = postfix_files(plan)
    settings = tuple((s.name, s.value) for s in main_settings(plan))
    return settings, services(plan), files.get("postfix/sni"), files.get(DOVECOT_FILE)


def test_every_kind_renders_a_configuration_proven_below() -> None:
    proven = [configuration(k) for k in PROVEN_KINDS]
    for kind in SERVER_KINDS:
        assert configuration(kind) in proven, kind
    assert len(set(map(repr, proven))) == len(proven)


@pytest.mark.parametrize("kind", PROVEN_KINDS)
def test_each_fix_passes_postconf_and_postfix_check(workdir: Path, pki: Pki, kind: str) -> None:
    plan = make_plan(kind, workdir / "tls")
    bundle = write_bundle(plan, workdir / "bundle")
    pf = ph.make_postfix(workdir / "postfix")
    with ph.running(pf):
        for host in (*plan.cert_hosts, "default"):
            deploy(pf, bundle, workdir / "live", host, pki.issue([host]))
        since = len(pf.log())
        moved = apply(pf, plan, bundle)
        shown, master = pf.postconf("-n"), pf.postconf("-M")
        # postconf warns about unknown or misspelt parameters, in main.cf and in -o lines
        assert shown.returncode == 0 and master.returncode == 0
        assert shown.stderr == "" and master.stderr == "", shown.stderr + master.stderr
        pf.check()
        assert (pf.conf / "main.cf.before-gmailfix").exists()  # the way back
        # smtpd's own warnings show only when it runs: make it run a handshake
        assert "BEGIN CERTIFICATE" in ph.s_client(pf.port, plan.smtp_host)
        assert warnings_in(pf.log()[since:]) == []
    values = dict(line.split(" =", 1) for line in shown.stdout.splitlines())
    for setting in main_settings(plan):
        assert values[setting.name].strip() == setting.value
    for service in services(plan):
        options = pf.postconf("-P", f"{moved[service.port]}/inet").stdout
        for key, value in service.options:
            assert f"{moved[service.port]}/inet/{key} = {value}\n" in options


def test_nothing_to_change_on_the_server_for_an_isp_host_name() -> None:
    plan = plan_of("isp-hostname", "pf.test", "server1.isp.test", mta="postfix")
    assert postfix_files(plan) == {} and postfix_apply_commands(plan) == []


@pytest.mark.parametrize("kind", ["sni", "enable-auth"])
def test_pasted_snippets_equal_the_postconf_script(workdir: Path, kind: str) -> None:
    """main.cf.snippet and master.cf.snippet say exactly what postconf.sh does."""
    plan = make_plan(kind, workdir / "tls")
    files = postfix_files(plan)
    bundle = write_bundle(plan, workdir / "bundle")
    scripted = ph.make_postfix(workdir / "scripted")
    done = scripted.run(["sh", "postfix/postconf.sh"], cwd=bundle)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    scripted.age_config()

    pasted = ph.make_postfix(workdir / "pasted")
    names = {s.name for s in main_settings(plan)}
    main_cf = pasted.conf / "main.cf"
    # as the snippet says: each line of the same name is replaced
    kept = [ln for ln in main_cf.read_text().splitlines() if ln.split("=")[0].strip() not in names]
    main_cf.write_text("\n".join([*kept, files["postfix/main.cf.snippet"]]))
    if "postfix/master.cf.snippet" in files:
        master_cf = pasted.conf / "master.cf"
        master_cf.write_text(master_cf.read_text() + files["postfix/master.cf.snippet"])
    pasted.age_config()

    for pf in (scripted, pasted):
        shown, master = pf.postconf("-n"), pf.postconf("-M")
        assert shown.stderr == "" and master.stderr == "", shown.stderr + master.stderr
    assert scripted.postconf("-n", *names).stdout == pasted.postconf("-n", *names).stdout
    for service in services(plan):
        entry = f"{service.names[0]}/inet"
        assert scripted.postconf("-M", entry).stdout == pasted.postconf("-M", entry).stdout
    assert scripted.postconf("-P").stdout == pasted.postconf("-P").stdout
    assert warnings_in(pasted.check()) == []


def test_postconf_script_edits_an_existing_smtps_service_instead_of_adding_one(
    workdir: Path,
) -> None:
    """Two services on 465 would stop Postfix: an older 'smtps' entry is reused."""
    plan = make_plan("enable-auth", workdir / "tls")
    bundle = write_bundle(plan, workdir / "bundle")
    pf = ph.make_postfix(workdir / "postfix")
    master_cf = pf.conf / "master.cf"
    master_cf.write_text(
        master_cf.read_text() + "smtps inet n - y - - smtpd\n  -o smtpd_tls_wrappermode=no\n"
    )
    done = pf.run(["sh", "postfix/postconf.sh"], cwd=bundle)
    assert done.returncode == 0, done.stderr
    names = [line.split()[0] for line in pf.postconf("-M").stdout.splitlines()]
    assert "smtps" in names and "submissions" not in names
    assert "smtps/inet/smtpd_tls_wrappermode = yes" in pf.postconf("-P", "smtps/inet").stdout


def test_scripts_are_posix_sh() -> None:
    for kind in SERVER_KINDS:
        plan = make_plan(kind, Path("/etc/postfix/tls"))
        for text in (postfix_files(plan)["postfix/postconf.sh"], postfix_deploy_hook(plan)):
            done = subprocess.run(
                ["sh", "-n"], input=text, capture_output=True, text=True, timeout=10
            )
            assert done.returncode == 0, done.stderr
            assert text.startswith("#!/bin/sh\n") and "\nset -eu\n" in text


# --- a running server, as a Gmail user has it before the fix --------------------------

USER, PASSWORD = "me@pf.test", "correct horse"


@dataclass(frozen=True)
class Server:
    pf: ph.Postfix
    ports: dict[int, int]  # Gmail's port (587, 465) -> where that service listens


@contextmanager
def gmail_ready_postfix(workdir: Path) -> Iterator[Server]:
    """Debian's Postfix with logins on 587 and 465 checked by Dovecot (the
    enable-auth fix, rendered and applied), and STARTTLS with the snakeoil
    certificate: Gmail refuses it only for the certificate."""
    plan = make_plan("enable-auth", workdir / "tls")
    bundle = write_bundle(plan, workdir / "auth-bundle")
    pf = ph.make_postfix(workdir / "postfix")
    with ph.running(pf):
        ports = apply(pf, plan, bundle)
        with ph.dovecot(workdir, pf, postfix_files(plan)[DOVECOT_FILE], {USER: PASSWORD}):
            yield Server(pf, ports)


@dataclass(frozen=True)
class FixedServer:
    server: Server
    before: dict[int, tuple[int, dict[str, Any]]]  # Gmail's port -> diagnosis before the fix
    tls_dir: Path


@pytest.fixture(scope="module")
def fixed_server(pki: Pki, dns: str) -> Iterator[FixedServer]:
    """The new-certificate fix, as the README has it: certbot's hook, then the settings."""
    workdir = ph.shared_dir()
    plan = make_plan("new-certificate", workdir / "tls")
    bundle = write_bundle(plan, workdir / "bundle")
    try:
        with gmail_ready_postfix(workdir) as server:
            before = {
                port: diagnose(HOST, port, server.ports[port], dns, pki.root_file)
                for port in (587, 465)
            }
            out = deploy(server.pf, bundle, workdir / "live", HOST, pki.issue([HOST]))
            assert "deploy hook: installed" in out
            apply(server.pf, plan, bundle)
            yield FixedServer(server, before, workdir / "tls")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.parametrize("port", [587, 465])
def test_new_certificate_turns_reject_into_accept(
    fixed_server: FixedServer, pki: Pki, dns: str, port: int
) -> None:
    status, before = fixed_server.before[port]
    assert status == 1 and before["gmail"]["verdict"] == "reject"
    assert before["gmail"]["error"] == gmail.CERT_ERROR  # the snakeoil certificate
    # the real Postfix, as Debian ships it, is recognised from outside
    assert before["mail_stack"]["name"] == "postfix-debian", before["mail_stack"]

    status, after = diagnose(HOST, port, fixed_server.server.ports[port], dns, pki.root_file)
    assert status == 0 and after["gmail"]["verdict"] == "accept", after["findings"]
    probe = with_sni(after)
    assert probe["certificate"]["names"] == [HOST]
    assert probe["chain_length"] == 2  # fullchain.pem: the intermediate is served
    assert probe["tls_version"] in ("TLSv1.2", "TLSv1.3")
    key = fixed_server.tls_dir / HOST / "privkey.pem"
    assert key.stat().st_uid == 0 and oct(key.stat().st_mode & 0o777) == "0o600"


# --- logins: AUTH only after TLS, checked by a real Dovecot ---------------------------


class LoopbackSMTP(smtplib.SMTP):
    """SMTP to HOST as named (TLS checks HOST), reached on 127.0.0.1:real_port."""

    def __init__(self, real_port: int) -> None:
        self.real_port = real_port
        super().__init__(HOST, 587, local_hostname="client.test", timeout=10)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.real_port), timeout)


class LoopbackSMTPS(smtplib.SMTP_SSL):
    """The same with TLS from the first byte (465)."""

    def __init__(self, real_port: int, context: ssl.SSLContext) -> None:
        self.real_port = real_port
        super().__init__(HOST, 465, local_hostname="client.test", timeout=10, context=context)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.real_port), timeout)
        return self.context.wrap_socket(sock, server_hostname=host)


def test_login_only_after_tls_checked_by_dovecot(fixed_server: FixedServer, pki: Pki) -> None:
    server = fixed_server.server
    trust = ssl.create_default_context(cafile=str(pki.root_file))
    with LoopbackSMTP(server.ports[587]) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls") and not smtp.has_extn("auth")
        assert smtp.mail("someone@pf.test")[0] == 530  # STARTTLS first
        smtp.starttls(context=trust)
        smtp.ehlo()
        assert smtp.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
        # without a login, nobody sends through it
        assert smtp.mail("someone@pf.test")[0] == 250
        assert smtp.rcpt("anyone@elsewhere.test")[0] == 554
        smtp.rset()
        assert smtp.login(USER, PASSWORD)[0] == 235
    with LoopbackSMTPS(server.ports[465], trust) as smtps:
        smtps.ehlo()
        assert smtps.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
        assert smtps.login(USER, PASSWORD)[0] == 235
    # last: Dovecot slows every later login from an address that failed one
    with LoopbackSMTP(server.ports[587]) as smtp:
        smtp.starttls(context=trust)
        smtp.user, smtp.password = USER, "wrong"
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            smtp.auth("PLAIN", smtp.auth_plain)
        assert refused.value.smtp_code == 535
    log = server.pf.log()
    assert [ln for ln in warnings_in(log) if "authentication failed" not in ln] == []


# --- the SNI fix: one server, a certificate per alias ---------------------------------


@dataclass(frozen=True)
class SniServer:
    server: Server
    plan: Plan
    bundle: Path
    live: Path


@pytest.fixture(scope="module")
def sni_server(pki: Pki) -> Iterator[SniServer]:
    workdir = ph.shared_dir()
    plan = make_plan("sni", workdir / "tls")
    bundle = write_bundle(plan, workdir / "bundle")
    try:
        with gmail_ready_postfix(workdir) as server:
            # certbot first (the hook finds no SNI map yet), then the settings
            for name, hosts in [*((h, [h]) for h in EVERY_ALIAS), ("default", EVERY_ALIAS)]:
                deploy(server.pf, bundle, workdir / "live", name, pki.issue(hosts))
            apply(server.pf, plan, bundle)
            yield SniServer(server, plan, bundle, workdir / "live")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_sni_serves_each_alias_its_own_certificate(
    sni_server: SniServer, pki: Pki, dns: str
) -> None:
    ports = sni_server.server.ports
    for host in EVERY_ALIAS:
        for port in (587, 465):
            status, report = diagnose(host, port, ports[port], dns, pki.root_file)
            assert status == 0 and report["gmail"]["verdict"] == "accept", report["findings"]
            assert with_sni(report)["certificate"]["names"] == [host]
        assert ph.served_names(ports[587], host) == [host]  # and openssl agrees
        assert ph.served_names(ports[465], host, starttls=False) == [host]
    # host names ignore case, and so does the map
    assert ph.served_names(ports[587], "MAIL.BETA.TEST") == ["mail.beta.test"]


@pytest.mark.parametrize(
    "sni", [None, "unknown.test", "alpha.test", "mail.alpha.test.", "..", ".", "*", "../default"]
)
def test_sni_gives_strangers_the_default_certificate(
    sni_server: SniServer, sni: str | None
) -> None:
    """No SNI, an unknown name or a hostile one: the default, which covers every alias."""
    assert ph.served_names(sni_server.server.ports[587], sni) == EVERY_ALIAS


def test_generated_verify_script_passes_against_the_postfix_sni_fix(
    sni_server: SniServer, pki: Pki, workdir: Path
) -> None:
    """verify.sh, the bundle's own check, is not Exim's alone."""
    script = workdir / "verify.sh"
    script.write_text(verify_script(sni_server.plan))
    env = {
        "PATH": "/usr/bin:/bin",
        "CA_FILE": str(pki.root_file),
        "CONNECT": f"127.0.0.1:{sni_server.server.ports[587]}",
    }
    done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("OK ") == len(EVERY_ALIAS) and "All checks passed" in done.stdout


def test_stale_certificate_trap_and_the_deploy_hook(sni_server: SniServer, pki: Pki) -> None:
    """postmap -F stored the old files' contents: a renewal copied in place and a
    reload still serve the old certificate; the deploy hook serves the new one."""
    pf, port, host = sni_server.server.pf, sni_server.server.ports[587], "mail.alpha.test"
    old = ph.served_certificate(port, host)
    renewed = pki.issue([host])
    directory = Path(sni_server.plan.cert_dir(host))
    (directory / "fullchain.pem").write_bytes(renewed[0])
    (directory / "privkey.pem").write_bytes(renewed[1])
    pf.reload()
    assert ph.served_certificate(port, host).serial_number == old.serial_number

    out = deploy(pf, sni_server.bundle, sni_server.live, host, renewed)
    assert "rebuilt" in out
    served = ph.served_certificate(port, host)
    assert served.serial_number == first_certificate(renewed[0]).serial_number
    database = pf.conf / "sni.db"  # it holds the private keys
    assert database.stat().st_uid == 0 and oct(database.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("name", ["..", ".hidden", "Mail.Alpha.Test", "a b", "x;y"])
def test_deploy_hook_refuses_strange_lineage_names(workdir: Path, name: str) -> None:
    plan = make_plan("sni", workdir / "tls")
    hook = workdir / "hook.sh"
    hook.write_text(postfix_deploy_hook(plan))
    lineage = workdir / "live" / name
    lineage.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["sh", str(hook)],
        env={**os.environ, "RENEWED_LINEAGE": str(lineage), "GMAILFIX_RELOAD": "false"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1 and "refusing lineage name" in done.stderr
    assert not (workdir / "tls").exists()


# --- certbot against Pebble, with the Postfix deploy hook -----------------------------


def test_certbot_and_pebble_turn_reject_into_accept(workdir: Path, dns: str) -> None:
    require_program("certbot")
    plan = make_plan("new-certificate", workdir / "tls")
    bundle = write_bundle(plan, workdir / "bundle")
    for path, text in certbot_files(plan).items():
        if path != "certbot/deploy-hook.sh":  # for Postfix, its own hook takes that place
            (bundle / path).parent.mkdir(parents=True, exist_ok=True)
            (bundle / path).write_text(text)
    with pebble_h.pebble(workdir, dns) as pebble, gmail_ready_postfix(workdir) as server:
        pf, port = server.pf, server.ports[587]
        status, before = diagnose(HOST, 587, port, dns, pebble.root)
        assert status == 1 and before["gmail"]["error"] == gmail.CERT_ERROR

        state = workdir / "letsencrypt"
        seen = pf.reloads()
        done = pf.run(
            [
                "sh",
                str(bundle / "certbot/issue.sh"),
                "standalone",
                *pebble_h.STANDALONE,
                *pebble_h.certbot_state(state),
            ],
            extra={
                "ACME_SERVER": pebble_h.ACME_DIRECTORY,
                "REQUESTS_CA_BUNDLE": str(pebble.api_ca),
                "GMAILFIX_HOOK_DIR": str(workdir / "hooks"),
            },
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "deploy hook: installed" in done.stdout + done.stderr
        pf.wait_for_reload(seen)  # the hook reloaded the running Postfix
        apply(pf, plan, bundle)
        status, after = diagnose(HOST, 587, port, dns, pebble.root)
    assert status == 0 and after["gmail"]["verdict"] == "accept", after["findings"]
    assert with_sni(after)["certificate"]["names"] == [HOST]
