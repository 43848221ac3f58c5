"""Name normalisation shared by the index builder and the query side.

"Göteborg", "GÖTEBORG" and "Goteborg" must meet at one key, as must "Saint-Étienne"
and "saint etienne". Letters that Unicode does not decompose (ø, ł, æ, ...) are spelt
out by hand; scripts without a Latin form (Cyrillic, CJK, ...) pass through casefolded.
"""

from __future__ import annotations

import re
import unicodedata

_SPELLED = str.maketrans(
    {
        "ø": "o",
        "Ø": "o",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "Ð": "d",
        "þ": "th",
        "Þ": "th",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ı": "i",
        "ħ": "h",
        "Ħ": "h",
    }
)
# Combining diacritics (accents, cedillas, ...) left over after NFKD decomposition.
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Punctuation that separates words ("Saint-Denis", "St. Louis") becomes a space;
# apostrophes inside transliterations ("Gel'sinki") just vanish.
_PUNCT = str.maketrans({**{c: " " for c in "-‐‑–—_.,/()"}, **{c: None for c in "'’`ʼʻ\""}})


def normalize(text: str) -> str:
    """The lookup key of a place name: no accents, no case, single spaces."""
    if not text.isascii():  # most names are plain ASCII: skip the slow part
        text = _MARKS.sub("", unicodedata.normalize("NFKD", text.translate(_SPELLED)))
    return " ".join(text.casefold().translate(_PUNCT).split())
