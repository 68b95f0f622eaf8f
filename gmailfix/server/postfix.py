"""Postfix's effective TLS settings, from ``postconf`` (main.cf) and ``postconf -M`` (master.cf)."""

from __future__ import annotations

import re
from pathlib import Path

from gmailfix.server.mta import (
    CertificateFiles,
    Listener,
    Setup,
    TlsConfig,
    parse_settings,
    port_number,
)
from gmailfix.server.system import Runner

POSTCONF = "postconf"
SETTINGS = (
    "smtpd_tls_chain_files",
    "smtpd_tls_cert_file",
    "smtpd_tls_key_file",
    "smtpd_tls_security_level",
    "tls_server_sni_maps",
    "myhostname",
    "inet_interfaces",
    "maillog_file",
    "smtpd_tls_loglevel",
)


def postconf_command(confdir: Path, *args: str) -> list[str]:
    return [POSTCONF, "-c", str(confdir), *args]


def tls_config(setup: Setup, run: Runner) -> TlsConfig:
    ran = run(postconf_command(setup.config, *SETTINGS))
    values = parse_settings(ran.output)
    if not ran.ok or "smtpd_tls_chain_files" not in values:
        return TlsConfig(
            "postfix", (), (), None, "root", problem=f"postconf failed: {ran.last_line}"
        )
    services = run(postconf_command(setup.config, "-M"))
    notes = []
    if values.get("tls_server_sni_maps"):
        notes.append(
            "tls_server_sni_maps picks a certificate per name (SNI); gmailfix checked the "
            "default one"
        )
    return TlsConfig(
        mta="postfix",
        files=certificate_files(values),
        listeners=listeners(services.output) if services.ok else (Listener(25, "starttls"),),
        host_name=values.get("myhostname") or None,
        user="root",  # Postfix reads keys as root, before it drops privileges
        values=values,
        log_file=values.get("maillog_file") or None,
        notes=tuple(notes),
    )


def certificate_files(values: dict[str, str]) -> tuple[CertificateFiles, ...]:
    """smtpd_tls_chain_files (key, then its chain, per certificate), else the older pair."""
    chain = [w for w in re.split(r"[\s,]+", values.get("smtpd_tls_chain_files", "")) if w]
    if len(chain) == 1:  # key and chain in one file
        return (CertificateFiles(chain[0], chain[0]),)
    if chain:
        return tuple(CertificateFiles(chain[i + 1], chain[i]) for i in range(0, len(chain) - 1, 2))
    certificate = values.get("smtpd_tls_cert_file", "")
    if not certificate:
        return ()
    return (CertificateFiles(certificate, values.get("smtpd_tls_key_file") or certificate),)


def listeners(master: str) -> tuple[Listener, ...]:
    """smtpd services of type inet from ``postconf -M``, with TLS from the first byte
    where ``smtpd_tls_wrappermode=yes``."""
    found: list[Listener] = []
    for line in master.splitlines()[:500]:
        fields = line.split()
        if len(fields) < 8 or fields[1] != "inet" or fields[7] != "smtpd":
            continue
        port = port_number(fields[0].rpartition(":")[2])
        if port is None:
            continue
        options = " ".join(fields[8:])
        implicit = re.search(r"-o\s*smtpd_tls_wrappermode\s*=\s*yes\b", options) is not None
        found.append(Listener(port, "implicit" if implicit else "starttls"))
    return tuple(found[:16])
