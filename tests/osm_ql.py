"""A small tokenizer of Overpass QL, enough to check the queries the OSM tools build.

String literals are decoded with Overpass's escape rules (\\n \\t \\" \\' \\\\ \\uXXXX);
anything else inside a literal (an unknown escape, a raw control character, a missing
closing quote) is an error, so a query that passes has exactly the structure it shows.
"""

from __future__ import annotations

ESCAPES = {"n": "\n", "t": "\t", '"': '"', "'": "'", "\\": "\\"}
WORD = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")

Token = tuple[str, str]  # ("str", decoded) | ("word", text) | ("punct", char)


class QLError(ValueError):
    pass


def tokenize(ql: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(ql):
        ch = ql[i]
        if ch in " \n\t":
            i += 1
        elif ch in "\"'":
            text, i = _literal(ql, i)
            tokens.append(("str", text))
        elif ch in WORD:
            start = i
            while i < len(ql) and ql[i] in WORD:
                i += 1
            tokens.append(("word", ql[start:i]))
        else:
            tokens.append(("punct", ch))
            i += 1
    return tokens


def _literal(ql: str, i: int) -> tuple[str, int]:
    quote, i, out = ql[i], i + 1, []
    while True:
        if i >= len(ql):
            raise QLError("unterminated string literal")
        ch = ql[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\":
            code = ql[i + 1] if i + 1 < len(ql) else ""
            if code in ESCAPES:
                out.append(ESCAPES[code])
                i += 2
            elif code == "u" and _is_hex(ql[i + 2 : i + 6]):
                out.append(chr(int(ql[i + 2 : i + 6], 16)))
                i += 6
            else:
                raise QLError(f"bad escape at {i}: {ql[i : i + 6]!r}")
        elif ord(ch) < 0x20:
            raise QLError(f"raw control character {ch!r} in a string literal")
        else:
            out.append(ch)
            i += 1


def _is_hex(text: str) -> bool:
    return len(text) == 4 and all(c in "0123456789abcdefABCDEF" for c in text)


def shape(tokens: list[Token]) -> list[Token]:
    """The structure of a query: its tokens with string contents blanked."""
    return [(kind, "" if kind == "str" else value) for kind, value in tokens]


def literals(tokens: list[Token]) -> list[str]:
    return [value for kind, value in tokens if kind == "str"]
