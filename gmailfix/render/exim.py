"""Exim configuration for a Plan, in three layouts.

- ``exim4/tls-main.conf``: main-section options only, for ``.include`` in any
  exim.conf (the plain layout);
- Debian split config: ``exim4/conf.d/main/000_localmacros``;
- Debian single file (Debian's default): ``exim4/exim4.conf.localmacros``.

When the layout is not known the bundle holds both Debian files and the README
starts with the command that tells them apart: a macros file in the place the
active layout does not read is silently ignored, which is the classic trap.

Debian's own config sets ``tls_certificate`` from macros, so the Debian layouts
set the macros (setting the option again would be a duplicate). The SNI form
looks the SNI value up in a map and never puts it into a path: a client that
sends ``..`` or anything unknown gets the default certificate.
"""

from __future__ import annotations

from gmailfix.remedies.plan import Plan
from gmailfix.vocabulary import EximLayout

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
# Gmail uses 587 with STARTTLS ("TLS") or 465 with TLS from the first byte ("SSL").
daemon_smtp_ports = 25 : 465 : 587
tls_on_connect_ports = 465
"""

# where each layout's file goes on the server
LAYOUT_FILES: dict[EximLayout, tuple[str, str]] = {
    "debian-single": ("exim4/exim4.conf.localmacros", "/etc/exim4/exim4.conf.localmacros"),
    "debian-split": ("exim4/conf.d/main/000_localmacros", "/etc/exim4/conf.d/main/000_localmacros"),
    "plain": ("exim4/tls-main.conf", "/etc/exim4/tls-main.conf"),
}
LAYOUT_LABELS: dict[EximLayout, str] = {
    "debian-single": "Debian, one file (Debian's default)",
    "debian-split": "Debian, split into conf.d",
    "plain": "Any exim.conf (not Debian's)",
}
AUTH_FILES = {
    "debian-split": ("exim4/conf.d/auth/30_gmailfix_tls_auth", "/etc/exim4/conf.d/auth/"),
}
PASSWD = "/etc/exim4/passwd"
WHICH_LAYOUT = "grep dc_use_split_config /etc/exim4/update-exim4.conf.conf"


def layouts(plan: Plan) -> tuple[EximLayout, ...]:
    """The layouts the bundle writes files for: the one known, or all three."""
    if plan.exim_layout is not None:
        return (plan.exim_layout,)
    return ("debian-single", "debian-split", "plain")


def certificate_expressions(plan: Plan) -> tuple[str, str]:
    """The values of tls_certificate and tls_privatekey."""
    if not plan.has("sni"):
        directory = plan.default_dir
        return f"{directory}/fullchain.pem", f"{directory}/privkey.pem"
    default, sni_map_file = plan.default_dir, sni_map_path(plan)

    def lookup(file: str) -> str:
        # the map key is the SNI as sent; only the map's own values become paths
        return (
            f"${{lookup{{$tls_in_sni}}lsearch{{{sni_map_file}}}{{$value/{file}}}"
            f"{{{default}/{file}}}}}"
        )

    return lookup("fullchain.pem"), lookup("privkey.pem")


def expected_certificate_text(plan: Plan) -> str:
    """What ``exim -bP tls_certificate`` must contain once the fix is live."""
    return sni_map_path(plan) if plan.has("sni") else certificate_expressions(plan)[0]


def sni_map_path(plan: Plan) -> str:
    return f"{plan.tls_dir}/sni.map"


def _header(plan: Plan, where: str) -> str:
    hosts = ", ".join(plan.cert_hosts) or plan.smtp_host
    return (
        f"# Written by gmailfix for {plan.domain}: {plan.title}\n"
        f"# Host names: {hosts}\n# Goes into: {where}\n\n"
    )


def tls_main(plan: Plan) -> str:
    """Main-section options only; load with .include before the first 'begin'."""
    text = _header(plan, "/etc/exim4/tls-main.conf, loaded by '.include /etc/exim4/tls-main.conf'")
    text += PORTS
    if plan.changes_certificate:
        certificate, key = certificate_expressions(plan)
        text += "tls_advertise_hosts = *\n\n" + _certificate_comment(plan)
        text += f"tls_certificate = {certificate}\ntls_privatekey = {key}\n\n" + TLS_VERSIONS
    return text


def debian_macros(plan: Plan, where: str) -> str:
    """The Debian local macros file (split or single config: the same text)."""
    text = _header(plan, where)
    if plan.changes_certificate:
        certificate, key = certificate_expressions(plan)
        text += "MAIN_TLS_ENABLE = yes\n"
        if plan.has("enable-starttls"):  # a macro set empty to turn STARTTLS off is replaced
            text += "MAIN_TLS_ADVERTISE_HOSTS = *\n"
        text += _certificate_comment(plan)
        text += f"MAIN_TLS_CERTIFICATE = {certificate}\nMAIN_TLS_PRIVATEKEY = {key}\n\n"
    text += PORTS
    if plan.changes_certificate:
        text += "\n" + TLS_VERSIONS
    return text


def _certificate_comment(plan: Plan) -> str:
    if plan.has("sni"):
        return (
            "# One certificate per alias host, chosen by the name the client asks for (SNI).\n"
            f"# Known names are listed in {sni_map_path(plan)}; any other name, or none,\n"
            f"# gets the default certificate in {plan.default_dir} (it covers every host).\n"
        )
    return (
        "# The full chain (certificate + intermediate), copied here by the certbot deploy\n"
        "# hook: readable by Exim's user (Debian-exim), unlike /etc/letsencrypt/live.\n"
    )


def sni_map(plan: Plan) -> str:
    lines = ["# SNI host name: directory with fullchain.pem and privkey.pem (lsearch, any case)"]
    lines += [f"{host}: {plan.cert_dir(host)}" for host in plan.cert_hosts]
    return "\n".join(lines) + "\n"


def _password_check(user: int, password: int, passwd: str) -> str:
    """Exim's check of $authN against the hashed password stored for the user."""
    stored = "${lookup{$auth" + str(user) + "}lsearch{" + passwd + "}{$value}{*:*}}"
    return "${if crypteq{$auth" + str(password) + "}{${extract{1}{:}{" + stored + "}}}{1}{0}}"


def authenticators(passwd: str = PASSWD) -> str:
    """PLAIN and LOGIN, offered only after TLS, checked against hashed passwords."""
    return f"""\
# Authenticators for Gmail's login, offered only after TLS.
# They go below "begin authenticators". If you already enabled Debian's own
# plain_server/login_server examples, keep yours and add only the
# server_advertise_condition line to each instead.
# Passwords live in {passwd} as "user:hashed-password" lines.

plain_server:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = {_password_check(2, 3, passwd)}
  server_set_id = $auth2
  server_advertise_condition = ${{if def:tls_in_cipher}}

login_server:
  driver = plaintext
  public_name = LOGIN
  server_prompts = "Username:: : Password::"
  server_condition = {_password_check(1, 2, passwd)}
  server_set_id = $auth1
  server_advertise_condition = ${{if def:tls_in_cipher}}
"""


AUTHENTICATORS = authenticators()


def exim_files(plan: Plan) -> dict[str, str]:
    """Bundle path -> text for the plan's Exim layout(s)."""
    files: dict[str, str] = {}
    if not plan.on_server or plan.mta != "exim":
        return files
    for layout in layouts(plan):
        path, where = LAYOUT_FILES[layout]
        files[path] = tls_main(plan) if layout == "plain" else debian_macros(plan, where)
    if plan.has("enable-auth"):
        files["exim4/auth-tls-only.conf"] = AUTHENTICATORS
        if "debian-split" in layouts(plan):
            files[AUTH_FILES["debian-split"][0]] = AUTHENTICATORS
    if plan.has("sni"):
        files["exim4/tls/sni.map"] = sni_map(plan)
    return files


def install_commands(plan: Plan, layout: EximLayout) -> list[str]:
    """Shell lines that install one layout's files without overwriting a person's own."""
    bundle_path, server_path = LAYOUT_FILES[layout]
    lines = [
        f"if [ -e {server_path} ]; then",
        f"  cp -p {server_path} {server_path}.before-gmailfix",
        f"  echo '{server_path} exists: add the lines of {bundle_path} to it by hand'",
        "else",
        f"  install -m 0644 {bundle_path} {server_path}",
        "fi",
    ]
    if layout == "plain":
        lines.append(
            "# then add '.include /etc/exim4/tls-main.conf' before the first 'begin' of exim.conf"
        )
    if plan.has("enable-auth"):
        if layout == "debian-split":
            lines.append(f"install -m 0644 {AUTH_FILES['debian-split'][0]} /etc/exim4/conf.d/auth/")
        elif layout == "debian-single":
            lines.append(
                "# paste exim4/auth-tls-only.conf below 'begin authenticators' in "
                "/etc/exim4/exim4.conf.template"
            )
        else:
            lines.append(
                "# paste exim4/auth-tls-only.conf below 'begin authenticators' in exim.conf"
            )
    if plan.has("sni"):
        lines.append(f"install -m 0644 exim4/tls/sni.map {sni_map_path(plan)}")
    return lines


def check_commands(layout: EximLayout) -> list[str]:
    """Check the configuration, then restart, then prove the running config took it."""
    if layout == "plain":
        return ["exim -bV", "systemctl restart exim4 || service exim restart"]
    return ["update-exim4.conf", "exim4 -bV", "invoke-rc.d exim4 restart"]
