"""Is gmailfix's daily check installed and enabled here (the units ``export --timer`` makes)?

Read from files under the root only, so it works on a copy (``--root``) as on
the server: the unit files in /etc/systemd/system (or the package folders),
the link ``systemctl enable`` makes in ``timers.target.wants`` (a timer linked
to /dev/null is masked), and the program the service runs, which must exist:
a link to a removed virtualenv means the check silently never runs.

For ``gmailfix doctor`` to call; it reports, it never changes anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gmailfix.render.systemd import MAILER_NAME, SERVICE_NAME, TIMER_NAME
from gmailfix.server.system import Root, ServerError, read_limited
from gmailfix.server.systemd_units import masked, timer_enabled, unit_file

UNIT_LIMIT = 64 * 1024
_PREFIXES = "-@:+!"  # ExecStart= prefixes before the program's path


@dataclass(frozen=True)
class CheckTimer:
    """What is there of the daily check: each unit, the timer's state, the program."""

    timer: bool  # gmailfix-check.timer is installed
    service: bool  # gmailfix-check.service is installed
    mailer: bool  # gmailfix-mail-root@.service is installed (mail to root on failure)
    enabled: bool  # the timer is linked into timers.target.wants
    masked: bool  # the timer is linked to /dev/null
    program: str | None  # the program the service runs (None: no ExecStart= found)
    program_found: bool  # that program exists here

    @property
    def installed(self) -> bool:
        return self.timer or self.service

    @property
    def runs(self) -> bool:
        """Does the daily check run: both units there, enabled, not masked, its program found?"""
        return (
            self.timer and self.service and self.enabled and not self.masked and self.program_found
        )

    @property
    def problems(self) -> tuple[str, ...]:
        """What keeps it from running (or from mailing root), in plain words."""
        if not self.installed:
            return ()
        found = []
        if not self.timer:
            found.append(f"{TIMER_NAME} is missing, so nothing starts the check")
        if not self.service:
            found.append(f"{SERVICE_NAME} is missing, so the timer has nothing to run")
        if self.masked:
            found.append(f"{TIMER_NAME} is masked")
        elif self.timer and not self.enabled:
            found.append(f"{TIMER_NAME} is not enabled, so it never starts")
        if self.service and not self.program_found:
            what = self.program or "its program"
            found.append(f"the check's program {what} is not there, so the check cannot run")
        if self.service and not self.mailer:
            found.append(f"{MAILER_NAME} is missing, so a failed check does not mail root")
        return tuple(found)

    @property
    def words(self) -> str:
        if not self.installed:
            return "the daily check (the systemd timer a bundle can hold) is not installed"
        if self.runs and not self.problems:
            return f"the daily check runs ({TIMER_NAME} enabled)"
        return "the daily check does not run as it should: " + "; ".join(self.problems)


def find_check_timer(root: Root) -> CheckTimer:
    timer = unit_file(root, TIMER_NAME)
    service = unit_file(root, SERVICE_NAME)
    program = _program(service) if service is not None and not masked(service) else None
    return CheckTimer(
        timer=timer is not None,
        service=service is not None,
        mailer=unit_file(root, MAILER_NAME) is not None,
        enabled=timer_enabled(root, TIMER_NAME),
        masked=timer is not None and masked(timer),
        program=program,
        program_found=program is not None and _executable(root, program),
    )


def _program(service: Path) -> str | None:
    """The program of the service's first ExecStart= line (a path, as the unit names it)."""
    try:
        text = read_limited(service, UNIT_LIMIT).decode("utf-8", "replace")
    except (OSError, ServerError):
        return None
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() == "ExecStart":
            words = value.split()
            program = words[0].lstrip(_PREFIXES) if words else ""
            return program if program.startswith("/") else None
    return None


def _executable(root: Root, program: str) -> bool:
    path = root.file(program)
    if not root.is_system and path.is_symlink():
        return True  # a copy's link points into the real server: not checkable here
    return path.is_file() and bool(path.stat().st_mode & 0o111)
