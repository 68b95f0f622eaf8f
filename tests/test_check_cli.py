"""``gmailfix check`` as cron runs it: a real process, one line, the exit status.

Against the lab (accept, self-signed), a network namespace with only loopback
and a DNS server that never answers (unknown), and two servers of its own whose
certificates are part-way through their lives: a 6-day certificate with 4 days
left (healthy: no warning) and a 90-day one with 20 days left (WARN).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gmailfix.lab import ca
from gmailfix.lab.dns_server import DnsServer, Zone
from gmailfix.lab.runner import LabInfo, _server_context
from gmailfix.lab.servers import ServerSpec, serve
from tests.test_cannot_check import offline, silent_dns  # noqa: F401 (a fixture)
from tests.test_import_hygiene import loaded

ROOT = Path(__file__).resolve().parent.parent
GMAILS_WORDS = "TLS Negotiation failed, the certificate doesn't match the host"


def check(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "gmailfix", "check", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout + done.stderr
    assert done.stderr == ""
    return lines[0]


def test_accept_is_one_ok_line_and_exit_0(lab: LabInfo) -> None:
    done = check("good.test", "--port", "587", "--timeout", "3", *lab.diagnose_args("good.test"))
    assert done.returncode == 0, done.stderr
    line = one_line(done)
    assert line.startswith("OK mail.good.test:587 Gmail would accept; certificate ")
    assert line.endswith("left of 90 days")


def test_self_signed_is_refused_with_gmails_words_and_exit_1(lab: LabInfo) -> None:
    args = lab.diagnose_args("selfsigned.test")
    done = check("selfsigned.test", "--port", "587", "--timeout", "3", *args)
    assert done.returncode == 1, done.stderr
    line = one_line(done)
    assert line.startswith("REFUSED mail.selfsigned.test:587 self-signed: ")
    assert GMAILS_WORDS in line


def test_every_port_as_diagnose_does(lab: LabInfo) -> None:
    """Without --port, the verdict is diagnose's: the best of the three ports."""
    done = check("good.test", "--timeout", "3", *lab.diagnose_args("good.test"))
    assert done.returncode == 0
    assert one_line(done).startswith("OK mail.good.test:")


def test_no_network_is_unknown_and_exit_3() -> None:
    done = check("example.com", "--timeout", "3", prefix=offline())
    assert done.returncode == 3, done.stderr
    line = one_line(done)
    assert line.startswith("UNKNOWN mail.example.com:587 gmailfix cannot tell what Gmail would do")
    assert "REFUSED" not in line


def test_a_dns_server_that_never_answers_is_unknown(silent_dns: str) -> None:  # noqa: F811
    done = check("example.com", "--port", "465", "--timeout", "1", "--dns-server", silent_dns)
    assert done.returncode == 3
    assert one_line(done).startswith("UNKNOWN mail.example.com:465 ")


@pytest.mark.parametrize(
    "args",
    [(), ("bad..domain",), ("x.test", "--port", "2525"), ("x.test", "--timeout", "soon")],
)
def test_usage_is_exit_2_with_nothing_on_stdout(args: tuple[str, ...]) -> None:
    done = check(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(("usage:", "gmailfix:")) and "Traceback" not in done.stderr


def test_help_and_check_load_no_wizard_and_no_rich(lab: LabInfo) -> None:
    helped = loaded("check", "--help")
    assert not helped & {"textual", "rich"}
    assert not (helped - loaded("--help")) & {"cryptography", "dns"}  # the command adds no engine
    modules = loaded("check", "good.test", "--port", "587", *lab.diagnose_args("good.test"))
    assert {"cryptography", "dns"} <= modules  # it did check
    assert not modules & {"textual", "rich"}


def test_main_help_lists_check() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gmailfix", "--help"], capture_output=True, text=True, timeout=60
    )
    assert "check" in done.stdout and "cron" in done.stdout


# --- the certificate's lifetime: less than a third left is WARN -----------------------------

DAY = dt.timedelta(days=1)
LIVES = {  # domain -> (days since issue, lifetime in days)
    "short.test": (2, 6),  # Let's Encrypt's short-lived profile, 4 days left: healthy
    "long.test": (70, 90),  # 20 days of 90 left: renewal should have happened a month ago
}


@contextlib.contextmanager
def dated_servers(directory: Path) -> Iterator[list[str]]:
    """A DNS server and one STARTTLS server per domain in LIVES; yields the check options
    shared by all (DNS server, CA file, --connect for each)."""
    zone = Zone()
    for domain in LIVES:
        zone.add(domain, "MX", f"10 mail.{domain}.")
        zone.add(f"mail.{domain}", "A", "127.0.0.1")
    dns = DnsServer(zone)
    servers: list[asyncio.Server] = []
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> list[str]:
        now = dt.datetime.now(dt.UTC)
        root = ca.make_root(now=now)
        issuer = ca.make_intermediate(root, now=now)
        (directory / "ca.pem").write_bytes(root.cert_pem())
        host, port = await dns.start()
        args = ["--dns-server", f"{host}:{port}", "--ca-file", str(directory / "ca.pem")]
        for domain, (age, life) in LIVES.items():
            leaf = ca.make_leaf(
                issuer, [f"mail.{domain}"], now=now, valid_from=-age * DAY, valid_for=life * DAY
            )
            tls = _server_context(leaf.cert_pem() + issuer.cert_pem(), leaf.key_pem())
            server = await serve(
                ServerSpec(), host="127.0.0.1", port=0, hostname=domain, tls=tls, implicit=False
            )
            servers.append(server)
            args += [
                "--connect",
                f"mail.{domain}:587=127.0.0.1:{server.sockets[0].getsockname()[1]}",
            ]
        return args

    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    finally:

        async def stop() -> None:
            for server in servers:
                server.close()
            await dns.stop()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


@pytest.fixture(scope="module")
def dated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    with dated_servers(tmp_path_factory.mktemp("dated")) as args:
        yield args


def test_a_healthy_short_lived_certificate_is_ok(dated: list[str]) -> None:
    done = check("short.test", "--port", "587", "--timeout", "3", *dated)
    assert done.returncode == 0, done.stdout + done.stderr
    line = one_line(done)
    assert line.startswith("OK mail.short.test:587 Gmail would accept; certificate ")
    assert line.endswith("left of 6 days")


def test_a_third_of_the_lifetime_left_is_a_warning_with_exit_0(dated: list[str]) -> None:
    done = check("long.test", "--port", "587", "--timeout", "3", *dated)
    assert done.returncode == 0, done.stdout + done.stderr
    line = one_line(done)
    assert line.startswith("WARN mail.long.test:587 Gmail would accept, but the certificate has ")
    assert "left of 90 days" in line and "less than a third" in line


def test_fail_on_warn_makes_a_warning_exit_5_for_systemd(dated: list[str]) -> None:
    done = check("long.test", "--port", "587", "--timeout", "3", "--fail-on-warn", *dated)
    assert done.returncode == 5
    assert one_line(done).startswith("WARN ")
    done = check("short.test", "--port", "587", "--timeout", "3", "--fail-on-warn", *dated)
    assert done.returncode == 0
    assert one_line(done).startswith("OK ")
