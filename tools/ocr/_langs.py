"""Which engine reads which language.

rapidocr_onnxruntime's PP-OCRv4 model reads Latin letters, digits and Chinese; every
other script is read by Tesseract with Debian's language data (`tesseract-ocr-<code>`).
Codes are ISO 639-1, as a model would write them.
"""

from __future__ import annotations

_LATIN = "en fi sv de fr es it pt nl da no nb nn is et lv lt pl cs sk hu ro hr sl bs sq tr az"
_MORE = "id ms vi tl ca eu gl ga cy mt af sw zh"
RAPIDOCR = frozenset(f"{_LATIN} {_MORE}".split())

# ISO 639-1 -> Tesseract language (also the Debian package suffix)
TESSERACT = {
    "ru": "rus",
    "uk": "ukr",
    "be": "bel",
    "bg": "bul",
    "sr": "srp",
    "mk": "mkd",
    "kk": "kaz",
    "ky": "kir",
    "tg": "tgk",
    "mn": "mon",
    "el": "ell",
    "ko": "kor",
    "ja": "jpn",
    "th": "tha",
    "lo": "lao",
    "km": "khm",
    "my": "mya",
    "ar": "ara",
    "fa": "fas",
    "ur": "urd",
    "ps": "pus",
    "he": "heb",
    "hi": "hin",
    "ne": "nep",
    "mr": "mar",
    "bn": "ben",
    "ta": "tam",
    "te": "tel",
    "kn": "kan",
    "ml": "mal",
    "gu": "guj",
    "pa": "pan",
    "or": "ori",
    "si": "sin",
    "ka": "kat",
    "hy": "hye",
    "am": "amh",
    "bo": "bod",
}

KNOWN = RAPIDOCR | TESSERACT.keys()


def tesseract_langs(langs: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """The Tesseract languages `langs` need, in order; empty when rapidocr reads them all."""
    return tuple(dict.fromkeys(TESSERACT[code] for code in langs or () if code in TESSERACT))
