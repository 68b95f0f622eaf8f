"""``gmailfix apply`` and ``gmailfix rollback``: a bundle put in place safely, or not at all.

    plan_apply(bundle, root) ─► ApplyPlan: every change as a diff, every command
    apply(plan) ─► journal (backups) ─► atomic writes ─► the MTA's own check
        ─► the files it will read ─► reload ─► diagnose as Gmail ─► ApplyResult
                 any step fails, or a signal comes ─► every file put back, reload

Only the MTA's config files the bundle names are written (and Debian's
generated config, which update-exim4.conf rewrites); certificates come from
certbot and its deploy hook, never from here. The command-runner and the
Connection used for the last check are seams: tests point them at a
throwaway daemon under ``--root``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Literal

from gmailfix.connection import Connection, build
from gmailfix.diagnose import Diagnosis, diagnose
from gmailfix.findings.codes import Code
from gmailfix.inputs import parse_target
from gmailfix.render.exim import AUTH_FILES, LAYOUT_FILES
from gmailfix.server import exim, postfix
from gmailfix.server.bundle_read import Bundle, read_bundle
from gmailfix.server.certfiles import check_files
from gmailfix.server.edit import FileChange, current_text, defined_names, file_change, with_block
from gmailfix.server.journal import Journal, Restored, interrupted, last_change, locked
from gmailfix.server.mta import DEBIAN_GENERATED, MtaName, Setup, TlsConfig, detect, port_list
from gmailfix.server.steps import Step, StepResult
from gmailfix.server.system import (
    Ran,
    Root,
    Runner,
    ServerError,
    run_command,
    show_path,
    write_atomic,
)

Outcome = Literal["applied", "rolled-back"]
FILE_CODES = frozenset(
    {
        Code.CERTIFICATE_FILE_MISSING,
        Code.CERTIFICATE_FILE_INVALID,
        Code.KEY_UNREADABLE_BY_MTA,
        Code.KEY_DOES_NOT_MATCH,
    }
)
APPLY_TAG = "apply"
SERVER_REMEDIES = frozenset(
    {
        "new-certificate",
        "sni",
        "serve-full-chain",
        "enable-starttls",
        "enable-auth",
        "open-port",
        "fix-tls-mode",
    }
)
PANEL_STACKS = frozenset(
    {
        "cpanel",
        "directadmin",
        "hestiacp",
        "plesk",
        "mailcow",
        "docker-mailserver",
        "iredmail",
        "mail-in-a-box",
        "zimbra",
    }
)


@dataclass(frozen=True)
class ApplyPlan:
    """Everything ``apply`` would do; nothing has been written yet."""

    bundle: Bundle | None  # None: a change of gmailfix's own (TLS logging for --watch)
    setup: Setup
    changes: tuple[FileChange, ...]
    steps: tuple[Step, ...]
    rewritten: tuple[Path, ...] = ()  # files a step rewrites (Debian's generated config)
    expect: dict[str, str] = field(default_factory=dict)  # settings the MTA must show after
    warnings: tuple[str, ...] = ()
    kind: str = "apply"  # the journal's kind: "apply" or "watch"
    what: str = ""  # the journal's words for the change

    @property
    def root(self) -> Root:
        return self.setup.root

    def diff(self) -> str:
        return "".join(change.diff() for change in self.changes if change.changed)

    @property
    def commands(self) -> list[str]:
        return [" ".join(step.argv) for step in self.steps if step.argv]


@dataclass(frozen=True)
class ApplyResult:
    outcome: Outcome
    results: tuple[StepResult, ...]
    journal: Path
    restored: tuple[Restored, ...] = ()
    diagnosis: Diagnosis | None = None
    reload_after_rollback: StepResult | None = None

    @property
    def failed(self) -> StepResult | None:
        return next((r for r in self.results if not r.ok), None)

    @property
    def confirmed(self) -> bool:
        """Gmail's check passed against the running server afterwards."""
        return self.diagnosis is not None and self.diagnosis.accepted


@dataclass(frozen=True)
class RollbackResult:
    journal: Path
    what: str
    restored: tuple[Restored, ...]
    reload: StepResult | None


# --- the plan -----------------------------------------------------------------------


def plan_apply(
    bundle: Bundle | str | Path,
    root: Root | None = None,
    *,
    runner: Runner = run_command,
    reload: Sequence[str] | None = None,
    mta: MtaName | None = None,
) -> ApplyPlan:
    """What applying ``bundle`` under ``root`` would change, and the commands it would run.

    ``reload`` replaces the MTA's reload command (under ``--root`` there is no
    service to reload unless one is given). Raises ServerError when the bundle
    does not fit this server; reads only.
    """
    root = root or Root()
    if not isinstance(bundle, Bundle):
        bundle = read_bundle(bundle)
    _check_bundle(bundle)
    setup = detect(root, mta or bundle.mta)  # type: ignore[arg-type]
    if setup.mta != bundle.mta:
        raise ServerError(
            f"this bundle is for {bundle.mta.capitalize()} but this server runs {setup.label}; "
            f"export it again with --mta {setup.mta}"
        )
    if setup.mta == "postfix":
        return _postfix_plan(bundle, setup, runner, reload)
    return _exim_plan(bundle, setup, reload)


def _check_bundle(bundle: Bundle) -> None:
    if bundle.stack in PANEL_STACKS:
        raise ServerError(
            f"this bundle is for a server managed by {bundle.stack}: its panel rewrites the mail "
            "configuration, so follow the bundle's README instead of gmailfix apply"
        )
    if bundle.remedy not in SERVER_REMEDIES:
        raise ServerError(
            "this fix changes only Gmail's settings (see gmail-settings.txt); nothing to apply "
            "on the server"
        )


def _exim_plan(bundle: Bundle, setup: Setup, reload: Sequence[str] | None) -> ApplyPlan:
    layout = setup.layout or "plain"
    bundle_file = LAYOUT_FILES[layout][0]
    if not any(path in bundle.files for path, _ in LAYOUT_FILES.values()):
        raise ServerError("this bundle holds no Exim settings: nothing to apply on the server")
    if bundle_file not in bundle.files:
        written = bundle.exim_layout or "another layout"
        raise ServerError(
            f"this bundle was written for {written}, but this server uses {setup.label}; "
            f"export it again with --exim-layout {layout}"
        )
    block = bundle.text(bundle_file)
    changes = [*_layout_changes(setup, block), *_extra_exim_files(bundle, setup, block)]
    steps: list[Step] = []
    rewritten: tuple[Path, ...] = ()
    config = setup.config
    if setup.debian:
        generated = setup.root.file(DEBIAN_GENERATED)
        steps.append(
            Step(
                "generate",
                "make Exim's config from /etc/exim4",
                tuple(exim.generate_command(setup, generated)),
            )
        )
        rewritten = (generated,)
        config = generated
    steps.append(Step("check", "Exim checks the new config", tuple(exim.check_command(config))))
    steps.append(Step("files", "check the certificate and key Exim will read, as its user"))
    steps.append(reload_step(setup, reload))
    steps.append(_recheck_step(bundle))
    warnings = _missing_files_warning(setup, block)
    return ApplyPlan(
        bundle,
        setup,
        tuple(changes),
        tuple(steps),
        rewritten,
        _expected(block),
        warnings,
        what=_what(bundle),
    )


def _what(bundle: Bundle) -> str:
    return f"apply {show_path(bundle.path)} ({bundle.remedy} for {bundle.smtp_host})"


def _layout_changes(setup: Setup, block: str) -> list[FileChange]:
    root = setup.root
    if setup.debian:
        assert setup.macros is not None
        text = with_block(current_text(setup.macros), block, APPLY_TAG, main_section_only=False)
        why = "the local macros file this layout reads"
        return [file_change(setup.macros, root.shown(setup.macros), _bytes(text), why)]
    include = setup.config.parent / "gmailfix-tls.conf"
    included = file_change(
        include, root.shown(include), block.encode(), "the TLS settings, loaded by .include"
    )
    line = f".include {include}\n"
    text = with_block(
        current_text(setup.config),
        line,
        APPLY_TAG,
        main_section_only=True,
        names=defined_names(block),
    )
    config = file_change(
        setup.config, root.shown(setup.config), _bytes(text), "loads the TLS settings"
    )
    return [included, config]


def _extra_exim_files(bundle: Bundle, setup: Setup, block: str) -> list[FileChange]:
    changes = []
    if "exim4/tls/sni.map" in bundle.files:
        match = re.search(r"lsearch\{(/[^}]+)\}", block)
        if match is None:
            raise ServerError("the bundle's SNI map has no place in its Exim settings")
        path = setup.root.file(match.group(1))
        changes.append(
            file_change(
                path,
                setup.root.shown(path),
                bundle.files["exim4/tls/sni.map"],
                "the SNI name to certificate map",
            )
        )
    if bundle.remedy == "enable-auth":
        if setup.layout != "debian-split":
            raise ServerError(
                "turning on login needs authenticators pasted into Exim's config by hand for "
                f"{setup.label}: follow the bundle's README (gmailfix apply does it only for "
                "Debian's split config)"
            )
        source, folder = AUTH_FILES["debian-split"]
        path = setup.root.file(folder + source.rsplit("/", 1)[1])
        changes.append(
            file_change(
                path,
                setup.root.shown(path),
                bundle.files[source],
                "authenticators offered only over TLS",
            )
        )
    return changes


def _expected(block: str) -> dict[str, str]:
    """Settings the MTA must show once the block is read (the layout trap shows here)."""
    pairs = {
        "MAIN_TLS_CERTIFICATE": "tls_certificate",
        "tls_certificate": "tls_certificate",
        "daemon_smtp_ports": "daemon_smtp_ports",
        "tls_on_connect_ports": "tls_on_connect_ports",
    }
    expected: dict[str, str] = {}
    for line in block.splitlines():
        name, sep, value = line.partition("=")
        name = name.strip()
        if sep and name in pairs and not line.lstrip().startswith("#"):
            expected[pairs[name]] = value.strip()
    return expected


def _missing_files_warning(setup: Setup, block: str) -> tuple[str, ...]:
    certificate = _expected(block).get("tls_certificate", "")
    if not certificate or "$" in certificate:
        return ()
    if setup.root.file(certificate).exists():
        return ()
    return (
        f"{certificate} does not exist yet: get the certificate first (the bundle's "
        "certbot/issue.sh), or the check will fail and everything will be put back",
    )


def reload_step(setup: Setup, reload: Sequence[str] | None) -> Step:
    label = "Postfix" if setup.mta == "postfix" else "Exim"
    if reload is not None:
        return Step("reload", f"restart {label} with the new config", tuple(reload))
    if not setup.root.is_system:
        return Step("reload", f"restart {label} (not under --root: no service runs from a copy)")
    if setup.mta == "postfix":
        return Step("reload", "reload Postfix", ("postfix", "reload"))
    if setup.debian or setup.root.file("/etc/init.d/exim4").exists():
        return Step(
            "reload", "restart Exim with the new config", ("invoke-rc.d", "exim4", "restart")
        )
    return Step("reload", "restart Exim with the new config", ("systemctl", "restart", "exim"))


def _recheck_step(bundle: Bundle) -> Step:
    return Step(
        "recheck",
        f"check {bundle.smtp_host} port {bundle.port} here as Gmail does (a trusted "
        "certificate for that name)",
    )


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


# --- Postfix ------------------------------------------------------------------------


def _postfix_plan(
    bundle: Bundle, setup: Setup, runner: Runner, reload: Sequence[str] | None
) -> ApplyPlan:
    from gmailfix.server.postfix_apply import postfix_changes

    changes, steps, rewritten = postfix_changes(bundle, setup, runner)
    steps = [*steps, Step("files", "check the certificate and key Postfix will read")]
    steps += [reload_step(setup, reload), _recheck_step(bundle)]
    return ApplyPlan(
        bundle, setup, tuple(changes), tuple(steps), tuple(rewritten), what=_what(bundle)
    )


# --- applying -----------------------------------------------------------------------


def apply(
    plan: ApplyPlan,
    *,
    runner: Runner = run_command,
    connection: Connection | None = None,
) -> ApplyResult:
    """Make the plan's changes, check them, and put everything back if any step fails.

    ``connection`` is how the last step reaches the server as Gmail would
    (default on the server itself: the SMTP host's port at 127.0.0.1, public
    DNS and roots; under ``--root`` the step is skipped without one). Raises
    ServerError before writing when the change may not start (not root, an
    earlier run left halfway, another run in progress).
    """
    root = plan.root
    if root.is_system and os.geteuid() != 0:
        raise ServerError("gmailfix apply changes the mail server's files: run it as root")
    with locked(root):
        left = interrupted(root)
        if left is not None:
            raise ServerError(
                f"an earlier change ({left.what}) was stopped halfway: run 'gmailfix rollback' first"
            )
        journal = Journal.start(root, plan.kind, plan.what, _journal_facts(plan))
        return _apply_recorded(plan, journal, runner, connection)


def _journal_facts(plan: ApplyPlan) -> dict[str, Any]:
    reload = next((s.argv for s in plan.steps if s.key == "reload"), None)
    return {"mta": plan.setup.mta, "reload": list(reload) if reload else None}


def _apply_recorded(
    plan: ApplyPlan, journal: Journal, runner: Runner, connection: Connection | None
) -> ApplyResult:
    try:
        for change in plan.changes:
            journal.record(change.path, change.shown)
        for path in plan.rewritten:
            journal.record(path, plan.root.shown(path))
    except BaseException:
        journal.finish("rolled-back")  # nothing was written yet: the journal is closed
        raise
    results: list[StepResult] = []
    diagnosis: Diagnosis | None = None
    try:
        with _signals_interrupt():
            _write_all(plan, journal)
            for step in plan.steps:
                result, found = _run_step(plan, step, runner, connection)
                diagnosis = found or diagnosis
                results.append(result)
                if not result.ok:
                    break
    except BaseException:
        with _signals_held():
            _undo(plan, journal, runner, results)
        raise
    if all(r.ok for r in results):
        journal.finish("done")
        return ApplyResult("applied", tuple(results), journal.folder, diagnosis=diagnosis)
    with _signals_held():
        restored, again = _undo(plan, journal, runner, results)
    return ApplyResult(
        "rolled-back", tuple(results), journal.folder, tuple(restored), diagnosis, again
    )


def _write_all(plan: ApplyPlan, journal: Journal) -> None:
    for change in plan.changes:
        _make_parents(change.path.parent, journal)
        write_atomic(change.path, change.after, mode=change.mode, uid=change.uid, gid=change.gid)


def _make_parents(folder: Path, journal: Journal) -> None:
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(mode=0o755)
        journal.record_dir(path)


def _undo(
    plan: ApplyPlan, journal: Journal, runner: Runner, results: list[StepResult]
) -> tuple[list[Restored], StepResult | None]:
    """Put every file back; reload again if the MTA was reloaded with the new config."""
    restored = journal.restore()
    again = None
    reload = next((s for s in plan.steps if s.key == "reload"), None)
    if reload is not None and reload.argv and any(r.step.key == "reload" for r in results):
        again = _command(reload, runner)
    journal.finish("rolled-back")
    return restored, again


def _run_step(
    plan: ApplyPlan, step: Step, runner: Runner, connection: Connection | None
) -> tuple[StepResult, Diagnosis | None]:
    if step.key == "files":
        return _check_files(plan, runner), None
    if step.key == "recheck":
        return _recheck(plan, step, connection)
    if step.argv is None:
        return StepResult(step, True, "not run: " + step.words, skipped=True), None
    return _command(step, runner), None


def _command(step: Step, runner: Runner) -> StepResult:
    assert step.argv is not None
    ran: Ran = runner(step.argv)
    if ran.ok:
        return StepResult(step, True, "done")
    return StepResult(step, False, f"{step.argv[0]} failed: {ran.last_line}")


def _check_files(plan: ApplyPlan, runner: Runner) -> StepResult:
    """The MTA's effective settings now hold the change, and it can read the files they name."""
    step = next(s for s in plan.steps if s.key == "files")
    reader = postfix.tls_config if plan.setup.mta == "postfix" else _applied_exim_config
    tls = reader(plan.setup, runner)
    if tls.problem:
        return StepResult(step, False, tls.problem)
    missing = _not_taken(plan, tls)
    if missing:
        return StepResult(step, False, missing)
    if plan.kind == "watch":
        return StepResult(step, True, "Exim now logs what watching needs")
    for files in tls.files[:1]:
        _, findings = check_files(plan.root, files.certificate, files.key, tls.user)
        bad = [f for f in findings if f.code in FILE_CODES]
        if bad:
            return StepResult(step, False, _last_sentences(bad[0].detail))
    return StepResult(step, True, "the certificate and key are there and readable")


def _applied_exim_config(setup: Setup, runner: Runner) -> TlsConfig:
    """Exim's settings from the config the daemon will read (Debian: the generated one)."""
    if not setup.debian:
        return exim.tls_config(setup, runner)
    config = setup.root.file(DEBIAN_GENERATED)
    values, ran = exim.read_values(config, runner)
    if not ran.ok:
        return TlsConfig(
            "exim", (), (), None, "Debian-exim", problem=f"exim -bP failed: {ran.last_line}"
        )
    return exim.from_values(setup, config, values, runner)


def _not_taken(plan: ApplyPlan, tls: TlsConfig) -> str | None:
    for name, wanted in plan.expect.items():
        shown = tls.values.get(name, "")
        same = port_list(shown) == port_list(wanted) if name.endswith("ports") else shown == wanted
        if not same:
            return (
                f"Exim's {name} is '{shown}' after the change, not '{wanted}': the new settings "
                "are not read (is the file in the place this layout reads?)"
            )
    return None


def _last_sentences(text: str) -> str:
    """A catalog 'why' followed by the case's words: keep the case's words."""
    parts = re.split(r"(?<=\.) ", text)
    return " ".join(parts[-2:]) if len(parts) > 2 else text


def _recheck(
    plan: ApplyPlan, step: Step, connection: Connection | None
) -> tuple[StepResult, Diagnosis | None]:
    bundle = plan.bundle
    assert bundle is not None, "only a bundle's plan has a recheck step"
    if connection is None:
        if not plan.root.is_system:
            return StepResult(
                step, True, "not run under --root without a connection", skipped=True
            ), None
        local = {(bundle.smtp_host, bundle.port): ("127.0.0.1", bundle.port)}
        connection = build(connect=local, timeout=10)
    target = parse_target(bundle.domain, bundle.smtp_host, bundle.port)
    result = _run_coroutine(lambda: diagnose(target, connection))
    if result.accepted:
        return StepResult(step, True, "Gmail would accept it"), result
    if result.outcome == "unknown":
        return StepResult(
            step, True, "not confirmed: this computer could not check it", skipped=True
        ), result
    said = result.verdict.error or "it would refuse"
    return StepResult(step, False, f"Gmail would still refuse: {said}"), result


def _run_coroutine(make: Callable[[], Coroutine[Any, Any, Diagnosis]]) -> Diagnosis:
    """Run a diagnosis to the end from sync code, also when this thread has a loop
    running (the wizard): then in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


# --- rollback -----------------------------------------------------------------------


def rollback(
    root: Root | None = None,
    *,
    runner: Runner = run_command,
    only: Path | None = None,
    reload: Sequence[str] | None = None,
) -> RollbackResult:
    """Undo the last change (an apply, or TLS logging turned on) and reload the MTA.

    The MTA is reloaded with the command the change used (kept in its journal),
    or ``reload``. ``only``: undo that journal's change, if it is still the last.
    """
    root = root or Root()
    if root.is_system and os.geteuid() != 0:
        raise ServerError("gmailfix rollback changes the mail server's files: run it as root")
    with locked(root), _signals_held():
        journal = last_change(root)
        if journal is None:
            raise ServerError("nothing to roll back: no change made by gmailfix is in place")
        if only is not None and journal.folder != only:
            raise ServerError(
                f"another change ({journal.what}) was made since; undo changes one at a time "
                "with 'gmailfix rollback'"
            )
        restored = journal.restore()
        again = None
        reload = reload or journal.extra.get("reload")
        if reload:
            again = _command(
                Step("reload", "restart the MTA with the old config", tuple(reload)), runner
            )
        journal.finish("rolled-back")
    return RollbackResult(journal.folder, journal.what, tuple(restored), again)


# --- signals ------------------------------------------------------------------------


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP stop a change like Ctrl+C does, so it is rolled back."""
    with _handlers(_interrupt):
        yield


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """While files are put back nothing may stop it; a signal that came is acted on after."""
    pending: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    with _handlers(hold, (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)):
        yield
    if pending:
        raise KeyboardInterrupt


@contextlib.contextmanager
def _handlers(
    handler: Any, signums: tuple[int, ...] = (signal.SIGTERM, signal.SIGHUP)
) -> Iterator[None]:
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread can catch signals; elsewhere they keep their effect
        return
    saved = {s: signal.getsignal(s) for s in signums}
    for signum in signums:
        if saved[signum] not in (None, signal.SIG_IGN):
            signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, previous in saved.items():
            if previous is not None:
                signal.signal(signum, previous)


def describe_restored(restored: Sequence[Restored]) -> list[str]:
    return [f"{'removed' if r.removed else 'restored'} {show_path(r.shown)}" for r in restored]
