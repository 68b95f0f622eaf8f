"""One place that makes outside strings safe to show: terminal, Rich/Textual, Markdown.

Certificate fields, SMTP replies, DNS names and paths come from servers and
people gmailfix does not trust. On a terminal a raw ESC can retitle the
window, write the clipboard or repaint a forged verdict; in Rich or Textual a
``[`` is markup; in Markdown a backtick or a newline can start a heading or a
command the reader is told to run. Every renderer passes outside text through
these functions, and hands Rich and Textual ``Text`` objects, never markup.
JSON needs none of this: ``json.dumps`` escapes controls itself.

An output in a Latin-1 or ASCII locale cannot carry every character: there,
``unicode_output`` is False and the CLI writes gmailfix's own marks plainly
(``plain_marks``), JSON with ``\\u`` escapes, and the stream shows any other
character escaped (``b\\xfccher.test``; ``gmailfix.cli.main`` sets that).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from typing import TextIO

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


def unicode_output(out: TextIO) -> bool:
    """Can ``out`` carry any character? Not in a Latin-1 or ASCII locale.

    The one question behind plain marks and ASCII-only JSON: a stream that is not
    UTF-8 gets both, since ASCII is valid in every locale's encoding and as UTF-8."""
    encoding = getattr(out, "encoding", None) or "utf-8"
    try:
        return codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return False


# gmailfix's own marks, for an output that cannot carry them
_ASCII_MARKS = str.maketrans({"✓": "OK", "✗": "X", "→": "->", "…": "..."})


def plain_marks(text: str) -> str:
    """``text`` with the marks gmailfix prints (✓ ✗ → …) spelled in ASCII."""
    return text.translate(_ASCII_MARKS)
