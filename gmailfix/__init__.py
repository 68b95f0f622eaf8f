"""gmailfix: why Gmail "Send mail as" rejects an SMTP server, and how to fix it.

The package is the engine. It never imports Textual; the wizard lives in
``gmailfix.screens`` and only calls into the engine.
"""

__version__ = "0.1.0"
