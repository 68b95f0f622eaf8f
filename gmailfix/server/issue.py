"""The certificate step of ``gmailfix apply``: certbot gets the certificate, and gmailfix's
own deploy hook installs it where the MTA reads it.

When the plan needs a certificate (a new one, one per SNI name, or one for
STARTTLS) and its files are not in the plan's TLS folder yet, apply runs this
first, before it writes anything else::

    certbot certonly --standalone|--webroot -w DIR --cert-name NAME -d HOST...
        --server URL --deploy-hook /etc/letsencrypt/gmailfix/MTA-deploy-hook.sh

The deploy hook is rendered by the installed gmailfix (``render.certbot``),
never taken from the bundle, and kept where certbot's renewals find it again.
What the hook installs in the TLS folder (the folders, fullchain.pem and
privkey.pem) is part of apply's journal: a failed step or ``gmailfix
rollback`` removes it. certbot's own files (the account, the lineage in
/etc/letsencrypt/live and archive, its renewal settings, the hook) are outside
the folders gmailfix writes: rollback leaves the issued certificate there.

A lineage certbot already has (``live/NAME``) is not issued again: the hook
installs it. On a copy of a server (``--root``) nothing is issued: certbot
would act on this computer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gmailfix.remedies.plan import Plan
from gmailfix.render.certbot import HOOK_DIR, certificates, deploy_hook, mta_label
from gmailfix.server.steps import Step
from gmailfix.server.system import Root

LETSENCRYPT_LIVE = "/etc/letsencrypt/live"
CHAIN_FILES = ("fullchain.pem", "privkey.pem")


@dataclass(frozen=True)
class Issuance:
    """What the certificate step does: the hook it keeps, the folders and files it makes."""

    hook: Path  # where gmailfix's deploy hook is kept (under the root)
    hook_text: str
    folders: tuple[Path, ...]  # each lineage's folder in the TLS folder (journal: made)
    files: tuple[Path, ...]  # what the hook installs (journal: written by the step)
    steps: tuple[Step, ...]  # one per certificate
    lineages: tuple[str, ...]

    @property
    def note(self) -> str:
        names = ", ".join(f"{LETSENCRYPT_LIVE}/{n}" for n in self.lineages)
        return (
            f"certbot keeps what it issues in {names} and renews it there with gmailfix's "
            f"deploy hook ({self.hook_shown}); rolling back removes the copies the hook "
            "installs for the mail server, and leaves the issued certificate there"
        )

    @property
    def hook_shown(self) -> str:
        return f"{HOOK_DIR}/{self.hook.name}"


def missing(plan: Plan, root: Root) -> list[tuple[str, tuple[str, ...]]]:
    """The plan's certificates (lineage, host names) whose files are not in the TLS folder."""
    if not plan.needs_certificate:
        return []
    return [
        (name, hosts)
        for name, hosts in certificates(plan)
        if not all(root.file(f"{plan.tls_dir}/{name}/{f}").is_file() for f in CHAIN_FILES)
    ]


def plan_issuance(
    plan: Plan, root: Root, acme_server: str, webroot: str | None = None
) -> Issuance | None:
    """The certificate step for the certificates the plan needs and the server lacks."""
    needed = missing(plan, root)
    if not needed:
        return None
    hook = root.file(f"{HOOK_DIR}/{plan.mta}-deploy-hook.sh")
    hook_server = f"{HOOK_DIR}/{hook.name}"
    how = ("--webroot", "-w", webroot) if webroot else ("--standalone",)
    label = mta_label(plan)
    steps = []
    for name, hosts in needed:
        lineage = f"{LETSENCRYPT_LIVE}/{name}"
        if root.file(f"{lineage}/fullchain.pem").is_file():
            # the hook run here is gmailfix's own rendering (render/certbot.py), written
            # by apply (_prepare_issuance); no byte of it comes from the bundle
            steps.append(
                Step(
                    "certificate",
                    f"install certbot's certificate for {name} where {label} reads it "
                    "(gmailfix's deploy hook)",
                    ("env", f"RENEWED_LINEAGE={lineage}", "sh", hook_server),
                )
            )
            continue
        domains = [word for host in hosts for word in ("-d", host)]
        steps.append(
            Step(
                "certificate",
                f"get a certificate for {', '.join(hosts)} from {acme_server} with certbot; "
                f"its deploy hook (gmailfix's own) installs it where {label} reads it",
                (
                    "certbot",
                    "certonly",
                    *how,
                    "--non-interactive",
                    "--agree-tos",
                    "--register-unsafely-without-email",
                    "--cert-name",
                    name,
                    *domains,
                    "--server",
                    acme_server,
                    "--deploy-hook",
                    hook_server,
                ),
            )
        )
    folders = tuple(root.file(f"{plan.tls_dir}/{name}") for name, _ in needed)
    files = tuple(folder / f for folder in folders for f in CHAIN_FILES)
    return Issuance(
        hook, deploy_hook(plan), folders, files, tuple(steps), tuple(n for n, _ in needed)
    )
