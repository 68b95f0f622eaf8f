"""When a certificate should already have been renewed, judged against its own lifetime.

A fixed "14 days left" flags every healthy 6-day certificate (Let's Encrypt's
short-lived profile, renewed at about half its life) and lets a 90-day one
whose renewal failed a month ago pass. Renewal clients now count in parts of
the lifetime: certbot 4.0 renews when a third of it is left (half, for a
lifetime under 10 days) and 4.1 follows the CA's renewal window (ARI), which
for Let's Encrypt is about the same (docs/FACTS.md). So gmailfix warns when less
than a third is left: by then a working renewal has happened.

This is the one home of the rule: ``gmailfix doctor`` uses it, and so does
any quiet check that runs from cron.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

WARN_WHEN_LEFT = 3  # warn when less than 1/3 of the lifetime is left
CERTBOT_SHORT = dt.timedelta(days=10)  # certbot 4.0: under this lifetime, renew at half


class Dated(Protocol):
    """Anything with a certificate's validity dates (a CertInfo, a cryptography Certificate's
    dates, a test's values)."""

    @property
    def not_before(self) -> dt.datetime: ...

    @property
    def not_after(self) -> dt.datetime: ...


@dataclass(frozen=True)
class Lifetime:
    """A certificate's validity period and what the renewal rule makes of it."""

    not_before: dt.datetime
    not_after: dt.datetime

    @classmethod
    def of(cls, certificate: Dated) -> Lifetime:
        return cls(certificate.not_before, certificate.not_after)

    @property
    def total(self) -> dt.timedelta:
        return max(self.not_after - self.not_before, dt.timedelta(0))

    def left(self, now: dt.datetime) -> dt.timedelta:
        return self.not_after - now

    @property
    def warn_from(self) -> dt.datetime:
        """From here on less than a third of the lifetime is left."""
        return self.not_after - self.total / WARN_WHEN_LEFT

    @property
    def certbot_renews_from(self) -> dt.datetime:
        """When certbot 4.0 renews it by default: a third left, or half under 10 days."""
        part = 2 if self.total < CERTBOT_SHORT else WARN_WHEN_LEFT
        return self.not_after - self.total / part

    def running_out(self, now: dt.datetime) -> bool:
        """Still valid, with less than a third of its lifetime left."""
        return self.warn_from <= now < self.not_after

    def renews_in_time(self, renew_before: dt.timedelta) -> bool:
        """Does a client that renews ``renew_before`` the end renew before the warning?"""
        return renew_before >= self.total / WARN_WHEN_LEFT


def days(span: dt.timedelta) -> str:
    """A span in words: '20 days', '1 day', '4 hours' (whole units, rounded down)."""
    seconds = int(span.total_seconds())
    if seconds >= 86400:
        count, unit = seconds // 86400, "day"
    elif seconds >= 3600:
        count, unit = seconds // 3600, "hour"
    else:
        count, unit = max(seconds // 60, 0), "minute"
    return f"{count} {unit}{'' if count == 1 else 's'}"
