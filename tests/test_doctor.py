"""gmailfix doctor on real programs: Debian's Exim (a copy of /etc/exim4 under --root,
update-exim4.conf, exim -bP, a throwaway daemon) and Postfix (postconf of a real instance).

Each planted fault is found as its finding; a healthy server has none.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from gmailfix.cli.main import main
from gmailfix.connection import build
from gmailfix.findings.codes import Code
from gmailfix.lab import ca
from gmailfix.remedies.plan import FixPlan
from gmailfix.render.certbot import deploy_hook
from gmailfix.server.doctor import DoctorReport, report_json, run_doctor
from gmailfix.server.system import Ran, Root, ServerError, run_command
from tests.support import pebble as ph
from tests.support.plans import make_plan
from tests.support.programs import require_program, unavailable
from tests.support.server_root import (
    HOST,
    Pki,
    Server,
    blog_certificate,
    debian_server,
    good_tls_lines,
    issue,
    make_pki,
    single_macros_visible,
)
from tests.support.servers import dns_for

pytestmark = pytest.mark.exim


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    folder.chmod(0o755)
    return make_pki(folder)


@pytest.fixture
def server() -> Iterator[Server]:
    with debian_server("debian-single") as found:
        yield found


def doctor(server: Server, pki: Pki, **kwargs: object) -> DoctorReport:
    connection = build(ca_files=[str(pki.root_file)], timeout=5)
    kwargs.setdefault("runner", server.run)
    return asyncio.run(
        run_doctor(Root(server.root), host=HOST, connection=connection, **kwargs)  # type: ignore[arg-type]
    )


def codes(report: DoctorReport) -> set[str]:
    return {str(f.code) for f in report.findings}


def healthy(server: Server, pki: Pki) -> ca.Issued:
    leaf = issue(server, pki)
    server.add_macros(good_tls_lines(server))
    server.generate()
    return leaf


def test_a_healthy_server_has_nothing_wrong(server: Server, pki: Pki) -> None:
    leaf = healthy(server, pki)
    server.start()
    report = doctor(server, pki)
    assert report.ok, report.findings
    assert report.setup.layout == "debian-single"
    assert report.tls.user == "Debian-exim"
    assert [s.port for s in report.served] == [25, 465, 587]
    assert {s.certificate.sha256 for s in report.served if s.certificate} == {
        report.on_disk.chain.leaf.sha256  # type: ignore[union-attr]
    }
    assert report.on_disk is not None and report.on_disk.chain.leaf is not None
    assert report.on_disk.chain.leaf.sha256 == hashlib.sha256(leaf.cert_der()).hexdigest()
    assert report.on_disk.chain.leaf.names == (HOST,)


def test_the_blogs_server_is_self_signed_for_another_name(server: Server, pki: Pki) -> None:
    server.add_macros(blog_certificate(server))
    server.generate()
    server.start()
    report = doctor(server, pki)
    assert {"self-signed", "hostname-mismatch"} <= codes(report)
    assert not report.ok


def test_unreadable_key(server: Server, pki: Pki) -> None:
    healthy(server, pki)
    key = server.tls_dir / HOST / "privkey.pem"
    shutil.chown(key, "root", "root")
    key.chmod(0o600)  # what certbot gives a new key (FACTS.md)
    server.start()
    report = doctor(server, pki)
    found = next(f for f in report.findings if f.code == Code.KEY_UNREADABLE_BY_MTA)
    assert "privkey.pem" in found.detail and "Debian-exim" in found.detail
    assert found.evidence["mode"] == "0600"
    # and Exim itself agrees: it cannot start TLS (454), which doctor reports per port
    assert Code.STARTTLS_REFUSED in {f.code for f in report.findings}


def test_a_folder_the_mta_cannot_enter(server: Server, pki: Pki) -> None:
    healthy(server, pki)
    (server.tls_dir / HOST).chmod(0o700)
    report = doctor(server, pki)
    found = next(f for f in report.findings if f.code == Code.KEY_UNREADABLE_BY_MTA)
    assert f"/etc/exim4/tls/{HOST}" in found.detail and "does not let" in found.detail


def test_stale_certificate_served(server: Server, pki: Pki) -> None:
    """The daemon runs with the old certificate; the files (regenerated) name a new one,
    and nobody restarted Exim."""
    server.add_macros(blog_certificate(server))
    server.generate()
    server.start()
    issue(server, pki)
    server.add_macros(
        ["# renewed: the new certificate", *good_tls_lines(server)[1:3]], server.macros
    )
    text = server.macros.read_text()
    # the person replaced the two MAIN_TLS_ lines by hand
    lines = [ln for ln in text.splitlines() if "exim.crt" not in ln and "exim.key" not in ln]
    server.macros.write_text("\n".join(lines) + "\n")
    server.generate()
    report = doctor(server, pki)
    stale = [f for f in report.findings if f.code == Code.STALE_CERTIFICATE_SERVED]
    assert {f.port for f in stale} == {25, 587}
    assert "other.example" in stale[0].detail and HOST in stale[0].detail
    assert "restart" in stale[0].detail


def test_macros_in_the_wrong_layout_file(server: Server, pki: Pki) -> None:
    """Single layout active, the TLS macros in the split layout's file: every check the
    README names passes, and Exim still has no certificate."""
    issue(server, pki)
    server.add_macros(good_tls_lines(server), server.other_macros)
    server.generate()
    report = doctor(server, pki)
    trap = next(f for f in report.findings if f.code == Code.MACROS_IN_WRONG_LAYOUT)
    assert "conf.d/main/000_localmacros" in trap.detail
    assert "MAIN_TLS_CERTIFICATE" in trap.detail and "exim4.conf.localmacros" in trap.detail
    assert Code.CERTIFICATE_NOT_CONFIGURED in {f.code for f in report.findings}


def test_macros_in_the_wrong_layout_file_split(pki: Pki) -> None:
    with debian_server("debian-split") as server:
        issue(server, pki)
        server.add_macros(good_tls_lines(server), server.other_macros)
        report = doctor(server, pki)
    trap = next(f for f in report.findings if f.code == Code.MACROS_IN_WRONG_LAYOUT)
    assert "exim4.conf.localmacros" in trap.detail and "split" in trap.detail


def test_a_split_file_with_a_dot_is_skipped(pki: Pki) -> None:
    with debian_server("debian-split") as server:
        issue(server, pki)
        dotted = server.root / "etc/exim4/conf.d/main/000_localmacros.conf"
        server.add_macros(good_tls_lines(server), dotted)
        report = doctor(server, pki)
    trap = next(f for f in report.findings if f.code == Code.MACROS_IN_WRONG_LAYOUT)
    assert "000_localmacros.conf" in trap.detail and "skips" in trap.detail


def test_expiring_certificate(server: Server, pki: Pki) -> None:
    issue(server, pki, valid_from=-dt.timedelta(days=80), valid_for=dt.timedelta(days=85))
    server.add_macros(good_tls_lines(server))
    server.generate()
    report = doctor(server, pki)
    expiring = next(f for f in report.findings if f.code == Code.CERTIFICATE_EXPIRING)
    assert "days from now" in expiring.detail
    assert str(expiring.severity) == "warning"


def test_config_not_regenerated(server: Server, pki: Pki) -> None:
    server.add_macros(blog_certificate(server))
    server.generate()
    issue(server, pki)
    server.add_macros(good_tls_lines(server)[1:3])  # a second definition would be refused...
    lines = [
        ln
        for ln in server.macros.read_text().splitlines()
        if "exim.crt" not in ln and "exim.key" not in ln
    ]
    server.macros.write_text("\n".join(lines) + "\n")  # ...so the old lines are replaced
    report = doctor(server, pki)  # update-exim4.conf was not run after the edit
    found = next(f for f in report.findings if f.code == Code.CONFIG_NOT_REGENERATED)
    assert "tls_certificate" in found.detail and "exim.crt" in found.detail


def _lineage(server: Server, leaf: ca.Issued, pki: Pki, hook: str | None) -> Path:
    """certbot's files for HOST under the root: live/ (the current certificate) and renewal/."""
    le = server.root / "etc/letsencrypt"
    live = le / "live" / HOST
    live.mkdir(parents=True)
    (live / "fullchain.pem").write_bytes(leaf.cert_pem() + pki.intermediate.cert_pem())
    (live / "privkey.pem").write_bytes(leaf.key_pem())
    (le / "renewal").mkdir()
    lines = [
        "version = 2.1.0",
        f"archive_dir = /etc/letsencrypt/archive/{HOST}",
        f"cert = /etc/letsencrypt/live/{HOST}/cert.pem",
        f"fullchain = /etc/letsencrypt/live/{HOST}/fullchain.pem",
        f"privkey = /etc/letsencrypt/live/{HOST}/privkey.pem",
        "",
        "[renewalparams]",
        "authenticator = standalone",
        "server = https://acme.ca.test/directory",
    ]
    if hook:
        lines.append(f"renew_hook = {hook}")
    conf = le / "renewal" / f"{HOST}.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


def test_renewal_without_a_deploy_hook(server: Server, pki: Pki) -> None:
    leaf = healthy(server, pki)
    _lineage(server, leaf, pki, hook=None)
    report = doctor(server, pki)
    found = next(f for f in report.findings if f.code == Code.NO_DEPLOY_HOOK)
    assert f"'{HOST}'" in found.detail and "no deploy hook" in found.detail
    assert report.renewal is not None and not report.renewal.reaches


def test_renewal_with_gmailfixs_deploy_hook(server: Server, pki: Pki) -> None:
    leaf = healthy(server, pki)
    hook = server.root / "etc/letsencrypt/gmailfix/exim-deploy-hook.sh"
    _lineage(server, leaf, pki, hook="/etc/letsencrypt/gmailfix/exim-deploy-hook.sh")
    hook.parent.mkdir(parents=True)
    hook.write_text(deploy_hook(_plan()))
    hook.chmod(0o755)
    report = doctor(server, pki)
    assert Code.NO_DEPLOY_HOOK not in {f.code for f in report.findings}
    assert report.renewal is not None and report.renewal.reaches, report.renewal
    assert "/etc/exim4/tls" in report.renewal.why


def test_a_deploy_hook_that_copies_elsewhere(server: Server, pki: Pki) -> None:
    leaf = healthy(server, pki)
    _lineage(server, leaf, pki, hook="cp -r /etc/letsencrypt/live/x /srv/elsewhere")
    report = doctor(server, pki)
    found = next(f for f in report.findings if f.code == Code.NO_DEPLOY_HOOK)
    assert "copies the renewed files to" in found.detail


def test_renew_dry_run_with_certbot_and_pebble(server: Server, pki: Pki, tmp_path: Path) -> None:
    """A real lineage from certbot (Pebble as the CA): the dry run works while the CA
    answers, and is a finding once it does not."""
    certbot = require_program("certbot")
    healthy(server, pki)
    state = ph.certbot_state(
        server.root / "etc/letsencrypt",
        server.root / "var/lib/letsencrypt",
        server.root / "var/log/letsencrypt",
    )
    with dns_for({HOST: "127.0.0.1"}) as dns, ph.pebble(tmp_path, dns) as pebble:
        env = {**os.environ, "REQUESTS_CA_BUNDLE": str(pebble.api_ca)}

        def run(argv: Sequence[str]) -> Ran:
            if argv[0] == "certbot":  # certbot must trust Pebble's API
                return run_command(argv, env=env)
            return server.run(argv)

        issued = run_command(
            [
                certbot, "certonly", "--standalone", "--non-interactive", "--agree-tos",
                "--register-unsafely-without-email", "--server", ph.ACME_DIRECTORY,
                *ph.STANDALONE, "-d", HOST, *state,
            ],
            env=env,
        )  # fmt: skip
        assert issued.ok, issued.output
        report = doctor(server, pki, runner=run, renew_dry_run=True)
        assert report.renewal is not None and report.renewal.lineage == HOST
        assert Code.RENEWAL_FAILS not in codes(report)
        assert any("the renewal works" in note for note in report.notes), report.notes
    report = doctor(server, pki, runner=run, renew_dry_run=True)  # the CA is gone
    found = next(f for f in report.findings if f.code == Code.RENEWAL_FAILS)
    assert f"'{HOST}'" in found.detail and not report.ok


def _plan() -> FixPlan:
    return make_plan("new-certificate", "doctor.test", HOST)


# --- the command line --------------------------------------------------------------


def test_cli_text_json_and_exit_statuses(
    server: Server, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    server.add_macros(blog_certificate(server))
    server.generate()
    with single_macros_visible():
        status = main(
            ["doctor", "--root", str(server.root), "--host", HOST, "--ca-file", str(pki.root_file)]
        )
    out = capsys.readouterr().out
    assert status == 1
    assert "Mail server: Debian's Exim, one config file" in out
    assert "The certificate is self-signed" in out
    assert "mta-not-listening" not in out and "does not answer here" in out
    with single_macros_visible():
        status = main(["doctor", "--root", str(server.root), "--host", HOST, "--json"])
    data = json.loads(capsys.readouterr().out)
    assert status == 1
    assert data["schema"] == "gmailfix.doctor/1" and data["layout"] == "debian-single"
    assert "self-signed" in {f["code"] for f in data["findings"]}


def test_cli_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--root", str(tmp_path / "missing")]) == 2
    assert "cannot use" in capsys.readouterr().err
    assert main(["doctor", "--root", str(tmp_path)]) == 2
    assert "no Exim or Postfix configuration found" in capsys.readouterr().err
    assert main(["doctor", "--root", str(tmp_path), "--host", "bad host!"]) == 2


def test_hostile_file_contents_are_shown_clean(server: Server, pki: Pki) -> None:
    """A certificate path with a terminal escape in it: the text output escapes it."""
    evil = server.root / "etc/exim4/\x1b]0;owned\x07.crt"
    server.add_macros(["MAIN_TLS_ENABLE = yes", f"MAIN_TLS_CERTIFICATE = {evil}"])
    server.generate()
    report = doctor(server, pki)
    assert Code.CERTIFICATE_FILE_MISSING in {f.code for f in report.findings}
    out = io.StringIO()
    from gmailfix.cli.doctor import print_report

    print_report(report, out)
    assert "\x1b" not in out.getvalue() and "owned" in out.getvalue()
    json.dumps(report_json(report))


def test_the_copy_quirk_is_said(server: Server, pki: Pki) -> None:
    """Without the fixed path, update-exim4.conf ignores the root's single macros file:
    doctor says why instead of leaving a person puzzled."""
    from tests.support.server_root import REAL_SINGLE_MACROS

    if REAL_SINGLE_MACROS.exists():  # never on the CI machine: nothing installs that file
        unavailable("this machine has its own exim4.conf.localmacros")
    server.add_macros(blog_certificate(server))
    report = asyncio.run(run_doctor(Root(server.root), host=HOST, runner=run_command))
    assert any("fixed path" in note for note in report.notes)


# --- Postfix ---------------------------------------------------------------------------


@pytest.fixture
def postfix_root() -> Iterator[tuple[Path, object]]:
    from tests.support import postfix as pf

    workdir = pf.shared_dir()
    instance = pf.make_postfix(workdir / "pf")
    root = workdir / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink(instance.conf, root / "etc/postfix")  # the instance's config as /etc/postfix
    try:
        yield root, instance
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _postfix_doctor(root: Path, instance: object, pki: Pki) -> DoctorReport:
    from tests.support.postfix import Postfix

    assert isinstance(instance, Postfix)

    def run(argv: object) -> object:
        return run_command(list(argv), env=instance.env())  # type: ignore[call-overload]

    connection = build(ca_files=[str(pki.root_file)], timeout=5)
    return asyncio.run(run_doctor(Root(root), host=HOST, runner=run, connection=connection))  # type: ignore[arg-type]


def _chain_files(root: Path, pki: Pki, instance: object) -> Path:
    """A certificate for HOST where certbot's deploy hook puts it for Postfix (root only)."""
    tls = root / "tls"
    tls.mkdir(exist_ok=True)
    leaf = ca.make_leaf(pki.intermediate, [HOST])
    (tls / "fullchain.pem").write_bytes(leaf.cert_pem() + pki.intermediate.cert_pem())
    (tls / "privkey.pem").write_bytes(leaf.key_pem())
    (tls / "privkey.pem").chmod(0o600)
    return tls


def test_postfix_missing_chain_file(postfix_root: tuple[Path, object], pki: Pki) -> None:
    root, instance = postfix_root
    tls = root / "tls"
    instance.postconf("-e", f"smtpd_tls_chain_files = {tls}/privkey.pem, {tls}/fullchain.pem")  # type: ignore[attr-defined]
    instance.age_config()  # type: ignore[attr-defined]
    report = _postfix_doctor(root, instance, pki)
    assert report.setup.mta == "postfix"
    assert [lst.port for lst in report.tls.listeners] == [instance.port]  # type: ignore[attr-defined]
    missing = next(f for f in report.findings if f.code == Code.CERTIFICATE_FILE_MISSING)
    assert "/tls/fullchain.pem does not exist" in missing.detail
    assert Code.MTA_NOT_LISTENING in {f.code for f in report.findings}


def test_postfix_stale_certificate(postfix_root: tuple[Path, object], pki: Pki) -> None:
    """certbot renewed the files in place; the running smtpd keeps the old certificate
    until 'postfix reload' (FACTS.md)."""
    from tests.support import postfix as pf

    root, instance = postfix_root
    assert isinstance(instance, pf.Postfix)
    tls = _chain_files(root, pki, instance)
    instance.postconf("-e", f"smtpd_tls_chain_files = {tls}/privkey.pem, {tls}/fullchain.pem")
    instance.age_config()
    with pf.running(instance):
        before = _postfix_doctor(root, instance, pki)
        assert before.ok, before.findings
        _chain_files(root, pki, instance)  # the renewal: new files, same paths
        after = _postfix_doctor(root, instance, pki)
        instance.reload()
        reloaded = _postfix_doctor(root, instance, pki)
    stale = next(f for f in after.findings if f.code == Code.STALE_CERTIFICATE_SERVED)
    assert stale.port == instance.port and "postfix reload" in stale.detail
    assert Code.KEY_UNREADABLE_BY_MTA not in {f.code for f in after.findings}  # root reads it
    assert reloaded.ok, reloaded.findings


def test_postfix_unusable_chain_file(postfix_root: tuple[Path, object], pki: Pki) -> None:
    root, instance = postfix_root
    bad = root / "bad.pem"
    bad.write_text("not a certificate\n")
    instance.postconf("-e", f"smtpd_tls_chain_files = {bad}")  # type: ignore[attr-defined]
    instance.age_config()  # type: ignore[attr-defined]
    report = _postfix_doctor(root, instance, pki)
    found = next(f for f in report.findings if f.code == Code.CERTIFICATE_FILE_INVALID)
    assert "holds no PEM certificate" in found.detail
    assert Code.MTA_NOT_LISTENING in {f.code for f in report.findings}


def test_server_error_is_one_line() -> None:
    with pytest.raises(ServerError) as caught:
        Root.at("/nonexistent/\nroot")
    assert "\n" not in str(caught.value)


def test_unknown_user_is_not_judged(tmp_path: Path) -> None:
    from gmailfix.server.certfiles import unreadable_part

    path = tmp_path / "key.pem"
    path.write_text("x")
    path.chmod(0o600)
    assert unreadable_part(Root(), path, "no-such-user-here") is None
    assert unreadable_part(Root(), path, "nobody") is not None


async def test_the_wizards_mail_server_path(server: Server, pki: Pki, tmp_path: Path) -> None:
    """Welcome > 'On the mail server' runs doctor and shows its findings in plain words."""
    from gmailfix.screens.app import GmailfixApp
    from gmailfix.screens.doctor import DoctorScreen
    from tests.support.pilot import on, screen_text, until

    server.add_macros(blog_certificate(server))
    server.generate()
    server.start()
    app = GmailfixApp(lambda: build(ca_files=[str(pki.root_file)], timeout=5), export_dir=tmp_path)
    app.server_root, app.server_runner = Root(server.root), server.run
    app.state.smtp_host = HOST
    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, lambda: type(app.screen).__name__ == "WelcomeScreen")
        await pilot.click("#server")
        await until(pilot, on(app, DoctorScreen))
        await pilot.click("#continue")
        await until(pilot, lambda: "to fix:" in screen_text(app))
        text = screen_text(app)
    assert re.search(r"Found 1 thing to fix:|Found [2-9] things to fix:", text), text
    assert "To get the fix as files: Back, then Start" in text
    assert "self-signed" in text.lower()
    assert "hostname-mismatch" not in text and "--" not in text
