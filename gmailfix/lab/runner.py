"""Start and stop the whole lab: CA, DNS server, AIA server and SMTP servers."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shlex
import ssl
import tempfile
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import dns.reversename
from cryptography.hazmat.primitives.serialization import Encoding

from gmailfix.errors import LabError
from gmailfix.lab import ca
from gmailfix.lab.dns_server import DnsServer, Zone
from gmailfix.lab.scenarios import ALL_SCENARIOS, CertSpec, Scenario
from gmailfix.lab.servers import ServerSpec, serve, serve_doh, serve_files
from gmailfix.smtp import Endpoint

if TYPE_CHECKING:
    from gmailfix.connection import Connection

CLOSED_PORT = 1  # tcpmux: nothing listens there
FIXED_PORTS = {587: 10587, 465: 10465, 25: 10025}


def scenario_address(index: int) -> str:
    return f"127.0.2.{index + 1}"


def second_address(address: str) -> str:
    """The second server of a two-address scenario: 127.0.2.N -> 127.0.3.N."""
    return address.replace("127.0.2.", "127.0.3.", 1)


@dataclass
class LabInfo:
    """What a client needs to use the lab."""

    directory: Path
    dns: Endpoint
    ca_file: Path
    connect: dict[Endpoint, Endpoint] = field(default_factory=dict)
    by_domain: dict[str, dict[Endpoint, Endpoint]] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)
    doh_url: str = ""

    def scenario(self, domain: str) -> Scenario:
        return next(s for s in ALL_SCENARIOS if s.domain == domain)

    def typed_host(self, domain: str) -> str:
        return self.scenario(domain).typed_host.replace("{addr}", self.addresses[domain])

    def lab_args(self) -> list[str]:
        host, port = self.dns
        return ["--dns-server", f"{host}:{port}", "--ca-file", str(self.ca_file)]

    def diagnose_args(self, domain: str) -> list[str]:
        """The options that point ``gmailfix diagnose`` at this lab for one domain."""
        args = self.lab_args()
        for (h, p), (a, q) in sorted(self.by_domain.get(domain, {}).items()):
            args += ["--connect", f"{h}:{p}={a}:{q}"]
        scenario = next((s for s in ALL_SCENARIOS if s.domain == domain), None)
        if scenario is not None and scenario.smtp_host:
            args += ["--smtp-host", self.typed_host(domain)]
        return args

    def command(self, domain: str) -> str:
        return shlex.join(["gmailfix", "diagnose", domain, *self.diagnose_args(domain)])

    def connection(self, timeout: float = 5.0, domain: str | None = None) -> Connection:
        """How to reach the lab: its DNS server, its CA trusted, its servers' real ports."""
        from gmailfix.connection import build

        host, port = self.dns
        connect = self.by_domain.get(domain, {}) if domain else self.connect
        return build(
            dns_server=f"{host}:{port}",
            ca_files=[str(self.ca_file)],
            connect=dict(connect),
            timeout=timeout,
        )


# the printed commands name fixed ports, so one lab at a time
_ANOTHER_LAB = "; is another gmailfix lab running? Stop it first (Ctrl+C in its terminal)"


class Lab:
    """The lab's servers on one event loop."""

    def __init__(self, directory: Path, *, fixed_ports: bool = False, dns_port: int = 0) -> None:
        self.directory = directory
        self.fixed_ports = fixed_ports
        self.dns_port = dns_port
        self._servers: list[asyncio.Server] = []
        self._dns: DnsServer | None = None
        self.info: LabInfo | None = None

    async def start(self) -> LabInfo:
        now = dt.datetime.now(dt.UTC)
        root = ca.make_root(now=now)
        intermediate = ca.make_intermediate(root, now=now)
        other_root = ca.make_root("Private Corp Root", now=now)
        other = ca.make_intermediate(other_root, "Private Corp Issuing CA", now=now)
        aia = await serve_files({"/intermediate.der": intermediate.cert.public_bytes(Encoding.DER)})
        self._servers.append(aia)
        aia_url = f"http://127.0.0.1:{aia.sockets[0].getsockname()[1]}/intermediate.der"
        ca_file = self.directory / "ca.pem"
        ca_file.write_bytes(root.cert_pem())
        zone = Zone()
        self._dns = DnsServer(zone)
        try:
            dns = await self._dns.start("127.0.0.1", self.dns_port)
        except OSError as exc:
            raise LabError(
                f"cannot start the lab DNS server on port {self.dns_port}: {exc.strerror}"
                + _ANOTHER_LAB * self.fixed_ports
            ) from None
        info = LabInfo(self.directory, dns, ca_file)
        info.doh_url = await self._start_doh(intermediate, now)
        issuers = {"lab": intermediate, "other": other}
        for index, scenario in enumerate(ALL_SCENARIOS):
            address = "::1" if scenario.ipv6_only else scenario_address(index)
            info.addresses[scenario.domain] = address
            _add_records(zone, scenario, address)
            if scenario.share_servers_of is None:
                await self._start_scenario(scenario, address, info, issuers, aia_url, now)
        for scenario in ALL_SCENARIOS:
            if scenario.share_servers_of:
                source = info.by_domain[scenario.share_servers_of]
                own = {
                    (scenario.mail_host, p): endpoint
                    for (h, p), endpoint in source.items()
                    if h == info.typed_host(scenario.share_servers_of)
                }
                info.by_domain[scenario.domain] = own
                info.connect.update(own)
        self.info = info
        return info

    async def _start_scenario(
        self,
        scenario: Scenario,
        address: str,
        info: LabInfo,
        issuers: dict[str, ca.Issued],
        aia_url: str,
        now: dt.datetime,
    ) -> None:
        def tls_for(spec: ServerSpec) -> ssl.SSLContext | None:
            if scenario.cert is None:
                return None
            ctx = _tls_context(scenario.cert, issuers, aia_url, now)
            if spec.client_cert:
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(cadata=issuers["lab"].cert_pem().decode())
            return ctx

        hosts = [scenario.mail_host, *(h.replace("{addr}", address) for h in scenario.hosts)]
        mapping: dict[Endpoint, Endpoint] = {}
        for port in (587, 465, 25):
            spec = scenario.servers.get(port)
            endpoint = (address, CLOSED_PORT)
            if spec is not None:
                spec = _with_look(spec, scenario)
                endpoint = await self._listen(scenario, spec, address, port, tls_for(spec))
            if scenario.second_cert is None:
                mapping.update({(host, port): endpoint for host in hosts})
            else:
                mapping[(address, port)] = endpoint  # every address is dialled on its own
        if scenario.second_cert is not None:
            second = second_address(address)
            for port in (587, 465, 25):
                spec = scenario.servers.get(port)
                if spec is None:
                    continue
                ctx = _tls_context(scenario.second_cert, issuers, aia_url, now)
                mapping[(second, port)] = await self._listen(scenario, spec, second, port, ctx)
        info.by_domain[scenario.domain] = mapping
        info.connect.update(mapping)

    async def _listen(
        self,
        scenario: Scenario,
        spec: ServerSpec,
        address: str,
        port: int,
        tls: ssl.SSLContext | None,
    ) -> Endpoint:
        implicit = spec.implicit_tls if spec.implicit_tls is not None else port == 465
        listen_port = FIXED_PORTS[port] if self.fixed_ports else 0
        try:
            server = await serve(
                spec,
                host=address,
                port=listen_port,
                hostname=scenario.mail_host,
                tls=tls,
                implicit=implicit and tls is not None,
            )
        except OSError as exc:
            raise LabError(
                f"cannot listen on {address}:{listen_port}: {exc.strerror}"
                + _ANOTHER_LAB * self.fixed_ports
            ) from None
        self._servers.append(server)
        return (address, server.sockets[0].getsockname()[1])

    async def _start_doh(self, issuer: ca.Issued, now: dt.datetime) -> str:
        leaf = ca.make_leaf(issuer, ["doh.lab.test"], ips=["127.0.0.1"], now=now)
        ctx = _server_context(leaf.cert_pem() + issuer.cert_pem(), leaf.key_pem())
        assert self._dns is not None
        dns_server = self._dns
        server = await serve_doh(lambda wire: dns_server.respond(wire, over_tcp=True), ctx)
        self._servers.append(server)
        return f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/dns-query"

    @property
    def zone(self) -> Zone:
        assert self._dns is not None, "the lab is not started"
        return self._dns.zone

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        if self._dns is not None:
            await self._dns.stop()


def _with_look(spec: ServerSpec, scenario: Scenario) -> ServerSpec:
    """The server greets and answers EHLO as the scenario's mail stack would."""
    look = scenario.look
    if look is None:
        return spec
    greeting = tuple(line.strip() for line in look.banner_for(scenario.mail_host).split("\n"))
    return replace(spec, greeting=greeting, ehlo_extra=look.ehlo_extra)


def _add_records(zone: Zone, scenario: Scenario, address: str) -> None:
    domain = scenario.domain
    mx = scenario.mx if scenario.mx is not None else (f"10 {scenario.mail_host}.",)
    for value in mx:
        zone.add(domain, "MX", value.replace("{addr}", address))
    own = [name for name, kind, _ in scenario.records if kind == "CNAME"]
    if scenario.mail_host not in own:
        zone.add(scenario.mail_host, "AAAA" if scenario.ipv6_only else "A", address)
    if scenario.second_cert is not None:
        zone.add(scenario.mail_host, "A", second_address(address))
        second_reverse = dns.reversename.from_address(second_address(address)).to_text()
        zone.add(second_reverse, "PTR", scenario.mail_host + ".")
    for name, kind, value in scenario.records:
        zone.add(name, kind, value.replace("{addr}", address))
        if scenario.second_cert is not None and kind == "A" and value == "{addr}":
            zone.add(name, "A", second_address(address))
    reverse = dns.reversename.from_address(address).to_text()
    zone.add(reverse, "PTR", (scenario.ptr or scenario.mail_host) + ".")
    for name, behaviour in scenario.dns_behaviour:
        zone.behaviour[name + "."] = behaviour


def _tls_context(
    spec: CertSpec, issuers: dict[str, ca.Issued], aia_url: str, now: dt.datetime
) -> ssl.SSLContext:
    default = _context(spec, spec.names, issuers, aia_url, now)
    if spec.by_sni:
        by_name = {
            name: _context(spec, names, issuers, aia_url, now)
            for name, names in spec.by_sni.items()
        }

        def pick(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
            if name in by_name:
                sock.context = by_name[name]

        default.sni_callback = pick
    return default


def _context(
    spec: CertSpec,
    names: tuple[str, ...],
    issuers: dict[str, ca.Issued],
    aia_url: str,
    now: dt.datetime,
) -> ssl.SSLContext:
    issuer = None if spec.issuer == "self" else issuers[spec.issuer]
    look = spec.look
    if look is not None:
        names = tuple(dict.fromkeys([*names, look.common_name(names[0])]))
    leaf = ca.make_leaf(
        issuer,
        names,
        subject=look.x509_subject(names[0]) if look is not None else None,
        now=now,
        valid_from=dt.timedelta(days=spec.valid_from_days),
        valid_for=dt.timedelta(days=spec.valid_days),
        ca_issuers_url=aia_url if spec.issuer == "lab" else None,
    )
    chain = leaf.cert_pem()
    if issuer is not None and spec.send_intermediate:
        chain += issuer.cert_pem()
    ctx = _server_context(chain, leaf.key_pem())
    if spec.tls_max == "TLSv1.1":
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():  # old on purpose: the case is an outdated server
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    return ctx


def _server_context(chain: bytes, key: bytes) -> ssl.SSLContext:
    """A server context from PEM bytes (ssl only loads certificates from files)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        cert_file, key_file = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_file.write_bytes(chain)
        key_file.write_bytes(key)
        ctx.load_cert_chain(cert_file, key_file)
    return ctx


class LabThread:
    """Run the lab on its own event loop in a background thread (tests, the demo)."""

    def __init__(self, directory: Path | None = None) -> None:
        self._tmp = (
            tempfile.TemporaryDirectory(prefix="gmailfix-lab-") if directory is None else None
        )
        self.directory = directory or Path(self._tmp.name)  # type: ignore[union-attr]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="lab")
        self.lab = Lab(self.directory)

    def start(self) -> LabInfo:
        self._thread.start()
        future: Future[LabInfo] = asyncio.run_coroutine_threadsafe(self.lab.start(), self._loop)
        return future.result(timeout=60)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.lab.stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if self._tmp is not None:
            self._tmp.cleanup()


@contextlib.contextmanager
def running_lab(directory: Path | None = None) -> Iterator[LabInfo]:
    lab = LabThread(directory)
    try:
        yield lab.start()
    finally:
        lab.stop()
