"""Writing systems: one table of how to recognise each script and which countries write it.

A script is recognised two ways: by its letters (the first word of each character's Unicode
name, via unicodedata: `scripts_in`), and by what prose calls it ("Cyrillic", "Korean
characters": `scripts_named_in`, `script_named`). Names that are also language or people
names ("Korean", "Greek") count in prose only next to a script word ("script", "letters").

Latin is listed so that prose naming it is understood, but it has no countries and is never
read from letters: it is everywhere and says nothing about the place. Every other script is
*distinctive*: `COUNTRIES` says where it is official or in everyday public use on signs
(Wikipedia's "List of writing systems by adoption"), as ISO 3166-1 alpha-2 codes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_SCRIPT_WORD = r"(?:\s+(?:script|alphabet|characters?|letters|lettering|writing|glyphs?))"


def _named(*words: str) -> str:
    """A prose pattern for names that are only ever script names."""
    return "|".join(rf"\b{w}\b" for w in words)


def _with_word(*words: str) -> str:
    """A prose pattern for names that count only next to a script word."""
    return "|".join(rf"\b{w}{_SCRIPT_WORD}" for w in words)


@dataclass(frozen=True)
class Script:
    name: str  # the Unicode script name (Kana for Hiragana and Katakana)
    letters: tuple[str, ...]  # first words of its characters' Unicode names
    prose: str  # regex for what prose calls it (case-insensitive)
    countries: frozenset[str]  # where its signs are; empty for Latin
    aliases: tuple[str, ...] = ()  # other words a model may use for it, as a whole answer


_ARABIC = "AE SA EG MA DZ TN LY JO LB SY IQ KW QA BH OM YE SD IR AF PK MR PS IL"
_CYRILLIC = "RU UA BY BG RS MK ME BA KZ KG TJ MN"

SCRIPTS: tuple[Script, ...] = (
    Script(
        "Hangul",
        ("HANGUL",),
        _named("Hangul", "Hangeul") + "|" + _with_word("Korean"),
        frozenset({"KR", "KP"}),
        ("korean", "hangeul"),
    ),
    Script(
        "Kana",
        ("HIRAGANA", "KATAKANA"),
        _named("Hiragana", "Katakana"),
        frozenset({"JP"}),
        ("japanese", "hiragana", "katakana"),
    ),
    Script(
        "Han",
        ("CJK",),
        _named("Kanji", "Hanzi") + "|" + _with_word("Chinese"),
        frozenset({"CN", "TW", "HK", "MO", "JP", "SG", "MY", "KR"}),
        ("chinese", "hanzi", "kanji"),
    ),
    Script("Thai", ("THAI",), _with_word("Thai"), frozenset({"TH"})),
    Script("Lao", ("LAO",), _with_word("Lao"), frozenset({"LA"})),
    Script("Khmer", ("KHMER",), _with_word("Khmer"), frozenset({"KH"})),
    Script(
        "Myanmar", ("MYANMAR",), _with_word("Burmese", "Myanmar"), frozenset({"MM"}), ("burmese",)
    ),
    Script("Greek", ("GREEK",), _with_word("Greek"), frozenset({"GR", "CY"})),
    Script("Hebrew", ("HEBREW",), _with_word("Hebrew"), frozenset({"IL"})),
    Script(
        "Georgian",
        ("GEORGIAN",),
        _with_word("Georgian") + "|" + _named("Mkhedruli"),
        frozenset({"GE"}),
    ),
    Script("Armenian", ("ARMENIAN",), _with_word("Armenian"), frozenset({"AM"})),
    Script("Devanagari", ("DEVANAGARI",), _named("Devanagari"), frozenset({"IN", "NP"})),
    Script(
        "Bengali",
        ("BENGALI",),
        _with_word("Bengali", "Bangla"),
        frozenset({"BD", "IN"}),
        ("bangla",),
    ),
    Script("Tamil", ("TAMIL",), _with_word("Tamil"), frozenset({"IN", "LK", "SG"})),
    Script("Sinhala", ("SINHALA",), _with_word("Sinhal(?:a|ese)"), frozenset({"LK"})),
    Script("Gujarati", ("GUJARATI",), _with_word("Gujarati"), frozenset({"IN"})),
    Script("Gurmukhi", ("GURMUKHI",), _named("Gurmukhi"), frozenset({"IN"})),
    Script("Telugu", ("TELUGU",), _with_word("Telugu"), frozenset({"IN"})),
    Script("Kannada", ("KANNADA",), _with_word("Kannada"), frozenset({"IN"})),
    Script("Malayalam", ("MALAYALAM",), _with_word("Malayalam"), frozenset({"IN"})),
    Script("Oriya", ("ORIYA",), _with_word("Oriya", "Odia"), frozenset({"IN"}), ("odia",)),
    Script(
        "Ethiopic",
        ("ETHIOPIC",),
        _named("Ge[’']?ez", "Ethiopic") + "|" + _with_word("Amharic"),
        frozenset({"ET", "ER"}),
        ("ge'ez", "geez", "amharic"),
    ),
    Script("Tibetan", ("TIBETAN",), _with_word("Tibetan"), frozenset({"CN", "BT", "IN", "NP"})),
    Script(
        "Cyrillic", ("CYRILLIC",), _named("Cyrillic"), frozenset(_CYRILLIC.split()), ("russian",)
    ),
    Script("Arabic", ("ARABIC",), _with_word("Arabic"), frozenset(_ARABIC.split()), ("persian",)),
    Script("Latin", (), _with_word("Latin", "Roman"), frozenset()),
)

# distinctive script -> countries whose signs use it
COUNTRIES: dict[str, frozenset[str]] = {s.name: s.countries for s in SCRIPTS if s.countries}

_BY_LETTERS = {prefix: s.name for s in SCRIPTS for prefix in s.letters}
_BY_PROSE = tuple((s.name, re.compile(s.prose, re.I)) for s in SCRIPTS)
_BY_WORD = {
    word.casefold(): s.name for s in SCRIPTS if s.countries for word in (s.name, *s.aliases)
}


def scripts_in(text: str) -> list[str]:
    """The distinctive scripts whose letters appear in `text`, in order of appearance."""
    found: list[str] = []
    for ch in text:
        if not ch.isalpha():
            continue
        script = _BY_LETTERS.get(unicodedata.name(ch, "").split(" ", 1)[0])
        if script and script not in found:
            found.append(script)
    return found


def scripts_named_in(text: str) -> list[str]:
    """The scripts prose names ("Cyrillic signs", "Latin script"), in order of mention."""
    hits = sorted((m.start(), name) for name, rx in _BY_PROSE if (m := rx.search(text)))
    return [name for _, name in hits]


def script_named(name: str) -> str | None:
    """The script a model's word names ("Korean", "Cyrillic"), or None (e.g. Latin)."""
    return _BY_WORD.get(name.strip().casefold())
