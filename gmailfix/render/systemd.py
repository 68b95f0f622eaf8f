"""systemd units that check the server as Gmail does, every day: text from a plan.

Three files, installed by hand into /etc/systemd/system (the bundle's README
says how; ``gmailfix apply`` does not install them):

- ``gmailfix-check.service`` runs ``gmailfix check`` once, with a read-only
  view of the system. Its one line (OK, WARN, REFUSED, UNKNOWN) goes to the
  journal; any status but 0 fails the unit.
- ``gmailfix-check.timer`` starts it daily, at a random time in the first hour
  (``RandomizedDelaySec``), and catches up after the machine was off
  (``Persistent``).
- ``gmailfix-mail-root@.service``, the service's ``OnFailure=``: mails root the
  failed unit's status, when the server has a ``mail`` command (otherwise it is
  skipped, and the journal alone holds the warning).

The words after ``gmailfix`` come from the caller (the CLI knows its flags;
this renderer does not). Nothing here sources or runs bundle text: the units
hold the whole command. A word with anything but plain characters is refused,
so that no quoting, ``%`` specifier or ``$`` variable of systemd can change it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gmailfix.errors import InputError, shorten
from gmailfix.remedies.plan import Plan

GMAILFIX = "/usr/local/bin/gmailfix"  # where the service finds gmailfix (a link is fine)
UNIT_FOLDER = "/etc/systemd/system"
SERVICE_NAME = "gmailfix-check.service"
TIMER_NAME = "gmailfix-check.timer"
MAILER_NAME = "gmailfix-mail-root@.service"
SERVICE = f"systemd/{SERVICE_NAME}"
TIMER = f"systemd/{TIMER_NAME}"
MAILER = f"systemd/{MAILER_NAME}"
SYSTEMD_ROLES = {
    SERVICE: "systemd service: checks once as Gmail does (gmailfix check), into the journal",
    TIMER: "systemd timer: runs gmailfix-check.service daily",
    MAILER: "systemd service run when the check fails: mails root (needs a mail command)",
}
START_LIMIT = "10min"  # a check is bounded by its own time limits; this is a backstop
_PLAIN_WORD = re.compile(r"[A-Za-z0-9._/:=@+,\[\]-]+")


def systemd_units(plan: Plan, check_words: Sequence[str]) -> dict[str, str]:
    """Bundle path -> text of the three units, for ``gmailfix CHECK_WORDS...``."""
    where = f"{plan.smtp_host} port {plan.port}"
    return {
        SERVICE: _service(where, exec_line([GMAILFIX, *check_words])),
        TIMER: _timer(where),
        MAILER: MAILER_TEXT,
    }


def exec_line(words: Sequence[str]) -> str:
    """``words`` as an ExecStart= value: plain words only, so systemd splits them as given."""
    for word in words:
        if not _PLAIN_WORD.fullmatch(word):
            raise InputError(f"{shorten(word)!r} cannot be put in a systemd unit")
    return " ".join(words)


def _service(where: str, command: str) -> str:
    return f"""\
# Written by gmailfix: checks {where} as Gmail does. Started by {TIMER_NAME}.
[Unit]
Description=Check that Gmail would accept {where} (gmailfix)
Wants=network-online.target
After=network-online.target
OnFailure=gmailfix-mail-root@%n.service

[Service]
Type=oneshot
ExecStart={command}
SyslogIdentifier=gmailfix-check
TimeoutStartSec={START_LIMIT}
ProtectSystem=strict
ProtectHome=read-only
PrivateDevices=yes
NoNewPrivileges=yes
"""


def _timer(where: str) -> str:
    return f"""\
# Written by gmailfix: runs {SERVICE_NAME} daily.
[Unit]
Description=Daily check that Gmail would accept {where} (gmailfix)

[Timer]
OnCalendar=daily
RandomizedDelaySec=1h
Persistent=true

[Install]
WantedBy=timers.target
"""


MAILER_TEXT = """\
# Written by gmailfix: mails root the status of a unit that failed (OnFailure=).
# Skipped when there is no mail command: the warning is then in the journal only.
[Unit]
Description=Mail root that %i failed (gmailfix)

[Service]
Type=oneshot
ExecCondition=/bin/sh -c 'command -v mail >/dev/null'
ExecStart=/bin/sh -c 'systemctl status --full --no-pager --lines=20 %i | mail -s "%i failed on %H" root'
"""
