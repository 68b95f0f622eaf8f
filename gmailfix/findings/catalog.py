"""Words for every finding code: a title and why Gmail cares, for a non-expert."""

from __future__ import annotations

from dataclasses import dataclass

from gmailfix.vocabulary import Code, Severity


@dataclass(frozen=True)
class _Kind:
    severity: Severity
    title: str
    why: str  # what is wrong and why Gmail cares; the detail adds the evidence


CATALOG: dict[Code, _Kind] = {
    Code.HOSTNAME_MISMATCH: _Kind(
        Severity.ERROR,
        "The certificate is for another name",
        "Gmail checks that the server's certificate covers exactly the name typed in "
        "'SMTP Server'. It does not, so Gmail refuses to send. Type a name the certificate "
        "covers, or get a certificate for this name.",
    ),
    Code.SELF_SIGNED: _Kind(
        Severity.ERROR,
        "The certificate is self-signed",
        "The server made its own certificate. Gmail only trusts certificates from public "
        "authorities, and reports this as 'the certificate doesn't match the host'. "
        "A free Let's Encrypt certificate fixes it.",
    ),
    Code.UNTRUSTED_ROOT: _Kind(
        Severity.ERROR,
        "The certificate is not from a public authority",
        "The certificate chains to an authority that Gmail does not trust (a private or "
        "company CA). Gmail reports this as 'the certificate doesn't match the host'.",
    ),
    Code.INCOMPLETE_CHAIN: _Kind(
        Severity.ERROR,
        "The server does not send its intermediate certificate",
        "Servers must send the certificate that links theirs to a trusted authority. "
        "Strict clients refuse the connection without it. Configure the server with the "
        "full chain (fullchain.pem), not only the certificate.",
    ),
    Code.EXPIRED: _Kind(
        Severity.ERROR,
        "The certificate has expired",
        "An expired certificate is refused. Renew it (certbot renew) and make sure the "
        "mail server loads the renewed file.",
    ),
    Code.NOT_YET_VALID: _Kind(
        Severity.ERROR,
        "The certificate is not valid yet",
        "The certificate's start date is in the future (or the server's clock is wrong). "
        "It is refused until then.",
    ),
    Code.NO_STARTTLS: _Kind(
        Severity.ERROR,
        "The server does not offer encryption (STARTTLS) on this port",
        "With 'Secured connection using TLS' Gmail insists on STARTTLS. This port does not "
        "offer it, so Gmail stops with 'STARTTLS not supported'.",
    ),
    Code.TLS_HANDSHAKE_FAILED: _Kind(
        Severity.ERROR,
        "The encrypted connection could not be set up",
        "The server accepted the connection but the TLS handshake failed. Often the mail "
        "server cannot read its certificate or key file.",
    ),
    Code.WRONG_TLS_MODE: _Kind(
        Severity.ERROR,
        "This port speaks the other kind of TLS",
        "Port 465 expects 'SSL' (encryption from the first byte); ports 587 and 25 expect "
        "'TLS' (STARTTLS). This server does the opposite, so Gmail cannot reach it.",
    ),
    Code.CONNECTION_FAILED: _Kind(
        Severity.ERROR,
        "Nothing answers on this host and port",
        "The connection was refused or the host could not be found. Gmail shows "
        "'Couldn't reach server'. Check the name, the port and the server's firewall.",
    ),
    Code.TIMEOUT: _Kind(
        Severity.ERROR,
        "The server did not answer in time",
        "The server did not finish the conversation before the time limit. Gmail gives up "
        "too. A firewall dropping packets or a stuck server is the usual cause.",
    ),
    Code.NO_AUTH: _Kind(
        Severity.ERROR,
        "The server does not offer login (AUTH)",
        "Gmail logs in with your username and password. This server does not advertise AUTH "
        "after encryption, so Gmail cannot send through it.",
    ),
    Code.OLD_TLS_VERSION: _Kind(
        Severity.WARNING,
        "The server uses an old TLS version",
        "TLS 1.0 and 1.1 are obsolete. Gmail's minimum is not documented; enable TLS 1.2 "
        "or 1.3 to be safe.",
    ),
    Code.NXDOMAIN: _Kind(
        Severity.ERROR,
        "The name does not exist in DNS",
        "DNS says this name does not exist. Check the spelling, or add the DNS records.",
    ),
    Code.NO_MX: _Kind(
        Severity.WARNING,
        "The domain has no MX record",
        "Without an MX record, mail for the domain goes to the domain's own address. "
        "The mail server's name had to be guessed.",
    ),
    Code.NULL_MX: _Kind(
        Severity.WARNING,
        "The domain says it accepts no mail (null MX)",
        "The domain publishes a 'null MX': it says it receives no mail. Sending through "
        "your own server still works if you type its name in Gmail.",
    ),
    Code.SNI_DEPENDENT_CERTIFICATE: _Kind(
        Severity.WARNING,
        "The certificate depends on the name the client asks for (SNI)",
        "With the host name sent (SNI) the server shows one certificate, without it another. "
        "Gmail is believed to send SNI, but this is not documented; make the default "
        "certificate cover this name too.",
    ),
    Code.CNAME_SMTP_HOST: _Kind(
        Severity.WARNING,
        "The SMTP host is an alias (CNAME)",
        "Gmail checks the certificate against the name as typed and does not follow the "
        "alias. The certificate must cover this name, not only the name it points to.",
    ),
    Code.IP_SMTP_HOST: _Kind(
        Severity.ERROR,
        "An IP address was typed as SMTP server",
        "Public certificates are issued for names, not addresses, so Gmail's check fails. "
        "Type the server's host name instead.",
    ),
    Code.SMTP_PROTOCOL_ERROR: _Kind(
        Severity.ERROR,
        "The server does not speak SMTP properly",
        "The server answered with something that is not SMTP (garbage, an oversized line, "
        "or it closed the connection). Gmail cannot use it.",
    ),
    Code.STARTTLS_REFUSED: _Kind(
        Severity.ERROR,
        "The server refused to start encryption",
        "The server offers STARTTLS but answers an error when asked (for example '454 TLS "
        "currently unavailable'): it usually cannot read its certificate or key file.",
    ),
    Code.DNS_ERROR: _Kind(
        Severity.WARNING,
        "A DNS query failed",
        "The DNS server did not give an answer (SERVFAIL, time-out or a broken reply), so "
        "part of the diagnosis rests on less information.",
    ),
    Code.STRICT_VERIFIER_ONLY: _Kind(
        Severity.WARNING,
        "The certificate breaks a rule that only strict clients enforce",
        "The chain is trusted, names and dates are right, but the certificate breaks a "
        "detail of the standards. Gmail may still accept it; a certificate from a public "
        "authority avoids the doubt.",
    ),
    Code.NO_CANDIDATES: _Kind(
        Severity.ERROR,
        "No mail server could be found for the domain",
        "Neither the domain's mail records (MX) nor the usual names mail. and smtp. lead "
        "to a server. Enter the SMTP server you typed in Gmail and check again.",
    ),
    Code.INVALID_CHAIN: _Kind(
        Severity.ERROR,
        "The certificate chain breaks the rules",
        "Every certificate in the chain must be allowed to do its job: the ones that sign must "
        "be certificate authorities and be within their own dates. One is not, so mail "
        "programs, and Gmail, refuse the chain even though it leads to a trusted authority. "
        "Install the chain your certificate authority gave you (fullchain.pem).",
    ),
    Code.NOT_SERVER_CERTIFICATE: _Kind(
        Severity.ERROR,
        "The certificate is not meant for a server",
        "The certificate says it may not be used by a server (its key usage or extended key "
        "usage leaves out 'TLS server'). Gmail refuses it. Get a server certificate, such as "
        "a free Let's Encrypt one.",
    ),
    Code.CERTIFICATE_UNPARSEABLE: _Kind(
        Severity.ERROR,
        "The certificate cannot be read",
        "The server sent a certificate that is malformed (a broken date, name or extension). "
        "Gmail cannot check it, so it refuses the server. Install a certificate from a public "
        "authority.",
    ),
    Code.STARTTLS_INJECTION: _Kind(
        Severity.ERROR,
        "Unexpected data arrived before encryption started",
        "After agreeing to start encryption the server (or something between you and it) sent "
        "more text before the encrypted part began. That is a protocol error and can be an "
        "attack that injects commands; Gmail gives up on such a server.",
    ),
    Code.AUTH_FAILED: _Kind(
        Severity.ERROR,
        "The server refused the username or password",
        "Gmail logs in with the username and password from its form. The server said they "
        "are wrong, so Gmail shows 'Username and Password not accepted'. Check both; many "
        "providers want the full address as username.",
    ),
    Code.INCONSISTENT_ADDRESSES: _Kind(
        Severity.ERROR,
        "The server's addresses do not all pass",
        "The host name has several addresses and Gmail picks one of them for each send. At "
        "least one address fails Gmail's check, so some of your mail will fail and some will "
        "go through. Every address must serve the same working set-up.",
    ),
    Code.ADDRESSES_NOT_CHECKED: _Kind(
        Severity.WARNING,
        "Some of the server's addresses were not checked",
        "The server name has more addresses in DNS than gmailfix checks, so some of them "
        "were not checked. Gmail may connect to any of them when it sends, so gmailfix cannot "
        "promise that Gmail accepts the server, even when every address it checked passes. "
        "Ask whoever runs the server whether every address serves the same certificate and "
        "settings, or type in Gmail a server name with fewer addresses.",
    ),
    Code.MX_SKIPPED: _Kind(
        Severity.INFO,
        "Some mail servers were not checked",
        "The domain lists more mail servers (MX) than gmailfix checks at once; the ones with "
        "the best preference were checked.",
    ),
    Code.INVALID_DNS_NAME: _Kind(
        Severity.WARNING,
        "DNS gave a name that is not a valid host name",
        "A DNS record names a host that cannot be used as a mail server name (a character or "
        "length a host name may not have). gmailfix did not connect to it.",
    ),
    Code.CANNOT_CHECK_HERE: _Kind(
        Severity.ERROR,
        "This computer cannot check the server right now",
        "gmailfix could not do its checks from this computer, so it cannot say what Gmail "
        "would do. This is about this computer, not about your mail server.",
    ),
    # on the mail server itself (gmailfix doctor)
    Code.MTA_CONFIG_INVALID: _Kind(
        Severity.ERROR,
        "The mail server's configuration does not load",
        "The mail server's own check refuses its configuration, so a restart would fail or "
        "keep running the old settings. Fix the error it names first.",
    ),
    Code.CERTIFICATE_NOT_CONFIGURED: _Kind(
        Severity.ERROR,
        "No certificate is configured for TLS",
        "The mail server offers encryption with a certificate it made up itself (Exim's "
        "built-in one, or none at all). Gmail refuses it as 'the certificate doesn't match "
        "the host'. Set the certificate and key files (the files gmailfix exports do it).",
    ),
    Code.CERTIFICATE_FILE_MISSING: _Kind(
        Severity.ERROR,
        "A certificate or key file named in the configuration is missing",
        "The mail server is told to read a file that is not there. It then cannot start "
        "encryption and answers '454 TLS currently unavailable', or serves an old certificate.",
    ),
    Code.CERTIFICATE_FILE_INVALID: _Kind(
        Severity.ERROR,
        "A certificate or key file cannot be used",
        "The file is there, but it does not hold what the mail server needs (a PEM "
        "certificate, or an unencrypted private key).",
    ),
    Code.KEY_UNREADABLE_BY_MTA: _Kind(
        Severity.ERROR,
        "The mail server's user cannot read its key or certificate",
        "Exim reads its certificate and key after it drops root and runs as its own user "
        "(Debian-exim). If that user cannot read them, every encrypted connection fails with "
        "'454 TLS currently unavailable'. A certbot renewal can reset the permissions.",
    ),
    Code.KEY_DOES_NOT_MATCH: _Kind(
        Severity.ERROR,
        "The key does not belong to the certificate",
        "The private key file is not the key of the certificate file, so no encrypted "
        "connection can be made. Point both settings at the same certificate's files.",
    ),
    Code.STALE_CERTIFICATE_SERVED: _Kind(
        Severity.ERROR,
        "The running mail server serves another certificate than the one on disk",
        "The certificate file was renewed or changed, but the running mail server still "
        "sends the old one (or another one). Gmail checks what is sent. Restart or reload "
        "the mail server.",
    ),
    Code.CERTIFICATE_EXPIRING: _Kind(
        Severity.WARNING,
        "The certificate runs out soon",
        "Less than a third of its lifetime is left, and Gmail refuses it once it runs out. "
        "A renewal should already have happened (certbot renews with a third left, or half "
        "for a certificate that lives under 10 days): check that certbot renews it and that "
        "the renewed files reach the mail server.",
    ),
    Code.MACROS_IN_WRONG_LAYOUT: _Kind(
        Severity.ERROR,
        "The TLS settings are in a file this server does not read",
        "Debian's Exim reads its local settings from one of two places, depending on "
        "dc_use_split_config in /etc/exim4/update-exim4.conf.conf. The settings are in the "
        "other place, so update-exim4.conf and 'exim -bV' succeed and nothing changes.",
    ),
    Code.CONFIG_NOT_REGENERATED: _Kind(
        Severity.WARNING,
        "The running configuration was made before the last change",
        "On Debian, Exim reads /var/lib/exim4/config.autogenerated, which update-exim4.conf "
        "makes from /etc/exim4. The files in /etc/exim4 say something else: run "
        "update-exim4.conf, then restart Exim.",
    ),
    Code.NO_DEPLOY_HOOK: _Kind(
        Severity.WARNING,
        "Renewed certificates will not reach the mail server",
        "certbot renews the certificate every 60 days, but nothing copies the renewed files "
        "to where the mail server reads them (or reloads it). Gmail starts refusing again "
        "when the old certificate runs out. Add a deploy hook (the files gmailfix exports have one).",
    ),
    Code.RENEWAL_FAILS: _Kind(
        Severity.ERROR,
        "The certificate's renewal would fail",
        "certbot tried a renewal without keeping it (a dry run) and it failed, so the "
        "certificate will run out and Gmail will refuse the server again. certbot's last "
        "words say why: often port 80 is closed, or the DNS name no longer points here.",
    ),
    Code.RENEWAL_NOT_SCHEDULED: _Kind(
        Severity.WARNING,
        "Nothing renews the certificate",
        "certbot renews only when something runs 'certbot renew': its systemd timer "
        "(certbot.timer, enabled) or a cron job. None is set to run here, so the certificate "
        "will run out and Gmail will refuse the server. Turn the timer on: systemctl enable "
        "certbot.timer, then systemctl start certbot.timer.",
    ),
    Code.RENEWAL_NOT_DEPLOYED: _Kind(
        Severity.ERROR,
        "The last renewal did not reach the mail server",
        "certbot holds a newer certificate than the file the mail server reads, so the deploy "
        "hook did not copy it there. The mail server keeps the old certificate until it runs "
        "out, and then Gmail refuses it.",
    ),
    Code.LOOPBACK_ONLY: _Kind(
        Severity.ERROR,
        "The mail server listens only on this computer",
        "Exim answers only on 127.0.0.1 and ::1 (Debian's default, dc_local_interfaces), so "
        "Gmail can never reach it, whatever its certificate. Set dc_local_interfaces='' in "
        "/etc/exim4/update-exim4.conf.conf (every address), then update-exim4.conf and a "
        "restart.",
    ),
    Code.MTA_NOT_LISTENING: _Kind(
        Severity.WARNING,
        "The mail server does not answer here",
        "Nothing answered on the mail server's ports on this computer, so gmailfix could "
        "not compare the certificate it serves with the one on disk. Is it running?",
    ),
}
