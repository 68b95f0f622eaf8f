"""Where on a server gmailfix may write, and so where ``rollback`` may put files back.

Derived from the MTA tables: the folders of Exim's and Postfix's configuration
(Debian's ``/etc/exim4``, a plain Exim's ``/etc/exim``, ``/etc/postfix``, and
Dovecot's, which checks Postfix's logins), the TLS folders gmailfix's
certificates go to (they lie inside those), Debian's generated Exim config and
``/etc/default/exim4``, and a plain exim.conf found elsewhere with the
``gmailfix-tls.conf`` that apply puts next to it. A journal naming anything
else is refused, so a planted or damaged journal cannot make ``rollback``
write over or delete any other file.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from gmailfix.remedies.plan import TLS_DIRS
from gmailfix.server.exim import DEFAULTS_FILE
from gmailfix.server.mta import DEBIAN_CONFDIR, DEBIAN_GENERATED, PLAIN_CONFIGS, POSTFIX_DIR

INCLUDE_NAME = "gmailfix-tls.conf"  # a plain exim.conf loads gmailfix's TLS settings from here
DOVECOT_DIR = "/etc/dovecot"
PLAIN_EXIM_DIR = "/etc/exim"

_NAMED = [
    PurePosixPath(p)
    for p in (DEBIAN_CONFDIR, PLAIN_EXIM_DIR, POSTFIX_DIR, DOVECOT_DIR, *TLS_DIRS.values())
]
# the TLS folders lie inside the MTAs' folders today; one that did not would be its own
FOLDERS: tuple[PurePosixPath, ...] = tuple(
    dict.fromkeys(f for f in _NAMED if not any(o in f.parents for o in _NAMED))
)
FILES: frozenset[PurePosixPath] = frozenset(
    {
        PurePosixPath(DEBIAN_GENERATED),
        PurePosixPath(DEFAULTS_FILE),
        *(PurePosixPath(p) for p in PLAIN_CONFIGS),
        *(PurePosixPath(p).parent / INCLUDE_NAME for p in PLAIN_CONFIGS),
    }
)


def allowed(path: PurePosixPath) -> bool:
    """``path`` (as named on the server) is a file gmailfix may write or put back."""
    if not path.is_absolute() or any(part in ("..", ".") for part in path.parts):
        return False
    return path in FILES or folder_of(path) is not None


def folder_of(path: PurePosixPath) -> PurePosixPath | None:
    """The allowlisted folder ``path`` lies in (None: none, or only a listed file)."""
    return next((folder for folder in FOLDERS if folder in path.parents), None)


def folders_to_sweep() -> list[tuple[PurePosixPath, str | None]]:
    """Where a killed write may have left a temporary file: each allowlisted folder
    (None: any name in it, and below) and each allowlisted file's folder (its name)."""
    found: list[tuple[PurePosixPath, str | None]] = [(folder, None) for folder in FOLDERS]
    for path in sorted(FILES):
        if not any(folder in path.parents for folder in FOLDERS):
            found.append((path.parent, path.name))
    return found


def where() -> str:
    """The allowlist in words, for a refusal."""
    folders = ", ".join(f"{f}/" for f in FOLDERS)
    files = ", ".join(str(f) for f in sorted(FILES) if folder_of(f) is None)
    return f"{folders} and {files}"
