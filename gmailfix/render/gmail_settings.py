"""Gmail's "Send mail as" form, field by field, in the order Gmail asks."""

from __future__ import annotations

from gmailfix.gmail import GmailSettings
from gmailfix.remedies.plan import Plan
from gmailfix.vocabulary import security_for

WHERE = (
    "Where: Gmail on the web > Settings (the gear) > See all settings > Accounts and Import >\n"
    '"Send mail as" > "Add another email address" (or "edit info" next to an existing one).'
)


def settings_for(plan: Plan) -> list[tuple[str, GmailSettings]]:
    """(address, settings) for every alias the plan covers."""
    if plan.has("sni"):
        out = []
        for alias in plan.aliases:
            known = (
                plan.username
                if plan.username and plan.username.endswith("@" + alias.domain)
                else None
            )
            settings = GmailSettings(alias.host, plan.port, security_for(plan.port), known)
            out.append((known or placeholder(alias.domain), settings))
        return out
    address = plan.username or placeholder(plan.domain)
    return [(address, GmailSettings(plan.smtp_host, plan.port, plan.security, plan.username))]


def placeholder(domain: str) -> str:
    """Where the person's own address goes: clearly not a real address."""
    return f"<your address>@{domain}"


PASSWORDS = {
    "mailbox": "your mailbox password (gmailfix never stores it)",
    "exim": "the one you set in the README's login step (its hash is in /etc/exim4/passwd)",
    "postfix": "that user's password on the mail server (Dovecot checks it)",
}


# the same, short enough for one line of the wizard
SHORT_PASSWORDS = {
    "mailbox": "your mailbox password",
    "exim": "the one you set for login on the server",
    "postfix": "that user's password on the server",
}


def password_words(plan: Plan, *, short: bool = False) -> str:
    """Which password goes in Gmail's form: the one the plan's login step makes, if any."""
    words = SHORT_PASSWORDS if short else PASSWORDS
    return words[plan.mta] if plan.has("enable-auth") else words["mailbox"]


def render_settings(
    address: str, settings: GmailSettings, password: str = PASSWORDS["mailbox"]
) -> str:
    tls = "(*)" if settings.security == "TLS" else "( )"
    ssl = "(*)" if settings.security == "SSL" else "( )"
    username = settings.username or "your login: often the full address (your provider says)"
    return "\n".join(
        [
            f"Sending as {address}",
            "",
            'Step 1: "Add another email address you own"',
            "  Name:               the name recipients should see",
            f"  Email address:      {address}",
            "  Treat as an alias:  leave it ticked",
            '  > click "Next Step"',
            "",
            'Step 2: "Send mail through your SMTP server"',
            f"  SMTP Server:        {settings.smtp_server}",
            f"  Port:               {settings.port}",
            f"  Username:           {username}",
            f"  Password:           {password}",
            f"  {tls} Secured connection using TLS (recommended)",
            f"  {ssl} Secured connection using SSL",
            '  > click "Add Account" (or "Save Changes")',
            "",
            "Gmail connects to the server at once to check these settings: run verify.sh",
            "first (README step before this one); when it prints OK, Gmail's check passes too.",
        ]
    )


def gmail_settings_text(plan: Plan) -> str:
    password = password_words(plan)
    blocks = [render_settings(address, s, password) for address, s in settings_for(plan)]
    header = f'Gmail "Send mail as" settings for {plan.domain}\n\n{WHERE}\n'
    return header + "\n\n" + "\n\n----\n\n".join(blocks) + "\n"
