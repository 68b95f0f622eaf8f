"""What makes certbot renew here, and which certbot it is.

Debian's certbot package ships ``certbot.timer`` (twice a day) and
``/etc/cron.d/certbot``, whose line skips itself when systemd runs
(``test ... ! -d /run/systemd/system``): on a systemd server only an enabled
timer renews. The snap ships ``snap.certbot.renew.timer``. "Enabled" is the
link ``systemctl enable`` makes in ``timers.target.wants``; a unit linked to
/dev/null is masked. Everything here is read from files under the root; only
``certbot --version`` of this computer's own certbot is run, on the server
itself (a copy's version comes from its renewal file).

certbot's renewal point (docs/FACTS.md): before 4.0, 30 days before the end
(``renew_before_expiry``); 4.0 renews with a third of the lifetime left (half
under 10 days) and can ask for an ACME profile; 4.1 also follows the CA's
renewal window (ARI). ``renew_before_expiry`` in the lineage overrides the
default (4.1's ARI can still renew earlier).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from gmailfix.lifetime import Lifetime, days
from gmailfix.server.system import Root, Runner, ServerError, read_limited
from gmailfix.server.systemd_units import WANTS, masked, unit_file

TIMERS = ("certbot.timer", "snap.certbot.renew.timer")
CRON_FILES = ("/etc/crontab",)
CRON_FOLDERS = ("/etc/cron.d", "/var/spool/cron/crontabs")
CRON_LIMIT = 64 * 1024
PROFILES_FROM = (4, 0)
ARI_FROM = (4, 1)
OLD_DEFAULT = dt.timedelta(days=30)  # certbot before 4.0: renew 30 days before the end
_RENEWS = re.compile(r"certbot[^\n#]*\brenew\b")
_SYSTEMD_GUARD = re.compile(r"!\s*-d\s+/run/systemd/system")
_VERSION = re.compile(r"^(?:certbot\s+)?(\d{1,3})\.(\d{1,3})(?:\.(\d{1,3}))?")
_INTERVAL = re.compile(
    r"^\s*(\d{1,6})\s*(second|minute|hour|day|week)s?\s*$", re.IGNORECASE
)  # how certbot's renew_before_expiry is written ("30 days")


@dataclass(frozen=True)
class Schedule:
    """The timer or cron job that runs ``certbot renew``, as found under the root."""

    timer: str | None  # the timer unit whose file is there
    timer_enabled: bool
    timer_masked: bool
    cron: tuple[str, ...]  # files with a line that runs certbot renew (server paths)
    cron_needs_no_systemd: bool  # every such line skips itself when systemd runs
    systemd: bool | None  # does this server run systemd (None: not known from a copy)

    @property
    def runs(self) -> bool | None:
        """Does something run certbot renew (None: not known from here)?"""
        if self.timer_enabled and not self.timer_masked:
            return True
        if not self.cron:
            return False
        if not self.cron_needs_no_systemd:
            return True
        return None if self.systemd is None else not self.systemd

    @property
    def words(self) -> str:
        """The renewal mechanism in plain words."""
        parts = []
        if self.timer is not None:
            state = (
                "masked"
                if self.timer_masked
                else "enabled"
                if self.timer_enabled
                else "not enabled"
            )
            parts.append(f"systemd timer {self.timer} ({state})")
        if self.cron:
            guard = " (it skips itself when systemd runs)" if self.cron_needs_no_systemd else ""
            parts.append(f"cron: {', '.join(self.cron)}{guard}")
        return "; ".join(parts) or "no certbot timer or cron job"


def find_schedule(root: Root) -> Schedule:
    timer = next((t for t in TIMERS if unit_file(root, t) is not None), None)
    unit = unit_file(root, timer) if timer else None
    is_masked = unit is not None and masked(unit)
    enabled = timer is not None and root.file(f"{WANTS}/{timer}").is_symlink()
    lines = _cron_lines(root)
    guarded = bool(lines) and all(_SYSTEMD_GUARD.search(line) for _, line in lines)
    return Schedule(
        timer,
        enabled,
        is_masked,
        tuple(dict.fromkeys(path for path, _ in lines)),
        guarded,
        _systemd(root),
    )


def _cron_lines(root: Root) -> list[tuple[str, str]]:
    """(file, line) for each cron line that runs certbot renew (comments skipped)."""
    files = [root.file(f) for f in CRON_FILES]
    for folder in CRON_FOLDERS:
        with contextlib.suppress(OSError):
            files += sorted(root.file(folder).iterdir())[:100]
    found = []
    for path in files:
        if path.is_symlink() or not path.is_file():
            continue
        try:
            text = read_limited(path, CRON_LIMIT).decode("utf-8", "replace")
        except (OSError, ServerError):
            continue
        for line in text.splitlines():
            if not line.lstrip().startswith("#") and _RENEWS.search(line):
                found.append((root.shown(path), line))
    return found


def _systemd(root: Root) -> bool | None:
    """Whether systemd runs this server: known on the server itself, guessed on a copy
    from /sbin/init (a copy of a running server rarely has /run)."""
    if root.is_system:
        return Path("/run/systemd/system").is_dir()
    init = root.file("/sbin/init")
    with contextlib.suppress(OSError):
        if init.is_symlink():
            return init.readlink().name == "systemd"
    return None


@dataclass(frozen=True)
class Certbot:
    """The certbot that renews, and what it can do."""

    version: str | None  # "2.1.0"; None when not known
    source: str  # where the version comes from, in words

    @property
    def numbers(self) -> tuple[int, int] | None:
        match = _VERSION.match(self.version or "")
        return (int(match.group(1)), int(match.group(2))) if match else None

    @property
    def profiles(self) -> bool | None:
        """Can it ask for an ACME profile (Let's Encrypt's 6-day "shortlived")?"""
        return None if self.numbers is None else self.numbers >= PROFILES_FROM

    @property
    def ari(self) -> bool | None:
        """Does it follow the CA's renewal window (ARI)?"""
        return None if self.numbers is None else self.numbers >= ARI_FROM

    def renews_before(self, lifetime: Lifetime, option: str | None) -> dt.timedelta | None:
        """How long before the end it renews by its own rule (``option``: the lineage's
        renew_before_expiry); None when not known."""
        if option:
            return interval(option)
        if self.numbers is None:
            return None
        if self.numbers < PROFILES_FROM:
            return OLD_DEFAULT
        return lifetime.not_after - lifetime.certbot_renews_from


def find_certbot(root: Root, runner: Runner, written_by: str | None) -> Certbot:
    """This computer's ``certbot --version`` on the server itself; on a copy, the version
    that last wrote the lineage's renewal file (``written_by``)."""
    if root.is_system:
        ran = runner(["certbot", "--version"])
        match = _VERSION.match(ran.output.strip()) if ran.ok else None
        if match:
            return Certbot(match.group(0).split()[-1], "certbot --version")
    if written_by and _VERSION.match(written_by):
        return Certbot(written_by[:20], "the certbot that last wrote the renewal file")
    return Certbot(None, "not known")


def interval(text: str) -> dt.timedelta | None:
    """certbot's ``renew_before_expiry`` ("30 days", "2 weeks") as a span; None if unread."""
    match = _INTERVAL.match(text)
    if not match:
        return None
    unit = match.group(2).lower() + "s"
    return dt.timedelta(**{unit: int(match.group(1))})


def what_it_means(certbot: Certbot, lifetime: Lifetime, option: str | None) -> list[str]:
    """Plain words on how this certbot renews this certificate."""
    words: list[str] = []
    total = days(lifetime.total)
    before = certbot.renews_before(lifetime, option)
    third = lifetime.total / 3
    if certbot.version is None:
        words.append("gmailfix could not tell which certbot renews it")
    else:
        supports = (
            "follows the CA's renewal window (ARI) and can ask for a profile"
            if certbot.ari
            else "can ask for a profile, but does not follow the CA's renewal window (ARI, 4.1)"
            if certbot.profiles
            else "cannot ask for a profile such as Let's Encrypt's 6-day 'shortlived' (4.0) "
            "and does not follow the CA's renewal window (ARI, 4.1)"
        )
        words.append(f"certbot {certbot.version} ({certbot.source}) {supports}")
    if before is None:
        return words
    how = f"renew_before_expiry = {option}" if option else "its default"
    if before >= lifetime.total:
        words.append(
            f"by {how} it renews {days(before)} before the end, longer than this "
            f"certificate's whole lifetime of {total}: it asks for a new one at every run, which a CA's "
            "rate limits soon refuse"
        )
    elif before < third and not certbot.ari:
        words.append(
            f"by {how} it renews {days(before)} before the end, later than a third of this "
            f"certificate's lifetime of {total} ({days(third)}), so gmailfix warns before every "
            "renewal: set renew_before_expiry to at least that, or use certbot 4 or later"
        )
    return words
