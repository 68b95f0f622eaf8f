"""The person's way from "Gmail refuses" to "Gmail accepts" and back, inside a test machine
(tests/support/namespace.py): every step is the gmailfix command as typed.

    diagnose (refused) -> export -> [the README's certificate step] -> apply --yes
        -> diagnose (accepted) -> rollback -> every file as before -> diagnose (refused)

``journey`` asserts each step as it goes (a failure names the command and its
output) and returns what the test checks for its own state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import namespace as ns

# what the snapshot covers: all of /etc and Exim's generated config; certbot's own
# files stay after a rollback (apply says so), so they are left out
WATCHED = ("/etc", "/var/lib/exim4")
LEFT_OUT = ("/etc/letsencrypt",)


@dataclass(frozen=True)
class Person:
    """Who runs gmailfix, and the world they run it in (DNS and trust on loopback)."""

    domain: str
    host: str
    dns_server: str
    ca_file: Path
    port: int | None = None  # the port typed in Gmail (None: let diagnose pick)

    @property
    def address(self) -> str:
        return f"me@{self.domain}"

    @property
    def checks(self) -> list[str]:
        return ["--dns-server", self.dns_server, "--ca-file", str(self.ca_file)]

    @property
    def target(self) -> list[str]:
        port = ["--port", str(self.port)] if self.port else []
        return [self.address, "--smtp-host", self.host, *port]

    def diagnose(self) -> ns.Ran:
        return ns.gmailfix("diagnose", *self.target, *self.checks, "--json")


@dataclass
class Trip:
    """What each step said, for the test's own checks."""

    causes: list[str] = field(default_factory=list)  # finding codes before
    refused_with: str | None = None  # Gmail's words before
    kinds: list[str] = field(default_factory=list)  # the exported plan's remedies
    applied: str = ""  # apply's output
    accepted: dict[str, Any] = field(default_factory=dict)  # Gmail's settings after
    rolled_back: str = ""
    changed: list[str] = field(default_factory=list)  # files not as before after rollback
    refused_again: str | None = None  # the cause after rollback
    seconds: dict[str, float] = field(default_factory=dict)


def journey(
    person: Person,
    *,
    export: Sequence[str] = (),
    certificate: Callable[[Path], object] | None = None,
    apply: Sequence[str] = (),
    apply_env: dict[str, str] | None = None,
    watched: Sequence[str] = WATCHED,
    left_out: Sequence[str] = LEFT_OUT,
    refused_again: bool = True,
) -> dict[str, Any]:
    """The whole way, asserted step by step. ``certificate(bundle)`` is the README's
    certificate step when the person does it by hand before apply. ``refused_again``:
    whether Gmail refuses once the files are as before (not when the fault was only in
    what a daemon had loaded, which the certificate step's reload cured)."""
    trip = Trip()
    bundle = ns.scratch() / "bundle"

    def step(name: str, ran: Callable[[], ns.Ran], code: int) -> ns.Ran:
        start = time.monotonic()
        done = ran()
        trip.seconds[name] = round(time.monotonic() - start, 2)
        assert done.code == code, f"{name}: expected exit {code}\n{done}"
        return done

    before = step("diagnose", person.diagnose, 1).json()
    trip.causes = sorted({f["code"] for f in before["findings"]})
    trip.refused_with = before["gmail"]["error"]
    step(
        "export",
        lambda: ns.gmailfix(
            "export", *person.target, *person.checks, *export, "--out", str(bundle)
        ),
        0,
    )
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    trip.kinds = [r["kind"] for r in manifest["remedies"]]
    if certificate is not None:
        certificate(bundle)
    original = ns.snapshot(watched, leave_out=left_out)
    trip.applied = step(
        "apply",
        lambda: ns.gmailfix("apply", str(bundle), "--yes", *person.checks, *apply, env=apply_env),
        0,
    ).out
    after = step("diagnose after", person.diagnose, 0).json()
    assert after["gmail"]["verdict"] == "accept", after
    trip.accepted = after["gmail"]["settings"]
    trip.rolled_back = step("rollback", lambda: ns.gmailfix("rollback"), 0).out
    trip.changed = ns.differences(original, ns.snapshot(watched, leave_out=left_out))
    assert trip.changed == [], f"not as before after rollback: {trip.changed}"
    again = step("diagnose again", person.diagnose, 1 if refused_again else 0).json()
    trip.refused_again = again["gmail"]["cause"]
    return trip.__dict__
