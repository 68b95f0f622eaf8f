"""The engine never imports Textual; a command loads what it needs and no more.

Start-up time is mostly imports. The CLI cases run ``gmailfix`` as its own
process (as the console script does) and list the modules loaded at its end.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import gmailfix
from gmailfix.lab.runner import LabInfo

ENGINE_MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(gmailfix.__path__, "gmailfix.")
    if not m.name.startswith("gmailfix.screens") and m.name != "gmailfix.__main__"
)


def _imports_textual(code: str) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('textual' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().endswith("True")


def test_engine_modules_exist() -> None:
    assert {"gmailfix.diagnose", "gmailfix.smtp", "gmailfix.certs", "gmailfix.dns"} <= set(
        ENGINE_MODULES
    )


def test_no_engine_module_imports_textual() -> None:
    code = "\n".join(f"import {name}" for name in ENGINE_MODULES)
    assert not _imports_textual(code)


def test_screens_are_installed_inside_gmailfix_only() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import importlib.util; print(importlib.util.find_spec('screens'))"],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    )
    assert done.stdout.strip() == "None"


# A diagnosis ends its process with os._exit: the list is written on the way out.
PROBE = """
import json, os, sys
sys.argv = ["gmailfix", *json.loads(sys.argv[1])]
def report():
    sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)))
    sys.stderr.flush()
end = os._exit
os._exit = lambda status: (report(), end(status))
from gmailfix.cli import main
try:
    main()
except SystemExit:
    pass
report()
"""


def loaded(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = done.stderr.rsplit("\nMODULES ", 1)
    assert len(line) == 2, done.stderr
    return {name.split(".")[0] for name in json.loads(line[1])}


def test_help_loads_no_engine() -> None:
    modules = loaded("--help")
    assert not modules & {"cryptography", "dns", "textual", "rich", "httpx", "httpx2", "ssl"}


def test_diagnose_help_loads_no_engine() -> None:
    modules = loaded("diagnose", "--help")
    assert not modules & {"cryptography", "dns", "textual", "httpx2"}


def test_plain_diagnose_skips_the_doh_and_wizard_stacks(lab: LabInfo) -> None:
    modules = loaded("diagnose", "blog.test", "--port", "587", *lab.diagnose_args("blog.test"))
    assert {"cryptography", "dns"} <= modules  # it did diagnose
    assert not modules & {"textual", "rich", "httpx2", "httpcore2", "h2"}


def test_doh_diagnose_loads_the_http_stack(lab: LabInfo) -> None:
    args = lab.diagnose_args("blog.test")[2:]  # without --dns-server HOST:PORT
    assert args[0] == "--ca-file"
    modules = loaded("diagnose", "blog.test", "--port", "587", "--doh", lab.doh_url, *args)
    assert "httpx2" in modules


WIZARD_PAINT = """
import sys
from gmailfix.screens.app import GmailfixApp, system_connection
from gmailfix.screens.welcome import WelcomeScreen

async def pilot(p):
    while not (isinstance(p.app.screen, WelcomeScreen) and p.app.screen.query("#start")):
        await p.pause(0.005)
    print(sorted({name.split(".")[0] for name in sys.modules}))
    p.app.exit()

GmailfixApp(system_connection).run(headless=True, auto_pilot=pilot)
"""


def test_wizard_paints_before_loading_the_engine() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WIZARD_PAINT], capture_output=True, text=True, timeout=60
    )
    modules = set(json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"')))
    assert "textual" in modules
    assert not modules & {"cryptography", "dns", "httpx2", "aiosmtpd"}
