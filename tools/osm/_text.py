"""Name normalisation shared by the offline index and the Overpass query builder.

Both backends match names case- and diacritics-insensitively: "Töölönlahdenkatu",
"toolonlahdenkatu" and "TÖÖLÖNLAHDENKATU" are the same name.
"""

from __future__ import annotations

import unicodedata
from functools import cache


def strip_marks(text: str) -> str:
    """Drop combining marks after compatibility decomposition ("é" -> "e")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize(text: str) -> str:
    """The matching key of a name: no diacritics, casefolded, single spaces."""
    return " ".join(strip_marks(text).casefold().split())


@cache
def letter_variants() -> dict[str, str]:
    """Each ASCII letter with every Latin letter that reduces to it ("o" -> "oOòÒóÓ...").

    Built from Unicode data rather than typed by hand; covers Latin-1 Supplement and
    Latin Extended-A/B, where the accented letters of European languages live.
    """
    variants: dict[str, list[str]] = {chr(c): [chr(c)] for c in range(ord("a"), ord("z") + 1)}
    for code in range(0xC0, 0x250):
        ch = chr(code)
        if not ch.isalpha():
            continue
        base = strip_marks(ch).lower()
        if len(base) == 1 and base in variants and ch not in variants[base]:
            variants[base].append(ch)
    # Both cases, so the class matches even where a regex engine folds only ASCII.
    return {
        base: "".join(
            dict.fromkeys(c for ch in chars for c in (ch.lower(), ch.upper()) if len(c) == 1)
        )
        for base, chars in variants.items()
    }


def name_rank(have: str | None, wanted: str) -> tuple[int, int, str]:
    """Sort key of a match: exact, then prefix, then substring; shorter names first."""
    have_n, wanted_n = normalize(have or ""), normalize(wanted)
    quality = 0 if have_n == wanted_n else 1 if have_n.startswith(wanted_n) else 2
    return quality, len(have_n), have_n
