"""Inbound mail's own checks of the MX certificate: DANE (TLSA) and MTA-STS facts, and what a
plan's new certificate would break.

Gmail's Send-as client uses 587/465, but on most small servers one certificate
serves every port, 25 too, and port 25 of an MX host is where other mail
servers deliver. Two things pin that certificate (docs/FACTS.md "Inbound mail"):

- DANE: TLSA records at ``_25._tcp.<mx>``. Usage 3 (DANE-EE) pins the server's
  key (selector 1) or its certificate (selector 0); usage 2 (DANE-TA) the
  authority that issued it. DANE-validating senders refuse a certificate no
  record matches. They use only DNSSEC-validated answers, so whether the
  resolver said so (the AD flag) is reported; a record that was not validated
  here may still be in force where senders look.
- MTA-STS: a ``_mta-sts.<domain>`` TXT record announces a policy at
  ``https://mta-sts.<domain>/.well-known/mta-sts.txt`` (RFC 8461); in
  ``enforce`` mode, senders refuse an MX whose certificate does not cover its
  name.

``inbound_facts`` looks both up, only for a plan that issues a new certificate
and only for MX hosts on the server being changed; ``inbound_risks`` says what
the new certificate would break. Everything read here is outside text: records
are parsed into numbers and bytes, policy lines into validated names, and the
words gmailfix writes never quote them unescaped.
"""

from __future__ import annotations

import copy
import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from gmailfix.inputs import is_ip_address, is_valid_dns_host

if TYPE_CHECKING:
    from cryptography import x509

    from gmailfix.connection import Connection
    from gmailfix.diagnose import Diagnosis
    from gmailfix.remedies.plan import Plan

RiskKind = Literal[
    "dane-key",  # TLSA 3 1 x: pins today's key
    "dane-certificate",  # TLSA 3 0 x: pins today's certificate
    "dane-issuer",  # TLSA 2 x x: pins today's issuer
    "dane-unread",  # the TLSA look-up failed: DANE cannot be ruled out
    "mta-sts",  # the policy (enforce) lists the MX, the new certificate does not cover it
    "mta-sts-unread",  # the TXT record announces a policy that could not be read
]
RISK_KINDS: tuple[RiskKind, ...] = (
    "dane-key",
    "dane-certificate",
    "dane-issuer",
    "dane-unread",
    "mta-sts",
    "mta-sts-unread",
)
DANE_KINDS: frozenset[RiskKind] = frozenset(
    {"dane-key", "dane-certificate", "dane-issuer", "dane-unread"}
)
MAX_TLSA = 16  # records kept per name; real names have one or two
MAX_POLICY_BYTES = 64 * 1024
MAX_POLICY_MX = 64
POLICY_PATH = "/.well-known/mta-sts.txt"


@dataclass(frozen=True)
class InboundRisk:
    """One thing a new certificate would break for mail arriving at an MX host's port 25."""

    kind: RiskKind
    host: str  # the MX host (a validated name)
    validated: bool = False  # DANE: the resolver said the TLSA answer was DNSSEC-validated


@dataclass(frozen=True)
class Tlsa:
    """One TLSA record, parsed; ``pins_today`` says whether it matches what port 25 serves."""

    usage: int
    selector: int
    mtype: int
    data: bytes
    pins_today: bool | None = None  # None: today's certificate could not be read

    @property
    def text(self) -> str:
        return f"{self.usage} {self.selector} {self.mtype}"

    @property
    def risk(self) -> RiskKind | None:
        """What a new key and certificate break; None for usages SMTP senders ignore
        (0 and 1, RFC 7672 3.1.3)."""
        if self.usage == 3:
            return "dane-key" if self.selector == 1 else "dane-certificate"
        if self.usage == 2:
            return "dane-issuer"
        return None


@dataclass(frozen=True)
class TlsaFacts:
    host: str  # the MX host
    records: tuple[Tlsa, ...]
    validated: bool  # the AD flag of the answer
    error: str | None = None  # why the look-up failed, in gmailfix's words

    @property
    def name(self) -> str:
        return tlsa_name(self.host)


@dataclass(frozen=True)
class MtaStsPolicy:
    """A domain's MTA-STS policy as fetched, or why it could not be read."""

    mode: str | None = None  # "enforce", "testing", "none"
    mx: tuple[str, ...] = ()  # validated patterns, lower case
    error: str | None = None  # plain words: why there is no policy to read


@dataclass(frozen=True)
class InboundFacts:
    domain: str
    hosts: tuple[str, ...]  # MX hosts on the server the plan changes
    tlsa: tuple[TlsaFacts, ...]
    mta_sts: MtaStsPolicy | None  # None: no _mta-sts TXT record

    @property
    def lines(self) -> tuple[str, ...]:
        """The facts in words, one line each (outside names are validated names)."""
        found = []
        pins = {True: "matches", False: "does not match", None: "cannot be compared with"}
        for facts in self.tlsa:
            if facts.error is not None:
                found.append(f"DANE: the TLSA look-up of {facts.name} failed: {facts.error}")
                continue
            if not facts.records:
                found.append(f"DANE: no TLSA record at {facts.name}")
                continue
            checked = "DNSSEC-validated" if facts.validated else "not DNSSEC-validated here"
            for record in facts.records:
                found.append(
                    f"DANE: TLSA {record.text} at {facts.name} ({checked}) "
                    f"{pins[record.pins_today]} the certificate port 25 serves today"
                )
        if self.mta_sts is not None:
            policy = self.mta_sts
            if policy.error is not None:
                found.append(
                    f"MTA-STS: the policy of {self.domain} could not be read: {policy.error}"
                )
            else:
                found.append(f"MTA-STS: mode {policy.mode}, mx: {', '.join(policy.mx) or '(none)'}")
        return tuple(found)


def tlsa_name(host: str) -> str:
    return f"_25._tcp.{host}"


def mx_on_server(plan: Plan, diagnosis: Diagnosis) -> tuple[str, ...]:
    """The domain's MX hosts that are the server the plan changes: a name the plan
    certifies or types in Gmail, or one resolving to the same address."""
    ours = {plan.smtp_host, *plan.cert_hosts}
    addresses = set(plan.addresses)
    found = [
        mx.host
        for mx in diagnosis.facts.mx
        if not is_ip_address(mx.host) and (mx.host in ours or addresses & set(mx.addresses))
    ]
    return tuple(dict.fromkeys(found))


async def inbound_facts(
    plan: Plan, diagnosis: Diagnosis, connection: Connection
) -> InboundFacts | None:
    """TLSA of every MX host on this server and the domain's MTA-STS policy, looked up only
    when the plan issues a new certificate (and so a new key) for that server; else None."""
    import asyncio  # here, not at import: the plan (which reads this module) stays light

    if not plan.needs_certificate:
        return None
    hosts = mx_on_server(plan, diagnosis)
    if not hosts:
        return None
    deadline = time.monotonic() + connection.timeout
    tlsa = await asyncio.gather(*(_tlsa_facts(h, diagnosis, connection, deadline) for h in hosts))
    policy = None
    if diagnosis.facts.mta_sts:
        policy = await fetch_policy(diagnosis.domain, connection, deadline)
    return InboundFacts(diagnosis.domain, hosts, tuple(tlsa), policy)


def inbound_risks(plan: Plan, facts: InboundFacts | None) -> tuple[InboundRisk, ...]:
    """What the plan's new certificate would break for inbound mail."""
    if facts is None:
        return ()
    from gmailfix.certs import name_matches

    risks: list[InboundRisk] = []
    for found in facts.tlsa:
        if found.error is not None:
            risks.append(InboundRisk("dane-unread", found.host))
        for record in found.records:
            kind = record.risk
            if kind is not None:
                risks.append(InboundRisk(kind, found.host, found.validated))
    policy = facts.mta_sts
    if policy is not None:
        for host in facts.hosts:
            if policy.error is not None:
                risks.append(InboundRisk("mta-sts-unread", host))
            elif (
                policy.mode == "enforce"
                and name_matches(host, policy.mx)
                and not name_matches(host, plan.cert_hosts)
            ):
                risks.append(InboundRisk("mta-sts", host))
    unique = {(r.kind, r.host): r for r in risks}
    return tuple(unique[key] for key in sorted(unique))


# --- the step's words (the plan and the README read them) ---------------------------------


def guard_title(risks: tuple[InboundRisk, ...]) -> str:
    """The guard step's title: what to do first, for each kind of risk."""
    hosts = ", ".join(dict.fromkeys(r.host for r in risks))
    kinds = {r.kind for r in risks}
    parts = []
    if kinds & {"dane-key", "dane-certificate", "dane-issuer"}:
        parts.append("publish a DANE (TLSA) record for the new key before the switch")
    if "dane-unread" in kinds:
        parts.append("find out whether it has DANE (TLSA) records (the look-up failed)")
    if "mta-sts" in kinds:
        parts.append("make the new certificate cover the MX name your MTA-STS policy lists")
    if "mta-sts-unread" in kinds:
        parts.append("make sure the new certificate covers the names your MTA-STS policy lists")
    return f"Keep inbound mail to {hosts} working: " + "; ".join(parts)


def guard_check(risks: tuple[InboundRisk, ...]) -> str:
    """How the guard step is checked."""
    parts = []
    dane = [r.host for r in risks if r.kind in DANE_KINDS]
    if dane:
        names = ", ".join(tlsa_name(h) for h in dict.fromkeys(dane))
        parts.append(f"{names} has no TLSA record, or one for the new key next to the old one")
    sts = [r.host for r in risks if r.kind in ("mta-sts", "mta-sts-unread")]
    if sts:
        parts.append(f"the new certificate covers {', '.join(dict.fromkeys(sts))}")
    return "; ".join(parts)


# --- DANE -------------------------------------------------------------------------------------


async def _tlsa_facts(
    host: str, diagnosis: Diagnosis, connection: Connection, deadline: float
) -> TlsaFacts:
    records, validated, error = await ask_tlsa(connection, tlsa_name(host), deadline)
    if not records:
        return TlsaFacts(host, (), validated, error)
    chain = await _served_on_25(host, diagnosis, connection)
    pinned = tuple(
        Tlsa(
            r.usage,
            r.selector,
            r.mtype,
            r.data,
            None if chain is None else matches(r.usage, r.selector, r.mtype, r.data, chain),
        )
        for r in records
    )
    return TlsaFacts(host, pinned, validated, error)


async def ask_tlsa(
    connection: Connection, name: str, deadline: float
) -> tuple[tuple[Tlsa, ...], bool, str | None]:
    """The TLSA records at ``name``, whether the answer came DNSSEC-validated (AD), and
    the failure when the look-up failed (None for "no such record": a fact, not a failure).

    The question carries the AD flag, which asks a validating resolver to say whether
    it validated (RFC 6840 5.7); the connection's resolver itself is not changed."""
    import dns.exception
    import dns.flags
    import dns.resolver

    left = deadline - time.monotonic()
    if left <= 0:
        return (), False, "no time left"
    asking = copy.copy(connection.resolver)
    asking.flags = dns.flags.RD | dns.flags.AD
    try:
        answer = await asking.resolve(name, "TLSA", search=False, lifetime=left)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return (), False, None
    except dns.exception.Timeout:
        return (), False, "no answer in time"
    except (dns.exception.DNSException, OSError, ValueError):
        return (), False, "the DNS server gave no usable answer"
    validated = bool(answer.response.flags & dns.flags.AD)
    records = tuple(
        Tlsa(int(r.usage), int(r.selector), int(r.mtype), bytes(r.cert))
        for r in list(answer)[:MAX_TLSA]
    )
    return records, validated, None


async def _served_on_25(
    host: str, diagnosis: Diagnosis, connection: Connection
) -> tuple[x509.Certificate, ...] | None:
    """Every certificate port 25 of ``host`` sends today (all its addresses), or None when
    none could be read. The diagnosis' own probe is used when it made one."""
    endpoint = next((e for e in diagnosis.endpoints if (e.host, e.port) == (host, 25)), None)
    if endpoint is None:
        from gmailfix.check import Checker

        endpoint = await Checker(connection).endpoint_from_dns(diagnosis.facts, host, 25, None)
    certs = [cert for check in endpoint.checks for cert in check.probe.chain.certs]
    return tuple(certs) or None


def matches(
    usage: int, selector: int, mtype: int, data: bytes, chain: tuple[x509.Certificate, ...]
) -> bool:
    """Does a TLSA record match a certificate of the chain (the server's own for usage 3,
    an issuer's for usage 2)? A chain holds every address's certificates, leaves first."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    candidates = [c for c in chain if _is_leaf(c)] if usage in (1, 3) else list(chain)
    for cert in candidates:
        if selector == 0:
            raw = cert.public_bytes(Encoding.DER)
        elif selector == 1:
            raw = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        else:
            return False
        if mtype == 0:
            digest = raw
        elif mtype == 1:
            digest = hashlib.sha256(raw).digest()
        elif mtype == 2:
            digest = hashlib.sha512(raw).digest()
        else:
            return False
        if digest == data:
            return True
    return False


def _is_leaf(cert: x509.Certificate) -> bool:
    from cryptography import x509

    try:
        return not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except (x509.ExtensionNotFound, ValueError):
        return True


# --- MTA-STS ----------------------------------------------------------------------------------


async def fetch_policy(domain: str, connection: Connection, deadline: float) -> MtaStsPolicy:
    """``https://mta-sts.<domain>/.well-known/mta-sts.txt``, as RFC 8461 says a sender
    fetches it: a certificate valid for that name, no redirects, bounded in time and
    size. The name is resolved with the connection's resolver (and its --connect
    overrides), like every other name gmailfix looks up."""
    from gmailfix.dns import lookup_addresses

    name = f"mta-sts.{domain}"
    where = connection.connect.get((name, 443))
    if where is not None:
        targets = [where]
    else:
        found = await lookup_addresses(connection.resolver, name, deadline)
        targets = [(address, 443) for address in found.addresses[:3]]
    if not targets:
        return MtaStsPolicy(error=f"{name} has no address")
    why = "no answer"
    for address, port in targets:
        left = deadline - time.monotonic()
        if left <= 0:
            return MtaStsPolicy(error="no answer in time")
        body, why = await _get_policy(name, address, port, connection, left)
        if body is not None:
            return parse_policy(body)
    return MtaStsPolicy(error=why)


async def _get_policy(
    name: str, address: str, port: int, connection: Connection, seconds: float
) -> tuple[bytes | None, str]:
    import asyncio
    import ssl

    import httpx

    from gmailfix.smtp import verifying_context

    host = f"[{address}]" if ":" in address else address
    url = f"https://{host}:{port}{POLICY_PATH}"
    headers = {"Host": name, "Accept-Encoding": "identity"}
    try:
        async with asyncio.timeout(seconds):
            async with (
                httpx.AsyncClient(
                    verify=verifying_context(connection.trust.pem()),
                    follow_redirects=False,
                    trust_env=False,
                    timeout=seconds,
                ) as client,
                client.stream(
                    "GET", url, headers=headers, extensions={"sni_hostname": name}
                ) as response,
            ):
                if response.status_code != 200:
                    return None, f"the server answered HTTP {response.status_code}"
                body = bytearray()
                async for chunk in response.aiter_raw():
                    body += chunk
                    if len(body) > MAX_POLICY_BYTES:
                        return None, "the policy is larger than 64 KiB"
                return bytes(body), ""
    except TimeoutError:
        return None, "no answer in time"
    except httpx.HTTPError as exc:
        if isinstance(_root_cause(exc), ssl.SSLCertVerificationError):
            return None, f"its certificate is not valid for {name}"
        return None, "could not connect or the answer was not HTTP"
    except (OSError, ssl.SSLError):
        return None, "could not connect"


def _root_cause(exc: BaseException) -> BaseException:
    seen = 0
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
        seen += 1
        if seen > 10:
            break
    return exc


def parse_policy(body: bytes) -> MtaStsPolicy:
    """RFC 8461 3.2: ``key: value`` lines; ``version: STSv1``, one ``mode``, ``mx`` lines.
    Names that are not host names or ``*.`` patterns are dropped; unknown keys ignored."""
    text = body[:MAX_POLICY_BYTES].decode("utf-8", "replace")
    fields: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), []).append(value.strip())
    if fields.get("version") != ["STSv1"]:
        return MtaStsPolicy(error="it is not an STSv1 policy")
    modes = fields.get("mode", [])
    if len(modes) != 1 or modes[0] not in ("enforce", "testing", "none"):
        return MtaStsPolicy(error="its mode is not enforce, testing or none")
    patterns = []
    for value in fields.get("mx", [])[:MAX_POLICY_MX]:
        pattern = value.lower().rstrip(".")
        bare = pattern.removeprefix("*.")
        if is_valid_dns_host(bare) and "*" not in bare:
            patterns.append(pattern)
    return MtaStsPolicy(mode=modes[0], mx=tuple(dict.fromkeys(patterns)))
