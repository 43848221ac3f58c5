"""Place names in any text: the gazetteer's names found over a text's word spans.

The text is normalised character by character, exactly as the index's keys are
(`_normalize`), keeping for every normalised character the offset it came from, so a
match maps back to a span of the original text. Two matchers run over it:

- words (Latin, Cyrillic, Greek, Arabic, ... scripts that put spaces between words):
  every run of up to `MAX_WORDS` whole words is looked up in the index's own key dict
  (no extra memory, no build time), so only whole words match;
- scripts written without spaces (CJK, Japanese kana, Hangul, Thai, Lao, Khmer,
  Myanmar, Tibetan): an Aho-Corasick automaton (pyahocorasick) over the keys in those
  scripts, built once per index on first use, finds names inside longer runs ("東京駅").

Names that are mostly words are skipped: keys shorter than 4 letters (3 for a place of
100,000 people or more; 2 characters in the spaceless scripts), frequent words of the
text's languages (spot_stopwords.json, made by benchmarks/make_spot_stopwords.py), and
lower-case words in a text that has capitals elsewhere. Overlapping matches are ranked
longest first, then by population; the shorter ones are dropped. A number right after a
name ("Lahti 103", "Lahti 103 km") or a distance right before it ("12 km Lahti") is kept
as the distance to the place.
"""

from __future__ import annotations

import functools
import json
import re
import string
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from gre_agent.tools.gazetteer._index import PlaceIndex
from gre_agent.tools.gazetteer._models import SpotMatch, SpotPlace
from gre_agent.tools.gazetteer._normalize import _MARKS, _PUNCT, _SPELLED
from gre_agent.tools.gazetteer._search import ALTERNATE_MATCH

MAX_WORDS = 6  # the longest run of words looked up ("San Vicente de la Barquera")
MIN_LETTERS = 4  # a shorter Latin/Cyrillic/... name is too often a word or an initialism
MIN_LETTERS_BIG = 3  # ... unless it names a big place (Ufa, Ulm, Hue)
BIG_PLACE = 100_000
MIN_SPACELESS = 2  # characters of a CJK, kana, Hangul or Thai name
PLACES_PER_MATCH = 3  # the best place and up to two others bearing the name

# Scripts written without spaces between words (Hangul in its normalised, decomposed
# jamo form too, since NFKD splits syllables into jamo).
_SPACELESS = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u0f00-\u0fff"  # Tibetan
    "\u1000-\u109f"  # Myanmar
    "\u1100-\u11ff"  # Hangul jamo
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff\u31f0-\u31ff"  # Hiragana, Katakana
    "\u3130-\u318f"  # Hangul compatibility jamo
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK
    "\uac00-\ud7af"  # Hangul syllables
    "\U00020000-\U0002ffff"  # CJK extensions
)
_SPACELESS_RE = re.compile(f"[{_SPACELESS}]")
_APOSTROPHES = frozenset("'’`ʼʻ\"")

_NUM = r"(\d{1,4}(?:[.,]\d{1,2})?)"
_UNIT = r"(km|kms|km\.|kilometres|kilometers|mi|miles|m|公里|キロ|км|㎞|ｋｍ)"
_ARROW = r"(?:[-–—:→←↑↓>]+[ \t]*)?"
# "Lahti 103", "Lahti → 103 km": a bare number after a name is a distance only when short
_AFTER = re.compile(rf"[ \t]*{_ARROW}{_NUM}[ \t]*{_UNIT}?(?![\w.,]*\d)(?!\w)", re.I)
_BEFORE = re.compile(rf"(?<![\w.,]){_NUM}[ \t]*{_UNIT}[ \t]*{_ARROW}$", re.I)
_TO_KM = {"mi": 1.609344, "miles": 1.609344, "m": 0.001}

_LANG_ALIASES = {"no": "nb", "nn": "nb", "hr": "sh", "sr": "sh", "bs": "sh", "me": "sh"}


# -- normalisation with offsets -----------------------------------------------------


@functools.lru_cache(maxsize=65536)
def _char_key(ch: str) -> str:
    """What one character becomes in a key: itself folded, "" (dropped) or " " (a gap)."""
    if ch.isspace():
        return " "
    if ch in _APOSTROPHES:
        return ""
    if unicodedata.category(ch)[0] in "PS":  # punctuation and symbols separate words
        return " "
    text = ch.translate(_SPELLED)
    if not text.isascii():
        text = _MARKS.sub("", unicodedata.normalize("NFKD", text))
    text = text.casefold().translate(_PUNCT)
    if text and not text.strip():
        return " "
    return "".join(text.split())


def normalized_with_offsets(text: str) -> tuple[str, list[int]]:
    """The text's key form (single spaces, no edge spaces) and each character's origin."""
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        key = _char_key(ch)
        if key == " ":
            if out and out[-1] != " ":
                out.append(" ")
                origin.append(i)
        else:
            for c in key:
                out.append(c)
                origin.append(i)
    if out and out[-1] == " ":
        out.pop()
        origin.pop()
    return "".join(out), origin


# ASCII text (most signs) maps one character to one: lower-case it, turn separators into
# spaces and keep apostrophes as a mark to drop from each word ("Gel'sinki").
_MARK = "\x01"
_ASCII_TABLE = str.maketrans(
    {
        **{c: " " for c in string.punctuation if c not in _APOSTROPHES},
        **{c: _MARK for c in _APOSTROPHES if c.isascii()},
        **{c: " " for c in string.whitespace},
        "\x1c": " ",
        "\x1d": " ",
        "\x1e": " ",
        "\x1f": " ",
        "\x85": " ",
    }
)
_RUN = re.compile(r"[^ ]+")

_Token = tuple[str, int, int]  # key piece, start and end in the original text


def _ascii_tokens(text: str) -> list[_Token]:
    folded = text.lower().translate(_ASCII_TABLE)
    out = []
    for m in _RUN.finditer(folded):
        piece = m.group()
        if _MARK in piece:
            piece = piece.replace(_MARK, "")
            if not piece:
                continue
        out.append((piece, m.start(), m.end()))
    return out


def _tokens_of(norm: str, origin: list[int]) -> list[_Token]:
    out = []
    for m in _RUN.finditer(norm):
        out.append((m.group(), origin[m.start()], origin[m.end() - 1] + 1))
    return out


# -- stop words ---------------------------------------------------------------------


@functools.cache
def _stop_lists() -> dict[str, frozenset[str]]:
    raw = resources.files("gre_agent.tools.gazetteer").joinpath("spot_stopwords.json")
    data: dict[str, list[str]] = json.loads(raw.read_text(encoding="utf-8"))
    return {lang: frozenset(words) for lang, words in data.items()}


def _lang_code(lang: str) -> str:
    code = lang.strip().lower()
    if len(code) > 3:  # a language's name: "Finnish"
        try:
            import pycountry

            found = pycountry.languages.lookup(code)
            code = getattr(found, "alpha_2", code)
        except LookupError:
            return code
    return _LANG_ALIASES.get(code, code)


@functools.lru_cache(maxsize=256)
def stop_words(langs: tuple[str, ...] | None = None) -> frozenset[str]:
    """Keys skipped for a text in `langs` (ISO 639-1 codes or names; None: unknown)."""
    lists = _stop_lists()
    if langs is None:
        return lists["default"] | lists["*"]
    words = set(lists["*"])
    for lang in langs:
        words |= lists.get(_lang_code(lang), frozenset())
    return frozenset(words)


# -- the matcher --------------------------------------------------------------------


class _Automata:
    """One Aho-Corasick automaton per index over its spaceless-script keys."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._built: dict[int, tuple[PlaceIndex, Any]] = {}  # pyahocorasick has no types

    def get(self, index: PlaceIndex) -> Any:
        with self._lock:
            hit = self._built.get(id(index))
            if hit is not None and hit[0] is index:
                return hit[1]
            import ahocorasick

            automaton = ahocorasick.Automaton()
            for slot, key in enumerate(index.keys):
                if _SPACELESS_RE.search(key):
                    automaton.add_word(key, slot)
            if len(automaton):
                automaton.make_automaton()
            self._built[id(index)] = (index, automaton)
            return automaton


_AUTOMATA = _Automata()


def spaceless_automaton(index: PlaceIndex) -> Any:
    """The index's automaton (built on first use; exposed for the benchmark)."""
    return _AUTOMATA.get(index)


@dataclass(slots=True)
class _Hit:
    start: int  # in the original text
    end: int
    key: str
    whole_word: bool


def _word_hits(tokens: list[_Token], index: PlaceIndex) -> Iterable[_Hit]:
    slot = index._slot
    for a in range(len(tokens)):
        key = tokens[a][0]
        for b in range(a, min(a + MAX_WORDS, len(tokens))):
            if b > a:
                key = f"{key} {tokens[b][0]}"
            if key in slot:
                yield _Hit(tokens[a][1], tokens[b][2], key, True)


def _spaceless_hits(norm: str, origin: list[int], index: PlaceIndex) -> Iterable[_Hit]:
    automaton = _AUTOMATA.get(index)
    if not len(automaton):
        return
    for last, slot in automaton.iter(norm):
        key = index.keys[slot]
        first = last - len(key) + 1
        whole = (first == 0 or norm[first - 1] == " ") and (
            last + 1 == len(norm) or norm[last + 1] == " "
        )
        yield _Hit(origin[first], origin[last] + 1, key, whole)


def _has_letters(span: str, minimum: int) -> bool:
    return sum(1 for c in span if c.isalnum()) >= minimum and any(c.isalpha() for c in span)


@dataclass(slots=True)
class _Ranked:
    """One place bearing a key: its score, and the SpotPlace built on first need."""

    score: float
    alternate: bool  # the key is one of its alternate or historic names
    ix: PlaceIndex
    row: int
    _built: SpotPlace | None = None

    @property
    def population(self) -> int:
        return int(self.ix.population[self.row])

    @property
    def place(self) -> SpotPlace:  # frozen, so every match of the name shares it
        if self._built is None:
            self._built = _place(self.score, self.ix, self.row)
        return self._built


_RANK_CACHE = 65536  # keys per index; signs repeat the same few thousand names


class _Rankings:
    """The best places of each key per index, cached: names repeat from sign to sign."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[PlaceIndex, dict[str, tuple[_Ranked, ...]]]] = {}

    def get(self, ix: PlaceIndex, key: str) -> tuple[_Ranked, ...]:
        with self._lock:
            entry = self._cache.get(id(ix))
            if entry is None or entry[0] is not ix:
                entry = self._cache[id(ix)] = (ix, {})
            cache = entry[1]
            hit = cache.get(key)
        if hit is not None:
            return hit
        ranked = _rank(ix, key)
        with self._lock:
            if len(cache) >= _RANK_CACHE:
                cache.clear()
            cache[key] = ranked
        return ranked


def _rank(ix: PlaceIndex, key: str) -> tuple[_Ranked, ...]:
    found = ix.lookup(key)
    if found is None:
        return ()
    ids, alt = found
    if len(ids) <= 2 * PLACES_PER_MATCH:  # most names: plain Python beats numpy here
        rows = [
            ((ALTERNATE_MATCH if a else 1.0) * (0.6 + 0.4 * p), a, i)
            for i, a, p in zip(ids.tolist(), alt.tolist(), ix.prominence[ids].tolist(), strict=True)
        ]
    else:
        scores = np.where(alt, ALTERNATE_MATCH, 1.0) * (0.6 + 0.4 * ix.prominence[ids])
        top = np.argsort(-scores, kind="stable")[: PLACES_PER_MATCH * 2].tolist()
        rows = [(float(scores[j]), bool(alt[j]), int(ids[j])) for j in top]
    rows.sort(key=lambda r: (-r[0], -int(ix.population[r[2]])))
    return tuple(_Ranked(score, a, ix, i) for score, a, i in rows[: PLACES_PER_MATCH * 2])


_RANKINGS = _Rankings()


def _places(indexes: Sequence[PlaceIndex], key: str) -> list[_Ranked]:
    """Places named `key`, best first; a place in two indexes counts once (the first)."""
    if len(indexes) == 1:
        return list(_RANKINGS.get(indexes[0], key)[:PLACES_PER_MATCH])
    scored: dict[int, _Ranked] = {}  # geonameid -> ...
    for ix in indexes:
        for r in _RANKINGS.get(ix, key):
            scored.setdefault(int(ix.geonameid[r.row]), r)
    ranked = sorted(scored.values(), key=lambda r: (-r.score, -r.population))
    return ranked[:PLACES_PER_MATCH]


@dataclass(slots=True)
class _Found:
    hit: _Hit
    places: list[_Ranked]
    population: int  # of the best place


def _place(score: float, ix: PlaceIndex, i: int) -> SpotPlace:
    code = ix.admin1[i] or None
    fc = ix.feature_class[i] if ix.feature_class is not None else "P"
    return SpotPlace(
        name=ix.name[i],
        country_code=str(ix.country[i]) or None,
        admin1=ix.admin1_name(i) or code,
        lat=float(ix.lat[i]),
        lon=float(ix.lon[i]),
        population=int(ix.population[i]),
        feature_class=str(fc) or "P",
        source=ix.source,
        score=round(min(1.0, max(0.0, score)), 4),
    )


def _distance(text: str, start: int, end: int) -> float | None:
    after = _AFTER.match(text, end)
    if after and (after.group(2) or len(after.group(1).split(".")[0].split(",")[0]) <= 3):
        value, unit = after.group(1), after.group(2)
    else:
        before = _BEFORE.search(text[max(0, start - 24) : start])
        if not before:
            return None
        value, unit = before.group(1), before.group(2)
    km = float(value.replace(",", "."))
    km *= _TO_KM.get((unit or "km").lower().rstrip("."), 1.0)
    return round(km, 3)


def spot(
    indexes: Sequence[PlaceIndex],
    text: str,
    langs: Sequence[str] | None = None,
    limit: int = 20,
) -> list[SpotMatch]:
    """Gazetteer names in `text`, best first (longest, then most populous); never raises
    on any text. `langs` picks the stop-lists (ISO 639-1 codes or names); None: unknown."""
    if not text or not indexes:
        return []
    norm, origin = ("", []) if text.isascii() else normalized_with_offsets(text)
    tokens = _ascii_tokens(text) if text.isascii() else _tokens_of(norm, origin)
    if not tokens:
        return []
    spaceless_text = bool(norm) and bool(_SPACELESS_RE.search(norm))
    stop = stop_words(tuple(langs) if langs else None)
    has_upper = text.lower() != text
    hits: dict[tuple[int, int], _Hit] = {}
    for ix in indexes:
        for h in _word_hits(tokens, ix):
            hits.setdefault((h.start, h.end), h)
        if spaceless_text:
            for h in _spaceless_hits(norm, origin, ix):
                hits.setdefault((h.start, h.end), h)
    candidates: list[_Found] = []
    for h in hits.values():
        if h.key in stop:
            continue
        span = text[h.start : h.end]
        if has_upper and span.islower():
            continue  # a lower-case word among capitalised ones is not a name
        spaceless = spaceless_text and bool(_SPACELESS_RE.search(h.key))
        places = _places(indexes, h.key)
        if not places:
            continue
        alternate, population = places[0].alternate, places[0].population
        minimum = MIN_SPACELESS if spaceless else MIN_LETTERS
        if not spaceless and population >= BIG_PLACE and not alternate:
            minimum = MIN_LETTERS_BIG
        if not _has_letters(span, minimum):
            continue
        candidates.append(_Found(h, places, population))
    candidates.sort(key=lambda f: (-(f.hit.end - f.hit.start), -f.population, f.hit.start))
    taken: list[tuple[int, int]] = []
    out: list[SpotMatch] = []
    for f in candidates:
        if any(f.hit.start < e and s < f.hit.end for s, e in taken):
            continue
        taken.append((f.hit.start, f.hit.end))
        out.append(
            SpotMatch.model_construct(
                start=f.hit.start,
                end=f.hit.end,
                text=text[f.hit.start : f.hit.end],
                key=f.hit.key,
                alternate=f.places[0].alternate,
                whole_word=f.hit.whole_word,
                distance_km=_distance(text, f.hit.start, f.hit.end),
                place=f.places[0].place,
                others=[r.place for r in f.places[1:]],
            )
        )
        if len(out) >= limit:
            break
    return out
