"""Overpass QL builder. Every string that reaches a query goes through `string()`.

Two layers of escaping protect a query from what a user (or a model) types:
- `string()` writes a QL string literal: quotes, backslashes, newlines, tabs and every
  other control character are escaped, so no input can close the literal early;
- `name_regex()` escapes POSIX ERE metacharacters before a name becomes a regex, so
  "St. Mary's (old)" matches itself and nothing else; letters become classes of their
  accented variants, which makes the match diacritics-insensitive.
Numbers are formatted from validated floats, never from strings.
"""

from __future__ import annotations

from collections.abc import Mapping

from gre_agent.tools.osm._text import letter_variants, strip_marks

# Keys a name search looks at: the name, its translations and common alternatives.
NAME_KEYS = "^(name|name:[a-zA-Z_-]+|alt_name|official_name|short_name)$"

# POSIX ERE metacharacters (Overpass uses POSIX regex); a backslash makes each literal.
REGEX_META = frozenset(".[]()*+?{}|^$\\")

_ESCAPES = {'"': '\\"', "'": "\\'", "\\": "\\\\", "\n": "\\n", "\t": "\\t"}


def string(value: str) -> str:
    """`value` as a double-quoted Overpass QL string literal."""
    out = ['"']
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")  # other control characters (\r, NUL, ...)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def name_regex(name: str, *, anchored: bool = False) -> str:
    """A regex matching `name` literally, case- and diacritics-insensitively."""
    variants = letter_variants()
    parts = []
    for ch in name:
        base = strip_marks(ch).lower()
        if base in variants:
            letters = variants[base]
            parts.append(f"[{letters if ch in letters else ch + letters}]")  # e.g. "Ｋ"
        elif ch in REGEX_META:
            parts.append("\\" + ch)
        else:
            parts.append(ch)
    body = "".join(parts)
    return f"^{body}$" if anchored else body


def number(value: float) -> str:
    """A coordinate or radius; validated floats only (no NaN/inf reach here)."""
    return f"{float(value):.7f}".rstrip("0").rstrip(".")


def tag_filters(tags: Mapping[str, str | None]) -> str:
    """`["k"="v"]` for a wanted value, `["k"]` for any value."""
    parts = []
    for key, value in sorted(tags.items()):
        if value is None:
            parts.append(f"[{string(key)}]")
        else:
            parts.append(f"[{string(key)}={string(value)}]")
    return "".join(parts)


def name_filter(name: str, *, anchored: bool = False) -> str:
    """Any name key whose value matches `name` (substring unless anchored)."""
    return f"[~{string(NAME_KEYS)}~{string(name_regex(name, anchored=anchored))},i]"


def around(lat: float, lon: float, radius_m: float) -> str:
    return f"(around:{number(radius_m)},{number(lat)},{number(lon)})"


def bbox(south: float, west: float, north: float, east: float) -> str:
    return f"({number(south)},{number(west)},{number(north)},{number(east)})"


def header(timeout_s: float) -> str:
    return f"[out:json][timeout:{max(1, int(timeout_s + 0.999))}];"


def features_query(
    spatial: str,
    *,
    tags: Mapping[str, str | None] | None = None,
    name: str | None = None,
    limit: int,
    timeout_s: float,
) -> str:
    """Nodes, ways and relations matching the filters; ways and relations with centres."""
    filters = tag_filters(tags or {})
    if name:
        filters += name_filter(name)
    lines = [header(timeout_s), "("]
    lines += [f"  {kind}{filters}{spatial};" for kind in ("node", "way", "relation")]
    lines += [");", f"out tags center {int(limit)};"]
    return "\n".join(lines)


def intersection_query(
    street_a: str, street_b: str, spatial: str, *, limit: int, timeout_s: float
) -> str:
    """Nodes shared by a way named `street_a` and a way named `street_b`."""
    lines = [header(timeout_s)]
    for set_name, street in (("a", street_a), ("b", street_b)):
        filters = '["highway"]' + name_filter(street, anchored=True)
        lines.append(f"way{filters}{spatial}->.{set_name};")
        lines.append(f"node(w.{set_name})->.n{set_name};")
    lines += [f"node.na.nb{spatial};", f"out {int(limit)};"]
    return "\n".join(lines)


__all__ = [
    "NAME_KEYS",
    "around",
    "bbox",
    "features_query",
    "intersection_query",
    "name_filter",
    "name_regex",
    "number",
    "string",
    "tag_filters",
]
