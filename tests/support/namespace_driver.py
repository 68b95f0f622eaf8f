"""The inside of an end-to-end test: a machine of its own, made from this one.

``tests.support.namespace.run_inside`` starts this module as root with
``unshare --mount --net --pid --fork --kill-child --mount-proc --propagation
private`` and a spec file. Here, in those fresh namespaces, it

1. stays PID 1 only to reap: the daemons that init scripts start are
   re-parented here, and start-stop-daemon waits for them to be gone, so PID 1
   must collect them; a child does the work, and when it ends the namespace
   ends and the kernel stops every daemon left in it;
2. lays an overlay over /etc, /var and /usr (their writes land in the test's
   scratch folder: a package "installed" here is installed in this machine only) and a tmpfs over /run, so nothing written here reaches this
   computer; binds fresh copies over /etc/exim4, /var/lib/exim4,
   /var/spool/exim4, /var/log/exim4, /etc/dovecot and /etc/letsencrypt, so
   the test starts from Debian's stock files whatever other tests do to the
   machine's own meanwhile; binds a policy-rc.d that allows services (the
   container's own refuses every start);
3. brings up ``lo`` (the only interface: nothing outside 127.0.0.0/8 and ::1
   can be reached), then runs the scenario named in the spec and writes what
   it returned, or its traceback, to the result file.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

OVERLAID = ("/etc", "/var", "/usr")
# (path, how it starts): "copy" = this machine's files at the start, "empty" = a
# fresh folder with the same owner and mode
BOUND = (
    ("/etc/exim4", "copy"),
    ("/etc/dovecot", "copy"),
    ("/etc/letsencrypt", "empty"),
    ("/var/lib/exim4", "empty"),
    ("/var/spool/exim4", "empty"),
    ("/var/log/exim4", "empty"),
)
# files in /etc/exim4 that Debian's package does not ship: left out of the stock copy
NOT_STOCK = ("exim4.conf.localmacros", "conf.d/main/000_localmacros", "exim4.conf")
POLICY = "/usr/sbin/policy-rc.d"


def main(spec_file: str) -> int:
    if os.getpid() == 1:
        return _reap_while(lambda: _work(spec_file))
    return _work(spec_file)


def _reap_while(work: Any) -> int:
    """PID 1: fork the worker, collect every process that ends, return the worker's status."""
    worker = os.fork()
    if worker == 0:
        code = 1
        try:
            code = work()
        finally:
            os._exit(code)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 1
        if pid == worker:
            return os.waitstatus_to_exitcode(status)


def _work(spec_file: str) -> int:
    spec = json.loads(Path(spec_file).read_text())
    scratch = Path(spec["scratch"])
    result: dict[str, Any]
    try:
        _make_machine(scratch)
        module, _, name = spec["target"].partition(":")
        scenario = getattr(importlib.import_module(module), name)
        result = {"value": scenario(**spec["kwargs"])}
    except BaseException:  # the whole story goes back to pytest
        result = {"error": traceback.format_exc()}
    Path(spec["result"]).write_text(json.dumps(result, default=str))
    return 0 if "value" in result else 1


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


def _make_machine(scratch: Path) -> None:
    for top in OVERLAID:
        name = top.strip("/")
        upper, work = scratch / f"{name}-upper", scratch / f"{name}-work"
        upper.mkdir()
        work.mkdir()
        options = f"lowerdir={top},upperdir={upper},workdir={work}"
        _run("mount", "-t", "overlay", "overlay", "-o", options, top)
    _run("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run")
    lock = Path("/run/lock")
    lock.mkdir()
    lock.chmod(0o1777)
    fresh = scratch / "fresh"
    fresh.mkdir()
    for path, how in BOUND:
        source = fresh / path.strip("/").replace("/", "+")
        if how == "copy":
            shutil.copytree(path, source, symlinks=True)
            for name in NOT_STOCK:
                (source / name).unlink(missing_ok=True)
        else:
            source.mkdir()
        info = os.stat(path)
        os.chown(source, info.st_uid, info.st_gid)
        source.chmod(info.st_mode & 0o7777)
        _run("mount", "--bind", str(source), path)
    if os.path.exists(POLICY):
        allow = scratch / "policy-rc.d"
        allow.write_text("#!/bin/sh\n# services may start in this test machine\nexit 0\n")
        allow.chmod(0o755)
        _run("mount", "--bind", str(allow), POLICY)
    _run("ip", "link", "set", "lo", "up")
    os.environ["GMAILFIX_TEST_MACHINE"] = str(scratch)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
