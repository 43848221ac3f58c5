"""Graph-driven verification: claims -> tool calls -> evidence -> re-scored candidates.

Works with a model that has never seen a tool. Each round checks the top candidates:
where they are (geo.check), whether their country fits the driving side and languages
seen (country.facts), whether the streets and names read in the image exist around them
(osm.find_named, osm.street_intersection), and where the place names and landmarks read
in the image really are (gazetteer.geocode, wikipedia). A check runs once per run.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from gre_agent.core.scripts import COUNTRIES
from gre_agent.core.trace import ToolCallEvent
from gre_agent.graphs.gre.claims import Claims
from gre_agent.graphs.gre.evidence import WEIGHTS, Candidate, EvidenceItem, ranked, same_place
from gre_agent.tools import Registry, ToolOutcome

TOP_CANDIDATES = 3  # candidates checked per round
MAX_NAMES = 3  # shop/sign names looked up per candidate
MIN_PLACE_SCORE = 0.85  # gazetteer match quality for a text to count as a place name
MIN_PLACE_POPULATION = 1000


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
            self.evidence[error_slot] = EvidenceItem(
                claim=claim,
                kind="error",
                tool=tool,
                args=outcome.args,
                ok=False,
                error=f"{outcome.error.kind}: {outcome.error.message}",
                effect="error",
                summary=f"check failed ({outcome.error.kind})",
                round=self.number,
            )
            return None
        return outcome

    def add(
        self,
        c: Candidate | None,
        claim: str,
        kind: str,
        tool: str | None,
        args: dict,
        summary: str,
        weight_key: str,
        effect: str,
    ) -> None:
        weight = WEIGHTS[weight_key]
        if c is not None:
            c.score += weight
        self.evidence.append(
            EvidenceItem(
                claim=claim,
                kind=kind,
                tool=tool,
                args=args,
                summary=summary,
                effect=effect,  # type: ignore[arg-type]
                weight=weight,
                candidate=c.label if c else None,
                candidate_key=c.key if c else None,
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
                f"capital:{c.country_code}",
                "country.facts",
                {"country_code": c.country_code},
                f"country {c.country_code}",
            )
            query = facts.result.get("capital") if facts else None
            c.radius_km = max(c.radius_km, 500.0)
        if not query:
            return
        args: dict[str, Any] = {"query": query, "limit": 3}
        if c.country_code:
            args["country_code"] = c.country_code
        out = await r.call(
            f"locate:{query}:{c.country_code}", "gazetteer.geocode", args, f"where is {query}"
        )
        hits = out.result["candidates"] if out else []
        if hits:
            top = hits[0]
            c.lat, c.lon = top["lat"], top["lon"]
            c.country_code = c.country_code or top.get("country_code")
            r.add(
                c,
                f"where is {query}",
                "geocode",
                "gazetteer.geocode",
                args,
                f"{top['name']}, {top.get('country_code')} at ({top['lat']:.4f}, {top['lon']:.4f})",
                "neutral",
                "neutral",
            )

    await asyncio.gather(*(one(c) for c in cands))


async def check_places(r: Round, claims: Claims, cands: list[Candidate]) -> list[Candidate]:
    """Where the place names read in the image are; may spawn new candidates."""
    spawned: list[Candidate] = []
    outs = await asyncio.gather(
        *(
            r.call(f"place:{p}", "gazetteer.geocode", {"query": p, "limit": 3}, f"place name '{p}'")
            for p in claims.places
        )
    )
    for place, out in zip(claims.places, outs, strict=True):
        if out is None:
            continue
        hits = [
            h
            for h in out.result["candidates"]
            if h["score"] >= MIN_PLACE_SCORE and (h.get("population") or 0) >= MIN_PLACE_POPULATION
        ]
        if not hits:
            continue
        top = hits[0]
        where = f"{top['name']}, {top.get('country_code')} ({top['lat']:.3f}, {top['lon']:.3f})"
        for c in cands:
            if not c.located:
                continue
            if c.within(top["lat"], top["lon"]):
                r.add(
                    c,
                    f"place name '{place}'",
                    "place",
                    "gazetteer.geocode",
                    out.args,
                    f"{where} lies within {c.radius_km:.0f} km",
                    "place_near",
                    "support",
                )
            elif (
                c.country_code and top.get("country_code") and c.country_code != top["country_code"]
            ):
                r.add(
                    c,
                    f"place name '{place}'",
                    "place",
                    "gazetteer.geocode",
                    out.args,
                    f"{where} is in another country",
                    "place_elsewhere",
                    "against",
                )
        new = Candidate(
            place=top["name"],
            country_code=top.get("country_code"),
            lat=top["lat"],
            lon=top["lon"],
            radius_km=30.0,
            prior=0.35,
            origin="evidence",
            model_evidence=[f"'{place}' read in the image"],
        )
        if not any(same_place(new, c) or c.within(new.lat, new.lon) for c in cands + spawned):  # type: ignore[arg-type]
            r.add(
                new,
                f"place name '{place}'",
                "place",
                "gazetteer.geocode",
                out.args,
                f"{where}: new candidate",
                "place_near",
                "move",
            )
            spawned.append(new)
    return spawned


async def check_landmarks(r: Round, claims: Claims, cands: list[Candidate]) -> list[Candidate]:
    """Landmarks named in the image: their Wikipedia coordinates."""
    spawned: list[Candidate] = []
    for name in claims.landmarks:
        found = await r.call(
            f"wiki:{name}", "wikipedia.search", {"query": name, "limit": 1}, f"landmark '{name}'"
        )
        if not found or not found.result["results"]:
            continue
        title = found.result["results"][0]["title"]
        page = await r.call(
            f"wikipage:{title}", "wikipedia.page", {"title": title}, f"landmark '{name}'"
        )
        if not page or page.result.get("lat") is None:
            continue
        lat, lon = page.result["lat"], page.result["lon"]
        where = f"Wikipedia '{title}' at ({lat:.4f}, {lon:.4f})"
        for c in cands:
            if c.located and c.within(lat, lon):
                r.add(
                    c,
                    f"landmark '{name}'",
                    "landmark",
                    "wikipedia.page",
                    page.args,
                    f"{where}, within {c.radius_km:.0f} km",
                    "landmark_near",
                    "support",
                )
                c.snap(lat, lon, f"landmark {title}", WEIGHTS["landmark_near"], 2.0)
            elif c.located:
                r.add(
                    c,
                    f"landmark '{name}'",
                    "landmark",
                    "wikipedia.page",
                    page.args,
                    f"{where}, outside the candidate's radius",
                    "landmark_elsewhere",
                    "against",
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
                new,
                f"landmark '{name}'",
                "landmark",
                "wikipedia.page",
                page.args,
                f"{where}: new candidate",
                "landmark_near",
                "move",
            )
            spawned.append(new)
    return spawned


def check_scripts(r: Round, scripts: list[str], c: Candidate) -> None:
    """Scripts read in the image against where they are written (no tool: a fixed table)."""
    where = [COUNTRIES[s] for s in scripts]
    claim = f"script {', '.join(scripts)}"
    if all(c.country_code in w for w in where):
        r.add(
            c,
            claim,
            "script",
            None,
            {},
            f"{c.country_code} writes {', '.join(scripts)}",
            "script_match",
            "support",
        )
    elif not any(c.country_code in w for w in where):
        r.add(
            c,
            claim,
            "script",
            None,
            {},
            f"{c.country_code} does not write {', '.join(scripts)}",
            "script_mismatch",
            "against",
        )


async def check_candidate(r: Round, claims: Claims, c: Candidate) -> None:
    """Checks of one located candidate against the map and country facts."""
    k = c.key
    geo = await r.call(f"geo:{k}", "geo.check", {"lat": c.lat, "lon": c.lon}, f"point of {c.label}")
    if geo is not None:
        res = geo.result
        if not res["on_land"]:
            r.add(
                c,
                f"point of {c.label}",
                "land",
                "geo.check",
                geo.args,
                "the point is not on land",
                "in_sea",
                "against",
            )
        if res.get("country_code"):
            if c.country_code and res["country_code"] != c.country_code:
                r.add(
                    c,
                    f"country of {c.label}",
                    "country",
                    "geo.check",
                    geo.args,
                    f"the point lies in {res['country_code']}, not {c.country_code}",
                    "country_mismatch",
                    "against",
                )
            c.country_code = c.country_code or res["country_code"]

    if c.country_code and (claims.driving_side or claims.languages):
        facts = await r.call(
            f"facts:{c.country_code}:{k}",  # per candidate: the evidence is each one's
            "country.facts",
            {"country_code": c.country_code},
            f"country {c.country_code}",
        )
        if facts is None:
            pass
        else:
            f = facts.result
            if claims.driving_side and f.get("driving_side"):
                match = claims.driving_side == f["driving_side"]
                r.add(
                    c,
                    f"driving on the {claims.driving_side}",
                    "driving_side",
                    "country.facts",
                    facts.args,
                    f"{f['name']} drives on the {f['driving_side']}",
                    "driving_side_match" if match else "driving_side_mismatch",
                    "support" if match else "against",
                )
            seen = {lang.casefold() for lang in claims.languages}
            spoken = {lang.casefold() for lang in f.get("languages", [])}
            if seen and spoken:
                match = bool(seen & spoken)
                r.add(
                    c,
                    f"languages {', '.join(claims.languages)}",
                    "language",
                    "country.facts",
                    facts.args,
                    f"{f['name']} speaks {', '.join(f.get('languages', [])[:4])}",
                    "language_match" if match else "language_mismatch",
                    "support" if match else "against",
                )

    if c.country_code and claims.scripts and f"script:{k}" not in r.checked:
        check_scripts(r, claims.scripts, c)
        r.checked.add(f"script:{k}")

    if c.radius_km > 100:  # a street search over a whole country says nothing
        return
    streets = claims.streets
    outs = await asyncio.gather(
        *(
            r.call(
                f"street:{s}:{k}",
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
        feats = out.result["features"]
        if feats:
            f = min(feats, key=lambda x: x.get("distance_m") or 0.0)
            primary = f.get("name") or street
            if primary in resolved:  # the same street under another name (fi/sv signs)
                r.add(
                    c,
                    f"street '{street}'",
                    "street",
                    "osm.find_named",
                    out.args,
                    f"the same street as '{resolved[primary]}' ({primary})",
                    "neutral",
                    "neutral",
                )
                continue
            resolved[primary] = street
            r.add(
                c,
                f"street '{street}'",
                "street",
                "osm.find_named",
                out.args,
                f"OSM {f['osm_type']} {f['osm_id']} '{primary}' "
                f"{(f.get('distance_m') or 0) / 1000:.1f} km from the candidate",
                "street_found",
                "confirm",
            )
            c.snap(f["lat"], f["lon"], f"street {primary}", WEIGHTS["street_found"], 1.0)
        else:
            r.add(
                c,
                f"street '{street}'",
                "street",
                "osm.find_named",
                out.args,
                f"no such street within {_search_radius_m(c) / 1000:.0f} km",
                "street_missing",
                "against",
            )
    distinct = list(resolved)  # crossings only between different streets
    if len(distinct) >= 2:
        a, b = distinct[0], distinct[1]
        out = await r.call(
            f"cross:{a}:{b}:{k}",
            "osm.street_intersection",
            {"street_a": a, "street_b": b, "near": _around(c), "limit": 3},
            f"streets '{a}' and '{b}' cross",
        )
        if out is not None and out.result["features"]:
            f = out.result["features"][0]
            r.add(
                c,
                f"streets '{a}' and '{b}' cross",
                "intersection",
                "osm.street_intersection",
                out.args,
                f"they cross at ({f['lat']:.5f}, {f['lon']:.5f})",
                "intersection_found",
                "confirm",
            )
            c.snap(
                f["lat"], f["lon"], f"crossing of {a} and {b}", WEIGHTS["intersection_found"], 0.2
            )
    names = claims.names[:MAX_NAMES]
    outs = await asyncio.gather(
        *(
            r.call(
                f"name:{n}:{k}",
                "osm.find_named",
                {"name": n, "around": _around(c), "limit": 3},
                f"name '{n}'",
            )
            for n in names
        )
    )
    for name, out in zip(names, outs, strict=True):
        if out is not None and out.result["features"]:
            f = out.result["features"][0]
            r.add(
                c,
                f"name '{name}'",
                "name",
                "osm.find_named",
                out.args,
                f"OSM has '{f.get('name')}' {(f.get('distance_m') or 0) / 1000:.1f} km away",
                "name_found",
                "support",
            )
            c.snap(f["lat"], f["lon"], f"{f.get('name') or name}", WEIGHTS["name_found"], 1.0)


async def check_exif(r: Round, image: str, cands: list[Candidate]) -> list[Candidate]:
    out = await r.call("exif", "exif.gps", {"image": image}, "the photo's GPS tag")
    if out is None or out.result.get("lat") is None:
        return []
    lat, lon = out.result["lat"], out.result["lon"]
    new = Candidate(
        place="EXIF GPS position", lat=lat, lon=lon, radius_km=0.1, prior=0.5, origin="evidence"
    )
    r.add(
        new,
        "the photo's GPS tag",
        "exif",
        "exif.gps",
        out.args,
        f"EXIF says ({lat:.5f}, {lon:.5f})",
        "exif_gps",
        "move",
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
    spawned += await check_landmarks(r, claims, candidates + spawned)
    for c in top:  # one after another: evidence order (and so the next prompt) is stable
        if c.located:
            await check_candidate(r, claims, c)
    r.evidence = [e for e in r.evidence if e is not None]  # drop slots of calls that worked
    return ranked(candidates + spawned), r


def pending(claims: Claims, candidates: list[Candidate], checked: set[str]) -> bool:
    """Are there candidates among the top ones whose checks have not run yet?"""
    for c in [c for c in ranked(candidates) if c.status != "rejected"][:TOP_CANDIDATES]:
        if not c.located:
            return True
        if f"geo:{c.key}" not in checked:
            return True
        if c.radius_km <= 100 and any(f"street:{s}:{c.key}" not in checked for s in claims.streets):
            return True
    return False
