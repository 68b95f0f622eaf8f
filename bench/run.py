"""gmailfix benchmark: prints ratios, asserts nothing.

    python bench/run.py [--domains 500] [--repeat 3]

1. Concurrency: one full diagnosis of the lab's slow.test (every SMTP reply 200 ms
   late, 3 hosts x 3 ports, with and without SNI) against its slowest single
   probe, and against the same diagnosis run one probe at a time.
2. Peers on the blog case, where installed: openssl s_client (one probe: the
   floor), testssl.sh, sslyze, swaks; as ratios to gmailfix, and whether each
   names the problem (the certificate is for another host).
3. Start-up: `gmailfix --help` and the wizard's first paint (headless), as ratios
   to `python -c pass` and to a bare Textual app; peak memory.
4. Batch: N lab domains through `gmailfix diagnose --from`, domains per second and
   peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from gmailfix.diagnose import diagnose
from gmailfix.inputs import parse_target
from gmailfix.lab.runner import LabInfo, LabThread
from gmailfix.smtp import ProbeTarget, probe

ROOT = Path(__file__).resolve().parent.parent

PY = sys.executable


# Python children report their own peak memory (VmHWM) at exit. The kernel's
# ru_maxrss of a child starts at the parent's size at spawn, so it would say
# "as big as this benchmark" for every child.
HWM = """
import atexit, runpy, sys
out = sys.argv.pop(1)
def report():
    with open("/proc/self/status") as status, open(out, "w") as sink:
        sink.write(next(line.split()[1] for line in status if line.startswith("VmHWM")))
atexit.register(report)
kind = sys.argv.pop(1)
if kind == "module":
    sys.argv = sys.argv[1:]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
else:
    code = sys.argv.pop(1)
    exec(compile(code, "<bench>", "exec"), {"__name__": "__main__"})
"""


def python_child(kind: str, target: str, *args: str) -> list[str]:
    """argv running a module (``kind='module'``) or code under the VmHWM reporter."""
    return [PY, "-c", HWM, "{hwm}", kind, target, *args]


def timed_child(argv: Sequence[str]) -> tuple[float, int, str]:
    """(seconds, peak memory in MiB or 0 when unknown, output) of one child process."""
    with tempfile.NamedTemporaryFile(suffix=".hwm") as hwm:
        argv = [a.replace("{hwm}", hwm.name) for a in argv]
        start = time.perf_counter()
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        text = Path(hwm.name).read_text().strip()
    return seconds, int(text) // 1024 if text else 0, done.stdout + done.stderr


def floor_ratio(argv: Sequence[str], pairs: int) -> None:
    """A one-port diagnose against Python's floor for any TLS client (``import asyncio,
    ssl``), run in pairs one after the other so both see the same machine; the median of
    the pairs' ratios (target: at most 3.0)."""
    floor = python_child("code", "import asyncio, ssl")
    ratios = []
    for _ in range(pairs):
        ratios.append(timed_child(argv)[0] / timed_child(floor)[0])
    print(
        f"One-port diagnose / `python -c 'import asyncio, ssl'`, median of {pairs} paired "
        f"runs: **{statistics.median(ratios):.2f}x** (target 3.0x)\n"
    )


def median_child(argv: Sequence[str], repeat: int) -> tuple[float, str]:
    runs = [timed_child(argv) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), runs[-1][2]


def concurrency(lab: LabInfo, repeat: int) -> None:
    print(
        "\n## 1. Concurrency (slow.test: 200 ms per SMTP reply, 3 hosts x 3 ports x 2 addresses, with and without SNI)\n"
    )
    connection = lab.connection(timeout=10)
    target = parse_target("slow.test")
    full, sequential = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        result = asyncio.run(diagnose(target, connection))
        full.append(time.perf_counter() - start)
        start = time.perf_counter()
        asyncio.run(diagnose(target, connection, max_probes=1))
        sequential.append(time.perf_counter() - start)
    assert result.verdict.accept, result.findings
    singles = []
    for endpoint in result.endpoints:
        for check in endpoint.checks:
            where = check.probe.address or ""
            port = connection.connect.get((where, endpoint.port)) or (where, endpoint.port)
            for sni in (endpoint.host, None):
                one = ProbeTarget(endpoint.host, endpoint.port, sni, port)
                singles.append(asyncio.run(probe(one, timeout=10)).elapsed)
    probes = len(singles)
    slowest = max(singles)
    t_full, t_seq = statistics.median(full), statistics.median(sequential)
    print(f"probes per diagnosis:               {probes}")
    print(f"slowest single probe:               {slowest:.3f} s")
    print(f"full diagnosis (median of {repeat}):      {t_full:.3f} s")
    print(f"one probe at a time (median):       {t_seq:.3f} s")
    print(f"**full / slowest probe:             {t_full / slowest:.2f}**  (target <= 1.3)")
    print(f"**full / one at a time:             {t_full / t_seq:.3f}**")


def peers(lab: LabInfo, repeat: int) -> None:
    print(
        "\n## 2. Peers on the blog case (mail.blog.test:587, certificate for server42.isp.test)\n"
    )
    address, port = lab.connect[("mail.blog.test", 587)]
    ca = str(lab.ca_file)
    gmailfix = python_child(
        "module",
        "gmailfix",
        "diagnose",
        "blog.test",
        "--smtp-host",
        "mail.blog.test",
        "--port",
        "587",
        *lab.diagnose_args("blog.test"),
    )
    base, out = median_child(gmailfix, repeat)
    floor_ratio(gmailfix, repeat * 4 + 1)
    rows = [
        ("gmailfix diagnose (one port)", base, "hostname-mismatch" in out or "another name" in out)
    ]
    tools: list[tuple[str, list[str], Sequence[str]]] = [
        (
            "openssl s_client -starttls smtp",
            [
                _which("openssl"),
                "s_client",
                "-connect",
                f"{address}:{port}",
                "-starttls",
                "smtp",
                "-servername",
                "mail.blog.test",
                "-verify_hostname",
                "mail.blog.test",
                "-CAfile",
                ca,
            ],
            ["hostname mismatch"],
        ),
        (
            "swaks --tls --tls-verify",
            [
                _which("swaks"),
                "--server",
                address,
                "--port",
                str(port),
                "--tls",
                "--tls-verify",
                "--tls-ca-path",
                ca,
                "--tls-sni",
                "mail.blog.test",
                "--quit-after",
                "TLS",
            ],
            ["verif", "mismatch", "not match"],
        ),
        (
            "testssl.sh --starttls smtp -S",
            [
                _which("testssl.sh", "testssl"),
                "--quiet",
                "--color",
                "0",
                "--starttls",
                "smtp",
                "-S",
                "--add-ca",
                ca,
                "--ip",
                address,
                f"mail.blog.test:{port}",
            ],
            ["mismatch", "doesn't match", "not match", "does not match"],
        ),
        (
            "sslyze --starttls smtp --certinfo",
            [
                _which("sslyze"),
                "--starttls",
                "smtp",
                "--certinfo",
                "--certinfo_ca_file",
                ca,
                "--mozilla_config",
                "disable",
                f"mail.blog.test:{port}{{{address}}}",
            ],
            ["no matching subjectaltname", "does not match", "not match"],
        ),
    ]
    for name, argv, words in tools:
        if not argv[0]:
            print(f"- {name}: not installed")
            continue
        seconds, out = median_child(argv, repeat)
        rows.append((name, seconds, any(w.lower() in out.lower() for w in words)))
    print("| tool | seconds | ratio to gmailfix | names the problem |\n|---|---|---|---|")
    for name, seconds, named in rows:
        print(f"| {name} | {seconds:.3f} | {seconds / base:.2f} | {'yes' if named else 'no'} |")


def _which(*names: str) -> str:
    """The first of ``names`` on PATH, or '' (sslyze may live in its own venv: add it to PATH)."""
    return next((path for n in names if (path := shutil.which(n))), "")


FIRST_PAINT = """
import os, sys, time
from textual.app import App
started = float(os.environ["BENCH_STARTED"])
def painted(app):
    print(f"painted={time.time() - started:.4f}", file=sys.__stderr__)
    app.exit()
if sys.argv[1] == "bare":
    async def pilot(p):
        painted(p.app)
    App().run(headless=True, auto_pilot=pilot)
else:
    from gmailfix.screens.app import GmailfixApp, system_connection
    from gmailfix.screens.welcome import WelcomeScreen
    async def pilot(p):
        while not (isinstance(p.app.screen, WelcomeScreen) and p.app.screen.query("#start")):
            await p.pause(0.005)
        painted(p.app)
    GmailfixApp(system_connection).run(headless=True, auto_pilot=pilot)
"""


def first_paint(mode: str) -> tuple[float, int]:
    """Seconds from spawning the process to the first screen being on display."""
    os.environ["BENCH_STARTED"] = repr(time.time())
    _, rss, out = timed_child(python_child("code", FIRST_PAINT, mode))
    return float(out.split("painted=")[1].split()[0]), rss


def startup(repeat: int) -> None:
    print(f"\n## 3. Start-up (median of {repeat})\n")
    results = {}
    for name, argv in [
        ("python -c pass", python_child("code", "pass")),
        ("gmailfix --help", python_child("module", "gmailfix", "--help")),
    ]:
        runs = [timed_child(argv)[:2] for _ in range(repeat)]
        results[name] = (statistics.median(r[0] for r in runs), max(r[1] for r in runs))
    for name, mode in [
        ("bare Textual app, first paint", "bare"),
        ("gmailfix wizard, first paint", "wizard"),
    ]:
        runs = [first_paint(mode) for _ in range(repeat)]
        results[name] = (statistics.median(r[0] for r in runs), max(r[1] for r in runs))
    bare_py = results["python -c pass"][0]
    bare_tx = results["bare Textual app, first paint"][0]
    print(
        "| what | seconds | / python -c pass | / bare Textual app | peak MiB |\n|---|---|---|---|---|"
    )
    for name, (seconds, rss) in results.items():
        print(
            f"| {name} | {seconds:.3f} | {seconds / bare_py:.1f} | {seconds / bare_tx:.2f} | {rss} |"
        )


def batch(lab_thread: LabThread, lab: LabInfo, count: int) -> None:
    print(f"\n## 4. Batch: {count} lab domains, --concurrency 32, port 587\n")
    zone = lab_thread.lab.zone
    names = [f"d{i}.bulk.test" for i in range(count)]
    for name in names:
        zone.add(name, "MX", "10 mail.good.test.")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("\n".join(names) + "\n")
    args = python_child(
        "module",
        "gmailfix",
        "diagnose",
        "--from",
        listing.name,
        "--json",
        "--port",
        "587",
        "--concurrency",
        "32",
        *lab.lab_args(),
    )
    for (h, p), (a, q) in lab.by_domain["good.test"].items():
        args += ["--connect", f"{h}:{p}={a}:{q}"]
    seconds, rss, out = timed_child(args)
    Path(listing.name).unlink()
    accepted = out.count('"verdict": "accept"')
    print(f"domains: {count}, accepted: {accepted}, wall: {seconds:.2f} s")
    print(f"**{count / seconds:.1f} domains per second**, peak memory {rss} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--domains", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"# gmailfix benchmark ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, Python {sys.version.split()[0]})"
    )
    # An installed package runs from bytecode; this checkout may not have any
    # (PYTHONDONTWRITEBYTECODE), and compiling on every start is not what users pay.
    for package in ("gmailfix", "screens"):
        compileall.compile_dir(str(ROOT / package), quiet=1)
    lab_thread = LabThread()
    lab = lab_thread.start()
    try:
        concurrency(lab, args.repeat)
        peers(lab, args.repeat)
        startup(args.repeat * 2 + 1)
        batch(lab_thread, lab, args.domains)
    finally:
        lab_thread.stop()


if __name__ == "__main__":
    main()
