"""gmailfix works out the file an expanded tls_certificate names for a client without SNI
(gmailfix.server.exim_expansion) instead of asking ``exim -be``. Each form it accepts is
checked against real Exim 4.96 (``exim -be`` run by the test in the sandbox, where
$tls_in_sni is empty as for a client without SNI); every other form gets no value."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from gmailfix.render.exim import certificate_expressions
from gmailfix.server import sandbox
from gmailfix.server.exim_expansion import without_sni
from gmailfix.server.system import run_command
from tests.support import exim as eh
from tests.support.plans import make_plan
from tests.support.programs import unavailable

pytestmark = pytest.mark.exim


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    folder = eh.shared_dir()
    (folder / "sni.map").write_text("mail.one.test: /etc/exim4/tls/mail.one.test\n")
    (folder / "sni.map").chmod(0o644)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def exim_says(workdir: Path, text: str) -> str:
    """What ``exim -be`` makes of ``text``, run as nobody without network."""
    if sandbox.unavailable():
        unavailable("the sandbox needs root")
    conf = workdir / "exim.conf"
    conf.write_text(f"primary_hostname = mail.gmailfix.test\nspool_directory = {workdir}\n")
    conf.chmod(0o644)
    ran = run_command(sandbox.confined([eh.exim(), "-C", str(conf), "-be", text]))
    assert ran.ok, ran.output
    return ran.output.rstrip("\n")


def forms(workdir: Path) -> list[str]:
    sni_map = workdir / "sni.map"
    return [
        "/etc/exim4/tls/mail.one.test/fullchain.pem",
        f"${{lookup{{$tls_in_sni}}lsearch{{{sni_map}}}{{$value/fullchain.pem}}{{/d/fullchain.pem}}}}",
        f"${{lookup {{$tls_sni}} lsearch {{{sni_map}}} {{$value/k.pem}} {{/d/k.pem}}}}",
        f"${{lookup{{${{lc:$tls_in_sni}}}}lsearch{{{sni_map}}}{{$value}}}}",
        "${if eq{$tls_in_sni}{mail.one.test}{/one.pem}{/default.pem}}",
        "${if eqi {$tls_in_sni}{} {/empty.pem}{/other.pem}}",
        "${if !eq{$tls_in_sni}{x}{/not-x.pem}}",
        "${if def:tls_in_sni {/sni.pem}{/no-sni.pem}}",
        "${if !def:tls_sni {/no-sni.pem}{/sni.pem}}",
        "${uc:/a/${lc:B}.pem}",
        "/etc/exim4/a\\$b\\\\c\\x41\\101\\t.pem",
        "/etc/exim4/\\033]0;owned\\007.crt",
    ]


def test_each_accepted_form_is_what_exim_makes_of_it(workdir: Path) -> None:
    for text in forms(workdir):
        ours = without_sni(text)
        assert ours.unsupported is None, (text, ours)
        assert ours.value == exim_says(workdir, text), text


def test_gmailfixs_own_sni_form() -> None:
    certificate, key = certificate_expressions(
        make_plan("sni", "one.test", "mail.one.test", aliases=())
    )
    assert "${lookup{$tls_in_sni}lsearch{" in certificate
    found = without_sni(certificate)
    assert found.value is not None and found.value.endswith("/fullchain.pem")
    assert "$" not in found.value and without_sni(key).value is not None


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("${run{/bin/touch /tmp/PWNED}}", "${run"),
        ("${readfile{/etc/shadow}}", "${readfile"),
        ("${readsocket{/run/x.sock}{hello}}", "${readsocket"),
        ("${perl{steal}}", "${perl"),
        ("${dlfunc{/lib/x.so}{f}}", "${dlfunc"),
        ("${env{HOME}}/x.pem", "${env"),
        ("${lookup{root}lsearch{/etc/shadow}}", "a lookup whose key is not the SNI"),
        ("${lookup{$tls_in_sni}lsearch*{/m}{$value}{/d}}", "a lsearch* lookup"),
        ("${lookup{$tls_in_sni}wildlsearch{/m}{$value}{/d}}", "a wildlsearch lookup"),
        ("${lookup mysql{select 1}}", "a mysql lookup"),
        ("${if exists{/etc/shadow}{/a}{/b}}", "the condition exists"),
        ("${if eq{$tls_in_sni}{x}{${run{/bin/id}}}{/b}}", "${run"),  # even in a branch not taken
        ("$primary_hostname.pem", "$primary_hostname"),
        ("${if def:acl_c0 {/a}{/b}}", "def:acl_c0"),
        ("\\N$x\\N", "\\N"),
        ("${lookup{$tls_in_sni}lsearch{/m}{$value}", "text Exim would not accept"),
        ("${lc:/a.pem", "an unfinished ${...}"),
        ("${lc:" * 30 + "/a.pem" + "}" * 30, "expansions nested this deep"),
    ],
)
def test_every_other_form_gets_no_value(text: str, part: str) -> None:
    found = without_sni(text)
    assert found.value is None and found.unsupported is not None
    assert found.unsupported.startswith(part) or part in found.unsupported, found
