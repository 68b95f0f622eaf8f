"""``gmailfix diagnose``: one domain (or a list with --from), as text or JSON."""

from __future__ import annotations

import argparse
import asyncio
from typing import TextIO

from gmailfix.cli.args import (
    command_line,
    connection_flags,
    connection_from_args,
    credentials_from_args,
    target_from_args,
)
from gmailfix.errors import GmailfixError, InputError, reason
from gmailfix.remedies.model import Proposal
from gmailfix.remedies.propose import diagnose_and_propose
from gmailfix.render.terminal import NextStep, print_report
from gmailfix.text import unicode_output
from gmailfix.vocabulary import EXIT_FOR_OUTCOME, Code


def run_diagnose(args: argparse.Namespace, out: TextIO) -> int:
    if (args.target is None) == (args.from_file is None):
        raise InputError("give one DOMAIN_OR_ADDRESS, or --from FILE", field="option")
    if args.from_file is not None:
        from gmailfix.cli.batch import run_batch_cli

        return run_batch_cli(args, out)
    target = target_from_args(args)
    connection = connection_from_args(args)
    credentials = credentials_from_args(args)
    proposal = asyncio.run(diagnose_and_propose(target, connection, credentials=credentials))
    result = proposal.diagnosis
    try:
        _print(proposal, args, out)
    except BrokenPipeError:  # the reader took what it wanted (| head): the verdict stands
        from gmailfix.cli.output import stdout_gone

        stdout_gone()
    except OSError as exc:  # e.g. a full disk: say so, never "Gmail would …" half-written
        raise GmailfixError(f"could not write the report: {reason(exc)}") from None
    return EXIT_FOR_OUTCOME[result.outcome]


def _print(proposal: Proposal, args: argparse.Namespace, out: TextIO) -> None:
    if args.json:
        from gmailfix.render.json_report import dumps

        print(dumps(proposal, ascii_only=not unicode_output(out)), file=out)
    else:
        print_report(proposal, out, next_steps=next_steps(proposal, args))
    out.flush()  # a closed pipe shows here, not at exit


def next_steps(proposal: Proposal, args: argparse.Namespace) -> list[NextStep]:
    """The commands to run next, with the same connection options as this run."""
    diagnosis = proposal.diagnosis
    if diagnosis.verdict.cause == Code.ADDRESSES_NOT_CHECKED:
        return []  # nothing wrong here: the server has more addresses than gmailfix checks
    if diagnosis.outcome == "unknown":
        return [
            NextStep(
                "Check this computer's network, or ask another resolver: "
                "--dns-server IP (e.g. 1.1.1.1) or --doh https://dns.google/dns-query"
            )
        ]
    best = next((r for r in proposal.remedies if r.applicable), None)
    if diagnosis.accepted or best is None:
        return []
    flags = connection_flags(args)
    # every recommended fix is one plan, export's default; else the best one by name
    chosen = [] if proposal.recommended else ["--remedy", best.kind]
    words = ["gmailfix", "export", args.target, *chosen, *flags]
    if best.kind == "sni":
        words += ["--alias-domain", "OTHER-DOMAIN"]
    return [NextStep("Write the fix as files:", command_line(*words, "--out", "gmailfix-fix"))]
