"""Writing systems read in the image, and the countries where each is used on signs.

Only scripts that narrow the place down are listed; Latin is everywhere and says nothing.
Sources: the Unicode script of each character (unicodedata), and where each script is
official or in everyday public use (Wikipedia's "List of writing systems by adoption").
"""

from __future__ import annotations

import unicodedata

# script -> countries (ISO 3166-1 alpha-2) whose signs use it
COUNTRIES: dict[str, frozenset[str]] = {
    "Hangul": frozenset({"KR", "KP"}),
    "Kana": frozenset({"JP"}),
    "Han": frozenset({"CN", "TW", "HK", "MO", "JP", "SG", "MY", "KR"}),
    "Thai": frozenset({"TH"}),
    "Lao": frozenset({"LA"}),
    "Khmer": frozenset({"KH"}),
    "Myanmar": frozenset({"MM"}),
    "Greek": frozenset({"GR", "CY"}),
    "Hebrew": frozenset({"IL"}),
    "Georgian": frozenset({"GE"}),
    "Armenian": frozenset({"AM"}),
    "Devanagari": frozenset({"IN", "NP"}),
    "Bengali": frozenset({"BD", "IN"}),
    "Tamil": frozenset({"IN", "LK", "SG"}),
    "Sinhala": frozenset({"LK"}),
    "Gujarati": frozenset({"IN"}),
    "Gurmukhi": frozenset({"IN"}),
    "Telugu": frozenset({"IN"}),
    "Kannada": frozenset({"IN"}),
    "Malayalam": frozenset({"IN"}),
    "Oriya": frozenset({"IN"}),
    "Ethiopic": frozenset({"ET", "ER"}),
    "Tibetan": frozenset({"CN", "BT", "IN", "NP"}),
    "Cyrillic": frozenset({"RU", "UA", "BY", "BG", "RS", "MK", "ME", "BA", "KZ", "KG", "TJ", "MN"}),
    "Arabic": frozenset(
        {
            "AE",
            "SA",
            "EG",
            "MA",
            "DZ",
            "TN",
            "LY",
            "JO",
            "LB",
            "SY",
            "IQ",
            "KW",
            "QA",
            "BH",
            "OM",
            "YE",
            "SD",
            "IR",
            "AF",
            "PK",
            "MR",
            "PS",
            "IL",
        }
    ),
}

# First word of a character's Unicode name -> script
_UNICODE_PREFIX = {
    "HANGUL": "Hangul",
    "HIRAGANA": "Kana",
    "KATAKANA": "Kana",
    "CJK": "Han",
    "THAI": "Thai",
    "LAO": "Lao",
    "KHMER": "Khmer",
    "MYANMAR": "Myanmar",
    "GREEK": "Greek",
    "HEBREW": "Hebrew",
    "GEORGIAN": "Georgian",
    "ARMENIAN": "Armenian",
    "DEVANAGARI": "Devanagari",
    "BENGALI": "Bengali",
    "TAMIL": "Tamil",
    "SINHALA": "Sinhala",
    "GUJARATI": "Gujarati",
    "GURMUKHI": "Gurmukhi",
    "TELUGU": "Telugu",
    "KANNADA": "Kannada",
    "MALAYALAM": "Malayalam",
    "ORIYA": "Oriya",
    "ETHIOPIC": "Ethiopic",
    "TIBETAN": "Tibetan",
    "CYRILLIC": "Cyrillic",
    "ARABIC": "Arabic",
}
# What a model may call a script -> the script
_ALIASES = {name.casefold(): name for name in COUNTRIES} | {
    "korean": "Hangul",
    "hangeul": "Hangul",
    "japanese": "Kana",
    "hiragana": "Kana",
    "katakana": "Kana",
    "chinese": "Han",
    "hanzi": "Han",
    "kanji": "Han",
    "ge'ez": "Ethiopic",
    "geez": "Ethiopic",
    "amharic": "Ethiopic",
    "odia": "Oriya",
    "bangla": "Bengali",
    "burmese": "Myanmar",
    "russian": "Cyrillic",
    "persian": "Arabic",
}


def scripts_in(text: str) -> list[str]:
    """The distinctive scripts whose letters appear in `text`, in order of appearance."""
    found: list[str] = []
    for ch in text:
        if not ch.isalpha():
            continue
        script = _UNICODE_PREFIX.get(unicodedata.name(ch, "").split(" ", 1)[0])
        if script and script not in found:
            found.append(script)
    return found


def script_named(name: str) -> str | None:
    """The script a model's word names ("Korean", "Cyrillic"), or None (e.g. Latin)."""
    return _ALIASES.get(name.strip().casefold())
