"""Coordinates in article HTML.

Wikipedia (and Kiwix's copies of it) mark an article's coordinates in several ways;
`parse_coordinates` tries them from the most to the least specific:

    <meta name="geo.position" content="60.17;24.95">      (also name="ICBM")
    <span id="coordinates"> ... </span>                    the title coordinates block
    <span class="geo">60.1703; 24.9522</span>              machine-readable decimal pair
    <a data-lat="60.17" data-lon="24.95">                  Kartographer map links
    <span class="geo-dec">60.1703°N 24.9522°E</span>       decimal with hemispheres
    <span class="geo-dms">60°10′13″N 24°57′08″E</span>     degrees, minutes, seconds

Regular expressions rather than a DOM parser: the offline geo index scans every
article of a ZIM, and this has to stay fast.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable

from gre_agent.core.geo import is_latitude, is_longitude

Coord = tuple[float, float]

_TAG = re.compile(r"<[^>]+>")
_ATTR = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_NUM = r"[-+−]?\d+(?:\.\d+)?"
_PAIR = re.compile(rf"({_NUM})\s*[;,]\s*({_NUM})")
_META = re.compile(r"<meta\b[^>]*>", re.I)
_COORD_BLOCK = re.compile(r"""\bid\s*=\s*["']coordinates["']""", re.I)
_GEO_SPAN = re.compile(r"""<span\b[^>]*\bclass\s*=\s*["'](?:[^"']*\s)?geo(?:\s[^"']*)?["'][^>]*>""")
_DATA_TAG = re.compile(r"<[a-z][^>]*\bdata-lat(?:itude)?\s*=[^>]*>", re.I)
_DEC_SPAN = re.compile(r"""<span\b[^>]*\bclass\s*=\s*["'][^"']*\bgeo-dec\b[^"']*["'][^>]*>""")
_DMS_SPAN = re.compile(r"""<span\b[^>]*\bclass\s*=\s*["'][^"']*\bgeo-dms\b[^"']*["'][^>]*>""")
_HEMI_DEC = re.compile(rf"({_NUM})\s*°?\s*([NS])\W{{0,3}}?\s*({_NUM})\s*°?\s*([EW])")
_DMS_PART = r"(\d+(?:\.\d+)?)\s*°\s*(?:(\d+(?:\.\d+)?)\s*[′']\s*)?(?:(\d+(?:\.\d+)?)\s*[″\"]\s*)?"
_HEMI_DMS = re.compile(rf"{_DMS_PART}([NS])\W{{0,3}}?\s*{_DMS_PART}([EW])")


def _text(fragment: str) -> str:
    """Tags stripped, entities decoded, whitespace collapsed."""
    return " ".join(html_lib.unescape(_TAG.sub(" ", fragment)).split())


def _num(s: str) -> float:
    return float(s.replace("−", "-"))


def _valid(lat: float, lon: float) -> Coord | None:
    return (lat, lon) if is_latitude(lat) and is_longitude(lon) else None


def _attrs(tag: str) -> dict[str, str]:
    return {m[1].lower(): m[2] if m[2] is not None else m[3] for m in _ATTR.finditer(tag)}


def _from_meta(doc: str) -> Coord | None:
    for tag in _META.findall(doc):
        attrs = _attrs(tag)
        if attrs.get("name", "").lower() in ("geo.position", "icbm"):
            pair = _PAIR.search(attrs.get("content", ""))
            if pair:
                return _valid(_num(pair[1]), _num(pair[2]))
    return None


def _from_geo_span(doc: str) -> Coord | None:
    for tag in _GEO_SPAN.finditer(doc):
        # the pair may be split over nested <span class="latitude"> / "longitude"
        pair = _PAIR.match(_text(doc[tag.end() : tag.end() + 400]))
        if pair:
            return _valid(_num(pair[1]), _num(pair[2]))
    return None


def _from_data_attrs(doc: str) -> Coord | None:
    for tag in _DATA_TAG.findall(doc):
        attrs = _attrs(tag)
        lat = attrs.get("data-lat", attrs.get("data-latitude"))
        lon = attrs.get("data-lon", attrs.get("data-lng", attrs.get("data-longitude")))
        try:
            if lat is not None and lon is not None:
                return _valid(_num(lat), _num(lon))
        except ValueError:
            continue
    return None


def _signed(value: float, hemisphere: str) -> float:
    return -value if hemisphere in "SW" else value


def _from_geo_dec(doc: str) -> Coord | None:
    for tag in _DEC_SPAN.finditer(doc):
        m = _HEMI_DEC.search(_text(doc[tag.end() : tag.end() + 400]))
        if m:
            return _valid(_signed(_num(m[1]), m[2]), _signed(_num(m[3]), m[4]))
    return None


def _dms(d: str, m: str | None, s: str | None) -> float:
    return float(d) + float(m or 0) / 60 + float(s or 0) / 3600


def _from_geo_dms(doc: str) -> Coord | None:
    for tag in _DMS_SPAN.finditer(doc):
        m = _HEMI_DMS.search(_text(doc[tag.end() : tag.end() + 600]))
        if m:
            lat = _signed(_dms(m[1], m[2], m[3]), m[4])
            lon = _signed(_dms(m[5], m[6], m[7]), m[8])
            return _valid(lat, lon)
    return None


_IN_BLOCK: tuple[Callable[[str], Coord | None], ...] = (
    _from_geo_span,
    _from_data_attrs,
    _from_geo_dec,
    _from_geo_dms,
)


def parse_coordinates(doc: str) -> Coord | None:
    """The article's own (lat, lon) from its HTML, or None when it has none."""
    found = _from_meta(doc)
    if found:
        return found
    # the title coordinates block wins over coordinates of things the article mentions
    block = _COORD_BLOCK.search(doc)
    if block:
        window = doc[block.start() : block.start() + 4000]
        for finder in _IN_BLOCK:
            found = finder(window)
            if found:
                return found
    for finder in _IN_BLOCK:
        found = finder(doc)
        if found:
            return found
    return None
