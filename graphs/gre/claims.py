"""Checkable claims, taken from what the model wrote.

The GRE model writes free text, not JSON: the claims come from the parsed stages (texts
read in the image, signs, shops, landmarks, driving side, languages), whose fields the
parsers fill from its numbered sections and the strings it quotes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from gre_agent.agent.schemas import Details, Semantics
from gre_agent.core.scripts import script_named, scripts_in

# Street words that stand alone ("Rue de Rivoli", "Main Street") ...
_STREET_WORDS = [
    "street",
    "st",
    "road",
    "rd",
    "avenue",
    "ave",
    "av",
    "boulevard",
    "blvd",
    "lane",
    "ln",
    "drive",
    "dr",
    "way",
    "highway",
    "hwy",
    "place",
    "pl",
    "court",
    "ct",
    "terrace",
    "crescent",
    "parade",
    "row",
    "esplanade",
    "rue",
    "allée",
    "allee",
    "chemin",
    "quai",
    "calle",
    "avenida",
    "paseo",
    "carrer",
    "camino",
    "carretera",
    "rua",
    "travessa",
    "largo",
    "via",
    "viale",
    "corso",
    "vicolo",
    "piazza",
    "ulica",
    "ul",
    "aleja",
    "ulice",
    "třída",
    "utca",
    "út",
    "iela",
    "gatvė",
    "tänav",
    "maantee",
    "caddesi",
    "cad",
    "sokak",
    "sokağı",
    "bulvarı",
    "straße",
    "strasse",
    "weg",
    "allee",
    "gasse",
    "platz",
    "plein",
    "laan",
    "straat",
    "gade",
    "vej",
    "gata",
    "gate",
    "vei",
    "veien",
    "улица",
    "ул",
    "проспект",
    "пр",
    "переулок",
    "шоссе",
    "бульвар",
    "вулиця",
]
# ... and endings of compound street names ("Aleksanterinkatu", "Kungsgatan", "Hauptstraße").
_STREET_SUFFIXES = (
    "katu",
    "tie",
    "kuja",
    "polku",
    "väylä",
    "raitti",
    "ranta",
    "puistikko",
    "gatan",
    "vägen",
    "gränd",
    "straße",
    "strasse",
    "str.",
    "weg",
    "allee",
    "gasse",
    "damm",
    "ring",
    "straat",
    "laan",
    "gracht",
    "gade",
    "vej",
    "gata",
    "gate",
    "veien",
    "vei",
    "utca",
    "iela",
    "gatvė",
    "tänav",
    "caddesi",
    "sokak",
    "sokağı",
    "dori",
    "dōri",
    "大路",
    "通り",
    "路",
    "街",
    "대로",
    "로",
    "길",
)
_STREET_WORD_RE = re.compile(
    r"(?<!\w)(" + "|".join(re.escape(w) for w in _STREET_WORDS) + r")\.?(?!\w)", re.IGNORECASE
)

# Words on signs that name no place.
_GENERIC = set(
    [
        "stop",
        "exit",
        "entrance",
        "entry",
        "open",
        "closed",
        "sale",
        "parking",
        "park",
        "hotel",
        "bar",
        "cafe",
        "café",
        "restaurant",
        "shop",
        "store",
        "bank",
        "pharmacy",
        "apteekki",
        "taxi",
        "bus",
        "police",
        "toilet",
        "toilets",
        "wc",
        "welcome",
        "one",
        "way",
        "no",
        "yes",
        "push",
        "pull",
        "info",
        "information",
        "centre",
        "center",
        "market",
        "super",
        "supermarket",
        "kiosk",
        "station",
        "street",
        "road",
        "sale",
        "offer",
        "menu",
        "coffee",
        "pizza",
        "beer",
        "atm",
        "museum",
        "school",
        "church",
    ]
)
_NUMBERISH = re.compile(r"^[\d\s.,:/+()%-]*(km|m|mi|min|h)?$", re.IGNORECASE)
_HOUSE_NUMBER = re.compile(r"\s+\d+\s*[A-Za-z]?$")
_DISTANCE = re.compile(r"\s*(←|→|↑|↓)?\s*\d+([.,]\d+)?\s*(km|m|mi)\b\.?", re.IGNORECASE)


def clean(text: str) -> str:
    """A clue as a query: quotes, arrows, distances and stray punctuation removed."""
    text = unicodedata.normalize("NFC", text)
    text = _DISTANCE.sub(" ", text)
    text = re.sub(r"[\"“”„«»「」'`]+", " ", text)
    text = re.sub(r"[←→↑↓|•·]+", " ", text)
    text = re.sub(r"\s+", " ", text).strip(" .,:;-–—!?()[]{}")
    return text


def is_street(text: str) -> bool:
    low = text.casefold()
    if _STREET_WORD_RE.search(text):
        return True
    return any(w.endswith(s) and len(w) > len(s) + 2 for w in low.split() for s in _STREET_SUFFIXES)


def is_checkable(text: str) -> bool:
    if not 3 <= len(text) <= 60 or _NUMBERISH.match(text):
        return False
    if not any(ch.isalpha() for ch in text):
        return False
    words = text.casefold().split()
    return not (len(words) > 5 or all(w in _GENERIC for w in words))


@dataclass
class Claims:
    streets: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # shop, brand, sign and other texts
    places: list[str] = field(default_factory=list)  # texts that may be settlement names
    landmarks: list[str] = field(default_factory=list)
    driving_side: str | None = None
    languages: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)  # distinctive scripts (not Latin)

    def is_empty(self) -> bool:
        return not (
            self.streets
            or self.names
            or self.places
            or self.landmarks
            or self.driving_side
            or self.languages
            or self.scripts
        )


def _add(bucket: list[str], text: str) -> None:
    if text and text.casefold() not in {t.casefold() for t in bucket}:
        bucket.append(text)


def extract(
    details: Details | None,
    semantics: Semantics | None,
    extra_texts: list[str] | tuple[str, ...] = (),
) -> Claims:
    """Claims from the detail and semantic stages, plus texts from elsewhere (hints)."""
    claims = Claims()
    details = details or Details()
    semantics = semantics or Semantics()
    texts = [*details.texts, *details.signs, *extra_texts]
    for raw in texts:
        for piece in re.split(r"\s*[\n;/|]\s*", raw):
            text = clean(piece)
            if not is_checkable(text):
                continue
            if is_street(text):
                _add(claims.streets, _HOUSE_NUMBER.sub("", text))
            else:
                _add(claims.names, text)
                if len(text.split()) <= 3 and text[:1].isupper():
                    _add(claims.places, text)
    for raw in details.shops_brands:
        text = clean(raw)
        if is_checkable(text) and len(text.split()) <= 4:
            _add(claims.names, text)
    for raw in details.landmarks:
        text = clean(raw)
        if is_checkable(text) and len(text.split()) <= 6:
            _add(claims.landmarks, text)
    # Scripts from the letters themselves (the model may not name them), then its own words.
    for raw in (*texts, *details.shops_brands, *details.landmarks):
        for script in scripts_in(raw):
            _add(claims.scripts, script)
    for name in semantics.scripts:
        if named := script_named(name):
            _add(claims.scripts, named)
    claims.driving_side = semantics.driving_side
    claims.languages = [lang.strip() for lang in semantics.languages if lang.strip()]
    return claims
