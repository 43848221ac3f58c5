"""Search: the evidence finds the place when the model's guess is wrong.

The checks in `checks.py` test the candidates; this module builds new ones from what was
read when no candidate fits it:

- place names inside any text (`gazetteer.spot`), weighed by the kind of text they came
  from: a road sign naming a town moves the answer, "Pizzeria Napoli" barely does;
- a street, shop or landmark not found near any candidate is searched in the whole OSM
  index (`osm.find_named` without an area); one strong cluster of exact matches is a
  candidate, several are ambiguous and make none;
- street + house number (`osm.find_address`): the address tags offline, Nominatim online;
- country-level clues (calling codes, domains, postal codes, currencies, country names;
  with scripts, languages and the driving side) score every country; when the evidence
  rules out every candidate, or there is none, the best country becomes a candidate at
  its capital, or at a place name read in it, with a country-wide radius.

Every new candidate is recorded with the finding that made it (effect "move"), so each
move of the answer cites its cause (`moves`).
"""

from __future__ import annotations

import math
import unicodedata
from collections import defaultdict
from typing import Any

from gre_agent.core.evidence import EvidenceItem
from gre_agent.core.geo import geodesic_km
from gre_agent.core.scripts import COUNTRIES
from gre_agent.graphs.gre.claims import Claims
from gre_agent.graphs.gre.evidence import CONTRADICTS, Candidate, Finding, same_place
from gre_agent.tools.country import LEFT_HAND_TRAFFIC, clues
from gre_agent.tools.country._offline import geonames_countries
from gre_agent.tools.gazetteer import SpotMatch, SpotResult
from gre_agent.tools.osm import Feature, FeaturesResult

MIN_SPOT_POPULATION = 500
CLUSTER_KM = 10.0  # exact matches of one street within this belong to one street
NAME_CLUSTER_KM = 2.0  # ... of one shop or landmark
MAX_NAME_MATCHES = 5  # more exact matches than this: a chain, not a place
MIN_COUNTRY_SCORE = 1.5  # clue log-odds a country needs before it becomes a candidate
POPULATION_PRIOR = 0.25  # per decade of population: breaks ties between equal clues


def _norm(text: str | None) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    return " ".join(
        "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split()
    )


def _exact(f: Feature, wanted: str) -> bool:
    """The feature's name, or a translation or alternative, is exactly the text read."""
    want = _norm(wanted)
    if _norm(f.name) == want:
        return True
    return any(
        _norm(v) == want
        for k, v in f.tags.items()
        if k.startswith(("name:", "alt_name", "official_name", "short_name", "old_name"))
    )


def _clusters(feats: list[Feature], km: float) -> list[list[Feature]]:
    groups: list[list[Feature]] = []
    for f in feats:
        for g in groups:
            if geodesic_km(g[0].lat, g[0].lon, f.lat, f.lon) <= km:
                g.append(f)
                break
        else:
            groups.append([f])
    return groups


def _is_new(new: Candidate, cands: list[Candidate]) -> bool:
    return not any(same_place(new, c) or (c.located and c.within(new.lat, new.lon)) for c in cands)  # type: ignore[arg-type]


def _found_at(f: Feature, place: str, radius_km: float, read: str) -> Candidate:
    """A candidate from the evidence: at feature `f`, for what was read in the image."""
    return Candidate(place=place, lat=f.lat, lon=f.lon, radius_km=radius_km, prior=0.4,
                     origin="evidence", model_evidence=[read])  # fmt: skip


def _only_match(f: Feature, what: str) -> str:
    return (
        f"OSM {f.osm_type} {f.osm_id} '{f.name}' at ({f.lat:.5f}, {f.lon:.5f}), "
        f"the only {what} so named in the index: new candidate"
    )


def ruled_out(c: Candidate, evidence: list[EvidenceItem | None]) -> bool:
    """The evidence rejects the candidate or contradicts it (wrong script, country...)."""
    if c.status == "rejected" or c.score <= CONTRADICTS:  # earlier rounds count too
        return True
    return any(
        e is not None and e.candidate_key == c.key and e.weight <= CONTRADICTS for e in evidence
    )


# -- 1. place names inside texts --------------------------------------------------------


async def spot_places(
    r: Any, claims: Claims, texts: list[str], cands: list[Candidate]
) -> list[Candidate]:
    """Place names inside the texts (one spot call for all), as evidence and candidates."""
    texts = [t for t in dict.fromkeys(texts) if t]
    if not texts:
        return []
    joined, starts = "", []
    for t in texts:
        starts.append(len(joined))
        joined += t + "\n"
    from gre_agent.graphs.gre.checks import check_key

    out = await r.call(
        check_key("spot", *texts),
        "gazetteer.spot",
        {"text": joined[:5000], "limit": 20},
        "place names in the texts read",
    )
    if out is None:
        return []
    spawned: list[Candidate] = []
    strong = strong_countries(claims)
    for m in out.value(SpotResult).matches:
        source = texts[max(i for i, s in enumerate(starts) if s <= m.start)]
        r.spotted.append((source, m))
        if strong and m.place.country_code not in strong:
            # "Sími +354 ...": the phone says Iceland, so not Simi Valley; a place of that
            # name in a country the clues name may stand in for it
            other = next((p for p in m.others if p.country_code in strong), None)
            if other is None:
                continue
            m = m.model_copy(update={"place": other})
        if (m.place.population or 0) < MIN_SPOT_POPULATION:
            continue
        spawned += _place_evidence(r, claims, source, m, out, cands + spawned)
    return spawned


def strong_countries(claims: Claims) -> set[str]:
    """The countries that strong country-level clues (a phone prefix, a domain, a country
    name, a distinctive postal code) point to; empty when there are none."""
    return {code for _, codes, weight in clue_countries(claims) if weight >= 2.0 for code in codes}


def _place_evidence(
    r: Any, claims: Claims, source: str, m: SpotMatch, out: Any, cands: list[Candidate]
) -> list[Candidate]:
    p = m.place
    kind = claims.kinds.get(source, "sign")
    claim = f"place name '{m.text}' in '{source}'"
    where = f"{p.name}, {p.country_code} ({p.lat:.3f}, {p.lon:.3f})"
    business = kind == "business"
    for c in cands:
        if not c.located or business:  # a business's name says nothing against a place
            continue
        if c.within(p.lat, p.lon):
            r.add(Finding.PLACE_NEAR, c, claim=claim, summary=f"{where} lies within", outcome=out)
        elif c.country_code and p.country_code and c.country_code != p.country_code:
            summary = f"{where} is in another country"
            r.add(Finding.PLACE_ELSEWHERE, c, claim=claim, summary=summary, outcome=out)
    radius = 30.0
    if m.distance_km is not None:  # "Lahti 12 km": the photo is about that far from it
        radius = max(10.0, m.distance_km * 1.2)
    new = Candidate(
        place=p.name,
        country_code=p.country_code,
        lat=p.lat,
        lon=p.lon,
        radius_km=radius,
        prior=0.2 if business else 0.35,
        origin="evidence",
        model_evidence=[f"'{m.text}' read in '{source}' ({kind})"],
    )
    if not _is_new(new, cands):
        return []
    finding = Finding.PLACE_IN_NAME if business else Finding.PLACE_CANDIDATE
    distance = f", {m.distance_km:g} km away by the sign" if m.distance_km is not None else ""
    summary = f"{where}{distance}: new candidate ({kind})"
    r.add(finding, new, claim=claim, summary=summary, outcome=out)
    return [new]


# -- 2. named features everywhere -------------------------------------------------------


async def search_everywhere(
    r: Any, claims: Claims, found: set[str], cands: list[Candidate]
) -> list[Candidate]:
    """Streets, shops and landmarks that no candidate has nearby, in the whole index."""
    from gre_agent.graphs.gre.checks import check_key

    spawned: list[Candidate] = []
    streets = [s for s in claims.streets if s not in found]
    street_groups: dict[str, list[list[Feature]]] = {}
    street_outs: dict[str, Any] = {}
    for s in streets:
        out = await r.call(
            check_key("street_everywhere", s),
            "osm.find_named",
            {"name": s, "tags": {"highway": None}, "everywhere": True, "limit": 50},
            f"street '{s}' everywhere",
        )
        feats = [f for f in (out.value(FeaturesResult).features if out else []) if _exact(f, s)]
        if feats:
            street_groups[s] = _clusters(feats, CLUSTER_KM)
            street_outs[s] = out
    for s, groups in street_groups.items():
        group = _pick_group(groups, [g for o, gs in street_groups.items() if o != s for g in gs])
        if group is None:
            continue
        f = group[0]
        new = _found_at(f, f.name or s, 3.0, f"street '{s}' read in the image")
        if _is_new(new, cands + spawned):
            claim, summary = f"street '{s}' everywhere", _only_match(f, "place")
            r.add(
                Finding.STREET_SEARCHED, new, claim=claim, summary=summary, outcome=street_outs[s]
            )
            spawned.append(new)
    for n in [x for x in [*claims.names, *claims.landmarks] if x not in found][:4]:
        out = await r.call(
            check_key("name_everywhere", n),
            "osm.find_named",
            {"name": n, "everywhere": True, "limit": 20},
            f"name '{n}' everywhere",
        )
        feats = [f for f in (out.value(FeaturesResult).features if out else []) if _exact(f, n)]
        groups = _clusters(feats, NAME_CLUSTER_KM)
        if len(groups) != 1 or len(feats) > MAX_NAME_MATCHES:
            continue
        f = groups[0][0]
        new = _found_at(f, f.name or n, 1.0, f"'{n}' read in the image")
        if _is_new(new, cands + spawned):
            claim, summary = f"name '{n}' everywhere", _only_match(f, "one")
            r.add(Finding.NAME_SEARCHED, new, claim=claim, summary=summary, outcome=out)
            spawned.append(new)
    return spawned


def _pick_group(groups: list[list[Feature]], others: list[list[Feature]]) -> list[Feature] | None:
    """The one place a street is, or the one of several next to another street read."""
    if len(groups) == 1:
        return groups[0]
    near = [
        g
        for g in groups
        if any(geodesic_km(g[0].lat, g[0].lon, o[0].lat, o[0].lon) <= 3.0 for o in others)
    ]
    return near[0] if len(near) == 1 else None


async def check_addresses(r: Any, claims: Claims, cands: list[Candidate]) -> list[Candidate]:
    """Street + house number: near a candidate it pins the point, else a new candidate."""
    from gre_agent.graphs.gre.checks import check_key

    spawned: list[Candidate] = []
    for street, number in claims.addresses[:3]:
        claim = f"address '{street} {number}'"
        out = await r.call(
            check_key("address", street, number),
            "osm.find_address",
            {"street": street, "housenumber": number, "limit": 10},
            claim,
        )
        feats = out.value(FeaturesResult).features if out else []
        groups = _clusters(feats, NAME_CLUSTER_KM)
        if len(groups) != 1:
            continue
        f = groups[0][0]
        where = f"OSM {f.osm_type} {f.osm_id} at ({f.lat:.5f}, {f.lon:.5f})"
        near = [c for c in cands if c.located and c.within(f.lat, f.lon)]
        for c in near:
            r.add(Finding.ADDRESS_FOUND, c, claim=claim, summary=f"{where}, within", outcome=out)
            c.snap(f.lat, f.lon, f"address {street} {number}", Finding.ADDRESS_FOUND.weight, 0.1)
        if near:
            continue
        read = f"address '{street} {number}' read in the image"
        new = _found_at(f, f"{street} {number}", 0.5, read)
        if _is_new(new, cands + spawned):
            r.add(
                Finding.ADDRESS_CANDIDATE,
                new,
                claim=claim,
                summary=f"{where}: new candidate",
                outcome=out,
            )
            spawned.append(new)
    return spawned


# -- 3. country-level clues -------------------------------------------------------------


def clue_countries(claims: Claims) -> list[tuple[str, list[str], float]]:
    """Each country-level clue: (what was read, the countries it fits, its weight)."""
    out: list[tuple[str, list[str], float]] = []
    for digits in claims.phones:
        if found := clues.countries_for_phone(digits):
            out.append((f"phone prefix +{digits}", found, 3.0))
    for tld in claims.domains:
        if found := clues.countries_for_tld(tld):
            out.append((f"domain .{tld}", found, 2.5))
    for code in claims.postcodes:
        if found := clues.countries_for_postcode(code):
            weight = 2.0 if len(found) <= 4 else 1.0 if len(found) <= 10 else 0.3
            out.append((f"postal code {code}", found, weight))
    for cur in claims.currencies:
        if found := clues.countries_for_currency(cur):
            out.append((f"currency {cur}", found, 1.5 if len(found) <= 4 else 0.7))
    for text in claims.texts:
        kind = claims.kinds.get(text, "sign")
        for code, words in clues.countries_named_in(text):
            out.append((f"'{words}' in '{text}'", [code], 0.5 if kind == "business" else 2.0))
    return out


def country_scores(claims: Claims) -> list[tuple[str, float, list[str]]]:
    """Every country the clues point to: (code, clue log-odds, why), best first (a small
    population prior breaks ties: Hangul is South Korea before North Korea)."""
    score: dict[str, float] = defaultdict(float)
    why: dict[str, list[str]] = defaultdict(list)

    def add(codes: list[str] | set[str] | frozenset[str], weight: float, reason: str) -> None:
        for code in codes:
            score[code] += weight
            why[code].append(reason)

    for reason, codes, weight in clue_countries(claims):
        add(set(codes), weight, reason)
    for script in claims.scripts:
        add(COUNTRIES.get(script, frozenset()), 2.0, f"{script} script")
    for lang in claims.languages:
        found = clues.countries_for_language(lang)
        add({c for c, first in found if first}, 2.0, f"{lang} language")
        add({c for c, first in found if not first}, 1.0, f"{lang} language")
    if score and claims.driving_side == "left":
        add(LEFT_HAND_TRAFFIC & set(score), 1.0, "driving on the left")
    elif score and claims.driving_side == "right":
        add(set(score) - LEFT_HAND_TRAFFIC, 0.3, "driving on the right")

    def key(code: str) -> float:
        return score[code] + POPULATION_PRIOR * math.log10(max(clues.population(code), 10))

    return [(c, score[c], why[c]) for c in sorted(score, key=key, reverse=True)]


def check_country_clues(r: Any, claims: Claims, c: Candidate) -> None:
    """Phone prefixes, domains, postal codes, currencies and country names against the
    candidate's country (no tool: GeoNames' country table)."""
    if not c.country_code:
        return
    for reason, codes, weight in clue_countries(claims):
        if weight < 1.0:
            continue  # a postal code that fits dozens of countries says nothing here
        if c.country_code in codes:
            summary = f"{c.country_code} fits {reason}"
            r.add(Finding.COUNTRY_CLUE_MATCH, c, claim=reason, summary=summary)
        else:
            summary = f"{reason} points to {', '.join(codes[:4])}, not {c.country_code}"
            r.add(Finding.COUNTRY_CLUE_MISMATCH, c, claim=reason, summary=summary)


async def country_candidate(
    r: Any, claims: Claims, cands: list[Candidate], locate: Any
) -> list[Candidate]:
    """When every candidate is ruled out (or there is none): the best country the clues
    point to, at a place name read in it, else its capital, with a country-wide radius."""
    alive = [c for c in cands if c.located and not ruled_out(c, r.evidence)]
    if alive:
        return []
    scores = country_scores(claims)
    if not scores or scores[0][1] < MIN_COUNTRY_SCORE:
        return []
    code, score, why = scores[0]
    row = geonames_countries().get(code, {})
    radius = min(max(math.sqrt(float(row.get("areakm2") or 10_000)) / 2, 50.0), 1500.0)
    claim = "country-level clues: " + ", ".join(why[:5])
    # a place name read in that country (even inside a shop's name) places it better
    for source, m in r.spotted:
        for p in [m.place, *m.others]:
            if p.country_code == code and (p.population or 0) >= MIN_SPOT_POPULATION:
                new = Candidate(
                    place=p.name,
                    country_code=code,
                    lat=p.lat,
                    lon=p.lon,
                    radius_km=min(radius, 50.0),
                    prior=0.3,
                    origin="evidence",
                    model_evidence=[claim],
                )
                if not _is_new(new, cands):
                    return []
                summary = (
                    f"{row.get('name', code)} (clue score {score:.1f}), "
                    f"at {p.name} read in '{source}'"
                )
                r.add(Finding.COUNTRY_CANDIDATE, new, claim=claim, summary=summary)
                return [new]
    new = Candidate(country_code=code, radius_km=radius, prior=0.3, origin="evidence")
    await locate(r, [new])
    if not new.located or not _is_new(new, cands):
        return []
    new.radius_km = radius
    summary = f"{row.get('name', code)} (clue score {score:.1f}), at its capital {new.place or ''}"
    r.add(Finding.COUNTRY_CANDIDATE, new, claim=claim, summary=summary.strip())
    return [new]


# -- 6. explainable moves ---------------------------------------------------------------


def moves(
    initial: dict[str, Any] | None, best: Candidate | None, evidence: list[EvidenceItem]
) -> list[str]:
    """How the answer got from the model's first guess to `best`, each step with the
    finding that caused it: "moved 7,800 km: street 'X' everywhere: OSM way ... "."""
    if best is None or not best.located:
        return []
    first = Candidate.model_validate(initial) if initial else None
    mine = [e for e in evidence if e.candidate_key == best.key]
    lines = []
    if first is not None and first.key != best.key:
        cause = next((e for e in mine if e.effect == "move"), None)
        d = first.distance_to(best.lat, best.lon)  # type: ignore[arg-type]
        how_far = f"{d:,.0f} km " if d is not None else ""
        because = f"{cause.claim}: {cause.summary}" if cause else "the evidence scored it higher"
        lines.append(
            f"moved {how_far}from the model's guess {first.label} to {best.label}: {because}"
        )
    if best.snapped_to:
        snap = next(
            (
                e
                for e in reversed(mine)
                if e.weight == best.snap_weight and e.effect in ("confirm", "support")
            ),
            None,
        )
        because = f"{snap.claim}: {snap.summary}" if snap else best.snapped_to
        lines.append(f"snapped onto {best.snapped_to}: {because}")
    return lines


def answer_moves(
    initial: dict[str, Any] | None,
    hypotheses: list[dict[str, Any]],
    evidence: list[dict[str, Any]],
) -> list[str]:
    """`moves` from a run's plain state (hypotheses best first, evidence as dicts)."""
    best = next((h for h in hypotheses if h.get("lat") is not None), None)
    if best is None:
        return []
    items = [EvidenceItem.model_validate(e) for e in evidence]
    return moves(initial, Candidate.model_validate(best), items)
