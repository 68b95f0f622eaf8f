"""What a server shows of itself (greeting, EHLO, default certificate) read as clues to its mail stack, each with the sentence that says why; remote text bounded and quoted."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import islice

from gmailfix.stacks.subject import FIELD_LIMIT, MAX_ATTRIBUTES, first_value, parse_subject

QUOTE_LIMIT = 80  # characters of remote text quoted in one evidence sentence

MAX_EHLO_LINES = 64


@dataclass(frozen=True)
class Sighting:
    """What one probe saw. Every string is hostile outside data."""

    banner: str | None = None  # the 220 greeting, lines joined with "\n", codes stripped
    ehlo: tuple[str, ...] = ()  # EHLO reply lines after the first (keywords), as sent
    ehlo_host: str | None = None  # the first EHLO reply line (the server's name)
    cert_subject: str | None = None  # RFC 4514 subject of the leaf (no SNI preferred)
    cert_issuer: str | None = None
    cert_self_signed: bool = False
    cert_names: tuple[str, ...] = ()


class Clue(Enum):
    """One thing seen that points at a stack or an MTA."""

    EXIM_BANNER = "exim-banner"
    CPANEL_BANNER = "cpanel-banner"
    POSTFIX_BANNER = "postfix-banner"
    POSTFIX_DEBIAN_BANNER = "postfix-debian-banner"
    POSTCOW_BANNER = "postcow-banner"
    MIAB_BANNER = "mail-in-a-box-banner"
    BARE_BANNER = "bare-banner"
    EXIM_EHLO = "exim-ehlo"
    POSTFIX_EHLO = "postfix-ehlo"
    EXIM_CERT = "exim-developers-cert"
    CPANEL_CERT = "cpanel-cert"
    HESTIA_CERT = "hestia-cert"
    DMS_CERT = "docker-mailserver-cert"
    IREDMAIL_CERT = "iredmail-cert"
    SNAKEOIL_CERT = "snakeoil-cert"


def clues(sighting: Sighting) -> Iterable[tuple[Clue, str]]:
    yield from _banner_clues(bounded(sighting.banner))
    yield from _ehlo_clues(bounded(sighting.ehlo_host), _keywords(sighting.ehlo))
    yield from _cert_clues(sighting)


def bounded(text: str | None) -> str:
    return text[:FIELD_LIMIT] if isinstance(text, str) else ""


def quote(text: str) -> str:
    """At most ``QUOTE_LIMIT`` characters of remote text, marked when cut."""
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 1] + "…"


# Bounded patterns only: every repetition has an upper limit, so a hostile
# 100 KB line cannot make matching slow.
EXIM_GREETING = re.compile(r"\bESMTP Exim(?: \d[\w.]{0,15})?", re.IGNORECASE)


POSTFIX_GREETING = re.compile(r"\bESMTP Postfix\b", re.IGNORECASE)


DEBIAN_POSTFIX_GREETING = re.compile(r"\bESMTP Postfix \(Debian/GNU\)", re.IGNORECASE)


POSTCOW_GREETING = re.compile(r"\bESMTP Postcow\b", re.IGNORECASE)


MIAB_GREETING = re.compile(r"Mail-in-a-Box", re.IGNORECASE)


CPANEL_NOTICE = re.compile(
    r"We do not authori[sz]e the use of this system to transport unsolicited", re.IGNORECASE
)


HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


# each greeting clue: its pattern, and the sentence that quotes what matched
GREETING_CLUES: tuple[tuple[Clue, re.Pattern[str], str], ...] = (
    (
        Clue.MIAB_BANNER,
        MIAB_GREETING,
        'the greeting says "{}", the words Mail-in-a-Box puts in its Postfix greeting',
    ),
    (
        Clue.POSTCOW_BANNER,
        POSTCOW_GREETING,
        'the greeting says "{}": mailcow names its Postfix "Postcow"',
    ),
    (
        Clue.POSTFIX_DEBIAN_BANNER,
        DEBIAN_POSTFIX_GREETING,
        'the greeting says "{}", the greeting of Debian\'s own Postfix package',
    ),
    (Clue.POSTFIX_BANNER, POSTFIX_GREETING, 'the greeting says "{}", so the server runs Postfix'),
    (Clue.EXIM_BANNER, EXIM_GREETING, 'the greeting says "{}", so the server runs Exim'),
    (
        Clue.CPANEL_BANNER,
        CPANEL_NOTICE,
        'the greeting carries the notice "{}", which cPanel servers show (that it means '
        "cPanel is inferred, not confirmed)",
    ),
)


BARE_SAID = (
    'the greeting is only a host name ("{}") and names no software: HestiaCP\'s Exim greets '
    "like this, but so does any server set up to hide its software, so this alone is a weak hint"
)


def _banner_clues(banner: str) -> Iterable[tuple[Clue, str]]:
    for clue, pattern, sentence in GREETING_CLUES:
        if match := pattern.search(banner):
            yield _said(clue, sentence, match.group())
    if _is_bare(banner):
        yield _said(Clue.BARE_BANNER, BARE_SAID, banner.strip())


def _said(clue: Clue, sentence: str, *remote: str) -> tuple[Clue, str]:
    """The clue with its sentence, each piece of remote text quoted and bounded."""
    return clue, sentence.format(*(quote(text) for text in remote))


def _is_bare(banner: str) -> bool:
    """One line holding a host name, optionally followed by ESMTP or SMTP, and nothing else."""
    if "\n" in banner.strip():
        return False
    words = banner.split()
    if not 1 <= len(words) <= 2 or (len(words) == 2 and words[1].upper() not in ("ESMTP", "SMTP")):
        return False
    return _looks_like_host(words[0])


def _looks_like_host(text: str) -> bool:
    labels = text.rstrip(".").split(".")
    return (
        len(text) <= 253
        and len(labels) >= 2
        and all(HOST_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()  # an address, not a name
    )


PIPE_CONNECT = ("PIPECONNECT", "PIPE_CONNECT", "X_PIPE_CONNECT")  # Exim's own extension


EXIM_HELLO = re.compile(r"\S{1,253} Hello .{0,300} \[[0-9A-Fa-f:.]{1,64}\]")


def _keywords(lines: Sequence[str]) -> tuple[str, ...]:
    """The first word of each EHLO line, upper-cased, from a bounded number of lines."""
    words = []
    for line in islice(lines, MAX_EHLO_LINES):
        if isinstance(line, str) and (parts := line[:FIELD_LIMIT].split()):
            words.append(parts[0].upper())
    return tuple(words)


PIPE_SAID = "the EHLO reply offers {}, an extension only Exim has"


HELLO_SAID = 'the EHLO reply begins "{}", the way Exim answers (name Hello client [address])'


POSTFIX_EHLO_SAID = (
    "the EHLO reply looks like Postfix's: only the host name on its first line, and ETRN offered"
)


def _ehlo_clues(first: str, keywords: tuple[str, ...]) -> Iterable[tuple[Clue, str]]:
    """Exim and Postfix answer EHLO differently (seen on both programs here)."""
    if pipe := next((word for word in keywords if word in PIPE_CONNECT), None):
        yield _said(Clue.EXIM_EHLO, PIPE_SAID, pipe)
    elif EXIM_HELLO.fullmatch(first):
        yield _said(Clue.EXIM_EHLO, HELLO_SAID, first)
    elif first and len(first.split()) == 1 and "ETRN" in keywords:
        yield _said(Clue.POSTFIX_EHLO, POSTFIX_EHLO_SAID)


DMS_SAID = (
    'the certificate is for "docker-mailserver.invalid", docker-mailserver\'s fallback certificate'
)


EXIM_CERT_SAID = (
    'the certificate is {} with "O=Exim Developers": Exim\'s built-in certificate, which '
    "Debian's stock Exim serves until it is given a real one"
)


CPANEL_CERT_SAID = (
    'the certificate is self-signed for "{}" with the address "{}", like cPanel\'s own service '
    "certificate"
)


HESTIA_CERT_SAID = (
    'the certificate is self-signed with "O=Hestia Control Panel", the certificate HestiaCP\'s '
    "installer makes"
)


IREDMAIL_CERT_SAID = (
    'the certificate is self-signed with "ST=GuangDong, L=ShenZhen", the defaults iRedMail\'s '
    "installer writes into its own certificate"
)


SNAKEOIL_SAID = (
    'the certificate is self-signed and names only "{}", like the "snakeoil" certificate '
    "Debian's Postfix starts with"
)


def _cert_clues(sighting: Sighting) -> Iterable[tuple[Clue, str]]:
    subject = bounded(sighting.cert_subject)
    if not subject:
        return
    attrs = parse_subject(subject)
    common_name = first_value(attrs, "CN")
    names = {n.lower() for n in sighting.cert_names[:MAX_ATTRIBUTES] if isinstance(n, str)}
    if "docker-mailserver.invalid" in {common_name.lower(), *names}:
        yield _said(Clue.DMS_CERT, DMS_SAID)
    if first_value(attrs, "O").lower() == "exim developers":
        own = "self-signed" if sighting.cert_self_signed else "not self-signed"
        yield _said(Clue.EXIM_CERT, EXIM_CERT_SAID, own)
    if sighting.cert_self_signed:
        yield from _self_signed_clues(attrs, common_name, names)


def _self_signed_clues(
    attrs: dict[str, list[str]], common_name: str, names: set[str]
) -> Iterable[tuple[Clue, str]]:
    email = first_value(attrs, "EMAIL")
    if common_name and email.lower() == f"ssl@{common_name}".lower():
        yield _said(Clue.CPANEL_CERT, CPANEL_CERT_SAID, common_name, email)
    if first_value(attrs, "O").lower() == "hestia control panel":
        yield _said(Clue.HESTIA_CERT, HESTIA_CERT_SAID)
    if (
        first_value(attrs, "ST").lower() == "guangdong"
        and first_value(attrs, "L").lower() == "shenzhen"
    ):
        yield _said(Clue.IREDMAIL_CERT, IREDMAIL_CERT_SAID)
    only_cn = set(attrs) == {"CN"} and len(attrs["CN"]) == 1
    if only_cn and common_name and names <= {common_name.lower()}:
        yield _said(Clue.SNAKEOIL_CERT, SNAKEOIL_SAID, common_name)
