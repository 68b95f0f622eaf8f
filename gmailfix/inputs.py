"""Turn what a person typed into validated names.

Accepts a domain, an e-mail address, a URL or ``host:port``, in any case,
with or without a trailing dot, in Unicode (IDNA 2008 with UTS #46 mapping).
Everything returned here is safe to place in a shell command, an Exim file or
YAML: only ``[a-z0-9.-]`` survives validation.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import idna

from gmailfix.errors import InputError

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
PORTS = (587, 465, 25)


def normalise_domain(text: str) -> str:
    """Return the mail domain in ``text`` (a domain, address, URL or host:port)."""
    host = _strip_decoration(text)
    return _validate_name(host, what="domain")


def normalise_host(text: str) -> str:
    """Return an SMTP host name or IP address as typed in Gmail, validated."""
    host = _strip_decoration(text, keep_ip=True)
    if is_ip_address(host):
        return str(ipaddress.ip_address(host.strip("[]")))
    return _validate_name(host, what="host name")


def is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def parse_port(text: str | int) -> int:
    """A port Gmail offers: 25, 465 or 587."""
    try:
        port = int(str(text).strip())
    except ValueError:
        raise InputError(f"port {text!r} is not a number; Gmail offers 587, 465 or 25") from None
    if port not in PORTS:
        raise InputError(f"port {port} is not one Gmail offers; use 587, 465 or 25")
    return port


def parse_endpoint(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT`` with any TCP port (for ``--connect`` and the DNS server)."""
    text = text.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise InputError(f"{text!r} is not HOST:PORT")
    try:
        number = int(port)
    except ValueError:
        raise InputError(f"{text!r}: port {port!r} is not a number") from None
    if not 0 < number < 65536:
        raise InputError(f"{text!r}: port {number} is out of range")
    return (normalise_host(host), number)


def _strip_decoration(text: str, keep_ip: bool = False) -> str:
    text = text.strip()
    if not text:
        raise InputError("nothing was typed; enter a domain such as example.com")
    if any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise InputError(f"{text!r} contains spaces or control characters")
    if "://" in text:
        try:
            text = urlsplit(text).hostname or ""
        except ValueError:
            raise InputError(f"{text!r} is not a valid URL") from None
    if "@" in text:
        text = text.rpartition("@")[2]
    if keep_ip and is_ip_address(text):
        return text
    # "host:port" and "[v6]:port" as people paste them from Gmail's form
    if text.startswith("[") and "]" in text:
        return text[1 : text.index("]")]
    if text.count(":") == 1:
        text = text.partition(":")[0]
    return text.rstrip("/")


def _validate_name(host: str, what: str) -> str:
    if is_ip_address(host):
        raise InputError(f"{host!r} is an IP address; a {what} is needed")
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise InputError(f"no {what} found in the input")
    if host.isascii():
        _check_lengths(host.lower().split("."), host, what)
    try:
        ascii_name = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InputError(f"{host!r} is not a valid {what}: {exc}") from None
    except UnicodeError:
        raise InputError(f"{host!r} is not a valid {what}") from None
    ascii_name = ascii_name.lower()
    labels = ascii_name.split(".")
    _check_lengths(labels, host, what)
    for label in labels:
        if not _LABEL.match(label):
            raise InputError(
                f"{host!r} is not a valid {what}: only letters, digits and hyphens are allowed"
            )
    if len(labels) < 2:
        raise InputError(f"{host!r} is not a full {what}; add the ending, e.g. {host}.com")
    if labels[-1].isdigit():
        raise InputError(f"{host!r} is not a valid {what}: the last label is a number")
    return ascii_name


def _check_lengths(labels: list[str], host: str, what: str) -> None:
    total = sum(len(label) for label in labels) + len(labels) - 1
    if total > 253:
        raise InputError(f"the {what} is {total} characters long; the limit is 253")
    for label in labels:
        if not label:
            raise InputError(f"{host!r} has an empty label (two dots in a row)")
        if len(label) > 63:
            raise InputError(f"{host[:40]!r}... has a label over 63 characters")


def display_name(ascii_name: str) -> str:
    """The Unicode form of an IDNA name, for people (falls back to ASCII)."""
    try:
        return idna.decode(ascii_name)
    except (idna.IDNAError, UnicodeError):
        return ascii_name
