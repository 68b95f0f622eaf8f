"""A Postfix bundle as file changes: its postconf.sh run on a copy of main.cf and master.cf.

The bundle's ``postfix/postconf.sh`` is how a person would apply it by hand.
gmailfix runs it against a private copy of the two files (``MAIL_CONFIG``
points postconf there), so the changes can be shown as a diff and then
written atomically like any other; the real files are never edited in place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from gmailfix.render.postfix import DOVECOT_FILE
from gmailfix.server.bundle_read import Bundle
from gmailfix.server.edit import FileChange, file_change
from gmailfix.server.mta import Setup
from gmailfix.server.steps import Step
from gmailfix.server.system import Runner, ServerError, read_limited, write_atomic

SCRIPT = "postfix/postconf.sh"
SNI_SOURCE = "postfix/sni"
EDITED = ("main.cf", "master.cf")


def postfix_changes(
    bundle: Bundle, setup: Setup, runner: Runner
) -> tuple[list[FileChange], list[Step], list[Path]]:
    """The file changes, the steps that build and check them, and files a step rewrites."""
    if DOVECOT_FILE in bundle.files:
        raise ServerError(
            "this fix also needs Dovecot to check logins, which is not Postfix's configuration: "
            "follow the bundle's README (gmailfix apply changes only the MTA)"
        )
    if SCRIPT not in bundle.files:
        raise ServerError("this bundle holds no Postfix settings to apply")
    conf = setup.config
    edited = run_on_copy(bundle.files[SCRIPT], conf, runner)
    changes = [
        file_change(conf / name, setup.root.shown(conf / name), edited[name], f"Postfix's {name}")
        for name in EDITED
    ]
    steps: list[Step] = []
    rewritten: list[Path] = []
    if SNI_SOURCE in bundle.files:
        sni = conf / "sni"
        changes.append(
            file_change(
                sni,
                setup.root.shown(sni),
                bundle.files[SNI_SOURCE],
                "the SNI map source",
                mode=0o600,
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
    return changes, steps, rewritten


def run_on_copy(
    script: bytes, conf: Path, runner: Runner, who: str = "the bundle's postconf.sh"
) -> dict[str, bytes]:
    """main.cf and master.cf as ``script`` (postconf commands) leaves a copy of them."""
    folder = Path(tempfile.mkdtemp(prefix="gmailfix-postfix-"))
    try:
        for name in EDITED:
            write_atomic(folder / name, read_limited(conf / name), mode=0o644)
            # the copy keeps main.cf's age: Postfix waits before reading a file
            # written less than a second or two ago
            found = (conf / name).stat()
            os.utime(folder / name, ns=(found.st_atime_ns, found.st_mtime_ns))
        write_atomic(folder / "postconf.sh", script, mode=0o700)
        ran = runner(["env", f"MAIL_CONFIG={folder}", "sh", str(folder / "postconf.sh")])
        if not ran.ok:
            raise ServerError(f"{who} failed on a copy of main.cf: {ran.last_line}")
        return {name: read_limited(folder / name) for name in EDITED}
    except OSError as exc:
        raise ServerError(f"cannot prepare the Postfix change: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)
