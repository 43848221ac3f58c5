"""Coordinates out of a model's answer: every GRE variant, or a typed error.

Where it looks, in order: the last closed `<answer>…</answer>` block (then earlier ones),
an `<answer>` left unclosed, the text outside `<think>`/`<answer>`, the `<think>` text.
Inside an answer block it is lenient (a bare integer pair counts); outside it only takes
marked coordinates (a decimal, a degree sign or a hemisphere letter on both numbers,
or lat/lon keys), and prefers the last such pair.

What it reads: keyed values in any order (`"Latitude": "-31.28°"`, `lon=2.35 lat=48.85`,
JSON `{"lat": .., "lng": ..}`); unkeyed pairs (`40.742, -73.985`, `[lat, lon]`,
`(lat, lon)`); N/S/E/W as prefix, suffix or word; degree signs; DMS (`48°51'24"N`);
decimal commas where unambiguous (a keyed value `"48,85"`; a pair `48,8566; 2,3522`).
An unkeyed pair is (lat, lon) unless hemisphere letters or |first| > 90 say otherwise,
or a `lon, lat` header precedes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gre_agent.core.errors import AnswerParseError
from gre_agent.core.geo import (
    Coordinates,
    check_latitude,
    check_longitude,
    is_latitude,
    is_longitude,
)

_MAX_REGION = 20_000

_ANSWER_BLOCK = re.compile(r"<\s*answer\s*>(.*?)<\s*/\s*answer\s*>", re.I | re.S)
_ANSWER_OPEN = re.compile(r"<\s*answer\s*>", re.I)
_THINK_BLOCK = re.compile(
    r"<\s*think\s*>(.*?)(?:<\s*/\s*think\s*>|(?=<\s*answer\s*>)|\Z)", re.I | re.S
)
_TAG = re.compile(r"<\s*/?\s*(?:think|answer)\s*>", re.I)
_WS = re.compile(r"\s+")
# Typographic quotes around keys and values; ” and ’ right after a digit are DMS marks.
_TYPO_QUOTES = re.compile(r"[“„«»‹›「」‘‚]|(?<!\d)[”’]")

_HEMI = r"(?:(?i:north|south|east|west)|[NSEW])"
_DEG_SIGN = r"(?:°|º|˚|(?i:degrees|degree|deg)\b)"
_MIN_SIGN = r"(?:'|′|’|(?i:min)\b)"
_SEC_SIGN = r"(?:''|\"|″|”|(?i:sec)\b)"


def _token(p: str, dec: str) -> str:
    """One coordinate: hemisphere? sign? degrees [° minutes ' seconds "]? hemisphere?"""
    num = rf"\d{{1,3}}(?:{dec}\d+)?(?:[eE][-+]?\d{{1,3}})?(?!\d)"  # 1e-05: JSON writes that
    small = rf"\d{{1,2}}(?:{dec}\d+)?(?!\d)"
    return (
        rf"(?:\b(?P<{p}pre>{_HEMI})\.? ?)?"
        rf"(?P<{p}sign>[-+−–] ?)?"
        rf"(?<![\d.])(?P<{p}deg>{num})"
        rf"(?: ?(?P<{p}dsym>{_DEG_SIGN})"
        rf"(?: ?(?P<{p}min>{small}) ?{_MIN_SIGN}"
        rf"(?: ?(?P<{p}sec>{small}) ?{_SEC_SIGN})?)?)?"
        rf"(?({p}pre)|(?: ?(?P<{p}post>{_HEMI})\b)?)"
    )


_PAIR_DOT = re.compile(_token("a", r"\.") + r"(?: ?[,;/|] ?| | ?(?i:and) )" + _token("b", r"\."))
_PAIR_COMMA = re.compile(_token("a", ",") + r"(?: ?; ?| |, )" + _token("b", ","))
# Between a key and its value: quotes of every kind (the GRE paper's own figure prints
# “Latitude”: “-31.28°”), colons, brackets and a few words.
_Q = "\"'`“”‘’„‚«»‹›「」"
_KEY_SEP = (
    rf"[\s{_Q}*_:=≈~({{\[]{{0,8}}"
    r"(?:(?i:is|of|approximately|approx\.?|about|around|roughly|at|near|≈)\s+){0,2}"
    rf"[\s{_Q}*_:=≈~({{\[]{{0,4}}"
)
_KEY_LAT = re.compile(r"\b(?i:latitude|lat)\b" + _KEY_SEP + _token("a", r"[.,]"))
_KEY_LON = re.compile(r"\b(?i:longitude|long|lng|lon)\b" + _KEY_SEP + _token("a", r"[.,]"))
_LON_FIRST = re.compile(r"\b(?i:longitude|long|lng|lon)\b ?[,/;&] ?\b(?i:latitude|lat)\b")
_LAT_FIRST = re.compile(r"\b(?i:latitude|lat)\b ?[,/;&] ?\b(?i:longitude|long|lng|lon)\b")
_COMMA_CHAIN = re.compile(r"(?<!\d)\d+(?:,\d+){2,}")
_DOT_DECIMAL = re.compile(r"\d\.\d")


@dataclass(frozen=True)
class _Value:
    value: float
    axis: str | None  # "lat" (N/S given), "lon" (E/W given) or None
    marked: bool  # a decimal, a degree sign or a hemisphere: clearly a coordinate


def _value(m: re.Match[str], p: str) -> _Value | None:
    def num(name: str) -> float:
        return float(m.group(p + name).replace(",", "."))

    deg = num("deg")
    minutes = num("min") if m.group(p + "min") else 0.0
    seconds = num("sec") if m.group(p + "sec") else 0.0
    if minutes >= 60 or seconds >= 60:
        return None
    value = deg + minutes / 60 + seconds / 3600
    hemi = m.group(p + "post") or m.group(p + "pre")
    axis = None
    if hemi:
        h = hemi[0].upper()
        axis = "lat" if h in "NS" else "lon"
        value = -value if h in "SW" else value
    elif (m.group(p + "sign") or "").strip() in ("-", "−", "–"):
        value = -value
    marked = bool(hemi or m.group(p + "dsym") or re.search(r"[.,eE]", m.group(p + "deg")))
    return _Value(value, axis, marked)


def _check(lat: float, lon: float) -> Coordinates:
    try:
        return Coordinates(lat=check_latitude(lat), lon=check_longitude(lon))
    except ValueError as err:
        raise AnswerParseError(str(err)) from None


def _keyed(region: str, strict: bool) -> tuple[float, float] | None:
    lats = [v for m in _KEY_LAT.finditer(region) if (v := _value(m, "a")) is not None]
    lons = [v for m in _KEY_LON.finditer(region) if (v := _value(m, "a")) is not None]
    if not lats or not lons:
        return None
    lat, lon = (lats[-1], lons[-1]) if strict else (lats[0], lons[0])
    return lat.value, lon.value


def _resolve(a: _Value, b: _Value, lon_first: bool) -> tuple[float, float]:
    if a.axis == "lon" or b.axis == "lat":
        return b.value, a.value
    if a.axis == "lat" or b.axis == "lon":
        return a.value, b.value
    if lon_first or (abs(a.value) > 90 >= abs(b.value)):
        return b.value, a.value
    return a.value, b.value


def _pairs(region: str, strict: bool) -> tuple[float, float] | None:
    lon_first = bool(_LON_FIRST.search(region)) and not _LAT_FIRST.search(region)
    found: list[tuple[_Value, _Value]] = []
    if not _DOT_DECIMAL.search(region):
        for m in _PAIR_COMMA.finditer(region):
            if "," in m.group("adeg") and "," in m.group("bdeg"):
                a, b = _value(m, "a"), _value(m, "b")
                if a and b:
                    found.append((a, b))
    if not found:
        chains = [c.span() for c in _COMMA_CHAIN.finditer(region)]
        for m in _PAIR_DOT.finditer(region):
            if any(s < m.end() and m.start() < e for s, e in chains):
                continue
            a, b = _value(m, "a"), _value(m, "b")
            if a and b and (a.axis is None or a.axis != b.axis):
                found.append((a, b))
    if strict:
        found = [(a, b) for a, b in found if a.marked and b.marked]
    if not found:
        return None
    a, b = found[-1] if strict else found[0]
    return _resolve(a, b, lon_first)


def _regions(text: str) -> list[tuple[str, bool]]:
    """(region, strict) in the order they are tried."""
    blocks = list(_ANSWER_BLOCK.finditer(text))
    regions = [(m.group(1), False) for m in reversed(blocks)]
    tail_from = blocks[-1].end() if blocks else 0
    opening = _ANSWER_OPEN.search(text, tail_from)
    if opening:
        regions.append((text[opening.end() :], False))
    thinks = [m.group(1) for m in _THINK_BLOCK.finditer(text)]
    outside = _TAG.sub(" ", _ANSWER_BLOCK.sub(" ", _THINK_BLOCK.sub(" ", text)))
    regions.append((outside, True))
    regions += [(t, True) for t in reversed(thinks)]
    return regions


def parse_answer(text: str) -> Coordinates:
    """Coordinates from a model's answer, in any GRE variant.

    Raises AnswerParseError (a GreError) when there are none, or when the answer's
    coordinates are out of range; the error's `reason` says which.
    """
    if not isinstance(text, str):
        raise AnswerParseError(f"expected text, got {type(text).__name__}", "")
    out_of_range: AnswerParseError | None = None
    for region, strict in _regions(text):
        region = region[:_MAX_REGION] if not strict else region[-_MAX_REGION:]
        region = _WS.sub(" ", _TYPO_QUOTES.sub(" ", region))
        if not region.strip():
            continue
        found = _keyed(region, strict) or _pairs(region, strict)
        if found is None:
            continue
        try:
            return _check(*found)
        except AnswerParseError as err:
            err.text = text
            if not strict:
                raise
            out_of_range = out_of_range or err
    if out_of_range is not None:
        raise out_of_range
    raise AnswerParseError("no coordinates found", text)


_SINGLE = re.compile(_token("a", r"[.,]"))


def parse_coordinate(value: str, axis: str) -> float | None:
    """One latitude (axis 'lat') or longitude ('lon') from text like "31.28° S"; None if
    there is none, it is out of range, or its hemisphere letter belongs to the other axis."""
    if not isinstance(value, str):
        return None
    m = _SINGLE.search(_WS.sub(" ", value[:200]))
    found = _value(m, "a") if m else None
    if found is None or (found.axis is not None and found.axis != axis):
        return None
    valid = is_latitude if axis == "lat" else is_longitude
    return found.value if valid(found.value) else None


def try_parse_answer(text: str) -> Coordinates | None:
    """parse_answer, but None instead of an error."""
    try:
        return parse_answer(text)
    except AnswerParseError:
        return None


def gre_answer_text(lat: float, lon: float, reasoning: str) -> str:
    """GRE's output format, so an answer written by the agent parses like the GRE model's."""
    think = reasoning.strip() or "No reasoning recorded."
    return (
        f'<think> {think} </think> <answer> "Latitude": "{lat:.4f}°", '
        f'"Longitude": "{lon:.4f}°" </answer>'
    )
