"""A synthetic .osm.pbf of a chosen size, for benchmarking the offline OSM index.

    python benchmarks/make_synthetic_osm.py --nodes 10_000_000 --out build/synth-10m.osm.pbf

The file is a country of "towns" laid out on a grid. Each town has a street grid whose
intersection nodes are shared between the crossing streets (so `street_intersection`
finds them), streets named in Latin, Cyrillic, Greek, CJK and Arabic script (some with
name:en), buildings with addr:street/addr:housenumber, POI nodes, address-only nodes,
multipolygon parks and forests (untagged outer and inner rings, as in real data), a few
bus-route relations (which the index skips) and unnamed tracks. Most nodes are untagged
way members, as in real extracts (about 7 nodes per way).

Next to the file, `<out>.json` records how many nodes, ways and relations it holds, so
benchmarks can report input objects/s without reading the file twice.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import osmium
from osmium.osm.mutable import Node, Relation, Way

NODES_PER_TOWN = 100_000
BLOCKS = 20  # a town is BLOCKS x BLOCKS street blocks
BLOCK_DEG = 0.0009  # about 100 m
EDGE_NODES = 3  # untagged nodes between two intersections
TOWN_SPACING_DEG = 0.1

SYLLABLES = {
    "latin": ["koi", "vu", "ka", "mä", "ki", "lah", "ti", "jär", "vi", "ran", "su", "lin",
              "na", "pel", "to", "rin", "ne", "hel", "sin", "tam", "pe", "ou", "lu", "por"],
    "cyrillic": ["Ле", "нин", "Ми", "ра", "Гор", "ько", "Са", "до", "Ки", "ров", "Пуш", "кин"],
    "greek": ["Αθη", "νά", "Ερ", "μού", "Πα", "τη", "σί", "ων", "Κο", "ραή", "Σο", "λω"],
    "cjk": ["中", "山", "北", "京", "東", "西", "南", "大", "和", "平", "新", "光"],
    "arabic": ["الم", "لك", "فه", "د", "الن", "صر", "حم", "دان", "الر", "شيد"],
}  # fmt: skip
STREET_FORMS: dict[str, Callable[[str, random.Random], str]] = {
    "latin": lambda s, r: s.capitalize() + r.choice(["katu", "tie", "polku", "gatan"]),
    "cyrillic": lambda s, r: "улица " + s,
    "greek": lambda s, r: "Οδός " + s,
    "cjk": lambda s, r: s + "路",
    "arabic": lambda s, r: "شارع " + s,
}
SCRIPTS = ["latin"] * 6 + ["cyrillic", "greek", "cjk", "arabic"]
POI_TAGS = [
    {"amenity": "cafe"}, {"amenity": "restaurant"}, {"amenity": "pharmacy"},
    {"shop": "supermarket"}, {"shop": "bakery"}, {"tourism": "hotel"},
    {"tourism": "museum"}, {"amenity": "bank"}, {"amenity": "school"},
    {"railway": "station", "public_transport": "station"},
]  # fmt: skip
HIGHWAYS = ["residential"] * 5 + ["primary", "secondary", "tertiary"]


@dataclass
class Counts:
    nodes: int = 0
    ways: int = 0
    relations: int = 0


@dataclass
class Town:
    """One town: everything in it is derived from (seed, index), so it can be replayed."""

    index: int
    lat: float
    lon: float
    nodes: list[tuple[float, float, dict[str, str]]] = field(default_factory=list)
    ways: list[tuple[list[int], dict[str, str]]] = field(default_factory=list)
    relations: list[tuple[list[tuple[str, int, str]], dict[str, str]]] = field(default_factory=list)
    node_base: int = 0
    way_base: int = 0
    rel_base: int = 0

    def node(self, lat: float, lon: float, tags: dict[str, str] | None = None) -> int:
        self.nodes.append((lat, lon, tags or {}))
        return self.node_base + len(self.nodes)

    def way(self, refs: list[int], tags: dict[str, str] | None = None) -> int:
        self.ways.append((refs, tags or {}))
        return self.way_base + len(self.ways)

    def relation(self, members: list[tuple[str, int, str]], tags: dict[str, str]) -> int:
        self.relations.append((members, tags))
        return self.rel_base + len(self.relations)


def _name(rng: random.Random, script: str) -> str:
    word = "".join(rng.choice(SYLLABLES[script]) for _ in range(rng.randint(2, 3)))
    return STREET_FORMS[script](word, rng)


def build_town(
    seed: int, index: int, lat: float, lon: float, budget: int, bases: tuple[int, int, int]
) -> Town:
    """The town's objects; ids start after `bases` (the previous towns' node/way/relation
    counts), so the whole file has sorted ids as osmium wants."""
    rng = random.Random(seed * 1_000_003 + index)
    t = Town(index, lat, lon, node_base=bases[0], way_base=bases[1], rel_base=bases[2])
    script = rng.choice(SCRIPTS)
    # Street grid: (BLOCKS + 1)^2 intersections, shared by the crossing streets.
    grid = [
        [t.node(lat + i * BLOCK_DEG, lon + j * BLOCK_DEG * 2) for j in range(BLOCKS + 1)]
        for i in range(BLOCKS + 1)
    ]
    street_names: list[str] = []
    for direction in ("row", "col"):
        for k in range(BLOCKS + 1):
            name = _name(rng, script)
            street_names.append(name)
            tags = {"highway": rng.choice(HIGHWAYS), "name": name}
            if script != "latin" and rng.random() < 0.5:
                tags["name:en"] = _name(rng, "latin")
            line = [grid[k][j] if direction == "row" else grid[j][k] for j in range(BLOCKS + 1)]
            refs: list[int] = []
            for a, b in itertools.pairwise(line):
                la, lo, _ = t.nodes[a - t.node_base - 1]
                lb, ob, _ = t.nodes[b - t.node_base - 1]
                refs.append(a)
                for e in range(1, EDGE_NODES + 1):
                    f = e / (EDGE_NODES + 1)
                    refs.append(t.node(la + (lb - la) * f, lo + (ob - lo) * f))
            refs.append(line[-1])
            half = len(refs) // 2  # real streets come in several ways sharing end nodes
            t.way(refs[: half + 1], tags)
            t.way(refs[half:], dict(tags))
    # Multipolygons: parks with one outer ring, forests with an inner ring too.
    for m in range(6):
        c_lat = lat + rng.uniform(0, BLOCKS * BLOCK_DEG)
        c_lon = lon + rng.uniform(0, BLOCKS * BLOCK_DEG * 2)
        members: list[tuple[str, int, str]] = []
        for role, r in (("outer", 0.002), ("inner", 0.0007))[: 1 + m % 2]:
            ring = [
                t.node(c_lat + r * math.sin(a), c_lon + 2 * r * math.cos(a))
                for a in (2 * math.pi * s / 30 for s in range(30))
            ]
            members.append(("w", t.way([*ring, ring[0]]), role))
        kind = {"leisure": "park"} if m % 2 == 0 else {"landuse": "forest"}
        t.relation(members, {"type": "multipolygon", "name": _name(rng, script), **kind})
    # POIs and address-only nodes.
    span_lat, span_lon = BLOCKS * BLOCK_DEG, BLOCKS * BLOCK_DEG * 2
    for _ in range(budget // 50):
        tags = dict(rng.choice(POI_TAGS), name=_name(rng, script))
        if rng.random() < 0.3:
            tags.update({"addr:street": rng.choice(street_names), "addr:housenumber": "1"})
        t.node(lat + rng.uniform(0, span_lat), lon + rng.uniform(0, span_lon), tags)
    for _ in range(budget // 100):
        tags = {"addr:street": rng.choice(street_names), "addr:housenumber": _housenumber(rng)}
        t.node(lat + rng.uniform(0, span_lat), lon + rng.uniform(0, span_lon), tags)
    for _ in range(budget // 1000):  # tags that say nothing: skipped by the index
        t.node(lat + rng.uniform(0, span_lat), lon + rng.uniform(0, span_lon), {"created_by": "x"})
    # Unnamed tracks, and a bus route over some streets (a relation the index skips).
    for _ in range(10):
        a_lat, a_lon = lat + rng.uniform(0, span_lat), lon + rng.uniform(0, span_lon)
        t.way(
            [t.node(a_lat + s * 0.0001, a_lon + s * 0.00015) for s in range(50)],
            {"highway": "track"},
        )
    street_ways = list(range(t.way_base + 1, t.way_base + 4 * (BLOCKS + 1) + 1))
    route = [("w", w, "") for w in rng.sample(street_ways, 10)]
    t.relation(route, {"type": "route", "route": "bus", "ref": str(index)})
    # Buildings fill the rest of the budget: 4 to 8 untagged corner nodes each.
    while len(t.nodes) < budget - 8:
        b_lat = lat + rng.uniform(0, span_lat)
        b_lon = lon + rng.uniform(0, span_lon)
        corners = rng.randint(4, 8)
        ring = [
            t.node(b_lat + 0.00005 * math.sin(a), b_lon + 0.0001 * math.cos(a))
            for a in (2 * math.pi * s / corners for s in range(corners))
        ]
        tags = {"building": rng.choice(["yes", "yes", "house", "apartments"])}
        if rng.random() < 0.6:
            tags["addr:street"] = rng.choice(street_names)
            tags["addr:housenumber"] = _housenumber(rng)
        if rng.random() < 0.05:
            tags["name"] = _name(rng, script)
        t.way([*ring, ring[0]], tags)
    return t


def _housenumber(rng: random.Random) -> str:
    number = str(rng.randint(1, 150))
    return number + rng.choice(["", "", "", "a", "b", " B"])


def towns(seed: int, total_nodes: int) -> Iterator[tuple[int, float, float, int]]:
    count = max(1, math.ceil(total_nodes / NODES_PER_TOWN))
    side = math.ceil(math.sqrt(count))
    left = total_nodes
    for i in range(count):
        budget = min(NODES_PER_TOWN, left)
        left -= budget
        yield i, 60.0 + (i // side) * TOWN_SPACING_DEG, 22.0 + (i % side) * TOWN_SPACING_DEG, budget


def generate(out: Path, total_nodes: int, seed: int = 1, progress: bool = True) -> Counts:
    """Write the file in three replays of the towns: nodes, then ways, then relations."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    counts = Counts()
    plan = list(towns(seed, total_nodes))
    bases: list[tuple[int, int, int]] = []
    writer = osmium.SimpleWriter(str(out))
    started = time.perf_counter()
    try:
        for phase in ("node", "way", "relation"):
            base = (0, 0, 0)
            for n, (i, lat, lon, budget) in enumerate(plan):
                if phase == "node":
                    bases.append(base)
                t = build_town(seed, i, lat, lon, budget, bases[n])
                base = (t.node_base + len(t.nodes), t.way_base + len(t.ways),
                        t.rel_base + len(t.relations))  # fmt: skip
                _write(writer, t, phase, counts)
                if progress and n % 10 == 9:
                    rate = (counts.nodes + counts.ways) / (time.perf_counter() - started)
                    print(f"{phase}s: town {n + 1}/{len(plan)}, {rate:,.0f} objects/s", flush=True)
    finally:
        writer.close()
    meta = {"nodes": counts.nodes, "ways": counts.ways, "relations": counts.relations}
    out.with_name(out.name + ".json").write_text(json.dumps(meta))
    return counts


def _write(writer: Any, t: Town, phase: str, counts: Counts) -> None:
    if phase == "node":
        for k, (lat, lon, tags) in enumerate(t.nodes, start=t.node_base + 1):
            writer.add_node(Node(id=k, location=(lon, lat), tags=tags, version=1))
        counts.nodes += len(t.nodes)
    elif phase == "way":
        for k, (refs, tags) in enumerate(t.ways, start=t.way_base + 1):
            writer.add_way(Way(id=k, nodes=refs, tags=tags, version=1))
        counts.ways += len(t.ways)
    else:
        for k, (members, tags) in enumerate(t.relations, start=t.rel_base + 1):
            writer.add_relation(Relation(id=k, members=members, tags=tags, version=1))
        counts.relations += len(t.relations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=lambda s: int(s.replace("_", "")), default=1_000_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    counts = generate(args.out, args.nodes, args.seed)
    size = args.out.stat().st_size / 1e6
    print(
        f"{args.out}: {counts.nodes:,} nodes, {counts.ways:,} ways, {counts.relations:,}"
        f" relations, {size:.1f} MB in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
