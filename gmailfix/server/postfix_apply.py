"""A Postfix plan as file changes: gmailfix's own settings applied with postconf to a copy.

The settings come from the installed gmailfix's tables (``main_settings`` and
``services`` in ``render.postfix``), never from the bundle's text: gmailfix
runs ``postconf -c COPY`` with each setting as one argument, on a private copy
of main.cf and master.cf, so the changes can be shown as a diff and then
written atomically like any other; the real files are never edited in place.
Nothing runs a shell. Logins go through Dovecot: its socket for Postfix is a
file in Dovecot's conf.d, so a plan with login needs Dovecot installed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from gmailfix.remedies.plan import Plan
from gmailfix.render.postfix import (
    DOVECOT_FILE,
    MASTER_FIELDS,
    Service,
    dovecot_auth,
    main_settings,
    services,
    sni_map,
)
from gmailfix.server.edit import FileChange, file_change
from gmailfix.server.mta import Setup
from gmailfix.server.steps import Step
from gmailfix.server.system import Runner, ServerError, read_limited, write_atomic

EDITED = ("main.cf", "master.cf")
DOVECOT_CONF_D = "/etc/dovecot/conf.d"
DOVECOT_CONF = "/etc/dovecot/dovecot.conf"
DOVECOT_RELOAD = ("doveadm", "reload")


def postfix_changes(
    plan: Plan, setup: Setup, runner: Runner
) -> tuple[list[FileChange], list[Step], list[Path]]:
    """The file changes, the steps that build and check them, and files a step rewrites."""
    if not main_settings(plan) and not services(plan):
        raise ServerError("this plan changes nothing in Postfix's settings")
    root = setup.root
    conf = setup.config
    edited = on_copy(plan, conf, runner)
    changes = [
        file_change(conf / name, root.shown(conf / name), edited[name], f"Postfix's {name}")
        for name in EDITED
    ]
    steps: list[Step] = []
    rewritten: list[Path] = []
    if plan.has("sni"):
        sni = conf / "sni"
        changes.append(
            file_change(
                sni, root.shown(sni), sni_map(plan).encode(), "the SNI map source", mode=0o600
            )
        )
        steps.append(
            Step(
                "generate",
                "build the SNI map (postmap -F stores the certificates' contents)",
                ("postmap", "-c", str(conf), "-F", f"hash:{sni}"),
            )
        )
        rewritten.append(conf / "sni.db")
    steps.append(
        Step("check", "Postfix checks its configuration", ("postfix", "-c", str(conf), "check"))
    )
    if services(plan):
        changes.append(_dovecot_change(plan, setup))
        config = root.file(DOVECOT_CONF)
        steps.append(
            Step("check", "Dovecot checks its configuration", ("doveconf", "-c", str(config), "-n"))
        )
        if root.is_system:
            steps.append(
                Step("reload", "reload Dovecot (its login socket for Postfix)", DOVECOT_RELOAD)
            )
    return changes, steps, rewritten


def _dovecot_change(plan: Plan, setup: Setup) -> FileChange:
    root = setup.root
    folder = root.file(DOVECOT_CONF_D)
    if not folder.is_dir() or not root.file(DOVECOT_CONF).is_file():
        raise ServerError(
            "logins for Gmail need Dovecot, which Postfix asks to check passwords, and it is "
            "not installed: run 'apt-get install dovecot-core', then gmailfix apply again"
        )
    path = folder / DOVECOT_FILE.rsplit("/", 1)[1]
    return file_change(
        path, root.shown(path), dovecot_auth(plan).encode(), "Dovecot's login socket for Postfix"
    )


def on_copy(plan: Plan, conf: Path, runner: Runner) -> dict[str, bytes]:
    """main.cf and master.cf as gmailfix's settings for ``plan`` leave a copy of them."""

    def edit(postconf: Postconf) -> None:
        for setting in main_settings(plan):
            postconf("-e", setting.line)
        for service in services(plan):
            _set_service(postconf, service)

    return postconf_on_copy(conf, runner, edit)


def postconf_on_copy(
    conf: Path, runner: Runner, edit: Callable[[Postconf], None]
) -> dict[str, bytes]:
    """main.cf and master.cf as ``edit`` leaves a private copy of them (through postconf)."""
    folder = Path(tempfile.mkdtemp(prefix="gmailfix-postfix-"))
    try:
        for name in EDITED:
            write_atomic(folder / name, read_limited(conf / name), mode=0o644)
            # the copy keeps main.cf's age: Postfix waits before reading a file
            # written less than a second or two ago
            found = (conf / name).stat()
            os.utime(folder / name, ns=(found.st_atime_ns, found.st_mtime_ns))
        edit(Postconf(folder, runner))
        return {name: read_limited(folder / name) for name in EDITED}
    except OSError as exc:
        raise ServerError(f"cannot prepare the Postfix change: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Postconf:
    """``postconf -c FOLDER ARG...``: each value one argument, no shell."""

    def __init__(self, folder: Path, runner: Runner) -> None:
        self.folder = folder
        self.runner = runner

    def __call__(self, *args: str) -> str:
        """What postconf printed on stdout. Its warnings go to stderr and are not an
        answer: ``-M submission/inet`` warns 'unmatched request' for a service that
        is not there, which read as output made it look present."""
        ran = self.runner(["postconf", "-c", str(self.folder), *args])
        if not ran.ok:
            raise ServerError(f"postconf failed on a copy of main.cf: {ran.last_line}")
        return ran.output.removesuffix(ran.errors)  # Ran.output is stdout, then stderr


def _set_service(postconf: Postconf, service: Service) -> None:
    """The first of the service's names that master.cf has, else the first: an existing
    'smtps' is edited, never doubled (both would take 465)."""
    name = next((n for n in service.names if postconf("-M", f"{n}/inet").strip()), service.names[0])
    if not postconf("-M", f"{name}/inet").strip():
        postconf("-M", f"{name}/inet={name} {MASTER_FIELDS}")
    postconf("-P", *(f"{name}/inet/{key}={value}" for key, value in service.options))
    if not postconf("-M", f"{name}/inet").strip():  # postconf only warns when it finds none
        raise ServerError(f"postconf did not add the {name} service to a copy of master.cf")
