"""Word lists that turn free reasoning into stage fields: countries, languages,
driving side, and the keyword classes that route a sentence to a field.

Scripts are not here: `core.scripts` holds the one table of writing systems."""

from __future__ import annotations

import re
from functools import cache

import pycountry

# Names people (and models) use that pycountry does not list as a name.
_COUNTRY_ALIASES = {
    "USA": "US",
    "U.S.": "US",
    "U.S.A.": "US",
    "United States of America": "US",
    "America": "US",
    "UK": "GB",
    "U.K.": "GB",
    "Britain": "GB",
    "Great Britain": "GB",
    "England": "GB",
    "Scotland": "GB",
    "Wales": "GB",
    "Northern Ireland": "GB",
    "Russia": "RU",
    "Czech Republic": "CZ",
    "Turkey": "TR",
    "Holland": "NL",
    "Ivory Coast": "CI",
    "Brunei": "BN",
    "Palestine": "PS",
    "Macedonia": "MK",
    "DR Congo": "CD",
    "DRC": "CD",
    "Democratic Republic of the Congo": "CD",
    "Republic of the Congo": "CG",
    "Swaziland": "SZ",
    "Burma": "MM",
    "East Timor": "TL",
    "Cape Verde": "CV",
    "Vatican": "VA",
    "Korea": "KR",
}


def _display(code: str) -> str:
    c = pycountry.countries.get(alpha_2=code)
    if c is None:
        return code
    return getattr(c, "common_name", None) or c.name


@cache
def _countries() -> tuple[re.Pattern[str], dict[str, str]]:
    names: dict[str, str] = {}
    for c in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            value = getattr(c, attr, None)
            if value and "," not in value and not value.startswith("the "):
                names[value] = c.alpha_2
    names.update(_COUNTRY_ALIASES)
    ordered = sorted(names, key=len, reverse=True)
    # "South Africa" before "Africa"; "America" is only a country when not "South/Latin …"
    body = "|".join(re.escape(n) for n in ordered)
    pattern = re.compile(rf"(?<![\w.])(?<!South )(?<!Latin )(?<!North )(?:{body})(?![\w])")
    return pattern, names


def countries_in(text: str) -> list[str]:
    """Countries named in text, as display names, in order of first mention."""
    pattern, names = _countries()
    out: list[str] = []
    for m in pattern.finditer(text):
        name = _display(names[m.group(0)])
        if name not in out:
            out.append(name)
    return out


def country_code(name: str) -> str | None:
    """ISO alpha-2 for a country name, alias, alpha-2 or alpha-3 code; None if unknown."""
    name = name.strip()
    if not name:
        return None
    _, names = _countries()
    if name in names:
        return names[name]
    try:
        return pycountry.countries.lookup(name).alpha_2
    except LookupError:
        return None


def country_name(code: str) -> str | None:
    c = pycountry.countries.get(alpha_2=code.upper()) if len(code) == 2 else None
    return _display(c.alpha_2) if c else None


LANGUAGES = [
    "English",
    "French",
    "Spanish",
    "Portuguese",
    "German",
    "Italian",
    "Dutch",
    "Flemish",
    "Danish",
    "Swedish",
    "Norwegian",
    "Icelandic",
    "Finnish",
    "Estonian",
    "Latvian",
    "Lithuanian",
    "Polish",
    "Czech",
    "Slovak",
    "Slovenian",
    "Slovene",
    "Hungarian",
    "Romanian",
    "Bulgarian",
    "Serbian",
    "Croatian",
    "Bosnian",
    "Albanian",
    "Macedonian",
    "Greek",
    "Russian",
    "Ukrainian",
    "Belarusian",
    "Georgian",
    "Armenian",
    "Turkish",
    "Azerbaijani",
    "Kazakh",
    "Uzbek",
    "Kyrgyz",
    "Mongolian",
    "Arabic",
    "Hebrew",
    "Persian",
    "Farsi",
    "Urdu",
    "Hindi",
    "Bengali",
    "Punjabi",
    "Gujarati",
    "Marathi",
    "Tamil",
    "Telugu",
    "Kannada",
    "Malayalam",
    "Sinhala",
    "Nepali",
    "Thai",
    "Lao",
    "Khmer",
    "Burmese",
    "Vietnamese",
    "Malay",
    "Indonesian",
    "Filipino",
    "Tagalog",
    "Chinese",
    "Mandarin",
    "Cantonese",
    "Japanese",
    "Korean",
    "Swahili",
    "Amharic",
    "Afrikaans",
    "Zulu",
    "Xhosa",
    "Yoruba",
    "Hausa",
    "Somali",
    "Catalan",
    "Basque",
    "Galician",
    "Irish",
    "Welsh",
    "Maltese",
    "Luxembourgish",
    "Maori",
    "Hawaiian",
    "Quechua",
    "Guarani",
    "Tibetan",
]
_LANGUAGE_RE = re.compile(r"\b(" + "|".join(LANGUAGES) + r")\b")


def languages_in(text: str) -> list[str]:
    out: list[str] = []
    for m in _LANGUAGE_RE.finditer(text):
        if m.group(1) not in out:
            out.append(m.group(1))
    return out


# What a language claim must be about: text and signage, not cars, people or food.
_TEXT_CUE = re.compile(
    r"\b(?:text|texts|textual|signs?|signage|signboards?|language|languages|script|writing|"
    r"written|writes|reads?|reading|lettering|letters|inscriptions?|characters|words?|"
    r"labels?|labell?ed|menu|banners?|billboards?|posters?|spelt|spelled|spelling|alphabet|"
    r"bilingual|trilingual|monolingual|translat\w*|spoken|speak\w*|names?)\b",
    re.I,
)
# After a language's name, a noun that makes it a nationality adjective instead.
_NOT_TEXT_NOUN = re.compile(
    r"\s+(?:[\w-]+\s+){0,2}?(?:cars?|vehicles?|models?|makes?|brands?|tourists?|people|"
    r"pedestrians?|visitors?|drivers?|residents?|families|family|men|women|children|crowds?|"
    r"cuisine|food|dishes|restaurants?|architecture|style|houses?|buildings?|roofs?|temples?|"
    r"shrines?|flags?|trucks?|buses|motorbikes?|scooters?|plates?|design|influence|"
    r"colonial|era|period|heritage|culture|gardens?|trees?|company|companies|chains?|"
    r"manufacturers?|imports?|market|products?|goods)\b",
    re.I,
)
_TEXT_NOUN = re.compile(
    r"\s+(?:text|texts|signs?|signage|script|writing|words?|characters|lettering|language|"
    r"inscriptions?|labels?|names?|alphabet|spelling)\b",
    re.I,
)


def text_languages_in(text: str, about_text: bool = False) -> list[str]:
    """Languages named as the language of text or signage, sentence by sentence.

    "Signs are in Finnish and Swedish" and "Korean text" count; "older Japanese and Korean
    cars", "Korean tourists" and "a Finnish town" do not. `about_text`: every sentence is
    about text already (GRE's textual clues section: "Hebrew and English.").
    """
    out: list[str] = []
    for sent in sentences(text):
        cue = about_text or bool(_TEXT_CUE.search(sent))
        for m in _LANGUAGE_RE.finditer(sent):
            rest = sent[m.end() :]
            if _TEXT_NOUN.match(rest):
                pass  # "Korean text": about text whatever else the sentence says
            elif not cue or _NOT_TEXT_NOUN.match(rest) or _listed_before_noun(rest):
                continue
            if m.group(1) not in out:
                out.append(m.group(1))
    return out


def _listed_before_noun(rest: str) -> bool:
    """ "Japanese and Korean cars": the first of a list takes the noun after the last."""
    m = re.match(r"(?:\s*(?:,|and|or|&|/)\s*(?:" + "|".join(LANGUAGES) + r"))+", rest)
    if not m:
        return False
    tail = rest[m.end() :]
    return bool(_NOT_TEXT_NOUN.match(tail)) and not _TEXT_NOUN.match(tail)


_LEFT = re.compile(
    r"\b(?:drive|drives|driving|traffic|vehicles?|cars?)\b(?:\s+\w+){0,3}?\s+on\s+the\s+left\b"
    r"|\bleft[- ]hand\s+traffic\b|\bright[- ]hand\s+drive\b|\bkeeps?\s+(?:to\s+the\s+)?left\b"
    r"|\bLHT\b|\bRHD\b",
    re.I,
)
_RIGHT = re.compile(
    r"\b(?:drive|drives|driving|traffic|vehicles?|cars?)\b(?:\s+\w+){0,3}?\s+on\s+the\s+right\b"
    r"|\bright[- ]hand\s+traffic\b|\bleft[- ]hand\s+drive\b|\bkeeps?\s+(?:to\s+the\s+)?right\b"
    r"|\bRHT\b|\bLHD\b",
    re.I,
)


def driving_side(text: str) -> str | None:
    """'left' or 'right' when the text says which side traffic drives on (and not both)."""
    left, right = bool(_LEFT.search(text)), bool(_RIGHT.search(text))
    if left == right:
        return None
    return "left" if left else "right"


def _kw(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


# Sentence classes: a sentence that matches goes (verbatim) into the field.
KEYWORDS: dict[str, re.Pattern[str]] = {
    "architecture": _kw(
        r"\b(?:architect\w*|buildings?|houses?|fa[cç]ades?|roofs?|brick|stor(?:e)?ys?|"
        r"apartments?|villas?|colonial|concrete|wooden|timber|stucco|tiled)\b"
    ),
    "road_type": _kw(
        r"\b(?:roads?|streets?|lanes?|highways?|motorways?|freeways?|asphalt|paved|unpaved|dirt|"
        r"gravel|pavements?|sidewalks?|kerbs?|curbs?|avenues?|boulevards?|intersections?|"
        r"roundabouts?|cobble\w*)\b"
    ),
    "climate": _kw(
        r"\b(?:climate|tropical|arid|semi-arid|temperate|humid|mediterranean|subtropical|"
        r"continental|monsoon|snow\w*|desert|boreal|alpine|savanna\w*)\b"
    ),
    "license_plates": _kw(r"\b(?:licen[cs]e|number|registration)\s+plates?\b|\bplates?\b"),
    "road_markings": _kw(
        r"\b(?:markings?|cent(?:re|er)\s?lines?|dashed|lane\s+lines?|double\s+(?:yellow|white)|"
        r"yellow\s+lines?|white\s+lines?|edge\s+lines?|zebra|crosswalks?|crossings?)\b"
    ),
    "poles_bollards": _kw(
        r"\b(?:poles?|bollards?|guide\s?posts?|power\s+lines?|utility|electric\w*\s+lines?|"
        r"street\s?lights?|lamp\s?posts?|pylons?)\b"
    ),
    "signs": _kw(r"\b(?:signs?|signage|billboards?|placards?|plaques?|banners?)\b"),
    "shops_brands": _kw(
        r"\b(?:shops?|stores?|brands?|restaurants?|caf[eé]s?|banks?|supermarkets?|pharmac\w+|"
        r"hotels?|petrol\s+stations?|gas\s+stations?|logos?|chains?|kiosks?|bakery|bakeries|"
        r"franchises?)\b"
    ),
    "landmarks": _kw(
        r"\b(?:landmarks?|monuments?|towers?|cathedrals?|statues?|bridges?|castles?|palaces?|"
        r"stadiums?|skyscrapers?|memorials?|fortress\w*)\b"
    ),
    "cultural_cues": _kw(
        r"\b(?:cultur\w*|tradition\w*|religio\w*|flags?|churche?s?|temples?|mosques?|pagodas?|"
        r"shrines?|festivals?|dress|clothing|customs?|heritage)\b"
    ),
}
BRAND_CONTEXT = KEYWORDS["shops_brands"]
NEGATIVE_TEXT = _kw(r"\bno\s+(?:visible|legible|readable|clear)?\s*(?:text|signs?|writing)\b")

_SENTENCE = re.compile(r"(?<=[.!?;])\s+(?=[\"“„«'‘(\[]?[^\W\d_])|\n+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]
