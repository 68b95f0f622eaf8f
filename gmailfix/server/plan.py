"""What ``gmailfix apply`` would do: a bundle's plan checked against this server, as diffs
and steps.

``plan_apply`` reads only. The bundle is data: its typed manifest gives the
plan, and every file is rendered again here by the installed gmailfix's own
renderers; the bundle's texts are only compared with that (a bundle whose
files differ is refused, with the difference shown). Every target path comes
from gmailfix's own tables for the detected MTA and layout. It finds the MTA
and its layout, refuses a plan that does not fit (another layout, another MTA,
a panel, a fix that is only Gmail's settings), and returns an ``ApplyPlan``:
every file change with its diff, and the steps that follow the writes
(generate, check, files, reload, re-check as Gmail). ``apply.apply`` carries
a plan out, as one journal entry.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from gmailfix.remedies.plan import Plan
from gmailfix.render.exim import (
    AUTH_FILES,
    AUTHENTICATORS,
    LAYOUT_FILES,
    debian_macros,
    exim_files,
    sni_map,
    sni_map_path,
    tls_main,
)
from gmailfix.render.postfix import postfix_files
from gmailfix.server import exim, sandbox
from gmailfix.server.bundle_read import Bundle, read_bundle
from gmailfix.server.edit import FileChange, current_text, defined_names, file_change, with_block
from gmailfix.server.exim_auth import DEBIAN_TEMPLATE, with_authenticators
from gmailfix.server.issue import Issuance, missing, plan_issuance
from gmailfix.server.mta import (
    DEBIAN_CONF,
    DEBIAN_CONFDIR,
    DEBIAN_GENERATED,
    Setup,
    detect,
    loopback_only,
)
from gmailfix.server.postfix_apply import postfix_changes
from gmailfix.server.steps import Step
from gmailfix.server.system import Root, Runner, ServerError, run_command, show_path
from gmailfix.stacks.catalog import STACKS
from gmailfix.text import clean
from gmailfix.vocabulary import Mta

APPLY_TAG = "apply"
MISSING_WARNING = " does not exist yet: "
# where apply may write Exim's SNI map (it lies in the plan's certificate folder)
SNI_MAP_FOLDERS = ("/etc/exim4/", "/etc/exim/")
# the options Debian's template sets itself once MAIN_TLS_ENABLE is defined: a person's
# own line for one of them (tls_advertise_hosts = to turn STARTTLS off) would set it twice
DEBIAN_TLS_OPTIONS = frozenset(
    {"tls_advertise_hosts", "tls_certificate", "tls_privatekey", "tls_verify_certificates"}
)
# bundle folders whose files are the server's configuration (compared, never used)
SERVER_FOLDERS = ("exim4/", "postfix/", "dovecot/")


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
    issuance: Issuance | None = None  # the certificate step: certbot and gmailfix's hook

    @property
    def root(self) -> Root:
        return self.setup.root

    def diff(self) -> str:
        return "".join(change.diff() for change in self.changes if change.changed)

    @property
    def commands(self) -> list[str]:
        return [" ".join(step.argv) for step in self.steps if step.argv]


def plan_apply(
    bundle: Bundle | str | Path,
    root: Root | None = None,
    *,
    runner: Runner = run_command,
    reload: Sequence[str] | None = None,
    mta: Mta | None = None,
    inbound_done: bool = False,
    acme_server: str | None = None,
    webroot: str | None = None,
) -> ApplyPlan:
    """What applying ``bundle`` under ``root`` would change, and the commands it would run.

    ``reload`` replaces the MTA's reload command (under ``--root`` there is no
    service to reload unless one is given). Raises ServerError when the bundle
    does not fit this server; reads only, and runs nothing the bundle holds.
    A plan with the inbound-mail guard step (DANE, MTA-STS) is refused with
    InboundStepPending unless ``inbound_done`` says that step was done.
    ``acme_server``: when the plan needs a certificate whose files are not in place,
    get it from this ACME directory with certbot first (``issue``; standalone, or
    ``webroot``); None leaves the certificate to the person.
    """
    root = root or Root()
    if not isinstance(bundle, Bundle):
        bundle = read_bundle(bundle)
    plan = bundle.plan
    _check_plan(plan)
    _compare(bundle, rendered_server_files(plan))
    if plan.inbound and not inbound_done:
        raise InboundStepPending(plan)
    setup = detect(root, mta or plan.mta)
    if setup.mta != plan.mta:
        raise ServerError(
            f"this bundle is for {plan.mta.capitalize()} but this server runs {setup.label}; "
            f"export it again for {setup.mta}"
        )
    if setup.mta == "postfix":
        made = _postfix_plan(bundle, plan, setup, runner, reload)
    else:
        made = _exim_plan(bundle, plan, setup, reload)
    return _with_certificate(made, plan, acme_server, webroot)


def _with_certificate(
    made: ApplyPlan, plan: Plan, acme_server: str | None, webroot: str | None
) -> ApplyPlan:
    """The certificate step first, when the plan needs a certificate that is not there."""
    if acme_server is None or not missing(plan, made.root):
        return made
    if not made.root.is_system:
        note = (
            "the certificate is not there in the copy, and apply gets one with certbot "
            "only on the server itself (certbot would act on this computer): not rehearsed"
        )
        kept = tuple(w for w in made.warnings if MISSING_WARNING not in w)
        return replace(made, warnings=(*kept, note))
    issuance = plan_issuance(plan, made.root, acme_server, webroot)
    assert issuance is not None
    warnings = tuple(w for w in made.warnings if MISSING_WARNING not in w)
    return replace(
        made,
        steps=(*issuance.steps, *made.steps),
        rewritten=(*issuance.files, *made.rewritten),
        warnings=(*warnings, issuance.note),
        issuance=issuance,
    )


def rendered_server_files(plan: Plan) -> dict[str, str]:
    """Bundle path -> text of every server file gmailfix renders for this plan."""
    return {**exim_files(plan), **postfix_files(plan)} if plan.on_server else {}


def _compare(bundle: Bundle, rendered: dict[str, str]) -> None:
    """Refuse a bundle whose server files are not exactly what gmailfix renders for its plan."""
    for path, data in sorted(bundle.files.items()):
        if not path.startswith(SERVER_FOLDERS):
            continue
        mine = rendered.get(path)
        if mine is None:
            raise ServerError(
                f"the bundle holds {show_path(path)}, which gmailfix does not make for its "
                "plan: it was changed after export; export it again"
            )
        theirs = data.decode("utf-8", "surrogateescape")
        if theirs != mine:
            diff = "".join(
                difflib.unified_diff(
                    mine.splitlines(keepends=True),
                    theirs.splitlines(keepends=True),
                    f"{path} (as gmailfix makes it)",
                    f"{path} (in the bundle)",
                )
            )
            raise ServerError(
                f"{show_path(path)} in the bundle is not what gmailfix makes for its plan "
                "(changed after export, or another gmailfix version); export it again. "
                f"The difference:\n{clean(diff, keep_newlines=True)}"
            )


class InboundStepPending(ServerError):
    """The plan changes the certificate of an MX host's port 25 that DANE or MTA-STS pins:
    its guard step comes first, and apply waits until the person says it is done."""

    def __init__(self, plan: Plan) -> None:
        step = next(s for s in plan.steps if s.key == "inbound-guard")
        super().__init__(
            "this plan changes the certificate that other mail servers check when they "
            f"deliver to you, and first: {step.title[0].lower()}{step.title[1:]} (the "
            "bundle's README says how). Nothing was changed; apply again once that is done, "
            "saying so"
        )


def _check_plan(plan: Plan) -> None:
    stack = STACKS.get(plan.stack)
    if stack is not None and stack.managed:
        raise ServerError(
            f"this bundle is for a server managed by {stack.label}: it rewrites the mail "
            "configuration, so follow the bundle's README instead of gmailfix apply"
        )
    if not plan.on_server:
        raise ServerError(
            "this fix changes only Gmail's settings (see gmail-settings.txt); nothing to apply "
            "on the server"
        )


def _exim_plan(bundle: Bundle, plan: Plan, setup: Setup, reload: Sequence[str] | None) -> ApplyPlan:
    layout = setup.layout or "plain"
    if plan.exim_layout is not None and plan.exim_layout != layout:
        raise ServerError(
            f"this bundle was written for {plan.exim_layout}, but this server uses "
            f"{setup.label}; export it again for the {layout} layout"
        )
    mine = replace(plan, exim_layout=layout)
    _, where = LAYOUT_FILES[layout]
    block = tls_main(mine) if layout == "plain" else debian_macros(mine, where)
    changes = [*_layout_changes(setup, block), *_extra_exim_files(mine, setup)]
    steps, rewritten = exim_check_steps(setup)
    steps.append(Step("files", "check the certificate and key Exim will read, as its user"))
    steps.append(reload_step(setup, reload))
    steps.append(_recheck_step(plan))
    warnings = _missing_files_warning(setup, block)
    listening = loopback_only(setup)
    if listening is not None:  # apply's check connects from here: it would pass anyway
        warnings += (
            f"Exim listens only on this computer (dc_local_interfaces='{listening}' in "
            f"{DEBIAN_CONF}), so Gmail cannot reach it even after this fix: set "
            "dc_local_interfaces='' there (every address) too",
        )
    return ApplyPlan(
        bundle,
        setup,
        tuple(changes),
        tuple(steps),
        rewritten,
        _expected(block),
        warnings,
        what=_what(bundle, plan),
    )


def _what(bundle: Bundle, plan: Plan) -> str:
    return f"apply {show_path(bundle.path)} ({', '.join(plan.kinds)} for {plan.smtp_host})"


def _layout_changes(setup: Setup, block: str) -> list[FileChange]:
    root = setup.root
    if setup.debian:
        assert setup.macros is not None
        names = defined_names(block)
        if "MAIN_TLS_ENABLE" in names:  # the person's own lines would set these twice
            names |= DEBIAN_TLS_OPTIONS
        text = with_block(
            current_text(setup.macros), block, APPLY_TAG, main_section_only=False, names=names
        )
        why = "the local macros file this layout reads"
        return [file_change(setup.macros, root.shown(setup.macros), _bytes(text), why)]
    include = setup.config.parent / "gmailfix-tls.conf"
    included = file_change(
        include, root.shown(include), block.encode(), "the TLS settings, loaded by .include"
    )
    current = current_text(setup.config)
    line = f".include {root.named(include, current)}\n"  # the server's path, not the copy's
    text = with_block(
        current,
        line,
        APPLY_TAG,
        main_section_only=True,
        names=defined_names(block),
    )
    config = file_change(
        setup.config, root.shown(setup.config), _bytes(text), "loads the TLS settings"
    )
    return [included, config]


def _extra_exim_files(plan: Plan, setup: Setup) -> list[FileChange]:
    """The SNI map and the authenticators, where gmailfix's tables put them for this layout."""
    root = setup.root
    changes = []
    if plan.has("sni"):
        where = sni_map_path(plan)
        if not where.startswith(SNI_MAP_FOLDERS):
            raise ServerError(
                f"the SNI map would go to {show_path(where)}, outside Exim's own folder: "
                "export the bundle again with the default certificate folder"
            )
        path = root.file(where)
        changes.append(
            file_change(
                path, root.shown(path), sni_map(plan).encode(), "the SNI name to certificate map"
            )
        )
    if plan.has("enable-auth"):
        why = "authenticators offered only over TLS"
        if setup.layout == "debian-split":
            source, folder = AUTH_FILES["debian-split"]
            path = root.file(folder + source.rsplit("/", 1)[1])
            changes.append(file_change(path, root.shown(path), AUTHENTICATORS.encode(), why))
        else:
            path = root.file(DEBIAN_TEMPLATE) if setup.debian else setup.config
            text = with_authenticators(current_text(path), AUTHENTICATORS)
            changes.append(file_change(path, root.shown(path), _bytes(text), why))
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
        f"{certificate}{MISSING_WARNING}get the certificate first (the bundle's "
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


def _recheck_step(plan: Plan) -> Step:
    return Step(
        "recheck",
        f"check {plan.smtp_host} port {plan.port} here as Gmail does (a trusted "
        "certificate for that name)",
    )


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


# --- Postfix ------------------------------------------------------------------------


def _postfix_plan(
    bundle: Bundle, plan: Plan, setup: Setup, runner: Runner, reload: Sequence[str] | None
) -> ApplyPlan:
    changes, steps, rewritten = postfix_changes(plan, setup, runner)
    steps = [*steps, Step("files", "check the certificate and key Postfix will read")]
    steps += [reload_step(setup, reload), _recheck_step(plan)]
    return ApplyPlan(
        bundle, setup, tuple(changes), tuple(steps), tuple(rewritten), what=_what(bundle, plan)
    )


def exim_check_steps(setup: Setup) -> tuple[list[Step], tuple[Path, ...]]:
    """Make Exim's config (Debian: update-exim4.conf) and have Exim check it; with the
    files those steps rewrite."""
    config = setup.config
    steps: list[Step] = []
    rewritten: tuple[Path, ...] = ()
    copy = not setup.root.is_system
    if setup.debian:
        config = setup.root.file(DEBIAN_GENERATED)
        rewritten = (config,)
        if not copy:
            command = tuple(exim.generate_command(setup, config))
            steps.append(Step("generate", "make Exim's config from /etc/exim4", command))
        else:
            # Debian's tool reads /etc/exim4/exim4.conf.localmacros by its fixed path
            # whatever --confdir says: run on a copy here, it would read this computer's.
            # apply runs it where the copy is /etc/exim4 (``COPY_GENERATE``).
            steps.append(Step("generate", COPY_GENERATE, COPY_GENERATE_ARGV))
    check = exim.check_command(config)
    if copy:  # the copy's config is data: Exim reads it as nobody, cut off (sandbox)
        check = sandbox.confined(check, binds=exim.exim_binds(setup.root))
    steps.append(Step("check", "Exim checks the new config", tuple(check)))
    return steps, rewritten


# update-exim4.conf on a copy: run by apply in gmailfix's sandbox (a private mount
# namespace where the copy is /etc/exim4, as nobody, without network), its output
# then written to the copy's /var/lib/exim4
COPY_GENERATE = (
    "make Exim's config from the copy's /etc/exim4, with update-exim4.conf run where the "
    "copy is /etc/exim4 (a private namespace, as nobody)"
)
COPY_GENERATE_ARGV = (exim.UPDATE, "--confdir", DEBIAN_CONFDIR)
