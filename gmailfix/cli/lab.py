"""``gmailfix lab``: run the lab in the foreground and print what to try."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import tempfile
from pathlib import Path

from rich.console import Console

from gmailfix.errors import LabError, shorten
from gmailfix.lab.runner import Lab, LabInfo
from gmailfix.lab.scenarios import ALL_SCENARIOS, MISSING_DOMAIN


def describe(info: LabInfo) -> str:
    lines = [
        "gmailfix lab is running (Ctrl+C stops it).",
        f"  DNS server: {info.dns[0]}:{info.dns[1]}",
        f"  Lab CA (trust it with --ca-file): {info.ca_file}",
        f"  DNS over HTTPS: --doh {info.doh_url} (with --ca-file, instead of --dns-server)",
        "",
        "Try these in another terminal:",
    ]
    for scenario in ALL_SCENARIOS:
        expect = "accept" if scenario.expect == "accept" else f"reject: {scenario.expect}"
        lines += [
            "",
            f"# {scenario.domain}: {scenario.title} ({expect})",
            info.command(scenario.domain),
        ]
    lines += [
        "",
        f"# {MISSING_DOMAIN}: a domain that does not exist (reject: nxdomain)",
        info.command(MISSING_DOMAIN),
    ]
    return "\n".join(lines)


async def _serve(directory: Path, dns_port: int, console: Console) -> None:
    lab = Lab(directory, fixed_ports=True, dns_port=dns_port)
    try:
        info = await lab.start()
        console.print(describe(info), highlight=False, soft_wrap=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await lab.stop()


def run_lab(dns_port: int = 5353, directory: str | None = None) -> int:
    console = Console()
    if directory:
        path = Path(directory)
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / ".gmailfix-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise LabError(f"cannot use {shorten(directory)} for the lab: {exc.strerror}") from None
        asyncio.run(_serve(path, dns_port, console))
    else:
        with tempfile.TemporaryDirectory(prefix="gmailfix-lab-") as tmp:
            asyncio.run(_serve(Path(tmp), dns_port, console))
    console.print("lab stopped")
    return 0
