"""What people type becomes a Target, or one plain sentence naming the field."""

import pytest

from gmailfix.errors import InputError
from gmailfix.inputs import (
    Target,
    display_name,
    is_valid_dns_host,
    parse_domain,
    parse_endpoint,
    parse_port,
    parse_smtp_server,
    parse_target,
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
def test_domain_accepts_what_people_type(typed: str, domain: str) -> None:
    assert parse_domain(typed) == domain


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("", "nothing was typed"),
        ("exa mple.com", "spaces"),
        ("a..example", "two dots"),
        ("localhost", "not a full domain"),
        ("under_score.example", "'_' is not allowed"),
        ("127.0.0.1", "IP address"),
        ("x" * 64 + ".example", "63"),
        (("a" * 60 + ".") * 5 + "com", "253"),
        ("ex;ample.com", "';' is not allowed"),
        ("$(reboot).com", "'$' is not allowed"),
        ("example.123", "number"),
        ("exam?ple.com", "'?' is not allowed in a domain"),
        ("bü?cher.com", "'?' is not allowed in a domain"),
        ("a\u202eb.com", "invisible"),
        ("x" * 40_000, "characters long"),
    ],
)
def test_domain_refused_in_plain_words(typed: str, words: str) -> None:
    with pytest.raises(InputError) as err:
        parse_domain(typed)
    message = str(err.value)
    assert words.lower() in message.lower()
    assert "codepoint" not in message.lower() and "U+" not in message
    assert len(message) < 200, "a long input is never echoed whole"
    assert err.value.field == "address"


def test_target_from_an_address_and_the_gmail_form() -> None:
    target = parse_target("Me@Blog.test", "Mail.Blog.test", 465)
    assert target == Target("blog.test", "Me@blog.test", "mail.blog.test", (465,))
    assert parse_target("blog.test").ports == (587, 465, 25)


@pytest.mark.parametrize(
    ("typed", "host", "port"),
    [
        ("mail.example.com:465", "mail.example.com", 465),
        ("mail.example.com", "mail.example.com", None),
        ("127.0.0.1", "127.0.0.1", None),
        ("[::1]:587", "::1", 587),
        ("[::1]", "::1", None),
        ("smtp://mail.example.com:25", "mail.example.com", 25),
    ],
)
def test_smtp_server_field(typed: str, host: str, port: int | None) -> None:
    assert parse_smtp_server(typed) == (host, port)


def test_a_port_in_the_smtp_server_field_is_used_and_said() -> None:
    target = parse_target("me@x.test", "mail.x.test:465")
    assert target.ports == (465,) and target.port_from_host


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("me@example.com", "that is an email address"),
        ("mail.example.com:2525", "not one Gmail offers"),
        ("[1.2.3.4", "without its ']'"),
        ("mail.exa_mple.com", "'_' is not allowed in a server name"),
    ],
)
def test_smtp_server_field_refused_in_plain_words(typed: str, words: str) -> None:
    with pytest.raises(InputError) as err:
        parse_target("me@example.com", typed)
    assert words in str(err.value)
    assert err.value.field == "smtp_host"


def test_port_that_contradicts_the_server_field() -> None:
    with pytest.raises(InputError, match="pick one"):
        parse_target("me@x.test", "mail.x.test:465", 587)


def test_local_part_is_checked() -> None:
    for bad in ("(me)@blog.test", "@blog.test", "a b@blog.test"):
        with pytest.raises(InputError) as err:
            parse_target(bad)
        assert err.value.field == "address"


def test_endpoints_and_ports() -> None:
    assert parse_endpoint("[::1]:25") == ("::1", 25)
    assert parse_endpoint("mail.x.test:587") == ("mail.x.test", 587)
    assert parse_port("465") == 465
    for bad in ("x:y", "nohost", "h:70000"):
        with pytest.raises(InputError):
            parse_endpoint(bad)
    with pytest.raises(InputError, match="587, 465 or 25"):
        parse_port(2525)
    with pytest.raises(InputError, match="IP address"):
        parse_endpoint("mail.x.test:587", need_ip=True)


def test_names_from_dns_follow_the_same_rules() -> None:
    assert is_valid_dns_host("mail.example.com.")
    for bad in ("_dmarc.example.com", "a;b.example.com", "x" * 64 + ".test", "single"):
        assert not is_valid_dns_host(bad)


def test_display_name_shows_unicode() -> None:
    assert display_name("xn--bcher-kva.example") == "bücher.example"
