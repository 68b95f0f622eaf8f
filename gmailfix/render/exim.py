"""Exim TLS configuration for a FixPlan, in three layouts.

- ``exim4/tls-main.conf``: main-section options only, for ``.include`` in any
  exim.conf (always written);
- Debian split config: ``exim4/conf.d/main/000_localmacros``;
- Debian single file: ``exim4/exim4.conf.localmacros``.

Debian's own config sets ``tls_certificate`` from macros, so the Debian layouts
set the macros (setting the option again would be a duplicate). The SNI form
looks the SNI value up in a map and never puts it into a path: a client that
sends ``..`` or anything unknown gets the default certificate.
"""

from __future__ import annotations

from gmailfix.remedies.fix import FixPlan

TLS_VERSIONS = """\
# TLS 1.2 or newer. Exim defines _HAVE_GNUTLS or _HAVE_OPENSSL for its TLS library.
.ifdef _HAVE_GNUTLS
tls_require_ciphers = NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2
.endif
.ifdef _HAVE_OPENSSL
openssl_options = +no_sslv2 +no_sslv3 +no_tlsv1 +no_tlsv1_1
.endif
"""

PORTS = """\
# Gmail uses 587 with STARTTLS ("TLS") or 465 with implicit TLS ("SSL").
daemon_smtp_ports = 25 : 465 : 587
tls_on_connect_ports = 465
"""


def certificate_expressions(plan: FixPlan) -> tuple[str, str]:
    """The values of tls_certificate and tls_privatekey."""
    if plan.kind != "sni":
        directory = plan.cert_dir(plan.smtp_host)
        return f"{directory}/fullchain.pem", f"{directory}/privkey.pem"
    default, sni_map = plan.default_dir, sni_map_path(plan)

    def lookup(file: str) -> str:
        # the map key is the SNI as sent; only the map's own values become paths
        return (
            f"${{lookup{{$tls_in_sni}}lsearch{{{sni_map}}}{{$value/{file}}}{{{default}/{file}}}}}"
        )

    return lookup("fullchain.pem"), lookup("privkey.pem")


def sni_map_path(plan: FixPlan) -> str:
    return f"{plan.tls_dir}/sni.map"


def _header(plan: FixPlan, where: str) -> str:
    hosts = ", ".join(plan.cert_hosts) if plan.kind != "isp-hostname" else plan.smtp_host
    return (
        f"# Written by gmailfix for {plan.domain}: TLS that Gmail 'Send mail as' accepts\n"
        f"# Host names: {hosts}\n# Goes into: {where}\n\n"
    )


def tls_main(plan: FixPlan) -> str:
    """Main-section options only; load with .include before the first 'begin'."""
    certificate, key = certificate_expressions(plan)
    return (
        _header(plan, "/etc/exim4/tls-main.conf, loaded by '.include /etc/exim4/tls-main.conf'")
        + PORTS
        + "tls_advertise_hosts = *\n\n"
        + _certificate_comment(plan)
        + f"tls_certificate = {certificate}\n"
        + f"tls_privatekey = {key}\n\n"
        + TLS_VERSIONS
    )


def debian_macros(plan: FixPlan, where: str) -> str:
    """The Debian local macros file (split or single config: same text)."""
    certificate, key = certificate_expressions(plan)
    return (
        _header(plan, where)
        + "MAIN_TLS_ENABLE = yes\n"
        + _certificate_comment(plan)
        + f"MAIN_TLS_CERTIFICATE = {certificate}\n"
        + f"MAIN_TLS_PRIVATEKEY = {key}\n\n"
        + PORTS
        + "\n"
        + TLS_VERSIONS
    )


def _certificate_comment(plan: FixPlan) -> str:
    if plan.kind == "sni":
        return (
            "# One certificate per alias host, chosen by the name the client asks for (SNI).\n"
            f"# Known names are listed in {sni_map_path(plan)}; any other name, or none,\n"
            f"# gets the default certificate in {plan.default_dir} (it covers every host).\n"
        )
    return (
        "# Copied here by the certbot deploy hook: readable by Exim's user (Debian-exim),\n"
        "# unlike /etc/letsencrypt/live, which is root-only.\n"
    )


def sni_map(plan: FixPlan) -> str:
    lines = ["# SNI host name: directory with fullchain.pem and privkey.pem (lsearch, any case)"]
    lines += [f"{host}: {plan.cert_dir(host)}" for host in plan.cert_hosts]
    return "\n".join(lines) + "\n"


AUTHENTICATORS = """\
# Authenticators for Gmail's login, offered only after TLS.
# Add below "begin authenticators" (Debian: these mirror the plain_server and
# login_server examples in conf.d/auth/30_exim4-config_examples).
# Passwords live in /etc/exim4/passwd as "user:crypted-password" lines.

plain_server:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = ${if crypteq{$auth3}{${extract{1}{:}{${lookup{$auth2}lsearch{/etc/exim4/passwd}{$value}{*:*}}}}}{1}{0}}
  server_set_id = $auth2
  server_advertise_condition = ${if def:tls_in_cipher}

login_server:
  driver = plaintext
  public_name = LOGIN
  server_prompts = "Username:: : Password::"
  server_condition = ${if crypteq{$auth2}{${extract{1}{:}{${lookup{$auth1}lsearch{/etc/exim4/passwd}{$value}{*:*}}}}}{1}{0}}
  server_set_id = $auth1
  server_advertise_condition = ${if def:tls_in_cipher}
"""


def exim_files(plan: FixPlan) -> dict[str, str]:
    """Bundle path -> text for the plan's Exim layout (tls-main.conf always)."""
    files = {"exim4/tls-main.conf": tls_main(plan), "exim4/auth-tls-only.conf": AUTHENTICATORS}
    if plan.exim_layout == "debian-split":
        path = "/etc/exim4/conf.d/main/000_localmacros"
        files["exim4/conf.d/main/000_localmacros"] = debian_macros(plan, path)
    elif plan.exim_layout == "debian-single":
        path = "/etc/exim4/exim4.conf.localmacros"
        files["exim4/exim4.conf.localmacros"] = debian_macros(plan, path)
    if plan.kind == "sni":
        files["exim4/tls/sni.map"] = sni_map(plan)
    return files


def apply_commands(plan: FixPlan) -> list[str]:
    """Shell lines that install the layout's files and check them before restarting."""
    if plan.exim_layout == "debian-split":
        install = ["install -m 0644 exim4/conf.d/main/000_localmacros /etc/exim4/conf.d/main/"]
    elif plan.exim_layout == "debian-single":
        install = ["install -m 0644 exim4/exim4.conf.localmacros /etc/exim4/"]
    else:
        install = [
            "install -m 0644 exim4/tls-main.conf /etc/exim4/",
            "# then add '.include /etc/exim4/tls-main.conf' before the first 'begin' of exim.conf",
        ]
    if plan.kind == "sni":
        install.append(f"install -m 0644 exim4/tls/sni.map {sni_map_path(plan)}")
    if plan.exim_layout == "plain":
        return [*install, "exim -bV", "systemctl restart exim4 || service exim restart"]
    return [
        *install,
        "update-exim4.conf",
        "exim4 -bV",
        "invoke-rc.d exim4 restart",
    ]
