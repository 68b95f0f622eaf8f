"""``gmailfix doctor``: what is wrong with the mail server's TLS, seen from the server itself.

    detect (files) ─► effective settings (exim -bP / postconf) ─► certificate and key files
        ─► what each port serves at localhost ─► the Debian layout trap
        ─► the generated config ─► certbot's renewal (lineage, hooks, timer or cron,
           certbot's version, the last renewal deployed) ─► DoctorReport (findings)

Each check that fails is a ``Finding`` with a stable code and words for a
non-expert; a check that cannot run is a note, never an exception. Expiry is
judged against the certificate's lifetime (``gmailfix.lifetime``). On a copy
(``--root``) the MTA's programs run only in the sandbox (``sandbox``), and no
option is ever expanded by Exim.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from gmailfix.certs import CertInfo, analyse_chain
from gmailfix.connection import Connection, build
from gmailfix.findings import Finding, finding
from gmailfix.inputs import parse_host
from gmailfix.lifetime import Lifetime, days
from gmailfix.server import exim, postfix
from gmailfix.server.certfiles import OnDisk, check_files
from gmailfix.server.check_timer import find_check_timer
from gmailfix.server.mta import (
    DEBIAN_CONF,
    DEBIAN_GENERATED,
    MACROS_FILE,
    Setup,
    TlsConfig,
    detect,
    loopback_only,
    port_list,
)
from gmailfix.server.renewal import DryRun, Renewal, dry_run, find_renewal
from gmailfix.server.renewal_mechanism import (
    Certbot,
    Schedule,
    find_certbot,
    find_schedule,
    what_it_means,
)
from gmailfix.server.system import Root, Runner, ServerError, read_limited, run_command
from gmailfix.smtp import ProbeTarget, probe
from gmailfix.vocabulary import Code, Mode, Mta, Severity

DOCTOR_SCHEMA = "gmailfix.doctor/1"
_MACRO = re.compile(r"^\s*(MAIN_TLS_[A-Z_]+)\s*==?", re.M)
_RUN_PARTS_NAME = re.compile(r"^[A-Za-z0-9_-]+$")  # update-exim4.conf skips other names
_COMPARED = (
    "tls_certificate",
    "tls_privatekey",
    "tls_advertise_hosts",
    "daemon_smtp_ports",
    "tls_on_connect_ports",
)


@dataclass(frozen=True)
class Served:
    """What one port of the running MTA sent, asked for the host Gmail uses."""

    port: int
    mode: Mode
    address: str
    certificate: CertInfo | None
    error: str | None = None


@dataclass(frozen=True)
class DoctorReport:
    setup: Setup
    tls: TlsConfig
    host: str | None  # the name Gmail is given as SMTP Server
    on_disk: OnDisk | None
    served: tuple[Served, ...]
    renewal: Renewal | None
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    schedule: Schedule | None = None  # what runs certbot renew (when certbot renews it)
    certbot: Certbot | None = None

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity != Severity.INFO)

    @property
    def ok(self) -> bool:
        return not self.problems


async def run_doctor(
    root: Root | None = None,
    *,
    host: str | None = None,
    mta: Mta | None = None,
    runner: Runner = run_command,
    connection: Connection | None = None,
    renew_dry_run: bool = False,
) -> DoctorReport:
    """Check the mail server under ``root`` (default: this computer).

    ``host`` is the SMTP Server typed in Gmail (default: the MTA's own host
    name). ``connection`` is where ports are reached (``connect`` maps
    (host, port) to an address), which roots are trusted and what time it is.
    Raises ServerError (or InputError for ``host``) when there is nothing to
    check; every problem found is a Finding.
    """
    root = root or Root()
    host = parse_host(host) if host else None
    connection = connection or build(timeout=5)
    setup = detect(root, mta)
    reader = postfix.tls_config if setup.mta == "postfix" else exim.tls_config
    tls = await asyncio.to_thread(reader, setup, runner)
    notes = list(tls.notes)
    if tls.problem is not None:
        found = [finding(Code.MTA_CONFIG_INVALID, tls.problem)]
        return DoctorReport(setup, tls, host, None, (), None, tuple(found), tuple(notes))
    host = host or tls.host_name
    findings: list[Finding] = []
    on_disk = await _files(setup, tls, host, connection, findings)
    served = await _served(tls, host, connection, on_disk, findings)
    notes += _login_note(served)
    if setup.debian:
        listening = loopback_only(setup)
        if listening is not None:
            findings.append(
                finding(Code.LOOPBACK_ONLY, f"dc_local_interfaces='{listening}' in {DEBIAN_CONF}.")
            )
        findings += _layout_trap(setup)
        findings += await asyncio.to_thread(_not_regenerated, setup, tls, runner)
    renewal = _renewal(setup, on_disk, host, findings, notes)
    schedule, certbot = None, None
    if renewal is not None and on_disk is not None:
        schedule, certbot = await asyncio.to_thread(
            _mechanism, setup, renewal, on_disk, runner, findings, notes
        )
    if renew_dry_run:
        notes += await asyncio.to_thread(_dry_run, setup.root, renewal, runner, findings)
    # the daily check a bundle can hold (export's systemd timer): there and running?
    notes.append(find_check_timer(setup.root).words)
    return DoctorReport(
        setup,
        tls,
        host,
        on_disk,
        served,
        renewal,
        tuple(findings),
        tuple(notes),
        schedule,
        certbot,
    )


async def _files(
    setup: Setup, tls: TlsConfig, host: str | None, connection: Connection, findings: list[Finding]
) -> OnDisk | None:
    if not tls.files:
        if not tls.values.get("tls_certificate"):  # else: an expansion not worked out (a note)
            findings.append(finding(Code.CERTIFICATE_NOT_CONFIGURED, _no_certificate(setup)))
        return None
    files = tls.files[0]
    on_disk, problems = check_files(setup.root, files.certificate, files.key, tls.user)
    findings += problems
    if on_disk is None or host is None:
        return on_disk
    now = connection.clock()
    analysis = await analyse_chain(
        on_disk.chain,
        host,
        trust=connection.trust,
        now=now,
        fetch=None,
        deadline=time.monotonic() + connection.timeout,
    )
    for problem in analysis.problems:
        detail = f"In {files.certificate}, for {host}: {problem.detail}"
        findings.append(finding(problem.code, detail, host=host, evidence=problem.evidence))
    leaf = on_disk.chain.leaf
    if leaf is not None:
        expiring = running_out(leaf, now, files.certificate)
        if expiring is not None:
            findings.append(expiring)
    return on_disk


def running_out(leaf: CertInfo, now: dt.datetime, path: str) -> Finding | None:
    """The certificate-expiring finding when less than a third of ``leaf``'s lifetime is left."""
    lifetime = Lifetime.of(leaf)
    if not lifetime.running_out(now):
        return None
    detail = (
        f"{path} runs out on {leaf.not_after:%Y-%m-%d %H:%M} UTC, in {days(lifetime.left(now))}: "
        f"less than a third of its lifetime of {days(lifetime.total)} is left (renewal was due "
        f"by {lifetime.warn_from:%Y-%m-%d %H:%M} UTC)."
    )
    evidence = {
        "not_before": leaf.not_before.isoformat(),
        "not_after": leaf.not_after.isoformat(),
        "warn_from": lifetime.warn_from.isoformat(),
    }
    return finding(Code.CERTIFICATE_EXPIRING, detail, evidence=evidence)


def _no_certificate(setup: Setup) -> str:
    if setup.mta == "postfix":
        return "main.cf names no certificate (smtpd_tls_chain_files, smtpd_tls_cert_file)."
    if setup.debian:
        return (
            "Exim's tls_certificate is empty: MAIN_TLS_ENABLE and MAIN_TLS_CERTIFICATE are not "
            f"set in {setup.root.shown(setup.macros) if setup.macros else 'the macros file'}."
        )
    return "Exim's tls_certificate is empty."


async def _served(
    tls: TlsConfig,
    host: str | None,
    connection: Connection,
    on_disk: OnDisk | None,
    findings: list[Finding],
) -> tuple[Served, ...]:
    if not tls.listeners:
        return ()
    name = host or "localhost"
    address = _local_address(tls)
    targets = [
        ProbeTarget(
            name,
            listener.gmail_port,
            name if host else None,
            connection.connect.get((name, listener.port), (address, listener.port)),
        )
        for listener in tls.listeners
    ]
    results = await asyncio.gather(*(probe(t, timeout=connection.timeout) for t in targets))
    served = tuple(
        Served(listener.port, listener.mode, t.address, r.chain.leaf, r.error)
        for listener, t, r in zip(tls.listeners, targets, results, strict=True)
    )
    if all(r.error_code == Code.CONNECTION_FAILED for r in results):
        ports = ", ".join(str(s.port) for s in served)
        findings.append(finding(Code.MTA_NOT_LISTENING, f"Tried port {ports} at {address}."))
        return served
    expected = on_disk.chain.leaf if on_disk is not None else None
    for item, result in zip(served, results, strict=True):
        # NO_AUTH: TLS worked; login is for 'gmailfix diagnose' (a note says so)
        if result.error_code not in (None, Code.CONNECTION_FAILED, Code.NO_AUTH):
            findings.append(finding(result.error_code, result.error or "", port=item.port))
        if (
            item.certificate is not None
            and expected is not None
            and item.certificate.sha256 != expected.sha256
        ):
            findings.append(_stale(tls.mta, item, expected, on_disk))
    return served


def _login_note(served: tuple[Served, ...]) -> list[str]:
    """Gmail logs in after TLS; a port it uses that offers no login is worth a word."""
    ports = [s.port for s in served if s.port in (465, 587) and s.error and "AUTH" in s.error]
    if not ports:
        return []
    listed = " and ".join(str(p) for p in ports)
    return [
        f"port {listed} offers no login (AUTH) after TLS, which Gmail needs: "
        "'gmailfix diagnose' and its enable-auth fix say more"
    ]


def _local_address(tls: TlsConfig) -> str:
    """Where the MTA listens on this computer: its first interface, else 127.0.0.1."""
    wanted = tls.values.get("local_interfaces") or tls.values.get("inet_interfaces") or ""
    text = wanted.strip()
    separator = ":"
    if text.startswith("<") and len(text) > 1:
        separator, text = text[1], text[2:]
    for item in re.split(r"[\s,]+" if tls.mta == "postfix" else re.escape(separator), text):
        item = item.strip().strip("[]")
        if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", item) and item != "0.0.0.0":
            return item
    return "127.0.0.1"


def _stale(mta: Mta, served: Served, expected: CertInfo, on_disk: OnDisk | None) -> Finding:
    assert served.certificate is not None
    now_sent = served.certificate
    fix = "postfix reload" if mta == "postfix" else "a restart of Exim (invoke-rc.d exim4 restart)"
    path = on_disk.path if on_disk else "the certificate file"
    detail = (
        f"Port {served.port} sends a certificate for {', '.join(now_sent.names[:5]) or now_sent.subject} "
        f"that runs out on {now_sent.not_after:%Y-%m-%d}; {path} holds one for "
        f"{', '.join(expected.names[:5]) or expected.subject} that runs out on "
        f"{expected.not_after:%Y-%m-%d}. {fix} makes it serve the file's."
    )
    evidence = {"served_sha256": now_sent.sha256, "file_sha256": expected.sha256}
    return finding(Code.STALE_CERTIFICATE_SERVED, detail, port=served.port, evidence=evidence)


def _layout_trap(setup: Setup) -> list[Finding]:
    """MAIN_TLS_* macros in a file the active Debian layout does not read."""
    assert setup.layout in MACROS_FILE
    active = setup.layout
    other = "debian-single" if active == "debian-split" else "debian-split"
    defined = _macros_in(setup.root.file(MACROS_FILE[active]))
    ignored = [setup.root.file(MACROS_FILE[other])]  # type: ignore[index]
    if active == "debian-split":
        ignored += _skipped_parts(setup.root.file("/etc/exim4/conf.d/main"))
    findings = []
    for path in ignored:
        lost = sorted(set(_macros_in(path)) - set(defined))
        if lost:
            findings.append(_trap(setup, path, lost))
    return findings


def _trap(setup: Setup, path: Path, lost: list[str]) -> Finding:
    shown = setup.root.shown(path)
    target = MACROS_FILE[setup.layout]  # type: ignore[index]
    if setup.layout == "debian-split":
        why = "this server uses the split config (dc_use_split_config='true')"
        if path.parent.name == "main":
            why = "update-exim4.conf skips files whose names have a dot or other characters"
    else:
        why = "this server uses the single config file (dc_use_split_config='false')"
    detail = (
        f"{shown} sets {', '.join(lost)}, but {why}, so Exim never reads it. Put those lines "
        f"in {target}, then run update-exim4.conf and restart Exim (settings in {DEBIAN_CONF})."
    )
    return finding(Code.MACROS_IN_WRONG_LAYOUT, detail, evidence={"file": shown, "reads": target})


def _macros_in(path: Path) -> list[str]:
    try:
        text = read_limited(path).decode("utf-8", "replace")
    except (OSError, ServerError):
        return []
    return list(dict.fromkeys(_MACRO.findall(text)))


def _skipped_parts(folder: Path) -> list[Path]:
    try:
        entries = sorted(folder.iterdir())[:200]
    except OSError:
        return []
    return [e for e in entries if e.is_file() and not _RUN_PARTS_NAME.match(e.name)]


def _not_regenerated(setup: Setup, tls: TlsConfig, runner: Runner) -> list[Finding]:
    """Debian: the generated config the daemon reads says something else than the files."""
    generated = setup.root.file(DEBIAN_GENERATED)
    if not generated.is_file():
        return []
    values, ran = exim.read_values(generated, runner, _COMPARED, root=setup.root)
    if not ran.ok:
        return []
    changed = [n for n in _COMPARED if _normal(n, values.get(n)) != _normal(n, tls.values.get(n))]
    if not changed:
        return []
    lines = "; ".join(
        f"{n} is '{values.get(n, '')}' there and '{tls.values.get(n, '')}' in the files"
        for n in changed
    )
    detail = f"{setup.root.shown(generated)}: {lines}."
    return [finding(Code.CONFIG_NOT_REGENERATED, detail)]


def _normal(name: str, value: str | None) -> str:
    if value is None:
        return ""
    return str(port_list(value)) if name.endswith("ports") else value.strip()


def _renewal(
    setup: Setup,
    on_disk: OnDisk | None,
    host: str | None,
    findings: list[Finding],
    notes: list[str],
) -> Renewal | None:
    if on_disk is None:
        return None
    renewal, note = find_renewal(
        setup.root, setup.mta, on_disk.path, on_disk.chain.leaf, host or ""
    )
    if note:
        notes.append(note)
    if renewal is not None and not renewal.reaches:
        detail = f"certbot renews it as '{renewal.lineage}' ({renewal.conf}), but {renewal.why}."
        findings.append(finding(Code.NO_DEPLOY_HOOK, detail))
    return renewal


def _mechanism(
    setup: Setup,
    renewal: Renewal,
    on_disk: OnDisk,
    runner: Runner,
    findings: list[Finding],
    notes: list[str],
) -> tuple[Schedule, Certbot]:
    """What runs certbot renew, which certbot, and whether its last renewal reached the MTA."""
    schedule = find_schedule(setup.root)
    certbot = find_certbot(setup.root, runner, renewal.version)
    options = ", ".join(f"{k} = {v}" for k, v in renewal.options.items()) or "certbot's defaults"
    notes.append(f"certbot renews '{renewal.lineage}' ({options}); what runs it: {schedule.words}")
    if schedule.runs is False:
        findings.append(finding(Code.RENEWAL_NOT_SCHEDULED, f"Found: {schedule.words}."))
    elif schedule.runs is None:
        notes.append(
            "whether certbot's cron job runs could not be told from a copy: it skips itself "
            "when systemd runs, and then only certbot.timer renews"
        )
    leaf = on_disk.chain.leaf
    if leaf is not None:
        notes += what_it_means(
            certbot, Lifetime.of(leaf), renewal.options.get("renew_before_expiry")
        )
    deployed = _not_deployed(setup, renewal, on_disk)
    if deployed is not None:
        findings.append(deployed)
    return schedule, certbot


def _not_deployed(setup: Setup, renewal: Renewal, on_disk: OnDisk) -> Finding | None:
    """certbot's newest certificate is not the one the MTA reads: the deploy hook did not
    bring the last renewal (what the port serves is compared with the file in _served)."""
    newest, leaf = renewal.newest, on_disk.chain.leaf
    if newest is None or leaf is None or newest.sha256 == leaf.sha256:
        return None
    if newest.not_before <= leaf.not_before:
        return None
    label = "Postfix" if setup.mta == "postfix" else "Exim"
    detail = (
        f"certbot's newest certificate for '{renewal.lineage}' (issued "
        f"{newest.not_before:%Y-%m-%d %H:%M}, runs out {newest.not_after:%Y-%m-%d}) is not in "
        f"{on_disk.path}, which {label} reads: that file holds the one issued "
        f"{leaf.not_before:%Y-%m-%d %H:%M} (runs out {leaf.not_after:%Y-%m-%d}). Run the deploy "
        "hook by hand, and look in certbot's log for why it did not run after the renewal."
    )
    evidence = {"newest_sha256": newest.sha256, "file_sha256": leaf.sha256}
    return finding(Code.RENEWAL_NOT_DEPLOYED, detail, evidence=evidence)


def _dry_run(
    root: Root, renewal: Renewal | None, runner: Runner, findings: list[Finding]
) -> list[str]:
    """Ask certbot to renew without keeping the result, its pre and post hooks off: a
    failure now is an expiry later. The notes say first what runs and what does not."""
    if renewal is None:
        return ["No certbot renewal of this certificate was found, so none was tried."]
    plan = dry_run(root, renewal)
    notes = [_before(plan, renewal)]
    if plan.refused is not None:
        return [*notes, f"certbot's dry run was not tried: {plan.refused}."]
    ran = runner(list(plan.argv))
    if ran.ok:
        without = " (without its pre and post hooks)" if plan.skipped else ""
        return [
            *notes,
            f"certbot renewed '{renewal.lineage}' in a dry run{without}: the renewal works.",
        ]
    detail = f"certbot renew --dry-run for '{renewal.lineage}' said: {ran.last_line}"
    evidence = {"output": ran.output[-2000:]}
    if not plan.skipped:
        findings.append(finding(Code.RENEWAL_FAILS, detail, evidence=evidence))
        return notes
    detail += (
        " Its pre and post hooks were off; a real renewal runs them, so it may work where "
        "this dry run failed (for example when a hook stops a web server on port 80)."
    )
    findings.append(
        finding(Code.RENEWAL_FAILS, detail, severity=Severity.WARNING, evidence=evidence)
    )
    return notes


def _before(plan: DryRun, renewal: Renewal) -> str:
    """What the dry run does and does not run, in words."""
    words = f"dry run of '{renewal.lineage}': {plan.does}"
    if not plan.skipped:
        return f"{words}; it has no pre or post hooks, and deploy hooks never run on a dry run"
    listed = "; ".join(f"{h.when} hook {h.command} (from {h.source})" for h in plan.skipped[:8])
    return (
        f"{words}. gmailfix turned off the pre and post hooks a renewal runs ({listed}), "
        "and deploy hooks never run on a dry run: whatever those hooks stop and start "
        "(often a web server) is left alone"
    )
