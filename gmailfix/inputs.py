"""Turn what a person typed into a validated ``Target``: the one front door.

The wizard's form and the CLI both call ``parse_target``; nothing else parses
what a person typed. Accepts a domain, an e-mail address, a URL or
``host:port``, in any case, with or without a trailing dot, in Unicode (IDNA
2008 with UTS #46 mapping). Every name that survives is ``[a-z0-9.-]`` only, so
it is safe in a shell command, an Exim file or YAML. Nothing here touches the
network.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

import idna

from gmailfix.errors import Field, InputError, shorten
from gmailfix.vocabulary import PORTS, Port

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
MAX_INPUT = 1024  # longer than any address or host name can be


@dataclass(frozen=True)
class Target:
    """What to diagnose, as Gmail would see it."""

    domain: str  # the mail domain, ASCII (IDNA) form
    username: str | None  # the address typed, as Gmail's username; None for a bare domain
    smtp_host: str | None  # the SMTP Server typed in Gmail; None: find candidates in DNS
    ports: tuple[Port, ...] = PORTS
    port_from_host: bool = False  # the port came from "host:465" typed as SMTP Server

    @property
    def address(self) -> str | None:
        """The alias address, when one was typed."""
        return self.username

    def with_server(self, smtp_host: str, port: Port) -> Target:
        """The same person and domain, checked on one host and port (the re-check)."""
        return Target(self.domain, self.username, smtp_host, (port,))


def parse_target(
    address: str, smtp_host: str | None = None, port: int | str | None = None
) -> Target:
    """Validate everything a person typed; InputError names the field and says why."""
    domain = parse_domain(address)
    username = _username(address)
    ports: tuple[Port, ...] = (parse_port(port, field="port"),) if port else PORTS
    host: str | None = None
    from_host = False
    if smtp_host is not None and smtp_host.strip():
        host, host_port = parse_smtp_server(smtp_host)
        if host_port is not None:
            if port and host_port != ports[0]:
                raise InputError(
                    f"the SMTP Server says port {host_port} but the port chosen is {ports[0]}; "
                    "pick one",
                    field="smtp_host",
                )
            ports, from_host = (host_port,), True
    return Target(domain, username, host, ports, from_host)


def parse_domain(text: str) -> str:
    """The mail domain in ``text`` (a domain, address or URL), ASCII form."""
    host = _strip_decoration(text, field="address")
    if "@" in host:
        host = host.rpartition("@")[2]
    host, _ = _split_port(host, field="address")  # "mail.example.com:587" as pasted
    return _validate_name(host, what="domain", field="address")


def parse_smtp_server(text: str) -> tuple[str, Port | None]:
    """The SMTP Server field: a host name or IP address, with an optional Gmail port."""
    raw = _strip_decoration(text, field="smtp_host")
    if "@" in raw:
        raise InputError(
            "that is an email address; Gmail's SMTP Server wants a server name such as "
            "mail.example.com",
            field="smtp_host",
        )
    host, port_text = _split_port(raw, field="smtp_host")
    port = parse_port(port_text, field="smtp_host") if port_text is not None else None
    if is_ip_address(host):
        return str(ipaddress.ip_address(host)), port
    return _validate_name(host, what="server name", field="smtp_host"), port


def parse_host(text: str, *, field: Field = "option") -> str:
    """A host name or IP address without a port (DNS server, --connect)."""
    host = text.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if is_ip_address(host):
        return str(ipaddress.ip_address(host))
    return _validate_name(host, what="host name", field=field)


def parse_port(text: str | int, *, field: Field = "port") -> Port:
    """A port Gmail offers: 25, 465 or 587."""
    try:
        number = int(str(text).strip())
    except ValueError:
        raise InputError(
            f"port {shorten(str(text))!r} is not a number; Gmail offers 587, 465 or 25",
            field=field,
        ) from None
    for port in PORTS:
        if number == port:
            return port
    raise InputError(f"port {number} is not one Gmail offers; use 587, 465 or 25", field=field)


def parse_endpoint(text: str, *, need_ip: bool = False) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT`` with any TCP port (``--connect``, ``--dns-server``)."""
    text = text.strip()
    host, port = _split_port(text, field="option")
    if port is None and text.count(":") > 1 and not is_ip_address(text):
        # "::1:10587" as people write it: the last part is the port
        head, _, tail = text.rpartition(":")
        host, port = (head, tail) if is_ip_address(head) else (host, port)
    if port is None or not host:
        raise InputError(f"{shorten(text)!r} is not HOST:PORT", field="option")
    try:
        number = int(port)
    except ValueError:
        raise InputError(
            f"{shorten(text)!r}: port {shorten(port)!r} is not a number", field="option"
        ) from None
    if not 0 < number < 65536:
        raise InputError(f"{shorten(text)!r}: port {number} is out of range", field="option")
    if need_ip and not is_ip_address(
        host.strip("[]")
    ):  # before parse_host: its advice is for names
        raise InputError(
            f"{shorten(text)!r}: give an IP address here, not a name (it would need DNS)",
            field="option",
        )
    return parse_host(host), number


def is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def display_name(ascii_name: str) -> str:
    """The Unicode form of an IDNA name, for people (falls back to ASCII)."""
    try:
        return idna.decode(ascii_name)
    except (idna.IDNAError, UnicodeError, ValueError):
        return ascii_name


def is_valid_dns_host(name: str) -> bool:
    """May a name found in DNS be used as a host name? The same rules as a typed name."""
    try:
        _validate_ascii(name.lower().rstrip("."), what="host name", field="option")
    except InputError:
        return False
    return True


def _username(text: str) -> str | None:
    """The address as Gmail's username, when an address was typed (local part checked)."""
    text = text.strip()
    if "@" not in text or "://" in text:
        return None
    local, _, domain = text.rpartition("@")
    if not _LOCAL_PART.match(local):
        raise InputError(
            f"{shorten(local)!r} is not a valid address: check the part before the @",
            field="address",
        )
    return f"{local}@{parse_domain(domain)}"


def _strip_decoration(text: str, *, field: Field) -> str:
    text = text.strip()
    if not text:
        example = "mail.example.com" if field == "smtp_host" else "example.com"
        raise InputError(f"nothing was typed; enter a name such as {example}", field=field)
    if len(text) > MAX_INPUT:
        raise InputError(
            f"that is {len(text)} characters long; no address or host name is", field=field
        )
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        raise InputError(f"{shorten(text)!r} contains spaces or invisible characters", field=field)
    if "://" in text:
        try:
            parts = urlsplit(text)
            host = parts.hostname or ""
            port = parts.port
        except ValueError:
            raise InputError(f"{shorten(text)!r} is not a valid web address", field=field) from None
        text = f"{host}:{port}" if port else host
    return text.rstrip("/")


def _split_port(text: str, *, field: Field) -> tuple[str, str | None]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``; a bare IPv6 has no port."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise InputError(f"{shorten(text)!r} has a '[' without its ']'", field=field)
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise InputError(f"{shorten(text)!r} is not a host and port", field=field)
        return host, rest[1:]
    if "]" in text:
        raise InputError(f"{shorten(text)!r} has a ']' without its '['", field=field)
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, port
    return text, None


def _validate_name(host: str, *, what: str, field: Field) -> str:
    if is_ip_address(host):
        raise InputError(f"{host!r} is an IP address; a {what} is needed", field=field)
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise InputError(f"no {what} found in what was typed", field=field)
    if host.isascii():
        return _validate_ascii(host.lower(), what=what, field=field)
    try:
        ascii_name = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        raise InputError(_idna_reason(host, what), field=field) from None
    return _validate_ascii(ascii_name.lower(), what=what, field=field)


def _validate_ascii(name: str, *, what: str, field: Field) -> str:
    labels = name.split(".")
    total = len(name)
    if total > 253:
        raise InputError(f"the {what} is {total} characters long; the limit is 253", field=field)
    for label in labels:
        if not label:
            raise InputError(f"{shorten(name)!r} has two dots in a row", field=field)
        if len(label) > 63:
            raise InputError(f"{shorten(name)!r} has a part over 63 characters long", field=field)
        if not _LABEL.match(label):
            bad = next((ch for ch in label if not (ch.isalnum() or ch == "-")), None)
            if bad is not None:
                raise InputError(f"{bad!r} is not allowed in a {what}", field=field)
            raise InputError(
                f"{shorten(name)!r}: a part of a {what} cannot start or end with '-'",
                field=field,
            )
    if len(labels) < 2:
        raise InputError(
            f"{shorten(name)!r} is not a full {what}; add the ending, e.g. {shorten(name)}.com",
            field=field,
        )
    if labels[-1].isdigit():
        raise InputError(f"{shorten(name)!r}: the last part of a {what} is a number", field=field)
    return name


def _idna_reason(host: str, what: str) -> str:
    """IDNA's refusal in plain words: name the character, never a code point message."""
    for label in host.split("."):
        try:
            idna.encode(label, uts46=True)
        except (idna.IDNAError, UnicodeError, ValueError):
            bad = next(
                (ch for ch in label if not (ch.isalnum() or ch == "-") or ch in "._"),
                None,
            )
            if bad is not None:
                return f"{bad!r} is not allowed in a {what}"
            return f"{shorten(label)!r} is not a valid part of a {what}"
    return f"{shorten(host)!r} is not a valid {what}"
