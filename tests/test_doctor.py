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
from gmailfix.lab import ca
from gmailfix.remedies.plan import Plan
from gmailfix.render.certbot import deploy_hook
from gmailfix.server.doctor import DoctorReport, run_doctor
from gmailfix.server.doctor_json import report_json
from gmailfix.server.system import Ran, Root, ServerError, run_command
from gmailfix.vocabulary import Code
from tests.support import exim as eh
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
    key.chmod(0o600)  # what certbot gives a new key (docs/FACTS.md)
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


@pytest.mark.parametrize(
    ("lifetime", "left", "warned"),
    [(6, 4, False), (90, 20, True), (90, 10, True)],
    ids=["6-day-4-left", "90-day-20-left", "90-day-10-left"],
)
def test_expiry_is_judged_against_the_lifetime(
    server: Server, pki: Pki, lifetime: int, left: int, warned: bool
) -> None:
    """A healthy 6-day certificate is quiet; a 90-day one whose renewal is overdue warns
    (a fixed 14 days did the opposite for both)."""
    day = dt.timedelta(days=1)
    issue(server, pki, valid_from=(left - lifetime) * day, valid_for=lifetime * day)
    server.add_macros(good_tls_lines(server))
    server.generate()
    report = doctor(server, pki)
    expiring = [f for f in report.findings if f.code == Code.CERTIFICATE_EXPIRING]
    assert bool(expiring) is warned, report.findings
    assert report.on_disk is not None  # the file was read, so silence means "not due"
    if warned:
        assert f"lifetime of {lifetime} days" in expiring[0].detail
        assert (
            f"in {left - 1} days" in expiring[0].detail or f"in {left} days" in expiring[0].detail
        )
        assert str(expiring[0].severity) == "warning"


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
    """A real lineage from certbot (Pebble as the CA) with a pre hook, a post hook and a
    script in renewal-hooks/pre, each of which leaves a file. certbot's own dry run runs
    all three; doctor's runs none, lists them first, and works while the CA answers. Once
    the CA is gone the dry run fails: a warning while hooks were left out (they might
    have been what the renewal needed), an error when there were none."""
    certbot = require_program("certbot")
    healthy(server, pki)
    le = server.root / "etc/letsencrypt"
    state = ph.certbot_state(
        le, server.root / "var/lib/letsencrypt", server.root / "var/log/letsencrypt"
    )
    traces = {when: tmp_path / f"{when}-hook-ran" for when in ("pre", "post", "script")}
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
                "--pre-hook", f"touch {traces['pre']}", "--post-hook", f"touch {traces['post']}",
            ],
            env=env,
        )  # fmt: skip
        assert issued.ok, issued.output
        script = le / "renewal-hooks/pre/stop-web-server"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(f"#!/bin/sh\ntouch {traces['script']}\n")
        script.chmod(0o755)
        for trace in traces.values():
            trace.unlink(missing_ok=True)
        # the control: certbot's own dry run runs every one of them
        plain = run_command(
            [certbot, "renew", "--dry-run", f"--cert-name={HOST}", "--no-random-sleep-on-renew",
             f"--server={ph.ACME_DIRECTORY}", *state],
            env=env,
        )  # fmt: skip
        assert plain.ok, plain.output
        assert all(trace.exists() for trace in traces.values())
        for trace in traces.values():
            trace.unlink()

        report = doctor(server, pki, runner=run, renew_dry_run=True)
        assert not any(trace.exists() for trace in traces.values())
        assert report.renewal is not None and report.renewal.lineage == HOST
        assert Code.RENEWAL_FAILS not in codes(report)
        before = next(n for n in report.notes if n.startswith(f"dry run of '{HOST}'"))
        assert f"pre hook touch {traces['pre']}" in before
        assert f"post hook touch {traces['post']}" in before
        assert "/etc/letsencrypt/renewal-hooks/pre/stop-web-server" in before
        assert "turned off" in before and f"the CA at {ph.ACME_DIRECTORY}" in before
        assert f"listening on port {ph.HTTP_01_PORT}" in before
        worked = report.notes.index(before) + 1
        assert "without its pre and post hooks" in report.notes[worked]
        assert "the renewal works" in report.notes[worked]
    report = doctor(server, pki, runner=run, renew_dry_run=True)  # the CA is gone
    found = next(f for f in report.findings if f.code == Code.RENEWAL_FAILS)
    assert f"'{HOST}'" in found.detail and not report.ok
    assert str(found.severity) == "warning" and "hooks were off" in found.detail
    assert not any(trace.exists() for trace in traces.values())
    conf = le / f"renewal/{HOST}.conf"
    conf.write_text(re.sub(r"(?m)^(pre|post)_hook = .*\n", "", conf.read_text()))
    script.unlink()
    report = doctor(server, pki, runner=run, renew_dry_run=True)
    found = next(f for f in report.findings if f.code == Code.RENEWAL_FAILS)
    assert str(found.severity) == "error"
    assert any("it has no pre or post hooks" in n for n in report.notes)


def test_a_copys_dry_run_is_only_standalone(server: Server, pki: Pki) -> None:
    """On a copy, a lineage whose renewal would run the copy's commands (a manual
    authentication hook) is not tried, and nothing is run."""
    leaf = healthy(server, pki)
    conf = _lineage(server, leaf, pki, hook=None)
    text = conf.read_text().replace("authenticator = standalone", "authenticator = manual")
    conf.write_text(text + "manual_auth_hook = /bin/touch /tmp/never\n")
    before = len(server.commands)
    report = doctor(server, pki, renew_dry_run=True)
    assert not any(words[0] == "certbot" for words in server.commands[before:])
    assert any("not tried" in n and "manual" in n for n in report.notes), report.notes
    assert any("running its authentication hook (/bin/touch /tmp/never)" in n for n in report.notes)


# --- a hostile copy (--root): nothing from it runs, nothing it reaches is shown ----------


def _markers(tmp: str) -> tuple[Path, Path, Path]:
    """Where a hostile copy's commands would leave a trace, and a root-only secret."""
    base = Path(tmp)
    secret = base / "secret"
    secret.write_text(f"gmailfix-secret-{os.getpid()}-{id(base)}\n")
    secret.chmod(0o600)
    return base / "PWNED", base / "PWNED2", secret


def _hostile(server: Server, pwned: Path, pwned2: Path, secret: Path) -> None:
    """Macros that run a command when Exim starts (spool_directory is expanded then) and
    name root-only files, and a settings file with a command in it."""
    text = server.macros.read_text()
    text = re.sub(r"(?m)^SPOOLDIR = .*$", f"SPOOLDIR = ${{run{{/bin/touch {pwned}}}}}", text)
    server.macros.write_text(text)
    server.add_macros(
        [
            "MAIN_TLS_ENABLE = yes",
            "MAIN_TLS_CERTIFICATE = ${readfile{/etc/shadow}}",
            f"MAIN_TLS_PRIVATEKEY = ${{readfile{{{secret}}}}}",
        ]
    )
    conf = server.root / "etc/exim4/update-exim4.conf.conf"
    conf.write_text(conf.read_text() + f"touch {pwned2}\ndc_x='$(touch {pwned2})'\n")


def test_a_hostile_copy_runs_nothing_and_shows_nothing(
    server: Server, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = eh.shared_dir()
    try:
        pwned, pwned2, secret = _markers(str(folder))
        _hostile(server, pwned, pwned2, secret)
        # the control: as root, outside the sandbox, both traps go off
        update = ["update-exim4.conf", "--confdir", str(server.root / "etc/exim4")]
        run_command([*update, "--output", str(folder / "as-root.conf")])
        assert pwned2.exists()
        server.generate()  # in the sandbox: the settings file's command left out
        ran = run_command(["exim", "-C", str(server.generated), "-bP", "spool_directory"])
        assert pwned.exists(), ran.output
        as_root = run_command(
            ["exim", "-C", str(server.generated), "-be", f"${{readfile{{{secret}}}}}"]
        )
        assert secret.read_text().strip() in as_root.output  # what 'exim -be' used to print
        pwned.unlink()
        pwned2.unlink()

        report = doctor(server, pki)
        status = main(["doctor", "--root", str(server.root), "--host", HOST, "--json"])
        printed = capsys.readouterr().out
        data = json.loads(printed)
        out = io.StringIO()
        from gmailfix.cli.doctor import print_report

        print_report(report, out)
    finally:
        shadow = Path("/etc/shadow").read_text() if Path("/etc/shadow").exists() else ""
        token = secret.read_text().strip()
        shutil.rmtree(folder, ignore_errors=True)
    assert not pwned.exists() and not pwned2.exists()
    shown = out.getvalue() + printed + json.dumps(report_json(report))
    assert token not in shown
    for line in shadow.splitlines():
        password = line.split(":")[1] if line.count(":") else ""
        if len(password) > 3:  # a real hash, not '*' or '!'
            assert password not in shown
    # what doctor still reports: the layout, the settings as written, and why it stopped
    assert report.tls.problem is None, report.tls.problem
    assert report.setup.layout == "debian-single" and data["layout"] == "debian-single"
    assert report.tls.values["tls_certificate"] == "${readfile{/etc/shadow}}"
    assert any("${readfile" in note and "not checked" in note for note in report.notes)
    assert any("more than plain settings" in note for note in report.notes)
    assert Code.CERTIFICATE_NOT_CONFIGURED not in {f.code for f in report.findings}
    assert Code.MTA_NOT_LISTENING in {f.code for f in report.findings}  # ports still tried
    assert status == 1


def test_the_copys_tools_run_as_nobody_without_network(server: Server, pki: Pki) -> None:
    """Every program doctor runs on a copy goes through the sandbox: unshare with a network
    namespace, then setpriv to nobody with no-new-privs."""
    healthy(server, pki)
    before = len(server.commands)
    report = doctor(server, pki)
    assert report.tls.problem is None
    ran = server.commands[before:]
    assert ran and all(words[0] == "unshare" and "--net" in words for words in ran), ran
    assert not any("-be" in words for words in ran)


# --- certbot's renewal: what runs it, which certbot, did it reach the MTA ----------------


def _timer(server: Server, *, enabled: bool) -> None:
    unit = server.root / "lib/systemd/system/certbot.timer"
    unit.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy("/lib/systemd/system/certbot.timer", unit)
    if enabled:
        wants = server.root / "etc/systemd/system/timers.target.wants"
        wants.mkdir(parents=True, exist_ok=True)
        (wants / "certbot.timer").symlink_to("/lib/systemd/system/certbot.timer")


def _debian_cron(server: Server) -> None:
    cron = server.root / "etc/cron.d/certbot"
    cron.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy("/etc/cron.d/certbot", cron)


def _with_gmailfix_hook(server: Server, pki: Pki, leaf: ca.Issued) -> Path:
    hook = server.root / "etc/letsencrypt/gmailfix/exim-deploy-hook.sh"
    conf = _lineage(server, leaf, pki, hook="/etc/letsencrypt/gmailfix/exim-deploy-hook.sh")
    hook.parent.mkdir(parents=True)
    hook.write_text(deploy_hook(_plan()))
    hook.chmod(0o755)
    return conf


def test_nothing_runs_certbot(server: Server, pki: Pki) -> None:
    leaf = healthy(server, pki)
    _with_gmailfix_hook(server, pki, leaf)
    _timer(server, enabled=False)
    report = doctor(server, pki)
    found = next(f for f in report.findings if f.code == Code.RENEWAL_NOT_SCHEDULED)
    assert "certbot.timer (not enabled)" in found.detail
    assert report.schedule is not None and report.schedule.runs is False


def test_a_masked_certbot_timer(server: Server, pki: Pki) -> None:
    """systemctl mask links the unit to /dev/null: enabled or not, it never runs."""
    leaf = healthy(server, pki)
    _with_gmailfix_hook(server, pki, leaf)
    _timer(server, enabled=True)
    (server.root / "etc/systemd/system/certbot.timer").symlink_to("/dev/null")
    report = doctor(server, pki)
    found = next(f for f in report.findings if f.code == Code.RENEWAL_NOT_SCHEDULED)
    assert "certbot.timer (masked)" in found.detail


def test_an_enabled_certbot_timer(server: Server, pki: Pki) -> None:
    leaf = healthy(server, pki)
    _with_gmailfix_hook(server, pki, leaf)
    _timer(server, enabled=True)
    server.start()
    report = doctor(server, pki)
    assert report.ok, report.findings
    assert report.schedule is not None and report.schedule.runs is True
    assert any("systemd timer certbot.timer (enabled)" in n for n in report.notes), report.notes
    mechanism = report_json(report)["renewal"]
    assert mechanism["schedule"]["timer_enabled"] is True
    assert mechanism["options"]["authenticator"] == "standalone"
    assert mechanism["certbot"]["version"] == "2.1.0" and mechanism["certbot"]["ari"] is False


def test_debians_cron_job_does_nothing_under_systemd(server: Server, pki: Pki) -> None:
    """/etc/cron.d/certbot skips itself when systemd runs: with the timer disabled, nothing
    renews. On a copy that does not show its init, doctor says it cannot tell."""
    leaf = healthy(server, pki)
    _with_gmailfix_hook(server, pki, leaf)
    _debian_cron(server)
    unknown = doctor(server, pki)
    assert unknown.schedule is not None and unknown.schedule.runs is None
    assert Code.RENEWAL_NOT_SCHEDULED not in codes(unknown)
    assert any("could not be told from a copy" in n for n in unknown.notes)
    (server.root / "sbin").mkdir(exist_ok=True)
    (server.root / "sbin/init").symlink_to("/lib/systemd/systemd")
    under_systemd = doctor(server, pki)
    found = next(f for f in under_systemd.findings if f.code == Code.RENEWAL_NOT_SCHEDULED)
    assert "/etc/cron.d/certbot" in found.detail and "skips itself" in found.detail


def test_debian_12s_certbot_and_a_short_lived_certificate(server: Server, pki: Pki) -> None:
    """certbot 2.1 renews 30 days before the end: for a 6-day certificate, at every run."""
    day = dt.timedelta(days=1)
    leaf = issue(server, pki, valid_from=-2 * day, valid_for=6 * day)
    server.add_macros(good_tls_lines(server))
    server.generate()
    _with_gmailfix_hook(server, pki, leaf)
    _timer(server, enabled=True)
    server.start()
    report = doctor(server, pki)
    assert report.ok, report.findings  # 4 days of 6 left: healthy
    words = " ".join(report.notes)
    assert "certbot 2.1.0" in words and "cannot ask for a profile" in words
    assert "at every run" in words


def test_the_last_renewal_did_not_reach_exim(server: Server, pki: Pki) -> None:
    """certbot renewed (live/ holds a newer certificate) but the deploy hook did not copy
    it to Exim's folder: the file Exim reads, and what it serves, are the old ones."""
    day = dt.timedelta(days=1)
    issue(server, pki, valid_from=-70 * day)
    server.add_macros(good_tls_lines(server))
    server.generate()
    renewed = ca.make_leaf(pki.intermediate, [HOST])
    _with_gmailfix_hook(server, pki, renewed)
    _timer(server, enabled=True)
    server.start()
    report = doctor(server, pki)
    found = next(f for f in report.findings if f.code == Code.RENEWAL_NOT_DEPLOYED)
    assert "not in" in found.detail and f"/etc/exim4/tls/{HOST}/fullchain.pem" in found.detail
    assert found.evidence["newest_sha256"] == hashlib.sha256(renewed.cert_der()).hexdigest()
    assert Code.STALE_CERTIFICATE_SERVED not in codes(report)  # it serves its file's: no reload due


def _plan() -> Plan:
    return make_plan("new-certificate", "doctor.test", HOST)


# --- the command line --------------------------------------------------------------


def test_cli_text_json_and_exit_statuses(
    server: Server, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    server.add_macros(blog_certificate(server))
    server.generate()
    status = main(
        ["doctor", "--root", str(server.root), "--host", HOST, "--ca-file", str(pki.root_file)]
    )
    out = capsys.readouterr().out
    assert status == 1
    assert "Mail server: Debian's Exim, one config file" in out
    assert "The certificate is self-signed" in out
    assert "mta-not-listening" not in out and "does not answer here" in out
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


def test_a_copys_single_macros_are_read_as_on_its_server(server: Server, pki: Pki) -> None:
    """update-exim4.conf reads CONFDIR/exim4.conf.localmacros only when the fixed path
    /etc/exim4/exim4.conf.localmacros exists. In the sandbox the copy's /etc/exim4 is
    bound at /etc/exim4, so the copy's own file answers that test, as on its server."""
    from tests.support.server_root import REAL_SINGLE_MACROS

    if REAL_SINGLE_MACROS.exists():  # never on the CI machine: nothing installs that file
        unavailable("this machine has its own exim4.conf.localmacros")
    server.add_macros(blog_certificate(server))
    report = asyncio.run(run_doctor(Root(server.root), host=HOST, runner=run_command))
    assert report.tls.problem is None
    assert report.tls.files and report.tls.files[0].certificate.endswith("/etc/exim4/exim.crt")
    assert "self-signed" in codes(report)
    assert not REAL_SINGLE_MACROS.exists()


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
    until 'postfix reload' (docs/FACTS.md)."""
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


def test_cli_text_wraps_to_the_terminal(
    server: Server, pki: Pki, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 40 columns no line is longer, no word is cut in two, and a finding's lines keep
    its indent (it read 'ma' / 'tch the host' before)."""
    monkeypatch.setenv("COLUMNS", "40")
    server.add_macros(blog_certificate(server))
    server.generate()
    wide = main(
        ["doctor", "--root", str(server.root), "--host", HOST, "--ca-file", str(pki.root_file)]
    )
    out = capsys.readouterr().out
    assert wide == 1
    lines = out.splitlines()
    assert all(len(line) <= 40 for line in lines), [line for line in lines if len(line) > 40]
    words = out.split()
    assert "self-signed" in " ".join(words) and "ma" not in words
    detail = next(n for n, line in enumerate(lines) if "self-signed" in line)
    assert lines[detail + 1].startswith("   "), lines[detail : detail + 2]


def test_an_exim_that_listens_only_here_is_named(server: Server, pki: Pki) -> None:
    """Debian's default dc_local_interfaces ('127.0.0.1 ; ::1', no macro of one's own):
    Gmail can never reach that Exim. doctor says so, and apply's plan warns, since its
    own check connects from this computer and would pass anyway."""
    healthy(server, pki)
    macros = server.root / "etc/exim4/exim4.conf.localmacros"
    macros.write_text(
        "\n".join(ln for ln in macros.read_text().splitlines() if "LOCAL_INTERFACES" not in ln)
        + "\n"
    )
    conf = server.root / "etc/exim4/update-exim4.conf.conf"
    lines = [ln for ln in conf.read_text().splitlines() if not ln.startswith("dc_local_interfaces")]
    conf.write_text("\n".join([*lines, "dc_local_interfaces='127.0.0.1 ; ::1'"]) + "\n")
    report = asyncio.run(run_doctor(Root(server.root), host=HOST, runner=run_command))
    assert "loopback-only" in codes(report)
    conf.write_text("\n".join([*lines, "dc_local_interfaces=''"]) + "\n")
    report = asyncio.run(run_doctor(Root(server.root), host=HOST, runner=run_command))
    assert "loopback-only" not in codes(report)


def test_doctor_says_whether_the_daily_check_runs(server: Server, pki: Pki) -> None:
    """Issue 21: doctor checks the daily check's timer (export --timer): not installed,
    then installed and enabled with its program there."""
    from gmailfix.render.systemd import GMAILFIX, MAILER_NAME, SERVICE_NAME, TIMER_NAME

    healthy(server, pki)
    report = asyncio.run(run_doctor(Root(server.root), host=HOST, runner=run_command))
    assert any("daily check" in n and "not installed" in n for n in report.notes)
    units = server.root / "etc/systemd/system"
    (units / "timers.target.wants").mkdir(parents=True)
    (units / TIMER_NAME).write_text("[Timer]\nOnCalendar=daily\n")
    (units / SERVICE_NAME).write_text(f"[Service]\nExecStart={GMAILFIX} check x.test\n")
    (units / MAILER_NAME).write_text("[Service]\nExecStart=/bin/true\n")
    (units / "timers.target.wants" / TIMER_NAME).symlink_to(f"/etc/systemd/system/{TIMER_NAME}")
    program = server.root / GMAILFIX.lstrip("/")
    program.parent.mkdir(parents=True, exist_ok=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    report = asyncio.run(run_doctor(Root(server.root), host=HOST, runner=run_command))
    assert f"the daily check runs ({TIMER_NAME} enabled)" in report.notes
