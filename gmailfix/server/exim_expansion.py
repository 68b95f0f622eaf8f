"""What an Exim option such as ``tls_certificate`` names for a client that sends no SNI,
worked out by gmailfix itself: nothing is read, looked up, run or expanded by Exim.

``exim -be`` would expand the text with root's power (``${run}``,
``${readfile}``, ``${readsocket}``, ``${perl}``, lookups of any file) and print
the result, so a copy's or a hostile config's option could run commands or
print secrets. gmailfix needs only the file served to a client that sends no
name (Gmail always sends one, but the default is what every other client and
the no-SNI check get), and the forms that pick a certificate by name are few:

- ``${lookup{$tls_in_sni}lsearch{MAP}{$value/fullchain.pem}{DEFAULT}}``
  (what gmailfix writes): with no SNI the key is empty, which gmailfix takes
  as not found (an ``lsearch`` map line keyed ``""`` would match it; that form
  is not considered);
- ``${if eq{$tls_in_sni}{NAME}{A}{B}}``, ``eqi``, ``def:tls_in_sni``, with ``!``;
- ``${lc:...}``, ``${uc:...}``; ``$tls_in_sni`` / ``$tls_sni`` are empty.

Anything else (other variables, items, lookups or operators) gives no value
and says which part was not evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass

SNI_VARIABLES = frozenset({"tls_in_sni", "tls_sni"})
_NAME = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
_LETTERS = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
MAX_TEXT = 4096
MAX_DEPTH = 20


@dataclass(frozen=True)
class NoSni:
    """The option's value for a client without SNI, or why gmailfix did not work it out."""

    value: str | None
    unsupported: str | None = None  # the part not evaluated, e.g. "${run"


class _Unsupported(Exception):
    def __init__(self, part: str) -> None:
        super().__init__(part)
        self.part = part


def without_sni(text: str) -> NoSni:
    """``text`` (an option as ``exim -bP`` prints it) as Exim would expand it for a
    connection without SNI, if it is one of the forms above."""
    if "$" not in text and "\\" not in text:
        return NoSni(text)
    if len(text) > MAX_TEXT:
        return NoSni(None, "a text this long")
    try:
        parser = _Parser(text)
        value = parser.string(until="", evaluate=True)
    except _Unsupported as exc:
        return NoSni(None, exc.part)
    return NoSni(value)


class _Parser:
    """A recursive-descent reading of Exim's expansion syntax; ``evaluate=False`` reads
    a branch Exim would skip (checked for syntax, never given a value)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.depth = 0

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def expect(self, char: str) -> None:
        self.skip_space()
        if self.peek() != char:
            raise _Unsupported(f"text Exim would not accept at character {self.at + 1}")
        self.at += 1

    def skip_space(self) -> None:
        while self.peek() in (" ", "\t", "\n"):
            self.at += 1

    def name(self) -> str:
        start = self.at
        while self.peek().lower() in _NAME and self.peek():
            self.at += 1
        return self.text[start : self.at]

    def string(self, *, until: str, evaluate: bool) -> str:
        """Text up to ``until`` (``}`` inside braces, the end at the top)."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Unsupported("expansions nested this deep")
        out: list[str] = []
        while True:
            char = self.peek()
            if char == "" or (until and char == until):
                if until and char != until:
                    raise _Unsupported("an unfinished ${...}")
                break
            if char == "\\":
                out.append(self.escape())
            elif char == "$":
                out.append(self.dollar(evaluate))
            elif char == "{":
                raise _Unsupported("a brace outside an expansion item")
            else:
                out.append(char)
                self.at += 1
        self.depth -= 1
        return "".join(out)

    def escape(self) -> str:
        """A backslash as Exim reads it (string_interpret_escape): octal, \\x hex, the C
        letters, else the character itself. ``exim -bP`` prints control characters so."""
        self.at += 1
        char = self.peek()
        if char == "":
            raise _Unsupported("a backslash at the end")
        if char == "N":
            raise _Unsupported("\\N")
        self.at += 1
        if char in "01234567":
            digits = char
            while len(digits) < 3 and self.peek() in tuple("01234567"):
                digits += self.peek()
                self.at += 1
            return chr(int(digits, 8))
        if char == "x":
            digits = ""
            while len(digits) < 2 and self.peek() and self.peek() in "0123456789abcdefABCDEF":
                digits += self.peek()
                self.at += 1
            return chr(int(digits, 16)) if digits else "x"
        return _LETTERS.get(char, char)

    def braced(self, *, evaluate: bool) -> str:
        self.expect("{")
        value = self.string(until="}", evaluate=evaluate)
        self.at += 1
        return value

    def dollar(self, evaluate: bool) -> str:
        self.at += 1
        if self.peek() != "{":
            return self.variable(self.name(), evaluate)
        self.at += 1
        word = self.name()
        char = self.peek()
        if char == "}":
            self.at += 1
            return self.variable(word, evaluate)
        if char == ":" and word in ("lc", "uc"):
            self.at += 1
            inner = self.string(until="}", evaluate=evaluate)
            self.at += 1
            return inner.lower() if word == "lc" else inner.upper()
        if word == "lookup":
            return self.lookup(evaluate)
        if word == "if":
            return self.condition_item(evaluate)
        raise _Unsupported("${" + word if word else "${" + char)

    def variable(self, word: str, evaluate: bool) -> str:
        if not word:
            raise _Unsupported("a lone $")
        if not evaluate:
            return ""
        if word in SNI_VARIABLES:
            return ""
        raise _Unsupported("$" + word)

    def lookup(self, evaluate: bool) -> str:
        self.skip_space()
        if self.peek() != "{":  # a query-style lookup: ${lookup mysql{...}}
            raise _Unsupported(f"a {self.name() or 'query'} lookup")
        key = self.braced(evaluate=evaluate)
        self.skip_space()
        start = self.at
        while self.peek() not in ("{", "}", ""):
            self.at += 1
        kind = self.text[start : self.at].strip()
        if kind != "lsearch":  # lsearch*, partial-, wildlsearch... can match an empty key
            raise _Unsupported(f"a {kind[:40] or 'nameless'} lookup")
        self.braced(evaluate=False)  # the file: never read
        if evaluate and key != "":
            raise _Unsupported("a lookup whose key is not the SNI")
        _, missing = self.branches(evaluate=evaluate, taken=False)  # an empty key: not found
        self.expect("}")
        return missing

    def branches(self, *, evaluate: bool, taken: bool) -> tuple[str, str]:
        """``{yes}{no}`` after a lookup or a condition; the branch not taken is only read."""
        self.skip_space()
        if self.peek() != "{":
            return "", ""
        yes = self.braced(evaluate=evaluate and taken)
        self.skip_space()
        no = self.braced(evaluate=evaluate and not taken) if self.peek() == "{" else ""
        return yes, no

    def condition_item(self, evaluate: bool) -> str:
        self.skip_space()
        truth = self.condition(evaluate)
        yes, no = self.branches(evaluate=evaluate, taken=truth)
        self.expect("}")
        return yes if truth else no

    def condition(self, evaluate: bool) -> bool:
        negate = False
        while self.peek() == "!":
            negate = not negate
            self.at += 1
            self.skip_space()
        word = self.name()
        if word == "def" and self.peek() == ":":
            self.at += 1
            variable = self.name()
            if variable not in SNI_VARIABLES:
                raise _Unsupported(f"def:{variable}")
            truth = False
        elif word in ("eq", "eqi"):
            first = self.braced(evaluate=evaluate)
            second = self.braced(evaluate=evaluate)
            truth = first.lower() == second.lower() if word == "eqi" else first == second
        else:
            raise _Unsupported("the condition " + (word or self.peek()))
        return truth != negate
