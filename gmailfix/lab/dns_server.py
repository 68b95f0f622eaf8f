"""A small authoritative DNS server for the lab, over UDP and TCP on loopback.

It answers from an in-memory table, follows CNAMEs inside it, says NXDOMAIN
for names it does not know, and can misbehave on purpose for chosen names
(``servfail``, ``drop``, ``truncate``) to test the diagnosis against hostile DNS.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections import defaultdict
from collections.abc import Iterable
from typing import Literal

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Behaviour = Literal["servfail", "drop", "truncate"]
MAX_CNAME_HOPS = 8


class Zone:
    """Records keyed by (owner, type), all names absolute and lower case."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.behaviour: dict[str, Behaviour] = {}

    def add(self, name: str, rdtype: str, *values: str) -> None:
        self._records[(_fqdn(name), rdtype.upper())].extend(values)

    def extend(self, records: Iterable[tuple[str, str, str]]) -> None:
        for name, rdtype, value in records:
            self.add(name, rdtype, value)

    def exists(self, name: str) -> bool:
        """A name exists if it owns records or is an ancestor of a name that does."""
        return any(owner == name or owner.endswith("." + name) for owner, _ in self._records)

    def get(self, name: str, rdtype: str) -> list[str]:
        return self._records.get((name, rdtype), [])

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        name = question.name.to_text().lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        for _ in range(MAX_CNAME_HOPS):
            values = self.get(name, rdtype)
            if values:
                response.answer.append(_rrset(name, rdtype, values))
                return response
            target = self.get(name, "CNAME")
            if not target or rdtype == "CNAME":
                break
            response.answer.append(_rrset(name, "CNAME", target[:1]))
            name = _fqdn(target[0])
        if not response.answer and not self.exists(name):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response


def _fqdn(name: str) -> str:
    name = name.lower()
    return name if name.endswith(".") else name + "."


def _rrset(name: str, rdtype: str, values: list[str]) -> dns.rrset.RRset:
    return dns.rrset.from_text_list(name, 60, dns.rdataclass.IN, rdtype, values)


class DnsServer:
    """Serve a Zone on one address and port, UDP and TCP."""

    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self.address: tuple[str, int] = ("127.0.0.1", 0)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        self._tcp = await asyncio.start_server(self._serve_tcp, host, port)
        port = self._tcp.sockets[0].getsockname()[1]
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self), local_addr=(host, port)
        )
        self._udp = transport
        self.address = (host, port)
        return self.address

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()

    def respond(self, wire: bytes, over_tcp: bool) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except Exception:  # a malformed query gets no answer, as from a real server
            return None
        name = query.question[0].name.to_text().lower() if query.question else ""
        behaviour = self.zone.behaviour.get(name)
        if behaviour == "drop":
            return None
        if behaviour == "servfail":
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        response = self.zone.answer(query)
        if over_tcp:
            return response.to_wire()
        # over UDP an answer must fit the client's buffer (512 bytes without EDNS);
        # otherwise the client is told to ask again over TCP
        limit = max(512, query.payload) if query.edns >= 0 else 512
        try:
            wire = response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            wire = b""
        if behaviour == "truncate" or not wire:
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.TC
            return truncated.to_wire()
        return wire

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = self.respond(await reader.readexactly(length), over_tcp=True)
                if reply is None:
                    continue
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        writer.close()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.server.respond(data, over_tcp=False)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)
