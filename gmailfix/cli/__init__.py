"""The ``gmailfix`` command: flags in, text or JSON and an exit status out.

Only this package knows command-line flags. Textual is imported only when the
wizard starts.
"""

from gmailfix.cli.main import main

__all__ = ["main"]
