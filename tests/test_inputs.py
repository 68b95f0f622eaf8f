import pytest

from gmailfix.errors import InputError
from gmailfix.inputs import (
    display_name,
    normalise_domain,
    normalise_host,
    parse_endpoint,
    parse_port,
)


@pytest.mark.parametrize(
    ("typed", "domain"),
    [
        ("example.com", "example.com"),
        ("Me@Example.COM", "example.com"),
        ("https://example.com/", "example.com"),
        ("http://Mail.Example.test:8080/path?q=1", "mail.example.test"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("mail.example.com:587", "mail.example.com"),
        ("example.com.", "example.com"),
        ("  example.com  ", "example.com"),
    ],
)
def test_normalise_domain_accepts_what_people_type(typed: str, domain: str) -> None:
    assert normalise_domain(typed) == domain


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("", "nothing was typed"),
        ("exa mple.com", "spaces"),
        ("a..example", "empty label"),
        ("localhost", "not a full domain"),
        ("under_score.example", "not a valid domain"),
        ("127.0.0.1", "IP address"),
        ("x" * 64 + ".example", "63"),
        (("a" * 60 + ".") * 5 + "com", "253"),
        ("ex;ample.com", "not a valid domain"),
        ("$(reboot).com", "not a valid domain"),
        ("example.123", "number"),
    ],
)
def test_normalise_domain_rejects_with_a_reason(typed: str, words: str) -> None:
    with pytest.raises(InputError) as err:
        normalise_domain(typed)
    assert words.lower() in str(err.value).lower()


def test_hosts_may_be_ip_addresses() -> None:
    assert normalise_host("127.0.0.1") == "127.0.0.1"
    assert normalise_host("[::1]") == "::1"
    assert normalise_host("Mail.Example.COM.") == "mail.example.com"


def test_endpoints_and_ports() -> None:
    assert parse_endpoint("[::1]:25") == ("::1", 25)
    assert parse_endpoint("mail.x.test:587") == ("mail.x.test", 587)
    assert parse_port("465") == 465
    for bad in ("x:y", "nohost", "h:70000"):
        with pytest.raises(InputError):
            parse_endpoint(bad)
    with pytest.raises(InputError, match="587, 465 or 25"):
        parse_port(2525)


def test_display_name_shows_unicode() -> None:
    assert display_name("xn--bcher-kva.example") == "bücher.example"
