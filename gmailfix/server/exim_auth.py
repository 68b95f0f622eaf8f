"""Exim's authenticators where each layout reads them, as a marked gmailfix block.

- Debian split config: a file of its own in ``/etc/exim4/conf.d/auth/``.
- Debian single file: ``update-exim4.conf`` builds the config from
  ``/etc/exim4/exim4.conf.template`` (the local macros file holds only main
  section text), so the block goes below its ``begin authenticators`` line.
- Any other exim.conf: the same, below its own ``begin authenticators``
  (added at the end when the file has no such section).

The block is taken out again by ``without_block``: rollback restores the
whole file anyway.
"""

from __future__ import annotations

import re

from gmailfix.server.edit import begin_marker, end_marker, without_block

AUTH_TAG = "apply-auth"
DEBIAN_TEMPLATE = "/etc/exim4/exim4.conf.template"
_BEGIN_AUTH = re.compile(r"^\s*begin\s+authenticators\s*$")


def with_authenticators(text: str, block: str) -> str:
    """``text`` (an exim.conf or Debian's template) with gmailfix's authenticators in it."""
    lines = without_block(text, AUTH_TAG).splitlines() if text else []
    wrapped = [begin_marker(AUTH_TAG), *block.rstrip("\n").splitlines(), end_marker(AUTH_TAG)]
    at = next((n for n, line in enumerate(lines) if _BEGIN_AUTH.match(line)), None)
    if at is None:
        while lines and not lines[-1].strip():
            lines.pop()
        lines = [*lines, "", "begin authenticators", "", *wrapped]
    else:
        lines = [*lines[: at + 1], "", *wrapped, *lines[at + 1 :]]
    return "\n".join(lines) + "\n"
