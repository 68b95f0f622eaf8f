"""What ``gmailfix apply`` would do: a bundle checked against this server, as diffs and steps.

``plan_apply`` reads only. It finds the MTA and its layout, refuses a bundle
that does not fit (another layout, another MTA, a panel, a fix that is only
Gmail's settings), and returns an ``ApplyPlan``: every file change with its
diff, and the steps that follow the writes (generate, check, files, reload,
re-check as Gmail). ``apply.apply`` carries a plan out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gmailfix.remedies.plan import SERVER_KINDS
from gmailfix.render.exim import AUTH_FILES, LAYOUT_FILES
from gmailfix.server import exim
from gmailfix.server.bundle_read import Bundle, read_bundle
from gmailfix.server.edit import FileChange, current_text, defined_names, file_change, with_block
from gmailfix.server.mta import DEBIAN_GENERATED, MtaName, Setup, detect
from gmailfix.server.postfix_apply import postfix_changes
from gmailfix.server.steps import Step
from gmailfix.server.system import Root, Runner, ServerError, run_command, show_path
from gmailfix.stacks.catalog import STACKS

APPLY_TAG = "apply"
# fixes with something to apply on a server: fix-tls-mode may be Gmail's settings only,
# and then its bundle holds no server files (apply says so)
SERVER_REMEDIES: frozenset[str] = SERVER_KINDS | {"fix-tls-mode"}


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


# --- Exim -----------------------------------------------------------------------


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
            f"export it again for {setup.mta}"
        )
    if setup.mta == "postfix":
        return _postfix_plan(bundle, setup, runner, reload)
    return _exim_plan(bundle, setup, reload)


def _check_bundle(bundle: Bundle) -> None:
    stack = STACKS.get(bundle.stack)  # type: ignore[call-overload]  # any text from the manifest
    if stack is not None and stack.managed:
        raise ServerError(
            f"this bundle is for a server managed by {stack.label}: it rewrites the mail "
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
            f"export it again for the {layout} layout"
        )
    block = bundle.text(bundle_file)
    changes = [*_layout_changes(setup, block), *_extra_exim_files(bundle, setup, block)]
    steps, rewritten = exim_check_steps(setup)
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
        return Step(
            "reload", f"restart {label} (not on a copy of a server: no service runs from a copy)"
        )
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
    changes, steps, rewritten = postfix_changes(bundle, setup, runner)
    steps = [*steps, Step("files", "check the certificate and key Postfix will read")]
    steps += [reload_step(setup, reload), _recheck_step(bundle)]
    return ApplyPlan(
        bundle, setup, tuple(changes), tuple(steps), tuple(rewritten), what=_what(bundle)
    )


def exim_check_steps(setup: Setup) -> tuple[list[Step], tuple[Path, ...]]:
    """Make Exim's config (Debian: update-exim4.conf) and have Exim check it; with the
    files those steps rewrite."""
    config = setup.config
    steps: list[Step] = []
    rewritten: tuple[Path, ...] = ()
    if setup.debian:
        config = setup.root.file(DEBIAN_GENERATED)
        steps.append(
            Step(
                "generate",
                "make Exim's config from /etc/exim4",
                tuple(exim.generate_command(setup, config)),
            )
        )
        rewritten = (config,)
    steps.append(Step("check", "Exim checks the new config", tuple(exim.check_command(config))))
    return steps, rewritten
