"""``gmailfix export``: diagnose, plan the chosen fix, write the bundle."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gmailfix.bundle import SECRET, BundleFile, bundle_files, write_folder, write_zip
from gmailfix.csr import make_key_and_csr, write_private
from gmailfix.cli.args import connection_from_args, target_from_args
from gmailfix.diagnose import Diagnosis, diagnose
from gmailfix.errors import BundleError, CannotCheck
from gmailfix.remedies.plan import FixPlan, plan_fix


def run_export(args: argparse.Namespace) -> int:
    target = target_from_args(args)
    connection = connection_from_args(args)
    diagnosis = asyncio.run(diagnose(target, connection))
    if diagnosis.outcome == "unknown":
        raise CannotCheck(
            "no bundle written: this computer could not check the server, so there is "
            "nothing known to fix (run 'gmailfix diagnose' to see why)"
        )
    plan = plan_fix(
        diagnosis,
        args.remedy,
        alias_domains=args.alias_domain,
        exim_layout=args.exim_layout,
        ca_files=connection.ca_files,
        connect=connection.connect,
    )
    target = Path(args.zip or args.out)
    extra, key = _csr_files(plan, args.make_csr, args.include_key)
    files = bundle_files(plan, diagnosis, extra)
    writer = write_zip if args.zip else write_folder
    written = writer(files, target, force=args.force)
    if key is not None:
        key_path = written.with_name(f"{written.name}.key.pem")
        if key_path.exists() and not args.force:
            raise BundleError(f"{key_path} already exists; use --force to replace it")
        key_path.unlink(missing_ok=True)
        write_private(key_path, key)
        print(f"private key (mode 0600, not in the bundle): {key_path}")
    _summary(written, files, plan, diagnosis)
    return 0


def _csr_files(
    plan: FixPlan, make_csr: bool, include_key: bool
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


def _summary(target: Path, files: list[BundleFile], plan: FixPlan, diagnosis: Diagnosis) -> None:
    print(f"wrote {len(files)} files to {target}")
    readme = f"{target.stem}/README.md" if target.suffix == ".zip" else f"{target}/README.md"
    how = "unzip it, then open" if target.suffix == ".zip" else "open"
    print(f"fix: {plan.kind} - {how} {readme} and follow its steps")
    if not diagnosis.accepted:
        print(f"today Gmail says: {diagnosis.verdict.error}")
