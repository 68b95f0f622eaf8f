"""How each recognisable mail stack looks from outside, as data for lab servers.

One ``StackLook`` per stack that ``gmailfix.stacks.recognise`` can name: the
greeting, extra EHLO keywords and the default certificate's subject. The lab
builds a server from it; the tests check that each look is recognised as its
stack. ``{host}`` in the banner or a subject value stands for the server's
host name.

DirectAdmin and Plesk look like plain Exim and Postfix from outside, and
Zimbra's look is not confirmed (docs/FACTS.md), so they have no look of their own.
The looks follow what was seen on the real programs (Debian's Exim 4.96 and
Postfix 3.7) or what the stack's own source writes (named in
``gmailfix.stacks.recognise``).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from gmailfix.stacks.recognise import StackName

HOST = "{host}"
# the attribute names a look may use, and their OIDs
ATTRIBUTE_OIDS: dict[str, x509.ObjectIdentifier] = {
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
    "emailAddress": NameOID.EMAIL_ADDRESS,
}


@dataclass(frozen=True)
class StackLook:
    """What one stack shows a client before and during TLS."""

    stack: StackName
    banner: str  # greeting text after "220 "; "\n" separates the lines of a multi-line greeting
    ehlo_extra: tuple[str, ...]  # extra EHLO keywords to advertise
    cert_subject: tuple[tuple[str, str], ...]  # (attribute, value) in the order they are built
    self_signed: bool  # False: the lab's CA issues it

    def banner_for(self, host: str) -> str:
        return self.banner.replace(HOST, host)

    def subject_for(self, host: str) -> tuple[tuple[str, str], ...]:
        return tuple((attr, value.replace(HOST, host)) for attr, value in self.cert_subject)

    def x509_subject(self, host: str) -> x509.Name:
        """The subject as a cryptography ``Name``, ready for a certificate builder."""
        return x509.Name(
            [x509.NameAttribute(ATTRIBUTE_OIDS[a], v) for a, v in self.subject_for(host)]
        )

    def common_name(self, host: str) -> str:
        """The CN, which the lab also puts in the certificate's SAN."""
        return next(v for a, v in self.subject_for(host) if a == "CN")


EXIM_EHLO = ("PIPECONNECT", "PRDR")  # Debian's Exim 4.96 offers both (seen here)
POSTFIX_EHLO = ("VRFY", "ETRN", "ENHANCEDSTATUSCODES", "DSN")  # Debian's Postfix 3.7 (seen here)
DATE = "Mon, 02 Jan 2023 10:00:00 +0000"

LOOKS: tuple[StackLook, ...] = (
    StackLook(
        stack="exim-debian",
        banner=f"{HOST} ESMTP Exim 4.96 {DATE}",
        ehlo_extra=EXIM_EHLO,
        # Exim's built-in certificate, as Debian's stock Exim 4.96 served it here
        cert_subject=(("C", "UK"), ("O", "Exim Developers"), ("CN", HOST)),
        self_signed=True,
    ),
    StackLook(
        stack="exim",
        banner=f"{HOST} ESMTP Exim 4.96 {DATE}",
        ehlo_extra=EXIM_EHLO,
        cert_subject=(("CN", HOST),),
        self_signed=False,
    ),
    StackLook(
        stack="postfix-debian",
        banner=f"{HOST} ESMTP Postfix (Debian/GNU)",
        ehlo_extra=POSTFIX_EHLO,
        # Debian's snakeoil certificate: the host name and nothing else
        cert_subject=(("CN", HOST),),
        self_signed=True,
    ),
    StackLook(
        stack="postfix",
        banner=f"{HOST} ESMTP Postfix",
        ehlo_extra=POSTFIX_EHLO,
        cert_subject=(("CN", HOST),),
        self_signed=False,
    ),
    StackLook(
        stack="cpanel",
        banner=(
            f"{HOST} ESMTP Exim 4.96.2 #2 {DATE} \n"
            "We do not authorize the use of this system to transport unsolicited, \n"
            "and/or bulk e-mail."
        ),
        ehlo_extra=("PIPE_CONNECT",),
        cert_subject=(("CN", HOST), ("emailAddress", f"ssl@{HOST}")),
        self_signed=True,
    ),
    StackLook(
        stack="hestiacp",
        banner=f"{HOST} ESMTP",
        ehlo_extra=EXIM_EHLO,
        # the certificate HestiaCP's installer makes before Let's Encrypt replaces it
        cert_subject=(
            ("C", "US"),
            ("ST", "California"),
            ("L", "San Francisco"),
            ("O", "Hestia Control Panel"),
            ("OU", "IT"),
            ("CN", HOST),
        ),
        self_signed=True,
    ),
    StackLook(
        stack="mailcow",
        banner=f"{HOST} ESMTP Postcow",
        ehlo_extra=("ETRN", "ENHANCEDSTATUSCODES"),
        cert_subject=(("CN", HOST),),
        self_signed=False,
    ),
    StackLook(
        stack="docker-mailserver",
        banner=f"{HOST} ESMTP",
        ehlo_extra=("ETRN", "ENHANCEDSTATUSCODES"),
        cert_subject=(("CN", "docker-mailserver.invalid"),),
        self_signed=True,
    ),
    StackLook(
        stack="iredmail",
        banner=f"{HOST} ESMTP Postfix",
        ehlo_extra=("ETRN", "ENHANCEDSTATUSCODES", "DSN"),
        cert_subject=(
            ("C", "CN"),
            ("ST", "GuangDong"),
            ("L", "ShenZhen"),
            ("O", HOST),
            ("OU", "IT"),
            ("CN", HOST),
            ("emailAddress", f"root@{HOST}"),
        ),
        self_signed=True,
    ),
    StackLook(
        stack="mail-in-a-box",
        banner=f"{HOST} ESMTP Hi, I'm a Mail-in-a-Box (Ubuntu/Postfix; see https://mailinabox.email/)",
        ehlo_extra=("ETRN", "ENHANCEDSTATUSCODES"),
        cert_subject=(("CN", HOST),),
        self_signed=False,
    ),
)
