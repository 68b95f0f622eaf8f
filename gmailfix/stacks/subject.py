"""A certificate subject as RFC 4514 text, read back into its attributes (escapes
honoured): what the stack recogniser reads of a default certificate."""

from __future__ import annotations

import re

# RFC 4514 short names, plus the spellings of the e-mail attribute that
# cryptography (the dotted OID) and OpenSSL (emailAddress) print.
ATTRIBUTE_ALIASES = {
    "commonname": "CN",
    "organizationname": "O",
    "organizationalunitname": "OU",
    "countryname": "C",
    "stateorprovincename": "ST",
    "s": "ST",
    "localityname": "L",
    "emailaddress": "EMAIL",
    "e": "EMAIL",
    "1.2.840.113549.1.9.1": "EMAIL",
}

HEX_PAIR = re.compile(r"\\([0-9A-Fa-f]{2})|\\(.)", re.DOTALL)

FIELD_LIMIT = 4096  # characters of one remote field that are looked at

MAX_ATTRIBUTES = 64  # attributes parsed from one certificate subject


def first_value(attrs: dict[str, list[str]], key: str) -> str:
    """The first value of ``key`` in a parsed subject, or "" when it has none."""
    return attrs.get(key, [""])[0]


def parse_subject(text: str) -> dict[str, list[str]]:
    """Attributes of an RFC 4514 name (``CN=a,O=b``), keys upper-cased; never raises.

    Handles backslash escapes and multi-valued RDNs (``+``); reads at most
    ``FIELD_LIMIT`` characters and ``MAX_ATTRIBUTES`` attributes.
    """
    attrs: dict[str, list[str]] = {}
    for part in _split_unescaped(text[:FIELD_LIMIT])[:MAX_ATTRIBUTES]:
        key, sep, value = part.partition("=")
        if not sep:
            continue
        key = key.strip()
        name = ATTRIBUTE_ALIASES.get(key.lower(), key.upper())
        attrs.setdefault(name, []).append(_unescape(value.strip()))
    return attrs


def _split_unescaped(text: str) -> list[str]:
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",+":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    return HEX_PAIR.sub(lambda m: chr(int(m.group(1), 16)) if m.group(1) else m.group(2), value)
