"""Graph-driven verification: claims -> tool calls -> evidence -> re-scored candidates.

Works with a model that has never seen a tool. Each round checks the top candidates:
where they are (geo.check), whether their country fits the driving side and languages
seen (country.facts), whether the streets and names read in the image exist around them
(osm.find_named, osm.street_intersection), and where the place names and landmarks read
in the image really are (gazetteer.geocode, wikipedia). A check runs once per run.
What no candidate explains is then searched for (`search.py`): place names inside texts,
streets, shops and addresses in the whole index, and the country the clues point to.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from gre_agent.core.evidence import EvidenceItem
from gre_agent.core.scripts import COUNTRIES
from gre_agent.core.trace import ToolCallEvent
from gre_agent.graphs.gre import search
from gre_agent.graphs.gre.claims import Claims
from gre_agent.graphs.gre.evidence import Candidate, Finding, ranked, same_place
from gre_agent.tools import Registry, ToolOutcome
from gre_agent.tools.country import CountryFacts, GeoCheckResult
from gre_agent.tools.exif import GpsResult
from gre_agent.tools.gazetteer import GeocodeResult, SpotMatch
from gre_agent.tools.osm import FeaturesResult
from gre_agent.tools.wikipedia import PageResult, SearchResult

TOP_CANDIDATES = 3  # candidates checked per round
MAX_NAMES = 3  # shop/sign names looked up per candidate
MIN_PLACE_SCORE = 0.85  # gazetteer match quality for a text to count as a place name
MIN_PLACE_POPULATION = 1000


def check_key(check: str, *parts: object) -> str:
    """The 'checked already' key of one check ("street:Main St:<candidate key>")."""
    return ":".join([check, *(str(p) for p in parts)])


def _search_radius_m(c: Candidate) -> float:
    return min(max(c.radius_km * 1.5, 2.0), 50.0) * 1000.0


def _around(c: Candidate) -> dict[str, float]:
    return {"lat": c.lat, "lon": c.lon, "radius_m": _search_radius_m(c)}  # type: ignore[dict-item]


@dataclass
class Round:
    """One verification round: the calls it made and what they showed."""

    registry: Registry
    number: int
    budget: int  # tool calls still allowed
    checked: set[str]
    evidence: list[EvidenceItem] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0
    errors: int = 0
    # what the search saw: place names spotted in texts (the text, the match), and the
    # place texts the gazetteer resolved whole
    spotted: list[tuple[str, SpotMatch]] = field(default_factory=list)
    resolved: set[str] = field(default_factory=set)

    async def call(
        self, key: str, tool: str, args: dict[str, Any], claim: str
    ) -> ToolOutcome | None:
        """Run a tool once per run and within budget; None when skipped."""
        if key in self.checked or self.calls >= self.budget:
            return None
        self.checked.add(key)
        self.calls += 1
        # Slots are taken before the await, in launch order, so concurrent calls are
        # recorded in a stable order whatever order they finish in.
        slot = len(self.events)
        self.events.append({})
        error_slot = len(self.evidence)
        self.evidence.append(None)  # type: ignore[arg-type]
        outcome = await self.registry.get(tool).run(args)
        self.events[slot] = ToolCallEvent.of(self.number, claim, outcome).model_dump(mode="json")
        if outcome.error is not None:
            self.errors += 1
            self.evidence[error_slot] = Finding.CHECK_FAILED.record(
                None,
                claim=claim,
                tool=tool,
                args=outcome.args,
                error=f"{outcome.error.kind}: {outcome.error.message}",
                summary=f"check failed ({outcome.error.kind})",
                round=self.number,
            )
            return None
        return outcome

    def add(
        self,
        finding: Finding,
        c: Candidate | None,
        *,
        claim: str,
        summary: str,
        outcome: ToolOutcome | None = None,
        args: dict[str, Any] | None = None,
    ) -> None:
        """Record a finding about candidate `c` (scoring it), from `outcome`'s call if any.

        The evidence keeps the outcome's validated arguments unless `args` is given.
        """
        if args is None and outcome is not None:
            args = outcome.args
        self.evidence.append(
            finding.record(
                c,
                claim=claim,
                summary=summary,
                tool=outcome.tool if outcome else None,
                args=args,
                round=self.number,
            )
        )


async def locate_candidates(r: Round, cands: list[Candidate]) -> None:
    """Give coordinates to candidates that have only a name (gazetteer), or only a country."""

    async def one(c: Candidate) -> None:
        if c.located:
            return
        query = c.place
        if not query and c.country_code:
            facts = await r.call(
                check_key("capital", c.country_code),
                "country.facts",
                {"country_code": c.country_code},
                f"country {c.country_code}",
            )
            query = facts.value(CountryFacts).capital if facts else None
            c.radius_km = max(c.radius_km, 500.0)
        if not query:
            return
        args: dict[str, Any] = {"query": query, "limit": 3}
        if c.country_code:
            args["country_code"] = c.country_code
        out = await r.call(
            check_key("locate", query, c.country_code),
            "gazetteer.geocode",
            args,
            f"where is {query}",
        )
        hits = out.value(GeocodeResult).candidates if out else []
        if hits:
            top = hits[0]
            c.lat, c.lon = top.lat, top.lon
            c.country_code = c.country_code or top.country_code
            r.add(
                Finding.LOCATED,
                c,
                claim=f"where is {query}",
                summary=f"{top.name}, {top.country_code} at ({top.lat:.4f}, {top.lon:.4f})",
                outcome=out,
                args=args,  # as asked (the trace has always kept these, not the validated ones)
            )

    await asyncio.gather(*(one(c) for c in cands))


async def check_places(r: Round, claims: Claims, cands: list[Candidate]) -> list[Candidate]:
    """Where the place names read in the image are; may spawn new candidates."""
    spawned: list[Candidate] = []
    # a place name inside a business's name is weighed by the search (search.spot_places)
    places = [p for p in claims.places if claims.kinds.get(p) != "business"]
    outs = await asyncio.gather(
        *(
            r.call(
                check_key("place", p),
                "gazetteer.geocode",
                {"query": p, "limit": 3},
                f"place name '{p}'",
            )
            for p in places
        )
    )
    for place, out in zip(places, outs, strict=True):
        if out is None:
            continue
        hits = [
            h
            for h in out.value(GeocodeResult).candidates
            if h.score >= MIN_PLACE_SCORE and (h.population or 0) >= MIN_PLACE_POPULATION
        ]
        if not hits:
            continue
        r.resolved.add(place)
        top = hits[0]
        where = f"{top.name}, {top.country_code} ({top.lat:.3f}, {top.lon:.3f})"
        claim = f"place name '{place}'"
        for c in cands:
            if not c.located:
                continue
            if c.within(top.lat, top.lon):
                r.add(
                    Finding.PLACE_NEAR,
                    c,
                    claim=claim,
                    summary=f"{where} lies within {c.radius_km:.0f} km",
                    outcome=out,
                )
            elif c.country_code and top.country_code and c.country_code != top.country_code:
                r.add(
                    Finding.PLACE_ELSEWHERE,
                    c,
                    claim=claim,
                    summary=f"{where} is in another country",
                    outcome=out,
                )
        new = Candidate(
            place=top.name,
            country_code=top.country_code,
            lat=top.lat,
            lon=top.lon,
            radius_km=30.0,
            prior=0.35,
            origin="evidence",
            model_evidence=[f"'{place}' read in the image"],
        )
        if not any(same_place(new, c) or c.within(top.lat, top.lon) for c in cands + spawned):
            r.add(
                Finding.PLACE_CANDIDATE,
                new,
                claim=claim,
                summary=f"{where}: new candidate",
                outcome=out,
            )
            spawned.append(new)
    return spawned


async def check_landmarks(r: Round, claims: Claims, cands: list[Candidate]) -> list[Candidate]:
    """Landmarks named in the image: their Wikipedia coordinates."""
    spawned: list[Candidate] = []
    for name in claims.landmarks:
        found = await r.call(
            check_key("wiki", name),
            "wikipedia.search",
            {"query": name, "limit": 1},
            f"landmark '{name}'",
        )
        results = found.value(SearchResult).results if found else []
        if not results:
            continue
        title = results[0].title
        page = await r.call(
            check_key("wikipage", title), "wikipedia.page", {"title": title}, f"landmark '{name}'"
        )
        res = page.value(PageResult) if page else None
        if res is None or res.lat is None or res.lon is None:
            continue
        lat, lon = res.lat, res.lon
        where = f"Wikipedia '{title}' at ({lat:.4f}, {lon:.4f})"
        claim = f"landmark '{name}'"
        for c in cands:
            if c.located and c.within(lat, lon):
                r.add(
                    Finding.LANDMARK_NEAR,
                    c,
                    claim=claim,
                    summary=f"{where}, within {c.radius_km:.0f} km",
                    outcome=page,
                )
                c.snap(lat, lon, f"landmark {title}", Finding.LANDMARK_NEAR.weight, 2.0)
            elif c.located:
                r.add(
                    Finding.LANDMARK_ELSEWHERE,
                    c,
                    claim=claim,
                    summary=f"{where}, outside the candidate's radius",
                    outcome=page,
                )
        new = Candidate(
            place=title,
            lat=lat,
            lon=lon,
            radius_km=2.0,
            prior=0.4,
            origin="evidence",
            model_evidence=[f"landmark '{name}' in the image"],
        )
        if not any(c.within(lat, lon) for c in cands + spawned):
            r.add(
                Finding.LANDMARK_CANDIDATE,
                new,
                claim=claim,
                summary=f"{where}: new candidate",
                outcome=page,
            )
            spawned.append(new)
    return spawned


def check_scripts(r: Round, scripts: list[str], c: Candidate) -> None:
    """Scripts read in the image against where they are written (no tool: a fixed table)."""
    where = [COUNTRIES[s] for s in scripts]
    claim = f"script {', '.join(scripts)}"
    if all(c.country_code in w for w in where):
        summary = f"{c.country_code} writes {', '.join(scripts)}"
        r.add(Finding.SCRIPT_MATCH, c, claim=claim, summary=summary)
    elif not any(c.country_code in w for w in where):
        summary = f"{c.country_code} does not write {', '.join(scripts)}"
        r.add(Finding.SCRIPT_MISMATCH, c, claim=claim, summary=summary)


async def check_country(r: Round, claims: Claims, c: Candidate) -> None:
    """The candidate's country against the driving side and the languages seen."""
    if not (c.country_code and (claims.driving_side or claims.languages)):
        return
    facts = await r.call(
        check_key("facts", c.country_code, c.key),  # per candidate: the evidence is each one's
        "country.facts",
        {"country_code": c.country_code},
        f"country {c.country_code}",
    )
    if facts is None:
        return
    f = facts.value(CountryFacts)
    if claims.driving_side and f.driving_side:
        match = claims.driving_side == f.driving_side
        r.add(
            Finding.DRIVING_SIDE_MATCH if match else Finding.DRIVING_SIDE_MISMATCH,
            c,
            claim=f"driving on the {claims.driving_side}",
            summary=f"{f.name} drives on the {f.driving_side}",
            outcome=facts,
        )
    seen = {lang.casefold() for lang in claims.languages}
    spoken = {lang.casefold() for lang in f.languages}
    if seen and spoken:
        match = bool(seen & spoken)
        r.add(
            Finding.LANGUAGE_MATCH if match else Finding.LANGUAGE_MISMATCH,
            c,
            claim=f"languages {', '.join(claims.languages)}",
            summary=f"{f.name} speaks {', '.join(f.languages[:4])}",
            outcome=facts,
        )


async def check_candidate(r: Round, claims: Claims, c: Candidate) -> None:
    """Checks of one located candidate against the map and country facts."""
    k = c.key
    geo = await r.call(
        check_key("geo", k), "geo.check", {"lat": c.lat, "lon": c.lon}, f"point of {c.label}"
    )
    if geo is not None:
        res = geo.value(GeoCheckResult)
        if not res.on_land:
            r.add(
                Finding.IN_SEA,
                c,
                claim=f"point of {c.label}",
                summary="the point is not on land",
                outcome=geo,
            )
        if res.country_code:
            if c.country_code and res.country_code != c.country_code:
                r.add(
                    Finding.COUNTRY_MISMATCH,
                    c,
                    claim=f"country of {c.label}",
                    summary=f"the point lies in {res.country_code}, not {c.country_code}",
                    outcome=geo,
                )
            c.country_code = c.country_code or res.country_code

    await check_country(r, claims, c)

    script_key = check_key("script", k)
    if c.country_code and claims.scripts and script_key not in r.checked:
        check_scripts(r, claims.scripts, c)
        r.checked.add(script_key)
    clue_key = check_key("clues", k)
    if c.country_code and (claims.country_clues or claims.texts) and clue_key not in r.checked:
        search.check_country_clues(r, claims, c)
        r.checked.add(clue_key)

    if c.radius_km > 100:  # a street search over a whole country says nothing
        return
    streets = claims.streets
    outs = await asyncio.gather(
        *(
            r.call(
                check_key("street", s, k),
                "osm.find_named",
                {"name": s, "tags": {"highway": None}, "around": _around(c), "limit": 5},
                f"street '{s}'",
            )
            for s in streets
        )
    )
    resolved: dict[str, str] = {}  # primary OSM name -> the text read in the image
    for street, out in zip(streets, outs, strict=True):
        if out is None:
            continue
        feats = out.value(FeaturesResult).features
        claim = f"street '{street}'"
        if not feats:
            summary = f"no such street within {_search_radius_m(c) / 1000:.0f} km"
            r.add(Finding.STREET_MISSING, c, claim=claim, summary=summary, outcome=out)
            continue
        f = min(feats, key=lambda x: x.distance_m or 0.0)
        primary = f.name or street
        if primary in resolved:  # the same street under another name (fi/sv signs)
            summary = f"the same street as '{resolved[primary]}' ({primary})"
            r.add(Finding.SAME_STREET, c, claim=claim, summary=summary, outcome=out)
            continue
        resolved[primary] = street
        r.add(
            Finding.STREET_FOUND,
            c,
            claim=claim,
            summary=f"OSM {f.osm_type} {f.osm_id} '{primary}' "
            f"{(f.distance_m or 0) / 1000:.1f} km from the candidate",
            outcome=out,
        )
        c.snap(f.lat, f.lon, f"street {primary}", Finding.STREET_FOUND.weight, 1.0)
    distinct = list(resolved)  # crossings only between different streets
    if len(distinct) >= 2:
        a, b = distinct[0], distinct[1]
        claim = f"streets '{a}' and '{b}' cross"
        out = await r.call(
            check_key("cross", a, b, k),
            "osm.street_intersection",
            {"street_a": a, "street_b": b, "near": _around(c), "limit": 3},
            claim,
        )
        crossings = out.value(FeaturesResult).features if out else []
        if crossings:
            f = crossings[0]
            r.add(
                Finding.INTERSECTION_FOUND,
                c,
                claim=claim,
                summary=f"they cross at ({f.lat:.5f}, {f.lon:.5f})",
                outcome=out,
            )
            c.snap(f.lat, f.lon, f"crossing of {a} and {b}", Finding.INTERSECTION_FOUND.weight, 0.2)
    names = claims.names[:MAX_NAMES]
    outs = await asyncio.gather(
        *(
            r.call(
                check_key("name", n, k),
                "osm.find_named",
                {"name": n, "around": _around(c), "limit": 3},
                f"name '{n}'",
            )
            for n in names
        )
    )
    for name, out in zip(names, outs, strict=True):
        feats = out.value(FeaturesResult).features if out else []
        if feats:
            f = feats[0]
            r.add(
                Finding.NAME_FOUND,
                c,
                claim=f"name '{name}'",
                summary=f"OSM has '{f.name}' {(f.distance_m or 0) / 1000:.1f} km away",
                outcome=out,
            )
            c.snap(f.lat, f.lon, f"{f.name or name}", Finding.NAME_FOUND.weight, 1.0)


async def check_exif(r: Round, image: str, cands: list[Candidate]) -> list[Candidate]:
    out = await r.call(check_key("exif"), "exif.gps", {"image": image}, "the photo's GPS tag")
    gps = out.value(GpsResult) if out else None
    if gps is None or gps.lat is None or gps.lon is None:
        return []
    lat, lon = gps.lat, gps.lon
    new = Candidate(
        place="EXIF GPS position", lat=lat, lon=lon, radius_km=0.1, prior=0.5, origin="evidence"
    )
    r.add(
        Finding.EXIF_GPS,
        new,
        claim="the photo's GPS tag",
        summary=f"EXIF says ({lat:.5f}, {lon:.5f})",
        outcome=out,
    )
    return [new]


async def run_round(
    registry: Registry,
    number: int,
    budget: int,
    checked: set[str],
    claims: Claims,
    candidates: list[Candidate],
    image: str,
    use_exif: bool,
) -> tuple[list[Candidate], Round]:
    """One round of checks over the top candidates; returns all candidates, re-ranked."""
    r = Round(registry=registry, number=number, budget=budget, checked=checked)
    top = [c for c in ranked(candidates) if c.status != "rejected"][:TOP_CANDIDATES]
    await locate_candidates(r, top)
    spawned: list[Candidate] = []
    if use_exif:
        spawned += await check_exif(r, image, candidates)
    spawned += await check_places(r, claims, candidates)
    # place names inside the other texts, and inside place texts the gazetteer missed
    texts = [n for n in claims.names if n not in claims.places]
    texts += [p for p in claims.places if p not in r.resolved]
    spawned += await search.spot_places(r, claims, texts, candidates + spawned)
    spawned += await check_landmarks(r, claims, candidates + spawned)
    for c in top:  # one after another: evidence order (and so the next prompt) is stable
        if c.located:
            await check_candidate(r, claims, c)
    r.evidence = [e for e in r.evidence if e is not None]  # drop slots of calls that worked
    # search: what no candidate explains, everywhere; then the country the clues point to
    spawned += await search.check_addresses(r, claims, candidates + spawned)
    spawned += await search.search_everywhere(r, claims, _found(r), candidates + spawned)
    if not any(c.located for c in spawned):
        spawned += await search.country_candidate(
            r, claims, candidates + spawned, locate_candidates
        )
    r.evidence = [e for e in r.evidence if e is not None]
    return ranked(candidates + spawned), r


def _found(r: Round) -> set[str]:
    """The streets and names of this round found near a candidate (no search needed)."""
    found = set()
    for e in r.evidence:
        if e is not None and e.weight >= 0 and e.kind in ("street", "name", "landmark"):
            found.add(e.claim.split("'", 1)[-1].rsplit("'", 1)[0])
    return found


def pending(claims: Claims, candidates: list[Candidate], checked: set[str]) -> bool:
    """Are there candidates among the top ones whose checks have not run yet?"""
    for c in [c for c in ranked(candidates) if c.status != "rejected"][:TOP_CANDIDATES]:
        if not c.located:
            return True
        if check_key("geo", c.key) not in checked:
            return True
        streets = [check_key("street", s, c.key) for s in claims.streets]
        if c.radius_km <= 100 and any(key not in checked for key in streets):
            return True
    return False


def unchecked_move(candidates: list[Candidate], checked: set[str]) -> bool:
    """The best candidate is one the evidence built that no check has tested yet: when the
    run ends there, asking the model again buys a second opinion; otherwise the next
    round checks it and the model is not asked."""
    best = next(iter(ranked(candidates)), None)
    return bool(
        best is not None and best.origin == "evidence" and check_key("geo", best.key) not in checked
    )
