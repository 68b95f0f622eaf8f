"""Renderers: golden files, and no hostile value can reach generated text."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gmailfix.errors import InputError
from gmailfix.inputs import parse_domain
from gmailfix.remedies.plan import AliasHost, Plan, safe_name
from gmailfix.render.certbot import certbot_files
from gmailfix.render.dns_records import zone_lines
from gmailfix.render.exim import exim_files
from gmailfix.render.gmail_settings import gmail_settings_text
from gmailfix.render.verify import verify_script
from tests.support.plans import make_plan

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("GMAILFIX_UPDATE_GOLDEN") == "1"

PLANS = {
    "new-certificate": make_plan(
        "new-certificate",
        "example.test",
        username="me@example.test",
        addresses=("192.0.2.10",),
    ),
    "sni": make_plan(
        "sni",
        "alpha.test",
        layout="debian-single",
        aliases=(
            AliasHost("alpha.test", "mail.alpha.test"),
            AliasHost("beta.test", "mail.beta.test"),
        ),
    ),
    "isp-hostname": make_plan(
        "isp-hostname",
        "blog.test",
        "server42.isp.test",
        port=465,
        username="me@blog.test",
        verified=True,
    ),
    "enable-auth": make_plan("enable-auth", "noauth.test", layout="debian-split"),
    # Debian's stock Exim: a built-in certificate and no login, one plan for both
    "stock-exim": make_plan(
        "new-certificate", "stock.test", username="me@stock.test", also=("enable-auth",)
    ),
    "serve-full-chain": make_plan("serve-full-chain", "chain.test", layout="plain"),
}


def rendered(plan: Plan) -> dict[str, str]:
    files = {"gmail-settings.txt": gmail_settings_text(plan), "verify.sh": verify_script(plan)}
    files |= exim_files(plan)
    if plan.needs_certificate:
        files |= certbot_files(plan) | {"dns/records.zone": zone_lines(plan)}
    return files


@pytest.mark.parametrize("name", sorted(PLANS))
def test_golden_files(name: str) -> None:
    """A change to generated text shows up here; regenerate with GMAILFIX_UPDATE_GOLDEN=1."""
    for path, text in rendered(PLANS[name]).items():
        golden = GOLDEN / name / path
        if UPDATE:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text)
        assert golden.exists(), f"missing golden file {golden}"
        assert text == golden.read_text(), f"{golden} differs"


def test_gmail_settings_name_every_field_in_order() -> None:
    text = gmail_settings_text(PLANS["isp-hostname"])
    fields = [
        "Name:",
        "Email address:",
        "Treat as an alias:",
        "SMTP Server:",
        "Port:",
        "Username:",
        "Password:",
    ]
    positions = [text.index(f) for f in fields]
    assert positions == sorted(positions)
    assert "SMTP Server:        server42.isp.test" in text
    assert "(*) Secured connection using SSL" in text
    assert "( ) Secured connection using TLS" in text


HOSTILE = [
    "$(reboot)",
    "a;b",
    "a`b`",
    "${run{/bin/sh}}",
    "a b",
    "a\nb",
    "../x",
    "a'b",
    'a"b',
    "a:b",
    "-rf",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_names_never_reach_generated_text(value: str) -> None:
    with pytest.raises(InputError):
        parse_domain(value)
    with pytest.raises(InputError):
        safe_name(value)
    with pytest.raises(InputError):
        make_plan("new-certificate", "example.test", value)
    if value != "-rf":  # a path component may start with "-": paths start with "/"
        with pytest.raises(InputError):
            make_plan("new-certificate", "example.test", tls_dir=f"/etc/{value}")


@given(st.text(max_size=80))
def test_whatever_survives_normalisation_is_safe_for_every_renderer(text: str) -> None:
    try:
        domain = parse_domain(text)
    except InputError:
        return
    plan = make_plan(
        "sni",
        domain,
        aliases=(AliasHost(domain, f"mail.{domain}"), AliasHost("b.test", "mail.b.test")),
    )
    for body in rendered(plan).values():
        assert body.isascii()
    assert set(domain) <= set("abcdefghijklmnopqrstuvwxyz0123456789.-")
