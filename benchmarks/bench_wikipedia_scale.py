"""The offline Wikipedia geo index at scale: build rate (serial and parallel), query latency.

    python benchmarks/bench_wikipedia_scale.py --articles 100_000 --workers 1 2
    python benchmarks/bench_wikipedia_scale.py --articles 100_000 --json build/wikipedia.json

Generates (once, under build/wikipedia-scale/) a Wikipedia-style ZIM of N articles, 30%
of them with title coordinates (the `geo-dec`/`geo` markup `build_zim` writes) and one in
ten with a redirect, then builds its geo index from scratch once per worker count (each
into a fresh folder, so nothing is reused), checks the indexes are equal, and times
geosearch, title lookup, title suggestions and full-text search over the ZIM.

Targets (issue 17, 2-core machine): build >= 5,000 articles/s, geosearch median <= 5 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _timing import timed  # benchmarks/ is on sys.path when a script runs

from gre_agent.tools.wikipedia import Fact, _zim, build_zim
from gre_agent.tools.wikipedia._geoindex import build_geo_index, read_index

WORDS = ["river", "harbour", "castle", "bridge", "market", "square", "church", "valley",
         "lake", "forest", "station", "museum", "tower", "village", "mountain", "island",
         "street", "park", "palace", "garden", "mill", "abbey", "quarry"]  # fmt: skip


def facts(n: int, seed: int = 17) -> Iterator[Fact]:
    rng = random.Random(seed)
    for i in range(n):
        words = rng.sample(WORDS, 3)
        title = f"{words[0].title()} {words[1]} {i:06d}"
        summary = (
            f"{title} is a {words[2]} of the synthetic atlas, number {i}. "
            + " ".join(rng.choice(WORDS) for _ in range(40))
            + ".\n\n"
            + " ".join(rng.choice(WORDS) for _ in range(60))
            + "."
        )
        located = rng.random() < 0.3
        yield Fact(
            title=title,
            summary=summary,
            lat=rng.uniform(-60, 70) if located else None,
            lon=rng.uniform(-180, 180) if located else None,
            redirects=[f"Synthetic {i:06d}"] if i % 10 == 0 else [],
        )


def make_zim(n: int, folder: Path) -> Path:
    out = folder / f"synth-{n}.zim"
    if out.is_file():
        return out
    started = time.perf_counter()
    build_zim(facts(n), out, title=f"Synthetic Wikipedia ({n} articles)")
    print(f"generated {out} in {time.perf_counter() - started:.0f} s")
    return out


def build(zim: Path, workers: int) -> tuple[dict[str, Any], list[list[Any]]]:
    with tempfile.TemporaryDirectory(dir=zim.parent) as tmp:
        sidecar = Path(tmp) / "index.json"
        cpu = time.process_time()
        report = build_geo_index(zim, sidecar, workers=workers)
        result = {
            "workers": report.workers,
            "seconds": round(report.seconds, 2),
            "entries": report.entries,
            "articles": report.articles,
            "articles_per_s": round(report.articles_per_s),
            "parent_cpu_s": round(time.process_time() - cpu, 2),
            "rows": report.rows,
        }
        return result, read_index(sidecar) or []


def queries(zim_path: Path, rows: list[list[Any]], repeat: int) -> dict[str, tuple[float, float]]:
    rng = random.Random(7)
    zim = _zim.open_zim(zim_path)
    index = _zim._to_index(rows)
    points = [rng.choice(rows) for _ in range(repeat)]
    titles = [rng.choice(rows)[0] for _ in range(repeat)]
    prefixes = [t.split()[0] + " " + t.split()[1][:3] for t in titles]
    return {
        "geosearch_10km": timed(
            lambda i: index.near(points[i][1], points[i][2], 10_000, 10), repeat
        ),
        "title_lookup": timed(lambda i: _zim.find_article(zim, titles[i].lower()), repeat),
        "title_suggest": timed(lambda i: _zim._suggest(zim, prefixes[i], 10), repeat),
        "search": timed(lambda i: _zim.search(zim, prefixes[i], 5), repeat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=lambda s: int(s.replace("_", "")), default=100_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--dir", type=Path, default=Path("build/wikipedia-scale"))
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    parser.add_argument(
        "--id-order",
        action="store_true",
        help="Also time a serial scan by entry id (path order), as before the build "
        "followed the clusters.",
    )
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    zim = make_zim(args.articles, args.dir)
    out: dict[str, Any] = {"zim": str(zim), "bytes": zim.stat().st_size, "builds": []}
    first: list[list[Any]] | None = None
    for workers in args.workers:
        load = os.getloadavg()[0]
        result, rows = build(zim, workers)
        result["load_before"] = round(load, 2)
        out["builds"].append(result)
        print(json.dumps(result))
        if first is None:
            first = rows
        elif rows != first:
            raise SystemExit(f"the index built with {workers} workers differs")
    assert first is not None
    if args.id_order:
        started = time.perf_counter()
        rows = [list(r) for r in _zim.scan_coordinates(_zim.open_zim(zim))]
        seconds = time.perf_counter() - started
        out["id_order_scan"] = {"seconds": round(seconds, 2), "same_rows": rows == first}
        print(json.dumps(out["id_order_scan"]))
    out["queries_ms"] = {
        k: [round(v, 3) for v in t] for k, t in queries(zim, first, args.repeat).items()
    }
    out["load_after"] = [round(v, 2) for v in os.getloadavg()]
    for name, (median, p95) in out["queries_ms"].items():
        print(f"{name:16} median {median:.3f} ms  p95 {p95:.3f} ms")
    print(f"load average {out['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
