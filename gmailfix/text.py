"""One place that makes outside strings safe to show: terminal, Rich/Textual, Markdown.

Certificate fields, SMTP replies, DNS names and paths come from servers and
people gmailfix does not trust. On a terminal a raw ESC can retitle the
window, write the clipboard or repaint a forged verdict; in Rich or Textual a
``[`` is markup; in Markdown a backtick or a newline can start a heading or a
command the reader is told to run. Every renderer passes outside text through
these functions, and hands Rich and Textual ``Text`` objects, never markup.
JSON needs none of this: ``json.dumps`` escapes controls itself.
"""

from __future__ import annotations

import re
import unicodedata

MAX_SHOWN = 300  # characters of one outside string shown anywhere but JSON

# bidi overrides and isolates reorder what follows them on screen
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]!|~])")  # what can start markup inside a line


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _unsafe(ch: str) -> bool:
    return ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def clean(text: object, *, limit: int = MAX_SHOWN, keep_newlines: bool = False) -> str:
    """``text`` with every control, format and bidi character shown escaped (``\\x1b``),
    cut to ``limit`` characters. Newlines survive only with ``keep_newlines``."""
    value = str(text)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    out = []
    for ch in value:
        if keep_newlines and ch == "\n":
            out.append(ch)
        elif _unsafe(ch):
            out.append(_escape_char(ch))
        else:
            out.append(ch)
    return "".join(out)


def md_code(text: object, *, limit: int = MAX_SHOWN) -> str:
    """Outside text as Markdown inline code: one line, backticks cannot close it."""
    value = clean(" ".join(str(text).split()), limit=limit)
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") or not value else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def md_text(text: object, *, limit: int = MAX_SHOWN) -> str:
    """Outside text inside Markdown prose: one line, no markup, no HTML."""
    value = clean(" ".join(str(text).split()), limit=limit)
    value = value.replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", value)


def said(text: object, *, limit: int = MAX_SHOWN) -> str:
    """What a server said, for Markdown: quoted as code and labelled as its words."""
    return f"the server said {md_code(text, limit=limit)}"
