"""Which mail stack a server runs, judged only from what it shows a client.

A probe sees a greeting, an EHLO reply and a default certificate. Each of these
can carry a clue: a product word in the greeting, an extension only one MTA
offers, a self-signed certificate whose subject a product's installer writes.
``recognise`` collects the clues from every probe and names the stack the
strongest clues support, with a confidence and one plain sentence per clue.
Where the clues are weak it says so; where there are none it says ``unknown``.

Where each clue comes from (docs/FACTS.md, "Mail stacks"; the rest named here so it
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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Literal, get_args

from gmailfix.stacks.clues import Clue, Sighting, bounded, clues, quote

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

MAX_EVIDENCE = 8  # sentences in one MailStack
MAX_SIGHTINGS = 64

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
# ``recognise``, mentioned in the evidence instead (docs/FACTS.md: DirectAdmin shows
# an Exim greeting, Plesk a Postfix one, Zimbra's look is not confirmed).
LOOK_ALIKES: dict[Family, str] = {
    "exim": "DirectAdmin and other panels run Exim with the same greeting; from outside "
    "gmailfix cannot tell them apart",
    "postfix": "Plesk, docker-mailserver and iRedMail can show the same Postfix greeting; "
    "from outside gmailfix cannot tell them apart",
}


@dataclass(frozen=True)
class MailStack:
    """The verdict: a stack name, how sure, and the sentences that say why."""

    name: StackName
    confidence: Confidence
    evidence: tuple[str, ...] = field(default_factory=tuple)


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
        for clue, sentence in clues(sighting):
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


# --- certificate subjects --------------------------------------------------------


# --- nothing matched -----------------------------------------------------------


def _nothing_matched(seen: Sequence[Sighting]) -> tuple[str, ...]:
    """Say what was seen (bounded) and that it matched nothing known."""
    banners = [bounded(s.banner) for s in seen if isinstance(s.banner, str)]
    banner = next((b.strip() for b in banners if b.strip()), None)
    subject = next((bounded(s.cert_subject) for s in seen if s.cert_subject), None)
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
