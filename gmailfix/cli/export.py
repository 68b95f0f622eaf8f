"""``gmailfix export``: diagnose, plan the chosen fix, write the bundle."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace
from pathlib import Path

from gmailfix.bundle import SECRET, BundleFile, bundle_files, write_bundle
from gmailfix.cli.args import connection_from_args, credentials_from_args, target_from_args
from gmailfix.csr import make_key_and_csr
from gmailfix.diagnose import Diagnosis
from gmailfix.errors import BundleError, CannotCheck
from gmailfix.inbound import InboundFacts, inbound_facts, inbound_risks
from gmailfix.remedies.plan import Choices, Plan, make_plan
from gmailfix.remedies.propose import diagnose_and_propose
from gmailfix.text import clean


def run_export(args: argparse.Namespace) -> int:
    target = target_from_args(args)
    connection = connection_from_args(args)
    credentials = credentials_from_args(args)
    proposal = asyncio.run(diagnose_and_propose(target, connection, credentials=credentials))
    diagnosis = proposal.diagnosis
    if diagnosis.outcome == "unknown":
        raise CannotCheck(
            "no bundle written: this computer could not check the server, so there is "
            "nothing known to fix (run 'gmailfix diagnose' to see why)"
        )
    choices = Choices(
        kinds=tuple(args.remedy),
        alias_domains=tuple(args.alias_domain),
        exim_layout=args.exim_layout,
        ca_files=connection.ca_files,
        connect=connection.connect,
        dns_server=connection.dns_server,
        mta=args.mta,
        stack=args.stack,
    )
    plan = make_plan(proposal, choices)
    inbound = asyncio.run(inbound_facts(plan, diagnosis, connection))
    plan = replace(plan, inbound=inbound_risks(plan, inbound))
    where = Path(args.zip or args.out)
    extra, key = _csr_files(plan, args.make_csr, args.include_key)
    if args.timer:
        from gmailfix.cli.check import timer_files

        extra += timer_files(plan)
    files = bundle_files(plan, proposal, extra)
    # One call writes key and bundle, or neither, and checks the key's path before
    # writing anything: the CSR in the bundle always matches the key that is kept.
    written = write_bundle(files, where, as_zip=bool(args.zip), force=args.force, private_key=key)
    if written.key_path is not None:
        print(f"private key (mode 0600, not in the bundle): {clean(written.key_path)}")
    if written.leftover is not None:
        print(
            f"gmailfix: the replaced bundle could not be deleted: {clean(written.leftover)}",
            file=sys.stderr,
        )
    _summary(written.path, files, plan, diagnosis, inbound)
    return 0


def _csr_files(
    plan: Plan, make_csr: bool, include_key: bool
) -> tuple[tuple[BundleFile, ...], bytes | None]:
    if not make_csr:
        if include_key:
            raise BundleError("--include-key needs --make-csr: gmailfix only bundles a key it made")
        return (), None
    key, csr = make_key_and_csr(plan.cert_hosts)
    files = [BundleFile("csr/request.csr.pem", "certificate signing request (certbot --csr)", csr)]
    if include_key:
        files.append(
            BundleFile("private/privkey.pem", "the private key (you asked for it)", key, SECRET)
        )
        return tuple(files), None
    return tuple(files), key


def _summary(
    target: Path,
    files: list[BundleFile],
    plan: Plan,
    diagnosis: Diagnosis,
    inbound: InboundFacts | None = None,
) -> None:
    print(f"wrote {len(files)} files to {clean(target)}")
    for line in inbound.lines if inbound is not None else ():
        print(f"inbound mail: {clean(line)}")
    if plan.inbound:
        print(
            "inbound mail: the README's step 'Before the switch, keep mail to you arriving' "
            "comes first; apply waits until you say it is done (--inbound-done)"
        )
    readme = f"{target.stem}/README.md" if target.suffix == ".zip" else f"{target}/README.md"
    how = "unzip it, then open" if target.suffix == ".zip" else "open"
    for remedy in plan.remedies:
        print(f"fix: {remedy.title} (--remedy {remedy.kind})")
    print(f"next: {how} {clean(readme)} and follow its steps")
    if diagnosis.verdict.error:
        print(f"today Gmail says: {clean(diagnosis.verdict.error)}")
