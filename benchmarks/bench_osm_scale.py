"""The offline OSM index at country scale: import rate, memory, size and query latency.

    python benchmarks/bench_osm_scale.py build/synth-1m.osm.pbf build/synth-10m.osm.pbf
    python benchmarks/bench_osm_scale.py --generate 1_000_000 10_000_000

Each file is imported in a child process (so its peak RSS is the import's alone), then
queried with names, points and street pairs drawn from the index itself. Make the files
with benchmarks/make_synthetic_osm.py (or --generate); the `<file>.json` it writes next
to each holds the input object counts behind "objects/s".

Targets (issue 17, 2-core machine): >= 1,000,000 input objects/s, peak RSS < 4 GB,
query medians <= 5 ms and p95 <= 20 ms.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _timing import timed  # benchmarks/ is on sys.path when a script runs

from gre_agent.tools.osm import import_pbf, open_index


def child_import(pbf: Path, db: Path, locations: str | None, engine: str) -> dict[str, Any]:
    """Run in the child: import, then report its own time and memory."""
    wall = time.perf_counter()
    stats = import_pbf(pbf, db, locations=locations, engine=engine)
    # The native reader is a child process: its CPU and memory count too.
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return {
        "seconds": time.perf_counter() - wall,
        "cpu_s": sum(u.ru_utime + u.ru_stime for u in usage),
        "peak_rss_mb": max(u.ru_maxrss for u in usage) / 1024,
        "kept": stats.nodes + stats.ways + stats.relations,
        "engine": stats.engine,
    }


def queries(db: Path, repeat: int, seed: int = 7) -> dict[str, tuple[float, float]]:
    rng = random.Random(seed)
    raw = sqlite3.connect(db)
    top = raw.execute("SELECT max(id) FROM features").fetchone()[0]

    def sample(sql: str, n: int) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        while len(out) < n:
            out += raw.execute(sql, [rng.randint(1, top)]).fetchall()
        return out[:n]

    names = sample("SELECT name, lat, lon FROM features WHERE id >= ? AND name IS NOT NULL"
                   " LIMIT 1", repeat)  # fmt: skip
    # By id, not "the next node after id": nodes come first, so most ids have none after.
    pois = sample("SELECT lat, lon FROM features WHERE id = ? AND osm_type = 'node'", repeat)
    pairs = raw.execute(
        "SELECT fa.name, fb.name FROM way_nodes a JOIN way_nodes b ON b.node_id = a.node_id"
        " JOIN features fa ON fa.id = a.way_fid JOIN features fb ON fb.id = b.way_fid"
        " WHERE a.way_fid % 7 = 0 AND fa.name < fb.name LIMIT ?",
        [repeat],
    ).fetchall()
    raw.close()
    index = open_index(db)

    def near(i: int, tags: dict[str, str | None], radius_m: float) -> object:
        return index.features_near(pois[i][0], pois[i][1], radius_m, tags, None, 50)

    def named(i: int, around: bool) -> object:
        name, lat, lon = names[i]
        return index.find_named(name, {}, None, (lat, lon, 2000) if around else None, 10)

    def crossing(i: int) -> object:
        street_a, street_b = pairs[i % len(pairs)]
        return index.street_intersection(street_a, street_b, None, 5)

    return {
        "find_named (name, 2 km around)": timed(lambda i: named(i, True), repeat),
        "find_named (name, anywhere)": timed(lambda i: named(i, False), repeat),
        "features_near (amenity=cafe, 300 m)": timed(
            lambda i: near(i, {"amenity": "cafe"}, 300), repeat
        ),
        "features_near (highway, 200 m)": timed(lambda i: near(i, {"highway": None}, 200), repeat),
        "street_intersection": timed(crossing, repeat),
    }


def bench(
    pbf: Path, workdir: Path, repeat: int, locations: str | None, engine: str
) -> dict[str, Any]:
    db = workdir / (pbf.name + ".sqlite")
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(pbf), str(db), locations or "", engine],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    counts_file = pbf.with_name(pbf.name + ".json")
    if counts_file.exists():
        counts = json.loads(counts_file.read_text())
        result["input_objects"] = counts["nodes"] + counts["ways"] + counts["relations"]
        result["objects_per_s"] = result["input_objects"] / result["seconds"]
    result["db_mb"] = db.stat().st_size / 1e6
    result["pbf_mb"] = pbf.stat().st_size / 1e6
    result["queries"] = queries(db, repeat)
    return result


def report(pbf: Path, r: dict[str, Any]) -> None:
    print(f"\n{pbf.name} ({r['pbf_mb']:.1f} MB, {r.get('input_objects', 0):,} input objects)")
    print(f"  import ({r['engine']})     {r['seconds']:.1f} s wall, {r['cpu_s']:.1f} s CPU")
    if "objects_per_s" in r:
        print(f"  objects/s           {r['objects_per_s']:,.0f} (input), {r['kept']:,} kept")
    print(f"  peak RSS            {r['peak_rss_mb']:,.0f} MB")
    print(f"  database            {r['db_mb']:,.0f} MB")
    for name, (median, p95) in r["queries"].items():
        print(f"  {name:<38} median {median:6.2f} ms  p95 {p95:6.2f} ms")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        pbf, db, locations, engine = sys.argv[2], sys.argv[3], sys.argv[4] or None, sys.argv[5]
        print(json.dumps(child_import(Path(pbf), Path(db), locations, engine)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pbf", nargs="*", type=Path)
    parser.add_argument("--generate", nargs="*", default=[], help="node counts to generate")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--locations", help="pyosmium node store (default: by file size)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--engine", default="auto", help="auto, native or python")
    args = parser.parse_args()
    files = list(args.pbf)
    if args.generate:
        # benchmarks/ is on sys.path when this script runs
        generate = importlib.import_module("make_synthetic_osm").generate

        for count in args.generate:
            n = int(count.replace("_", ""))
            out = Path("build") / "osm-scale" / f"synth-{n}.osm.pbf"
            if not out.exists():
                generate(out, n, progress=False)
            files.append(out)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    results = {}
    with tempfile.TemporaryDirectory(dir="build") as tmp:
        for pbf in files:
            r = bench(pbf, Path(tmp), args.repeat, args.locations, args.engine)
            results[str(pbf)] = r
            report(pbf, r)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
