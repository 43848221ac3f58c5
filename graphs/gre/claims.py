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
    "οδός",
    "οδος",
    "λεωφόρος",
    "ქუჩა",
    "გამზირი",
    "שדרות",
]
# Street words written before the name without a space (Thai) or as a word (Hebrew, Arabic).
_STREET_PREFIXES = ("ถนน", "רחוב", "شارع", "ซอย")
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
    "esplanadi",
    "bulevardi",
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
        "apotek",
        "apotheke",
        "pharmacie",
        "farmacia",
        "аптека",
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
    if _STREET_WORD_RE.search(text) or text.startswith(_STREET_PREFIXES):
        return True
    return any(w.endswith(s) and len(w) > len(s) + 2 for w in low.split() for s in _STREET_SUFFIXES)


def is_checkable(text: str) -> bool:
    shortest = 2 if _caseless(text) else 3  # "新宿", "서울": two characters make a name
    if not shortest <= len(text) <= 60 or _NUMBERISH.match(text):
        return False
    if not any(ch.isalpha() for ch in text):
        return False
    if is_sentence(text) or is_style_word(text):
        return False
    words = text.casefold().split()
    return not (len(words) > 5 or all(w in _GENERIC for w in words))


_SENTENCE_END = re.compile(r"[.!?…]$")
_LOWER_WORD = re.compile(r"(?<!\S)[a-zà-ÿ][a-zà-ÿ'’-]*(?!\S)")


# Lower-case words of the model's own descriptions ("signs show ... and ...", "the
# signage is Spanish"); the verbs among them make a text a sentence about the image.
_DESCRIBING = frozenset(
    {
        "is",
        "are",
        "was",
        "were",
        "show",
        "shows",
        "showing",
        "reads",
        "read",
        "reading",
        "says",
        "say",
        "written",
        "appears",
        "appear",
        "signs",
        "sign",
        "signage",
        "text",
        "visible",
    }
)
_FUNCTION = frozenset(["in", "and", "or", "with", "of", "the", "a", "an", "to", "be"])


def is_sentence(text: str) -> bool:
    """A sentence the model wrote, not a text it read: "The signs are in Finnish."."""
    words = text.split()
    if len(words) >= 3 and _SENTENCE_END.search(text.rstrip("\"”»')")):
        return True
    lower = _LOWER_WORD.findall(text)
    verbs = sum(w in _DESCRIBING for w in lower)
    if len(words) >= 3 and verbs and verbs + sum(w in _FUNCTION for w in lower) >= 2:
        return True
    return len(words) >= 4 and len(lower) >= 3


def is_style_word(text: str) -> bool:
    """A quoted description ("country pub", "quaint"): Latin letters, all lower case, no
    digits, not a street. Signs are written with capitals (or in a script without case)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters or any(ch.isdigit() for ch in text) or not text.islower():
        return False
    return all(ch.isascii() or "LATIN" in unicodedata.name(ch, "") for ch in letters) and (
        not is_street(text)
    )


def _caseless(text: str) -> bool:
    """The first letter belongs to a script without case (Hangul, CJK, Thai, Arabic...)."""
    first = next((ch for ch in text if ch.isalpha()), "")
    return bool(first) and not first.isupper() and not first.islower()


# Words that make a text a business's name ("Pizzeria Roma", "Hotel Helsinki"): a place
# name inside it says less than a road sign does.
_BUSINESS = re.compile(
    r"(?<!\w)(?:hotel|hostel|motel|inn|pizzeria|pizza|restaurant|ristorante|ravintola|"
    r"trattoria|café|cafe|caffè|kahvila|bar|pub|bistro|grill|kebab|sushi|bakery|bäckerei|"
    r"boulangerie|salon|studio|shop|store|market|mart|supermarket|pharmacy|apotek|apteekki|"
    r"bank|pankki|clinic|dental|auto|motors|garage|taxi|tours?|travel|photo|fitness|gym|"
    r"kiosk|kioski|boutique|fashion|ltd|inc|gmbh|oy|ab|as|llc|co\.?)(?!\w)",
    re.I,
)
_ROAD_SIGN = re.compile(r"(?:←|→|↑|↓|\b\d+(?:[.,]\d+)?\s*(?:km|mi)\b)", re.I)
_DISTANCE_KM = re.compile(r"\b(\d{1,4}(?:[.,]\d{1,2})?)\s*(km|mi)\b", re.I)

# Country-level clues in what was read: telephone numbers, web and e-mail addresses,
# postal codes, currency signs and codes.
_PHONE = re.compile(r"(?<![\w+])(?:\+\s?(\d{1,4})(?=[\s.()-]*\d)|00(\d{1,3})[ .-]\d)")
_DOMAIN = re.compile(r"(?<![\w@.-])(?:https?://)?(?:[\w-]+\.)+([a-z]{2})(?:/\S*)?(?![\w.-])", re.I)
_EMAIL_DOMAIN = re.compile(r"@(?:[\w-]+\.)+([a-z]{2})\b", re.I)
# A postal code beside a place name ("00100 Helsinki", "SW1A 1AA", "FI-00100 Helsinki")
_POSTCODE = re.compile(
    r"(?<![\w-])(\d{4} ?[A-Z]{2}|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d|"
    r"(?:[A-Z]{1,3}-)?\d{3,5}(?:[ -]\d{2,4})?)(?![\w-])"
)
_CURRENCY_SIGNS = {
    "€": "EUR", "£": "GBP", "¥": "JPY CNY", "₩": "KRW", "₹": "INR", "₽": "RUB", "₺": "TRY",
    "฿": "THB", "₫": "VND", "₱": "PHP", "₪": "ILS", "₴": "UAH", "₦": "NGN", "₸": "KZT",
    "₾": "GEL", "zł": "PLN", "Kč": "CZK", "Ft": "HUF", "R$": "BRL", "лв": "BGN", "Rp": "IDR",
    "RM": "MYR", "kr": "SEK NOK DKK ISK",
}  # fmt: skip
_CURRENCY_SIGN = re.compile(
    "|".join(
        (re.escape(k) if not k.isalpha() else rf"(?<!\w){re.escape(k)}(?=[\s\d.,]|$)")
        for k in sorted(_CURRENCY_SIGNS, key=len, reverse=True)
    )
)
_CURRENCY_CODE = re.compile(r"(?<![A-Za-z])(EUR|GBP|USD|JPY|CNY|KRW|INR|RUB|TRY|THB|VND|PHP|"
    r"ILS|UAH|PLN|CZK|HUF|BRL|SEK|NOK|DKK|ISK|CHF|AUD|NZD|CAD|MXN|ZAR|IDR|MYR|SGD|HKD|TWD|"
    r"AED|SAR|EGP|MAD|BGN|RON|RSD|HRK|GEL|KZT|ARS|CLP|COP|PEN)(?![A-Za-z])")  # fmt: skip

TEXT_KINDS = ("road_sign", "street", "address", "business", "shop", "landmark", "sign")


def text_kind(raw: str, text: str, from_shops: bool = False) -> str:
    """Where a text came from, as far as its wording shows (see TEXT_KINDS)."""
    if _ROAD_SIGN.search(raw):
        return "road_sign"
    if is_street(text):
        return "address" if _HOUSE_NUMBER.search(text) else "street"
    if _BUSINESS.search(text):
        return "business"
    return "shop" if from_shops else "sign"


@dataclass
class Claims:
    streets: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # shop, brand, sign and other texts
    places: list[str] = field(default_factory=list)  # texts that may be settlement names
    landmarks: list[str] = field(default_factory=list)
    driving_side: str | None = None
    languages: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)  # distinctive scripts (not Latin)
    # Where each street, name, place and landmark text came from (one of TEXT_KINDS):
    # "Pizzeria <City>" (business) must weigh less than a road sign naming <City>.
    kinds: dict[str, str] = field(default_factory=dict)
    # Road-sign distances read beside a text, in km ("Lahti 103 km" -> {"Lahti": 103.0}).
    distances: dict[str, float] = field(default_factory=dict)
    # Street addresses read (street, house number): "Mannerheimintie 14 B", "221B Baker St".
    addresses: list[tuple[str, str]] = field(default_factory=list)
    # Country-level clues in the texts: calling codes ("354"), two-letter domains ("is"),
    # postal codes ("00100", "SW1A 1AA"), currency codes ("EUR") and the texts themselves
    # (for country names and demonyms, matched by the search against the country table).
    phones: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    postcodes: list[str] = field(default_factory=list)
    currencies: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (
            self.streets
            or self.names
            or self.places
            or self.landmarks
            or self.driving_side
            or self.languages
            or self.scripts
            or self.addresses
            or self.phones
            or self.domains
            or self.postcodes
            or self.currencies
        )

    @property
    def country_clues(self) -> bool:
        """Clues that name a country by themselves (not the driving side, not a script)."""
        return bool(self.phones or self.domains or self.postcodes or self.currencies)


def _add(bucket: list[str], text: str) -> None:
    if text and text.casefold() not in {t.casefold() for t in bucket}:
        bucket.append(text)


_ADDRESS_FIRST = re.compile(r"^(\d+\s?[A-Za-z]?)\s+(\D.*)$")  # "221B Baker Street"


def address_of(text: str) -> tuple[str, str] | None:
    """(street, house number) of a street text that carries a number, else None."""
    if m := _HOUSE_NUMBER.search(text):
        return text[: m.start()].strip(" ,"), " ".join(m.group(0).split())
    if (m := _ADDRESS_FIRST.match(text)) and is_street(m.group(2)):
        return m.group(2).strip(" ,"), m.group(1).replace(" ", "")
    return None


def country_clues(claims: Claims, raws: list[str], around: list[str]) -> None:
    """Phones, domains, postal codes and currencies from the texts read (`raws`) and the
    sentences around them (`around`: "prices in €")."""
    for raw in raws:
        for m in _PHONE.finditer(raw):
            _add(claims.phones, m.group(1) or m.group(2))
        for m in (*_DOMAIN.finditer(raw), *_EMAIL_DOMAIN.finditer(raw)):
            _add(claims.domains, m.group(1).lower())
        priced = _CURRENCY_CODE.search(raw) or _CURRENCY_SIGN.search(raw)  # "450 ISK"
        if any(ch.isalpha() for ch in raw) and not (_PHONE.search(raw) or priced):
            for m in _POSTCODE.finditer(raw):
                rest = (raw[: m.start()] + raw[m.end() :]).strip(" ,")
                lettered = any(ch.isalpha() for ch in m.group(1))  # "SW1A 2AA" by itself
                if (lettered and not rest) or (
                    rest and rest[0].isupper() and not _HOUSE_NUMBER.search(raw[: m.end()])
                ):
                    _add(claims.postcodes, m.group(1))
        _add(claims.texts, raw)
    for raw in [*raws, *around]:
        for m in _CURRENCY_SIGN.finditer(raw):
            for code in _CURRENCY_SIGNS[m.group(0)].split():
                _add(claims.currencies, code)
        for m in _CURRENCY_CODE.finditer(raw):
            _add(claims.currencies, m.group(1))


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
            kind = text_kind(piece, text)
            if distance := _DISTANCE_KM.search(piece):
                km = float(distance.group(1).replace(",", "."))
                claims.distances.setdefault(
                    text, km * (1.609344 if distance.group(2).lower() == "mi" else 1.0)
                )
            if is_street(text):
                address = address_of(text)
                street = address[0] if address else text
                if address and address not in claims.addresses:
                    claims.addresses.append(address)
                _add(claims.streets, street)
                claims.kinds.setdefault(street, kind)
            else:
                _add(claims.names, text)
                claims.kinds.setdefault(text, kind)
                if len(text.split()) <= 3 and (text[:1].isupper() or _caseless(text)):
                    _add(claims.places, text)
    for raw in details.shops_brands:
        text = clean(raw)
        if is_checkable(text) and len(text.split()) <= 4:
            _add(claims.names, text)
            claims.kinds.setdefault(text, text_kind(raw, text, from_shops=True))
    for raw in details.landmarks:
        text = clean(raw)
        if is_checkable(text) and len(text.split()) <= 6:
            _add(claims.landmarks, text)
            claims.kinds.setdefault(text, "landmark")
    # Scripts from the letters themselves (the model may not name them), then its own words.
    for raw in (*texts, *details.shops_brands, *details.landmarks):
        for script in scripts_in(raw):
            _add(claims.scripts, script)
    for name in semantics.scripts:
        if named := script_named(name):
            _add(claims.scripts, named)
    country_clues(claims, [*details.texts, *extra_texts], list(details.signs))
    claims.driving_side = semantics.driving_side
    claims.languages = [lang.strip() for lang in semantics.languages if lang.strip()]
    return claims
