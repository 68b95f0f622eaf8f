"""gmailfix apply and rollback on real programs, against a copy of Debian's /etc/exim4.

The blog's broken server (a self-signed certificate for another name) is
diagnosed, its bundle exported, the certificate installed as certbot's deploy
hook would, and ``apply`` takes it to "Gmail would accept" with a real Exim
daemon restarted from the applied config. A check that fails puts every file
back byte for byte; rollback after a good apply does too.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from gmailfix.bundle import bundle_files, write_bundle
from gmailfix.cli.main import main
from gmailfix.diagnose import Diagnosis
from gmailfix.lab.runner import LabInfo
from gmailfix.remedies.model import Proposal
from gmailfix.server.apply import apply, plan_apply, rollback
from gmailfix.server.journal import Journal
from gmailfix.server.journals import journals
from gmailfix.server.system import Ran, Root, ServerError, write_atomic
from tests.support import exim as eh
from tests.support.diagnosis import run_diagnosis, run_proposal
from tests.support.plans import plan_from
from tests.support.server_root import (
    DOMAIN,
    HOST,
    RESTART,
    Pki,
    Server,
    blog_certificate,
    changed_files,
    debian_server,
    issue,
    make_pki,
    snapshot,
)
from tests.support.servers import dns_for

pytestmark = pytest.mark.exim
IFACE_DNS = {HOST: "127.0.13.1"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    folder.chmod(0o755)
    return make_pki(folder)


@pytest.fixture(scope="module")
def dns() -> Iterator[str]:
    with dns_for(IFACE_DNS) as address:
        yield address


@pytest.fixture(scope="module")
def broken(pki: Pki, dns: str) -> Proposal:
    """Gmail's view of the blog's broken server, with its fixes (once: the bundles are
    made from it)."""
    with debian_server("debian-single") as server:
        server.add_macros(blog_certificate(server))
        server.generate()
        server.start()
        proposal = run_proposal(server.connection(dns, pki.root_file), f"me@{DOMAIN}", HOST, 587)
    assert not proposal.diagnosis.accepted
    assert {f.code for f in proposal.diagnosis.findings} & {"self-signed", "hostname-mismatch"}
    return proposal


def diagnose(server: Server, dns: str, pki: Pki) -> Diagnosis:
    return run_diagnosis(server.connection(dns, pki.root_file), f"me@{DOMAIN}", HOST, 587)


def export(diagnosis: Proposal, layout: str, tls_dir: Path, where: Path) -> Path:
    """``gmailfix export --remedy new-certificate --exim-layout LAYOUT`` (tls_dir in the root)."""
    plan = plan_from(diagnosis, "new-certificate", exim_layout=layout, tls_dir=str(tls_dir))
    return write_bundle(bundle_files(plan, diagnosis), where, as_zip=False).path


@pytest.fixture
def bundles() -> Iterator[Path]:
    folder = eh.shared_dir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def broken_server(server: Server) -> None:
    server.add_macros(blog_certificate(server))
    server.generate()


# --- the whole way: broken -> accepted -> rolled back -------------------------------


def test_apply_fixes_the_blogs_server_and_rollback_restores_it(
    pki: Pki, dns: str, broken: Proposal, bundles: Path
) -> None:
    with debian_server("debian-single") as server:
        broken_server(server)
        server.start()
        bundle = export(broken, "debian-single", server.tls_dir, bundles / "fix")
        issue(server, pki)  # certbot/issue.sh with its deploy hook
        original = snapshot(server.root)

        plan = plan_apply(bundle, Root(server.root), runner=server.run, reload=RESTART)
        assert snapshot(server.root) == original, "planning writes nothing"
        diff = plan.diff()
        assert f"+MAIN_TLS_CERTIFICATE = {server.tls_dir}/{HOST}/fullchain.pem" in diff
        assert "+# gmailfix apply replaced: MAIN_TLS_CERTIFICATE = " in diff  # the blog's line
        assert "+# gmailfix apply replaced: daemon_smtp_ports = 25 : 587" in diff
        assert [s.key for s in plan.steps] == ["generate", "check", "files", "reload", "recheck"]
        generate = plan.steps[0].argv or ()
        # Debian's tool runs where the copy is /etc/exim4 (a private namespace)
        assert generate == ("update-exim4.conf", "--confdir", "/etc/exim4")

        result = apply(plan, runner=server.run, connection=server.connection(dns, pki.root_file))
        assert result.outcome == "applied", result.results
        assert result.confirmed, result.diagnosis.findings if result.diagnosis else None
        assert all(r.ok and not r.skipped for r in result.results), result.results
        assert diagnose(server, dns, pki).accepted  # the restarted daemon serves the fix
        assert server.generated in {
            server.root / p for p in changed_files(original, snapshot(server.root))
        }

        undone = rollback(Root(server.root), runner=server.run, reload=RESTART)
        assert changed_files(original, snapshot(server.root)) == []
        assert {r.shown for r in undone.restored} == {
            "/etc/exim4/exim4.conf.localmacros",
            "/var/lib/exim4/config.autogenerated",
        }
        assert undone.reload is not None and undone.reload.ok
        assert not diagnose(server, dns, pki).accepted  # the old config runs again
        with pytest.raises(ServerError, match="nothing to roll back"):
            rollback(Root(server.root), runner=server.run)


def test_a_failing_check_puts_every_file_back(
    pki: Pki, dns: str, broken: Proposal, bundles: Path
) -> None:
    """The bundle names a certificate that is not there: Exim's own check passes (it does
    not look at files), gmailfix's check of the files Exim will read fails, and every file
    is byte for byte as before."""
    with debian_server("debian-split") as server:
        broken_server(server)
        server.start()
        bundle = export(
            broken, "debian-split", server.root / "etc/exim4/tls-missing", bundles / "fix"
        )
        original = snapshot(server.root)
        plan = plan_apply(bundle, Root(server.root), runner=server.run, reload=RESTART)
        assert any("does not exist yet" in w for w in plan.warnings)
        result = apply(plan, runner=server.run, connection=server.connection(dns, pki.root_file))
        assert result.outcome == "rolled-back"
        failed = result.failed
        assert failed is not None and failed.step.key == "files"
        assert "does not exist" in failed.detail
        assert [r.step.key for r in result.results] == ["generate", "check", "files"]
        assert changed_files(original, snapshot(server.root)) == []
        assert {r.shown for r in result.restored} == {
            "/etc/exim4/conf.d/main/000_localmacros",
            "/var/lib/exim4/config.autogenerated",
        }
        assert result.reload_after_rollback is None  # never restarted with the new config
        assert RESTART not in server.commands
        assert journals(Root(server.root))[0].state == "rolled-back"


def test_exims_own_check_failing_is_rolled_back(pki: Pki, broken: Proposal, bundles: Path) -> None:
    """A macro the person defines in another conf.d file: Exim refuses it twice."""
    with debian_server("debian-split") as server:
        broken_server(server)
        mine = server.root / "etc/exim4/conf.d/main/00_mine"
        mine.write_text("MAIN_TLS_CERTIFICATE = /etc/ssl/mine.pem\n")
        server.macros.write_text(
            "\n".join(
                ln
                for ln in server.macros.read_text().splitlines()
                if "MAIN_TLS_CERTIFICATE" not in ln
            )
            + "\n"
        )
        server.generate()
        issue(server, pki)
        bundle = export(broken, "debian-split", server.tls_dir, bundles / "fix")
        original = snapshot(server.root)
        result = apply(plan_apply(bundle, Root(server.root), runner=server.run), runner=server.run)
        assert changed_files(original, snapshot(server.root)) == []
    assert result.outcome == "rolled-back"
    assert result.failed is not None and result.failed.step.key == "check"
    assert "exim failed" in result.failed.detail and "MAIN_TLS_CERTIFICATE" in result.failed.detail


def test_an_interrupted_apply_is_rolled_back(pki: Pki, broken: Proposal, bundles: Path) -> None:
    """Ctrl+C (or SIGTERM) while Exim checks the config: the files go back, then it stops."""
    with debian_server("debian-single") as server:
        broken_server(server)
        issue(server, pki)
        bundle = export(broken, "debian-single", server.tls_dir, bundles / "fix")
        original = snapshot(server.root)

        def interrupted(argv: Sequence[str]) -> Ran:
            if "-bV" in argv:  # Exim's check (in the sandbox, on a copy)
                raise KeyboardInterrupt
            return server.run(argv)

        plan = plan_apply(bundle, Root(server.root), runner=server.run)
        with pytest.raises(KeyboardInterrupt):
            apply(plan, runner=interrupted)
        assert changed_files(original, snapshot(server.root)) == []
        assert journals(Root(server.root))[0].state == "rolled-back"


def test_a_killed_run_must_be_rolled_back_first(pki: Pki, broken: Proposal, bundles: Path) -> None:
    """A run killed halfway left an open journal: apply refuses, rollback repairs."""
    with debian_server("debian-single") as server:
        broken_server(server)
        original = snapshot(server.root)
        root = Root(server.root)
        journal = Journal.start(root, "apply", "apply a bundle (killed)", {})
        journal.record(server.macros, after=b"half of a change\n")
        journal.begin()
        write_atomic(server.macros, b"half of a change\n", mode=0o644)  # then SIGKILL
        bundle = export(broken, "debian-single", server.tls_dir, bundles / "fix")
        with pytest.raises(ServerError, match="stopped halfway"):
            apply(plan_apply(bundle, root, runner=server.run), runner=server.run)
        undone = rollback(root, runner=server.run)
        assert undone.what == "apply a bundle (killed)"
        assert changed_files(original, snapshot(server.root)) == []


# --- refusals --------------------------------------------------------------------------


def test_a_bundle_for_the_other_layout_is_refused(broken: Proposal, bundles: Path) -> None:
    with debian_server("debian-single") as server:
        bundle = export(broken, "debian-split", server.tls_dir, bundles / "fix")
        with pytest.raises(ServerError, match="the debian-single layout"):
            plan_apply(bundle, Root(server.root), runner=server.run)


def test_a_changed_bundle_is_refused(
    broken: Proposal, bundles: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with debian_server("debian-single") as server:
        bundle = export(broken, "debian-single", server.tls_dir, bundles / "fix")
        macros = bundle / "exim4/exim4.conf.localmacros"
        macros.write_text(macros.read_text() + "tls_certificate = /etc/shadow\n")
        assert main(["apply", str(bundle), "--root", str(server.root), "--yes"]) == 2
    assert "was changed after gmailfix wrote it" in capsys.readouterr().err


def test_not_a_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "MANIFEST.json").write_text(json.dumps({"schema": "something/1"}))
    assert main(["apply", str(tmp_path), "--root", str(tmp_path)]) == 2
    assert "not a gmailfix bundle" in capsys.readouterr().err
    (tmp_path / "fake.zip").write_bytes(b"PK\x03\x04 not really")
    assert main(["apply", str(tmp_path / "fake.zip"), "--root", str(tmp_path)]) == 2
    assert "not a readable .zip" in capsys.readouterr().err


def test_apply_refuses_to_run_as_non_root_without_root(broken: Proposal, bundles: Path) -> None:
    bundle = export(broken, "debian-single", Path("/etc/exim4/tls"), bundles / "fix")
    os.chmod(bundles, 0o755)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("setpriv (util-linux) is needed to run gmailfix as another user")
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [
            setpriv,
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            sys.executable,
            "-c",
            "import sys; from gmailfix.cli.main import main; sys.exit(main(sys.argv[1:]))",
            "apply",
            str(bundle),
            "--yes",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    assert done.returncode == 2, done.stderr
    assert "run it as root" in done.stderr
    assert "Traceback" not in done.stderr


# --- the command line ------------------------------------------------------------------


def test_cli_shows_the_diff_then_applies_and_rolls_back(
    pki: Pki, broken: Proposal, bundles: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The split layout, with the real update-exim4.conf and exim (no runner of the test's):
    under --root nothing is restarted and Gmail's check is not run."""
    with debian_server("debian-split") as server:
        broken_server(server)
        issue(server, pki)
        bundle = export(broken, "debian-split", server.tls_dir, bundles / "fix")
        original = snapshot(server.root)
        args = ["apply", str(bundle), "--root", str(server.root)]
        assert main(args) == 0
        shown = capsys.readouterr().out
        assert "--- /etc/exim4/conf.d/main/000_localmacros (now)" in shown
        assert f"+MAIN_TLS_CERTIFICATE = {server.tls_dir}/{HOST}/fullchain.pem" in shown
        assert "$ update-exim4.conf --confdir" in shown
        assert "Nothing was written" in shown
        assert changed_files(original, snapshot(server.root)) == []

        assert main([*args, "--yes"]) == 0
        done = capsys.readouterr().out
        assert "ok      Exim checks the new config: done" in done
        assert "skipped restart Exim" in done and "Applied." in done
        assert changed_files(original, snapshot(server.root)) != []

        assert main(["rollback", "--root", str(server.root)]) == 0
        said = capsys.readouterr().out
        assert "restored /etc/exim4/conf.d/main/000_localmacros" in said
        assert "restored /var/lib/exim4/config.autogenerated" in said
        assert changed_files(original, snapshot(server.root)) == []
        assert main(["rollback", "--root", str(server.root)]) == 2
    assert "nothing to roll back" in capsys.readouterr().err


def test_a_zip_bundle_applies_too(pki: Pki, broken: Proposal, bundles: Path) -> None:
    with debian_server("debian-split") as server:
        broken_server(server)
        issue(server, pki)
        plan = plan_from(
            broken, "new-certificate", exim_layout="debian-split", tls_dir=str(server.tls_dir)
        )
        zipped = write_bundle(bundle_files(plan, broken), bundles / "fix.zip", as_zip=True).path
        result = apply(plan_apply(zipped, Root(server.root), runner=server.run), runner=server.run)
    assert result.outcome == "applied", result.results


# --- Postfix ------------------------------------------------------------------------------


def test_a_postfix_bundle_on_real_postfix(pki: Pki, bundles: Path) -> None:
    """Debian's Postfix with logins (Dovecot) and the snakeoil certificate: the bundle's
    postconf.sh runs on a copy, the diff is applied, 'postfix check' and a reload follow,
    Gmail's check passes; rollback puts main.cf and master.cf back byte for byte."""
    from gmailfix.connection import build
    from gmailfix.lab import ca
    from tests import test_postfix as tp
    from tests.support import postfix as ph

    workdir = ph.shared_dir()
    try:
        with tp.gmail_ready_postfix(workdir) as ready, dns_for({HOST: "127.0.0.1"}) as dns:
            pf = ready.pf
            root = pf.conf.parents[1]  # the instance's config is ROOT/etc/postfix

            def run(argv: Sequence[str]) -> Ran:
                if tuple(argv) == RESTART:  # 'postfix reload', waiting until the master did it
                    try:
                        pf.reload()
                    except RuntimeError as exc:
                        return Ran(RESTART, 1, str(exc))
                    return Ran(RESTART, 0, "reloaded")
                from gmailfix.server.system import run_command

                return run_command(argv, env=pf.env())

            connection = build(
                dns_server=dns,
                ca_files=[str(pki.root_file)],
                connect={(HOST, 587): ("127.0.0.1", ready.ports[587])},
                timeout=5,
            )
            before = run_proposal(connection, f"me@{DOMAIN}", HOST, 587)
            assert not before.diagnosis.accepted
            tls_dir = root / "etc/postfix/tls"
            plan = plan_from(before, "new-certificate", mta="postfix", tls_dir=str(tls_dir))
            bundle = write_bundle(bundle_files(plan, before), bundles / "pf-fix", as_zip=False).path
            leaf = ca.make_leaf(pki.intermediate, [HOST])  # what the deploy hook installs
            (tls_dir / HOST).mkdir(parents=True, mode=0o700)
            (tls_dir / HOST / "fullchain.pem").write_bytes(
                leaf.cert_pem() + pki.intermediate.cert_pem()
            )
            (tls_dir / HOST / "privkey.pem").write_bytes(leaf.key_pem())
            (tls_dir / HOST / "privkey.pem").chmod(0o600)
            original = {n: (pf.conf / n).read_bytes() for n in ("main.cf", "master.cf")}

            aplan = plan_apply(bundle, Root(root), runner=run, reload=RESTART)
            assert f"+smtpd_tls_chain_files = {tls_dir}/{HOST}/privkey.pem" in aplan.diff()
            assert [s.key for s in aplan.steps] == ["check", "files", "reload", "recheck"]
            assert {n: (pf.conf / n).read_bytes() for n in original} == original
            result = apply(aplan, runner=run, connection=connection)
            assert result.outcome == "applied", result.results
            assert result.confirmed

            undone = rollback(Root(root), runner=run, reload=RESTART)
            assert {n: (pf.conf / n).read_bytes() for n in original} == original
            assert undone.reload is not None and undone.reload.ok
            assert not run_diagnosis(connection, f"me@{DOMAIN}", HOST, 587).accepted
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --- a plain exim.conf (not Debian's) -----------------------------------------------------


def test_a_plain_exim_conf(pki: Pki, dns: str, broken: Proposal, bundles: Path) -> None:
    """Exim with its own exim.conf: doctor reads it as it is, apply adds the bundle's
    tls-main.conf with an .include before the first 'begin' and comments out the lines it
    replaces; a daemon started from the result passes Gmail's check; rollback restores it."""
    from gmailfix.connection import build
    from gmailfix.lab import ca
    from gmailfix.render.exim import authenticators
    from gmailfix.server.doctor import run_doctor

    root = eh.shared_dir()
    try:
        conf_dir = root / "etc/exim"
        tls_dir = conf_dir / "tls"
        tls_dir.mkdir(parents=True)
        for sub in ("log", "spool"):
            (root / sub).mkdir()
            shutil.chown(root / sub, eh.EXIM_USER, eh.EXIM_USER)
        blog = ca.make_leaf(None, ["other.example"])
        (conf_dir / "exim.crt").write_bytes(blog.cert_pem())
        (conf_dir / "exim.key").write_bytes(blog.key_pem())
        shutil.chown(conf_dir / "exim.key", "root", eh.EXIM_USER)
        (conf_dir / "exim.key").chmod(0o640)
        passwd = conf_dir / "passwd"
        passwd.write_text("nobody:*\n")
        conf = conf_dir / "exim.conf"
        conf.write_text(
            "\n".join(
                [
                    "primary_hostname = mail.doctor.test",
                    f"log_file_path = {root}/log/%slog",
                    f"spool_directory = {root}/spool",
                    "acl_smtp_rcpt = accept",
                    "local_interfaces = <; 127.0.13.1",
                    "tls_advertise_hosts = *",
                    f"tls_certificate = {conf_dir}/exim.crt",
                    f"tls_privatekey = {conf_dir}/exim.key",
                    "daemon_smtp_ports = 25 : 587",
                    "begin authenticators",
                    authenticators(str(passwd)),
                ]
            )
        )
        conf.chmod(0o644)
        report = asyncio.run(run_doctor(Root(root), host=HOST, connection=build(timeout=3)))
        assert report.setup.layout == "plain" and report.setup.config == conf
        assert {"self-signed", "hostname-mismatch"} <= {str(f.code) for f in report.findings}

        bundle = export(broken, "plain", tls_dir, bundles / "fix")
        leaf = ca.make_leaf(pki.intermediate, [HOST])
        eh.install_cert(
            tls_dir, HOST, leaf.cert_pem() + pki.intermediate.cert_pem(), leaf.key_pem()
        )
        before = {p: p.read_bytes() for p in conf_dir.glob("*") if p.is_file()}
        plan = plan_apply(bundle, Root(root))
        assert [c.shown for c in plan.changes] == [
            "/etc/exim/gmailfix-tls.conf",
            "/etc/exim/exim.conf",
        ]
        result = apply(plan)
        assert result.outcome == "applied", result.results
        text = conf.read_text()
        assert f".include {conf_dir}/gmailfix-tls.conf" in text
        assert text.index(".include") < text.index("begin authenticators")
        assert f"# gmailfix apply replaced: tls_certificate = {conf_dir}/exim.crt" in text
        with eh.exim_daemon(conf, root, interface="127.0.13.1"):
            after = run_diagnosis(
                build(
                    dns_server=dns,
                    ca_files=[str(pki.root_file)],
                    connect={(HOST, 587): ("127.0.13.1", 587)},
                    timeout=5,
                ),
                f"me@{DOMAIN}",
                HOST,
                587,
            )
        assert after.accepted, after.findings
        rollback(Root(root))
        assert {p: p.read_bytes() for p in conf_dir.glob("*") if p.is_file()} == before
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_symlinked_config_file_is_not_replaced(broken: Proposal, bundles: Path) -> None:
    with debian_server("debian-single") as server:
        real = server.root / "elsewhere.conf"
        real.write_text("# the person keeps the macros elsewhere\n")
        server.macros.unlink()
        server.macros.symlink_to(real)
        bundle = export(broken, "debian-single", server.tls_dir, bundles / "fix")
        with pytest.raises(ServerError, match="not a regular file"):
            plan_apply(bundle, Root(server.root), runner=server.run)
        assert journals(Root(server.root)) == []


def test_the_gmailfix_block_is_replaced_not_doubled() -> None:
    from gmailfix.server.edit import with_block, without_block

    mine = "keep_me = 1\ntls_certificate = /old \\\n  continued\nbegin acl\ntls_certificate = x\n"
    once = with_block(mine, "tls_certificate = /new\n", "apply", main_section_only=True)
    twice = with_block(once, "tls_certificate = /newer\n", "apply", main_section_only=True)
    assert twice.count(">>> gmailfix apply") == 1 and "/newer" in twice and "= /new\n" not in twice
    assert "# gmailfix apply replaced: tls_certificate = /old \\" in twice
    assert "# gmailfix apply replaced:   continued" in twice
    assert "begin acl\ntls_certificate = x\n" in twice  # only the main section is touched
    assert twice.index(">>> gmailfix") < twice.index("begin acl")
    assert ">>> gmailfix apply" not in without_block(twice, "apply")


@pytest.mark.parametrize("stack", ["cpanel", "mailcow"])
def test_a_bundle_for_a_managed_stack_is_not_applied_by_hand(
    lab: LabInfo, tmp_path: Path, stack: str
) -> None:
    """A panel or container rewrites the mail config: apply sends the person to the
    README (the panel's own way) and touches nothing."""
    diagnosis = run_proposal(lab.connection(timeout=5), "me@blog.test", "mail.blog.test", 587)
    plan = plan_from(diagnosis, "new-certificate", stack=stack)
    bundle = write_bundle(bundle_files(plan, diagnosis), tmp_path / "bundle", as_zip=False).path
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(ServerError, match=r"managed by .*README"):
        plan_apply(bundle, Root.at(str(root)))
    assert not any(root.iterdir())
