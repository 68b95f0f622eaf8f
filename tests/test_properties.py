"""Property tests: whatever is typed, validation answers with a request or one
clear InputError; argparse errors exit 2. Nothing else may escape."""  # noqa: D

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gmailfix.cli.args import connection_from_args, target_from_args
from gmailfix.cli.main import build_parser
from gmailfix.errors import InputError
from gmailfix.inputs import parse_domain, parse_smtp_server

ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300)
NAMEISH = st.from_regex(r"[A-Za-z0-9._\-@:/\[\]ü ]{0,80}", fullmatch=True)
TEXT = st.one_of(ANY_TEXT, NAMEISH)


@given(TEXT)
def test_domain_normalisation_is_total(text: str) -> None:
    try:
        domain = parse_domain(text)
    except InputError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert domain == domain.lower() and not domain.endswith(".")
    assert len(domain) <= 253 and all(0 < len(label) <= 63 for label in domain.split("."))
    assert parse_domain(domain) == domain  # idempotent


@given(TEXT)
def test_host_normalisation_is_total(text: str) -> None:
    try:
        parse_smtp_server(text)
    except InputError as exc:
        assert str(exc)


def _parse(argv: list[str]) -> int | str:
    """0 for a valid request, 2 for a refused one; raises anything else."""
    parser = build_parser()
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            args = parser.parse_args(argv)
    except SystemExit as exc:
        assert exc.code == 2
        assert "Traceback" not in stderr.getvalue()
        return 2
    try:
        target_from_args(args)
        connection_from_args(args)
    except InputError as exc:
        message = str(exc)
        assert message and "\n" not in message
        return 2
    return 0


@settings(max_examples=300, deadline=None)
@given(
    target=TEXT,
    smtp=st.none() | TEXT,
    timeout=st.none() | TEXT,
    connect=st.lists(TEXT, max_size=2),
    dns=st.none() | TEXT,
    doh=st.none() | TEXT,
    ports=st.lists(st.integers(-1, 70000), max_size=2),
)
def test_every_option_is_validated(target, smtp, timeout, connect, dns, doh, ports) -> None:  # type: ignore[no-untyped-def]
    argv = ["diagnose", "--", target] if target.startswith("-") else ["diagnose", target]
    options: list[str] = []
    if smtp is not None:
        options += [f"--smtp-host={smtp}"]
    if timeout is not None:
        options += [f"--timeout={timeout}"]
    for item in connect:
        options += [f"--connect={item}"]
    if dns is not None:
        options += [f"--dns-server={dns}"]
    if doh is not None:
        options += [f"--doh={doh}"]
    for port in ports:
        options += [f"--port={port}"]
    assert _parse(options + argv) in (0, 2)


@pytest.mark.parametrize("name", ["a" * 63 + ".test", ".".join(["a" * 61] * 4) + ".te"])
def test_longest_legal_names_pass(name: str) -> None:
    assert parse_domain(name) == name
