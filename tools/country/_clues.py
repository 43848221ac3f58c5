"""Which countries a clue read in a photo points to: calling codes, domains, postal codes,
currencies, languages and country names, all from GeoNames' country table (offline).

Each function returns alpha-2 codes; the caller weighs them (a 5-digit postal code fits
dozens of countries, "+354" one). `population` is the prior that breaks ties.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cache

from gre_agent.tools.country._offline import geonames_countries, language_names

# Domains used worldwide for other reasons (.tv, .io, .me ...): no country clue.
GENERIC_TLDS = frozenset({"tv", "io", "me", "ai", "co", "fm", "ly", "gg", "to", "ws", "cc"})

# Names of countries in their own languages, and demonyms as written on signs and
# products; English names come from GeoNames. Lower case, whole words.
LOCAL_NAMES: dict[str, tuple[str, ...]] = {
    "FI": ("suomi", "suomen", "finnish", "suomalainen"),
    "SE": ("sverige", "sveriges", "swedish", "svensk", "svenska"),
    "NO": ("norge", "noreg", "norwegian", "norsk"),
    "DK": ("danmark", "danish", "dansk"),
    "IS": ("ísland", "island", "icelandic", "íslensk"),
    "DE": ("deutschland", "german", "deutsch", "deutsche"),
    "AT": ("österreich", "austrian"),
    "CH": ("schweiz", "suisse", "svizzera", "swiss", "helvetia"),
    "FR": ("république française", "french", "française", "français"),
    "ES": ("españa", "spanish", "español", "española"),
    "PT": ("portuguesa", "portuguese", "português"),
    "IT": ("italia", "italian", "italiano", "italiana"),
    "NL": ("nederland", "dutch", "nederlandse"),
    "BE": ("belgië", "belgique", "belgian"),
    "PL": ("polska", "polish", "polski"),
    "CZ": ("česko", "česká republika", "czech", "český"),
    "HU": ("magyarország", "hungarian", "magyar"),
    "GR": ("ελλάδα", "ελλάς", "greek", "hellas"),
    "TR": ("türkiye", "turkish", "türk"),
    "RU": ("россия", "russian", "российская"),
    "UA": ("україна", "ukrainian"),
    "EE": ("eesti", "estonian"),
    "LV": ("latvija", "latvian"),
    "LT": ("lietuva", "lithuanian"),
    "HR": ("hrvatska", "croatian"),
    "JP": ("日本", "nippon", "japanese"),
    "KR": ("대한민국", "한국", "korean"),
    "CN": ("中国", "chinese"),
    "TH": ("ประเทศไทย", "thai"),
    "VN": ("việt nam", "vietnamese"),
    "BR": ("brasil", "brazilian", "brasileiro"),
    "MX": ("méxico", "mexican", "mexicano"),
    "AR": ("argentina", "argentine", "argentino"),
    "US": ("usa", "u.s.a.", "american"),
    "GB": ("uk", "british", "england", "scotland", "wales"),
    "IE": ("éire", "irish"),
    "AU": ("australian",),
    "NZ": ("aotearoa", "kiwi"),
    "CA": ("canadian",),
    "IN": ("bharat", "भारत", "indian"),
    "EG": ("مصر", "egyptian"),
    "MA": ("المغرب", "maroc", "moroccan"),
    "IL": ("ישראל", "israeli"),
}


@cache
def population(code: str) -> int:
    row = geonames_countries().get(code)
    return int(row.get("population") or 0) if row else 0


@cache
def _calling_codes() -> dict[str, list[str]]:
    table: dict[str, list[str]] = defaultdict(list)
    for code, row in geonames_countries().items():
        for part in str(row.get("phone") or "").split(" and "):
            digits = re.sub(r"\D", "", part.split("-")[0])
            if digits:
                table[digits].append(code)
    return dict(table)


def countries_for_phone(digits: str) -> list[str]:
    """The countries of a calling code read after '+' ("354", "3545" -> IS), longest first."""
    table = _calling_codes()
    for n in (3, 2, 1):
        if len(digits) >= n and digits[:n] in table:
            return sorted(dict.fromkeys(table[digits[:n]]), key=population, reverse=True)
    return []


def countries_for_tld(tld: str) -> list[str]:
    tld = tld.lower().lstrip(".")
    if tld in GENERIC_TLDS:
        return []
    return [c for c, row in geonames_countries().items() if row.get("tld") == f".{tld}"]


@cache
def _postal_regexes() -> list[tuple[str, re.Pattern[str]]]:
    out = []
    for code, row in geonames_countries().items():
        pattern = row.get("postalcoderegex") or ""
        if pattern:
            try:
                out.append((code, re.compile(pattern)))
            except re.error:
                continue
    return out


def countries_for_postcode(postcode: str) -> list[str]:
    """Countries whose postal-code format the code fits ("FI-00100": the prefix decides)."""
    if m := re.fullmatch(r"([A-Z]{2})-(\d.*)", postcode):
        prefix, rest = m.groups()
        if prefix in geonames_countries():
            return [prefix]
        postcode = rest
    # "100-0001" is written so, GeoNames has \d{7}; "1012 AB" keeps its space (NL, not AR)
    bare = (
        re.sub(r"[ -]", "", postcode)
        if postcode.replace(" ", "-").replace("-", "").isdigit()
        else postcode
    )
    return [code for code, rx in _postal_regexes() if rx.fullmatch(postcode) or rx.fullmatch(bare)]


def countries_for_currency(currency: str) -> list[str]:
    return [
        c for c, row in geonames_countries().items() if row.get("currencycode") == currency.upper()
    ]


@cache
def _language_countries() -> dict[str, list[tuple[str, bool]]]:
    table: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    for code, row in geonames_countries().items():
        names = language_names(str(row.get("languages") or "").split(","))
        for i, name in enumerate(names):
            table[name.casefold()].append((code, i == 0))
    return dict(table)


def countries_for_language(language: str) -> list[tuple[str, bool]]:
    """(country, whether it is the country's first language) for a language's English name."""
    return _language_countries().get(language.strip().casefold(), [])


@cache
def _name_pattern() -> tuple[re.Pattern[str], dict[str, str]]:
    names: dict[str, str] = {}
    for code, row in geonames_countries().items():
        names.setdefault(str(row["name"]).casefold(), code)
    for code, words in LOCAL_NAMES.items():
        for word in words:
            names.setdefault(word.casefold(), code)
    alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE), names


def countries_named_in(text: str) -> list[tuple[str, str]]:
    """(country, the words) for each country name or demonym in `text`, in order."""
    pattern, names = _name_pattern()
    return [(names[m.group(0).casefold()], m.group(0)) for m in pattern.finditer(text)]
