"""Which mail stack a server runs, judged only from what it shows a client.

A probe sees a greeting, an EHLO reply and a default certificate. Each of these
can carry a clue: a product word in the greeting, an extension only one MTA
offers, a self-signed certificate whose subject a product's installer writes.
``recognise`` collects the clues from every probe and names the stack the
strongest clues support, with a confidence and one plain sentence per clue.
Where the clues are weak it says so; where there are none it says ``unknown``.

Where each clue comes from (FACTS.md, "Mail stacks"; the rest named here so it
can be checked): Debian's Exim 4.96 and Debian's Postfix 3.7 were run on this
kind of machine (greeting, EHLO and certificate seen); cPanel's greeting notice
is tied to cPanel by inference only; mailcow's "Postcow" is its ``mail_name``
(mailcow-dockerized data/conf/postfix/main.cf); docker-mailserver's fallback
certificate is Debian's snakeoil made for ``docker-mailserver.invalid``;
iRedMail's self-signed certificate carries its installer's defaults
(iRedMail conf/global: ST=GuangDong, L=ShenZhen); HestiaCP's installer makes a
self-signed ``O=Hestia Control Panel`` certificate (hestiacp
install/hst-install-debian.sh) and its Exim greets with the host name only.

Everything in a ``Sighting`` came from a remote server and is hostile: only a
bounded prefix of each field is read, and evidence quotes at most
``QUOTE_LIMIT`` characters of it (escaping is left to the renderers).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from itertools import islice
from typing import Literal, get_args

StackName = Literal[
    "exim-debian",
    "exim",
    "postfix-debian",
    "postfix",
    "cpanel",
    "directadmin",
    "hestiacp",
    "plesk",
    "mailcow",
    "docker-mailserver",
    "iredmail",
    "mail-in-a-box",
    "zimbra",
    "unknown",
]
STACK_NAMES: tuple[StackName, ...] = get_args(StackName)
Confidence = Literal["high", "medium", "low"]
Family = Literal["exim", "postfix"]

QUOTE_LIMIT = 80  # characters of remote text quoted in one evidence sentence
MAX_EVIDENCE = 8  # sentences in one MailStack
FIELD_LIMIT = 4096  # characters of one remote field that are looked at
MAX_EHLO_LINES = 64
MAX_SIGHTINGS = 64
MAX_ATTRIBUTES = 64  # attributes parsed from one certificate subject

# The MTA under each stack, for spotting clues that contradict each other.
FAMILY: dict[StackName, Family] = {
    "exim-debian": "exim",
    "exim": "exim",
    "cpanel": "exim",
    "directadmin": "exim",
    "hestiacp": "exim",
    "postfix-debian": "postfix",
    "postfix": "postfix",
    "plesk": "postfix",
    "mailcow": "postfix",
    "docker-mailserver": "postfix",
    "iredmail": "postfix",
    "mail-in-a-box": "postfix",
    "zimbra": "postfix",
}

PRODUCT: dict[Family, str] = {"exim": "Exim", "postfix": "Postfix"}

# Stacks that look exactly like another from outside: never named by
# ``recognise``, mentioned in the evidence instead (FACTS.md: DirectAdmin shows
# an Exim greeting, Plesk a Postfix one, Zimbra's look is not confirmed).
LOOK_ALIKES: dict[Family, str] = {
    "exim": "DirectAdmin and other panels run Exim with the same greeting; from outside "
    "gmailfix cannot tell them apart",
    "postfix": "Plesk, docker-mailserver and iRedMail can show the same Postfix greeting; "
    "from outside gmailfix cannot tell them apart",
}


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


@dataclass(frozen=True)
class MailStack:
    """The verdict: a stack name, how sure, and the sentences that say why."""

    name: StackName
    confidence: Confidence
    evidence: tuple[str, ...] = field(default_factory=tuple)


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


CLUE_FAMILY: dict[Clue, Family] = {
    Clue.EXIM_BANNER: "exim",
    Clue.CPANEL_BANNER: "exim",
    Clue.EXIM_EHLO: "exim",
    Clue.EXIM_CERT: "exim",
    Clue.CPANEL_CERT: "exim",
    Clue.HESTIA_CERT: "exim",
    Clue.POSTFIX_BANNER: "postfix",
    Clue.POSTFIX_DEBIAN_BANNER: "postfix",
    Clue.POSTCOW_BANNER: "postfix",
    Clue.MIAB_BANNER: "postfix",
    Clue.POSTFIX_EHLO: "postfix",
    Clue.DMS_CERT: "postfix",
    Clue.IREDMAIL_CERT: "postfix",
}

Seen = dict[Clue, str]  # each clue found, with its evidence sentence (the first one found)


def recognise(sightings: Sequence[Sighting]) -> MailStack:
    """Name the mail stack behind ``sightings`` (one per probe), never raising."""
    seen_by: list[Sighting] = list(islice(sightings, MAX_SIGHTINGS))
    seen: Seen = {}
    for sighting in seen_by:
        for clue, sentence in _clues(sighting):
            seen.setdefault(clue, sentence)
    verdict = _best(seen)
    if verdict is None:
        return MailStack("unknown", "low", _nothing_matched(seen_by))
    name, confidence, used = verdict
    evidence = [seen[clue] for clue in used]
    family = FAMILY[name]
    against = [clue for clue in seen if CLUE_FAMILY.get(clue, family) != family]
    if against:
        # e.g. Exim on port 25 and Postfix on 587: say so rather than pick one quietly
        confidence = _weaker(confidence)
        evidence += [seen[clue] for clue in against[:2]]
        evidence.append(
            f"so some of what was seen points at {PRODUCT[_other(family)]}, not "
            f"{PRODUCT[family]}: the ports or addresses probed may run different software, "
            "which makes this less certain"
        )
    if name in ("exim", "postfix"):
        evidence.append(LOOK_ALIKES[family])
    return MailStack(name, confidence, tuple(evidence[:MAX_EVIDENCE]))


# --- deciding ------------------------------------------------------------------

Verdict = tuple[StackName, Confidence, tuple[Clue, ...]]
RANK: dict[Confidence, int] = {"high": 3, "medium": 2, "low": 1}


def _best(seen: Seen) -> Verdict | None:
    """The most confident verdict of all rules; on a tie, the earlier (more specific) rule."""
    best: Verdict | None = None
    for rule in RULES:
        verdict = rule(seen)
        if verdict is not None and (best is None or RANK[verdict[1]] > RANK[best[1]]):
            best = verdict
    return best


def _given(seen: Seen, *clues: Clue) -> tuple[Clue, ...]:
    """The clues among ``clues`` that were seen, in the order asked for."""
    return tuple(clue for clue in clues if clue in seen)


def _mail_in_a_box(seen: Seen) -> Verdict | None:
    if Clue.MIAB_BANNER in seen:
        return "mail-in-a-box", "high", _given(seen, Clue.MIAB_BANNER, Clue.POSTFIX_EHLO)
    return None


def _docker_mailserver(seen: Seen) -> Verdict | None:
    if Clue.DMS_CERT in seen:
        return "docker-mailserver", "high", _given(seen, Clue.DMS_CERT, Clue.POSTFIX_EHLO)
    return None


def _mailcow(seen: Seen) -> Verdict | None:
    if Clue.POSTCOW_BANNER in seen:
        return "mailcow", "high", _given(seen, Clue.POSTCOW_BANNER, Clue.POSTFIX_EHLO)
    return None


def _iredmail(seen: Seen) -> Verdict | None:
    if Clue.IREDMAIL_CERT not in seen:
        return None
    confidence: Confidence = "high" if Clue.POSTFIX_BANNER in seen else "medium"
    return "iredmail", confidence, _given(seen, Clue.IREDMAIL_CERT, Clue.POSTFIX_BANNER)


# certificates that only another product's installer makes
OTHER_PRODUCTS_CERTS = (Clue.EXIM_CERT, Clue.CPANEL_CERT, Clue.DMS_CERT, Clue.IREDMAIL_CERT)


def _hestiacp(seen: Seen) -> Verdict | None:
    """HestiaCP: its installer's certificate, or a bare greeting (weak on its own)."""
    used = _given(seen, Clue.HESTIA_CERT, Clue.BARE_BANNER, Clue.EXIM_EHLO)
    if Clue.HESTIA_CERT in seen:
        strong = Clue.BARE_BANNER in seen or Clue.EXIM_EHLO in seen
        return "hestiacp", "high" if strong else "medium", used
    if Clue.BARE_BANNER not in seen or Clue.POSTFIX_EHLO in seen:
        return None
    if any(clue in seen for clue in OTHER_PRODUCTS_CERTS):
        return None  # another product's own certificate says more than a bare greeting
    return "hestiacp", "medium" if Clue.EXIM_EHLO in seen else "low", used


def _cpanel(seen: Seen) -> Verdict | None:
    """cPanel: its greeting notice (an inferred tie) and its service certificate."""
    used = _given(seen, Clue.CPANEL_BANNER, Clue.CPANEL_CERT, Clue.EXIM_BANNER, Clue.EXIM_EHLO)
    banner, cert = Clue.CPANEL_BANNER in seen, Clue.CPANEL_CERT in seen
    if banner and cert:
        return "cpanel", "high", used
    if banner or (cert and (Clue.EXIM_BANNER in seen or Clue.EXIM_EHLO in seen)):
        return "cpanel", "medium", used
    return ("cpanel", "low", used) if cert else None


def _exim_debian(seen: Seen) -> Verdict | None:
    if Clue.EXIM_CERT not in seen:
        return None
    confidence: Confidence = "high" if Clue.EXIM_BANNER in seen else "medium"
    return "exim-debian", confidence, _given(seen, Clue.EXIM_BANNER, Clue.EXIM_CERT, Clue.EXIM_EHLO)


def _postfix_debian(seen: Seen) -> Verdict | None:
    if Clue.POSTFIX_DEBIAN_BANNER not in seen:
        return None
    confidence: Confidence = "high" if Clue.SNAKEOIL_CERT in seen else "medium"
    return (
        "postfix-debian",
        confidence,
        _given(seen, Clue.POSTFIX_DEBIAN_BANNER, Clue.SNAKEOIL_CERT),
    )


def _exim(seen: Seen) -> Verdict | None:
    if Clue.EXIM_BANNER in seen:
        return "exim", "medium", _given(seen, Clue.EXIM_BANNER, Clue.EXIM_EHLO)
    return ("exim", "low", (Clue.EXIM_EHLO,)) if Clue.EXIM_EHLO in seen else None


def _postfix(seen: Seen) -> Verdict | None:
    if Clue.POSTFIX_BANNER in seen:
        return "postfix", "medium", _given(seen, Clue.POSTFIX_BANNER, Clue.POSTFIX_EHLO)
    if Clue.POSTFIX_EHLO in seen:
        return "postfix", "low", _given(seen, Clue.BARE_BANNER, Clue.POSTFIX_EHLO)
    return None


# most specific first: a tie in confidence goes to the earlier rule
RULES: tuple[Callable[[Seen], Verdict | None], ...] = (
    _mail_in_a_box,
    _docker_mailserver,
    _mailcow,
    _iredmail,
    _hestiacp,
    _cpanel,
    _exim_debian,
    _postfix_debian,
    _exim,
    _postfix,
)


def _weaker(confidence: Confidence) -> Confidence:
    return "medium" if confidence == "high" else "low"


def _other(family: Family) -> Family:
    return "postfix" if family == "exim" else "exim"


# --- seeing --------------------------------------------------------------------


def _clues(sighting: Sighting) -> Iterable[tuple[Clue, str]]:
    yield from _banner_clues(_bounded(sighting.banner))
    yield from _ehlo_clues(_bounded(sighting.ehlo_host), _keywords(sighting.ehlo))
    yield from _cert_clues(sighting)


def _bounded(text: str | None) -> str:
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
    subject = _bounded(sighting.cert_subject)
    if not subject:
        return
    attrs = parse_subject(subject)
    common_name = _first(attrs, "CN")
    names = {n.lower() for n in sighting.cert_names[:MAX_ATTRIBUTES] if isinstance(n, str)}
    if "docker-mailserver.invalid" in {common_name.lower(), *names}:
        yield _said(Clue.DMS_CERT, DMS_SAID)
    if _first(attrs, "O").lower() == "exim developers":
        own = "self-signed" if sighting.cert_self_signed else "not self-signed"
        yield _said(Clue.EXIM_CERT, EXIM_CERT_SAID, own)
    if sighting.cert_self_signed:
        yield from _self_signed_clues(attrs, common_name, names)


def _self_signed_clues(
    attrs: dict[str, list[str]], common_name: str, names: set[str]
) -> Iterable[tuple[Clue, str]]:
    email = _first(attrs, "EMAIL")
    if common_name and email.lower() == f"ssl@{common_name}".lower():
        yield _said(Clue.CPANEL_CERT, CPANEL_CERT_SAID, common_name, email)
    if _first(attrs, "O").lower() == "hestia control panel":
        yield _said(Clue.HESTIA_CERT, HESTIA_CERT_SAID)
    if _first(attrs, "ST").lower() == "guangdong" and _first(attrs, "L").lower() == "shenzhen":
        yield _said(Clue.IREDMAIL_CERT, IREDMAIL_CERT_SAID)
    only_cn = set(attrs) == {"CN"} and len(attrs["CN"]) == 1
    if only_cn and common_name and names <= {common_name.lower()}:
        yield _said(Clue.SNAKEOIL_CERT, SNAKEOIL_SAID, common_name)


# --- certificate subjects --------------------------------------------------------


def _first(attrs: dict[str, list[str]], key: str) -> str:
    """The first value of ``key`` in a parsed subject, or "" when it has none."""
    return attrs.get(key, [""])[0]


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


HEX_PAIR = re.compile(r"\\([0-9A-Fa-f]{2})|\\(.)", re.DOTALL)


def _unescape(value: str) -> str:
    return HEX_PAIR.sub(lambda m: chr(int(m.group(1), 16)) if m.group(1) else m.group(2), value)


# --- nothing matched -----------------------------------------------------------


def _nothing_matched(seen: Sequence[Sighting]) -> tuple[str, ...]:
    """Say what was seen (bounded) and that it matched nothing known."""
    banners = [_bounded(s.banner) for s in seen if isinstance(s.banner, str)]
    banner = next((b.strip() for b in banners if b.strip()), None)
    subject = next((_bounded(s.cert_subject) for s in seen if s.cert_subject), None)
    evidence = []
    if banner is not None:
        evidence.append(f'the greeting says "{quote(banner.split(chr(10), 1)[0])}"')
    elif banners:
        evidence.append("the greeting is empty: the server names no software")
    else:
        evidence.append("no server answered with a greeting, so there was nothing to recognise")
    if subject:
        evidence.append(f'the certificate\'s subject is "{quote(subject)}"')
    if banner is not None or subject:
        evidence.append("none of this matches a mail system gmailfix knows")
    return tuple(evidence)
