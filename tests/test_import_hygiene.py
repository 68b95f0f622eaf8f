"""The engine never imports Textual; the CLI path stays light."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import gmailfix

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


def test_help_does_not_import_textual() -> None:
    code = (
        "import contextlib, io\nfrom gmailfix.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])"
    )
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
