"""The renewal rule against the certificate's own lifetime (gmailfix.lifetime), on real
certificates made by the lab CA, and what certbot's version and options make of it."""

from __future__ import annotations

import datetime as dt

import pytest

from gmailfix.certs import describe
from gmailfix.lab import ca
from gmailfix.lifetime import Lifetime, days
from gmailfix.server.renewal_mechanism import Certbot, interval, what_it_means

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def issuer() -> ca.Issued:
    return ca.make_intermediate(ca.make_root("Lifetime Test Root"), "Lifetime Test CA")


def lifetime(issuer: ca.Issued, lifetime_days: float, left_days: float) -> Lifetime:
    """A real certificate that lives ``lifetime_days`` and has ``left_days`` left at NOW."""
    leaf = ca.make_leaf(
        issuer,
        ["mail.lifetime.test"],
        now=NOW,
        valid_from=(left_days - lifetime_days) * DAY,
        valid_for=lifetime_days * DAY,
    )
    info = describe(leaf.cert)
    assert info is not None
    return Lifetime.of(info)


@pytest.mark.parametrize(
    ("lifetime_days", "left_days", "warned"),
    [
        (6, 4, False),  # Let's Encrypt's short-lived profile, healthy
        (6, 2.5, False),  # certbot 4 renews at half (3 days): not yet a third left
        (6, 1.5, True),
        (90, 31, False),
        (90, 20, True),  # "less than 14 days" let this pass
        (90, 10, True),
        (47, 16, False),  # the 2029 public maximum
        (47, 15, True),
        (398, 140, False),
        (398, 120, True),
    ],
)
def test_warn_when_less_than_a_third_is_left(
    issuer: ca.Issued, lifetime_days: float, left_days: float, warned: bool
) -> None:
    found = lifetime(issuer, lifetime_days, left_days)
    assert found.total == lifetime_days * DAY
    assert found.running_out(NOW) is warned


def test_an_expired_certificate_is_not_running_out(issuer: ca.Issued) -> None:
    """Expired is its own finding (certs.py); 'runs out soon' would understate it."""
    assert not lifetime(issuer, 90, -1).running_out(NOW)


def test_certbot_4_renews_short_lived_certificates_at_half(issuer: ca.Issued) -> None:
    short, long = lifetime(issuer, 6, 4), lifetime(issuer, 90, 40)
    assert short.not_after - short.certbot_renews_from == 3 * DAY
    assert long.not_after - long.certbot_renews_from == 30 * DAY
    assert short.warn_from > short.certbot_renews_from  # the warning comes after the renewal


def test_days_in_words() -> None:
    assert days(20 * DAY + dt.timedelta(hours=5)) == "20 days"
    assert days(DAY) == "1 day"
    assert days(dt.timedelta(hours=4)) == "4 hours"


def test_renew_before_expiry_as_certbot_writes_it() -> None:
    assert interval("30 days") == 30 * DAY
    assert interval(" 2 weeks ") == 14 * DAY
    assert interval("12 hours") == dt.timedelta(hours=12)
    assert interval("soon") is None and interval("30 fortnights") is None


def test_what_debian_12s_certbot_means_for_a_short_lived_certificate(issuer: ca.Issued) -> None:
    old = Certbot("2.1.0", "certbot --version")
    assert old.profiles is False and old.ari is False
    words = " ".join(what_it_means(old, lifetime(issuer, 6, 4), None))
    assert "cannot ask for a profile" in words and "ARI" in words
    assert "at every run" in words  # 30 days before the end of a 6-day certificate
    # a 90-day certificate: 30 days is a third, nothing more to say than the version
    assert len(what_it_means(old, lifetime(issuer, 90, 40), None)) == 1


def test_a_renewal_later_than_a_third(issuer: ca.Issued) -> None:
    old = Certbot("2.1.0", "certbot --version")
    late = " ".join(what_it_means(old, lifetime(issuer, 90, 40), "10 days"))
    assert "later than a third" in late and "renew_before_expiry = 10 days" in late
    hundred = " ".join(what_it_means(old, lifetime(issuer, 100, 60), None))
    assert "later than a third" in hundred  # certbot 2.1's 30 days for a 100-day certificate
    new = Certbot("4.1.1", "certbot --version")
    assert new.profiles and new.ari
    assert len(what_it_means(new, lifetime(issuer, 100, 60), None)) == 1
    assert Certbot(None, "not known").ari is None
