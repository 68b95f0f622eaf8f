"""``gmailfix apply`` and ``gmailfix rollback``: a plan put in place safely, or not at all.

    apply(plan) ─► journal (backups) ─► [certbot + gmailfix's deploy hook]
        ─► atomic writes ─► the MTA's own check
        ─► the files it will read ─► reload ─► diagnose as Gmail ─► ApplyResult
                 any step fails, or a signal comes ─► every file put back, reload

Only the files the plan names are written (the MTA's config, and Debian's
generated config, which update-exim4.conf rewrites); certificates come from
certbot and its deploy hook, never from here: when the plan needs one that is
not there, the certificate step (``issue``) runs certbot first, and what the
hook installs for the MTA is in the journal too. The command runner and the
Connection of the last check are seams: tests point them at a throwaway
daemon under ``--root``. ``plan_apply`` and ``ApplyPlan`` live in plan.py and
are re-exported here.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gmailfix.connection import Connection, build
from gmailfix.diagnose import Diagnosis, diagnose
from gmailfix.inputs import parse_target
from gmailfix.server import exim, postfix, sandbox
from gmailfix.server.certfiles import check_files
from gmailfix.server.journal import Journal, Restored
from gmailfix.server.journals import interrupted, last_change, locked
from gmailfix.server.mta import DEBIAN_GENERATED, Setup, TlsConfig, detect, port_list
from gmailfix.server.plan import COPY_GENERATE_ARGV, ApplyPlan, plan_apply, reload_step
from gmailfix.server.postfix_apply import DOVECOT_CONF_D, DOVECOT_RELOAD
from gmailfix.server.steps import Step, StepResult
from gmailfix.server.stop_signals import held_signals, stop_signals
from gmailfix.server.system import (
    Ran,
    Root,
    Runner,
    ServerError,
    make_folders,
    read_limited,
    run_command,
    show_path,
    write_atomic,
)
from gmailfix.vocabulary import MTAS, Code

__all__ = [
    "ApplyPlan",
    "ApplyResult",
    "RollbackResult",
    "apply",
    "plan_apply",
    "reload_step",
    "rollback",
]

Outcome = Literal["applied", "rolled-back"]
FILE_CODES = frozenset(
    {
        Code.CERTIFICATE_FILE_MISSING,
        Code.CERTIFICATE_FILE_INVALID,
        Code.KEY_UNREADABLE_BY_MTA,
        Code.KEY_DOES_NOT_MATCH,
    }
)


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
    dovecot: StepResult | None = None  # Dovecot reloaded: a file of its was put back
    certificates: tuple[str, ...] = ()  # certbot's lineages the change used: they stay


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
    facts: dict[str, Any] = {"mta": plan.setup.mta}  # no command: rollback works it out
    if plan.issuance is not None:  # certbot's lineages: rollback says they stay
        facts["certificates"] = list(plan.issuance.lineages)
    return facts


def _apply_recorded(
    plan: ApplyPlan, journal: Journal, runner: Runner, connection: Connection | None
) -> ApplyResult:
    try:
        for change in plan.changes:
            journal.record(change.path, after=change.after)
        for path in plan.rewritten:
            journal.record(path)
        journal.begin()  # from here files change
    except BaseException:
        journal.discard()  # nothing was written yet: no journal is left open
        raise
    results: list[StepResult] = []
    diagnosis: Diagnosis | None = None
    try:
        with stop_signals():
            if plan.issuance is not None:
                _prepare_issuance(plan, journal)
            first = [s for s in plan.steps if s.key == "certificate"]
            rest = [s for s in plan.steps if s.key != "certificate"]
            failed = False
            for step in first:  # the certificate step, before any file is written
                result, found = _run_step(plan, step, runner, connection)
                results.append(result)
                failed = not result.ok
                if failed:
                    break
            if not failed:
                _write_all(plan, journal)  # every file, then the checks and the restart
                for step in rest:
                    result, found = _run_step(plan, step, runner, connection)
                    diagnosis = found or diagnosis
                    results.append(result)
                    if not result.ok:
                        break
    except BaseException:
        with held_signals():
            _undo(plan, journal, runner, results)
        raise
    if all(r.ok for r in results):
        try:
            journal.finish("done")  # keeps what the change left: may fail on a full disk
        except BaseException:
            with held_signals():
                _undo(plan, journal, runner, results)  # a change rollback cannot check: undone
            raise
        return ApplyResult("applied", tuple(results), journal.folder, diagnosis=diagnosis)
    with held_signals():
        restored, again = _undo(plan, journal, runner, results)
    return ApplyResult(
        "rolled-back", tuple(results), journal.folder, tuple(restored), diagnosis, again
    )


def _prepare_issuance(plan: ApplyPlan, journal: Journal) -> None:
    """Before certbot runs: the folders its hook installs into, made and noted in the
    journal (so undo removes them again), and gmailfix's own deploy hook, kept where
    certbot's renewals run it (certbot's files, outside the journal)."""
    issuance = plan.issuance
    assert issuance is not None
    for folder in issuance.folders:
        journal.make_folders(folder)
    make_folders(issuance.hook.parent, plan.root)
    write_atomic(
        issuance.hook, issuance.hook_text.encode(), mode=0o755, uid=0, gid=0, root=plan.root
    )


def _write_all(plan: ApplyPlan, journal: Journal) -> None:
    for change in plan.changes:
        journal.make_folders(change.path.parent)
        write_atomic(
            change.path,
            change.after,
            mode=change.mode,
            uid=change.uid,
            gid=change.gid,
            root=plan.root,
        )


def _undo(
    plan: ApplyPlan, journal: Journal, runner: Runner, results: list[StepResult]
) -> tuple[list[Restored], StepResult | None]:
    """Put every file back; reload again if the MTA was reloaded with the new config."""
    restored = journal.restore(force=True)  # gmailfix's own files, seconds ago
    again = None
    # every daemon reloaded with the new config (Dovecot, then the MTA) is reloaded again
    # with the old one, in the same order; the MTA's answer is the one reported
    for result in results:
        if result.step.key == "reload" and result.step.argv and not result.skipped:
            again = _command(result.step, runner)
    journal.finish("rolled-back")
    return restored, again


def _run_step(
    plan: ApplyPlan, step: Step, runner: Runner, connection: Connection | None
) -> tuple[StepResult, Diagnosis | None]:
    if step.key == "files":
        return _check_files(plan, runner), None
    if step.key == "recheck":
        return _recheck(plan, step, connection)
    if step.key == "generate" and step.argv == COPY_GENERATE_ARGV:
        return _generate_on_copy(plan, step, runner), None
    if step.argv is None:
        return StepResult(step, True, "not run: " + step.words, skipped=True), None
    return _command(step, runner), None


def _generate_on_copy(plan: ApplyPlan, step: Step, runner: Runner) -> StepResult:
    """update-exim4.conf for a copy (--root), where the copy really is /etc/exim4: in the
    sandbox (exim.fresh_config), so that the files Debian's tool reads by their fixed path
    are the copy's; what it made becomes the copy's generated config."""
    with exim.fresh_config(plan.setup, runner) as (made, failed):
        if made is None:
            why = failed.last_line if failed is not None else "it made no config"
            return StepResult(step, False, f"update-exim4.conf failed: {why}")
        data = read_limited(made)
    write_atomic(plan.root.file(DEBIAN_GENERATED), data, mode=0o644, root=plan.root)
    return StepResult(step, True, "done (in a private namespace where the copy is /etc/exim4)")


def _command(step: Step, runner: Runner) -> StepResult:
    assert step.argv is not None
    ran: Ran = runner(step.argv)
    if ran.ok:
        return StepResult(step, True, "done")
    return StepResult(step, False, f"{_program(step.argv)} failed: {ran.last_line}")


def _program(argv: Sequence[str]) -> str:
    """The program a step runs: for one run in the sandbox (a copy), the one inside it."""
    words = list(argv)
    if (
        words[: len(sandbox.UNSHARE)] == list(sandbox.UNSHARE)
        and "--" in words[len(sandbox.UNSHARE) :]
    ):
        inner = words[len(sandbox.UNSHARE) :]
        rest = inner[inner.index("--") + 1 :]
        if rest:
            return rest[0]
    return words[0]


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
        return StepResult(step, True, f"{_name(plan)} now logs what watching needs")
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
    values, ran = exim.read_values(config, runner, root=setup.root)
    if not ran.ok:
        return TlsConfig(
            "exim", (), (), None, "Debian-exim", problem=f"exim -bP failed: {ran.last_line}"
        )
    return exim.from_values(setup, values)


def _not_taken(plan: ApplyPlan, tls: TlsConfig) -> str | None:
    for name, wanted in plan.expect.items():
        shown = tls.values.get(name, "")
        same = port_list(shown) == port_list(wanted) if name.endswith("ports") else shown == wanted
        if not same:
            return (
                f"{_name(plan)}'s {name} is '{shown}' after the change, not '{wanted}': the new "
                "settings are not read (is the file in the place this layout reads?)"
            )
    return None


def _name(plan: ApplyPlan) -> str:
    return "Postfix" if plan.setup.mta == "postfix" else "Exim"


def _last_sentences(text: str) -> str:
    """A catalog 'why' followed by the case's words: keep the case's words."""
    parts = re.split(r"(?<=\.) ", text)
    return " ".join(parts[-2:]) if len(parts) > 2 else text


RECHECK_WAITS = (0.5, 1.0, 0.0)  # seconds after each refusal; the last is not waited


def _recheck(
    plan: ApplyPlan, step: Step, connection: Connection | None
) -> tuple[StepResult, Diagnosis | None]:
    bundle = plan.bundle
    assert bundle is not None, "only a bundle's plan has a recheck step"
    if connection is None:
        if not plan.root.is_system:
            return StepResult(
                step, True, "not run on a copy of a server without a connection", skipped=True
            ), None
        local = {(bundle.plan.smtp_host, bundle.plan.port): ("127.0.0.1", bundle.plan.port)}
        connection = build(connect=local, timeout=10)
    target = parse_target(bundle.plan.domain, bundle.plan.smtp_host, bundle.plan.port)
    # A reload reaches the MTA's processes over a moment: Postfix's idle smtpd
    # processes serve one more client with the old config. Seen as a refusal
    # here, so a refusal is checked again before the change is rolled back.
    for wait in RECHECK_WAITS:
        result = _run_coroutine(lambda: diagnose(target, connection))
        if result.outcome != "reject":
            break
        time.sleep(wait)
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
    force: bool = False,
) -> RollbackResult:
    """Undo the last change (an apply, or TLS logging turned on) and restart the MTA.

    The restart command is worked out anew for the MTA found (as apply's
    reload step does), or is ``reload``; never read from the journal, and run
    only when a file was put back. ``only``: undo that journal's change, if it
    is still the last. A file edited since the change stops everything
    (ChangedSince, with the difference) unless ``force``.
    """
    root = root or Root()
    if root.is_system and os.geteuid() != 0:
        raise ServerError("gmailfix rollback changes the mail server's files: run it as root")
    with locked(root), held_signals():
        journal = last_change(root)
        if journal is None:
            raise ServerError("nothing to roll back: no change made by gmailfix is in place")
        if only is not None and journal.folder != only:
            raise ServerError(
                f"another change ({journal.what}) was made since; undo changes one at a time "
                "with 'gmailfix rollback'"
            )
        restored = journal.restore(force=force)
        again = dovecot = None
        if root.is_system and any(
            r.action != "unchanged" and r.shown.startswith(f"{DOVECOT_CONF_D}/") for r in restored
        ):  # its login socket for Postfix goes with the file
            dovecot = _command(Step("reload", "reload Dovecot", DOVECOT_RELOAD), runner)
        argv = tuple(reload) if reload else _restart_command(root, journal)
        if argv and any(r.action != "unchanged" for r in restored):
            again = _command(Step("reload", "restart the MTA with the old config", argv), runner)
        journal.finish("rolled-back")
    return RollbackResult(
        journal.folder, journal.what, tuple(restored), again, dovecot, _issued(journal)
    )


def _issued(journal: Journal) -> tuple[str, ...]:
    """certbot's lineages the change installed from (names only; checked, never used)."""
    names = journal.extra.get("certificates", [])
    if not isinstance(names, list):
        return ()
    return tuple(n for n in names[:16] if isinstance(n, str) and SAFE_LINEAGE.fullmatch(n))


def _restart_command(root: Root, journal: Journal) -> tuple[str, ...] | None:
    """How this server's MTA restarts, from the MTA found now (the journal names only
    which one); None under --root, or when none is found."""
    mta = journal.extra.get("mta")
    try:
        setup = detect(root, mta if mta in MTAS else None)
    except ServerError:
        return None
    return reload_step(setup, None).argv


# --- signals ------------------------------------------------------------------------


SAFE_LINEAGE = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?")
RESTORED_WORDS = {
    "restored": "restored {}",
    "removed": "removed {} (the change had made it)",
    "unchanged": "{} was already as before (not touched)",
    "folder-removed": "removed the empty folder {} (the change had made it)",
}


def describe_restored(restored: Sequence[Restored]) -> list[str]:
    """One line per file or folder, saying exactly what was done to it."""
    lines = []
    for item in restored:
        line = RESTORED_WORDS[item.action].format(show_path(item.shown))
        if item.kept:
            line += f"; the edited copy it replaced is kept as {show_path(item.kept)}"
        lines.append(line)
    return lines
