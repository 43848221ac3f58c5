"""Offline gazetteer speed: index load time, geocode queries/s, reverse points/s.

    python benchmarks/bench_gazetteer.py [--queries 20000] [--points 1000000]

Targets (one core): geocoding >= 5,000 queries/s after load; batch reverse geocoding
>= 200,000 points/s. Everything here runs on one thread (KD-tree `workers=1`).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from gre_agent.core.settings import Settings
from gre_agent.tools.gazetteer import GeocodeTool, reverse_batch, reverse_places, search
from gre_agent.tools.gazetteer._index import PlaceIndex
from gre_agent.tools.gazetteer._normalize import normalize
from gre_agent.tools.gazetteer._packaged import build, packaged_index
from gre_agent.tools.gazetteer._reverse import ReversePlaces, packaged_csv


def timed(label: str, fn, *args, **kw):
    started = time.perf_counter()
    value = fn(*args, **kw)
    print(f"{label:<46} {time.perf_counter() - started:8.2f} s")
    return value


def queries(index: PlaceIndex, n: int, rng: random.Random) -> list[tuple[str, str | None]]:
    """Realistic lookups: own names, alternate names, case/accent variants, hints."""
    alt_keys = rng.sample(index.keys, 50_000)
    out: list[tuple[str, str | None]] = []
    for _ in range(n):
        roll = rng.random()
        i = rng.randrange(len(index))
        if roll < 0.5:
            out.append((index.name[i], None))
        elif roll < 0.7:
            out.append((index.name[i].upper(), str(index.country[i])))
        else:
            out.append((rng.choice(alt_keys), None))
    return out


def misspell(name: str, rng: random.Random) -> str:
    i = rng.randrange(1, max(2, len(name) - 1))
    return name[:i] + name[i] + name[i:]  # a doubled letter: "Helsinkki"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--fuzzy", type=int, default=200)
    parser.add_argument("--points", type=int, default=1_000_000)
    opts = parser.parse_args()
    rng = random.Random(7)

    print("== load")
    index = timed("build packaged index from JSON (first run)", build)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "packaged.npz"
        timed("save index (.npz)", index.save, path)
        index = timed("load index from the .npz cache (later runs)", PlaceIndex.load, path)
        timed("load reverse places + KD-tree", ReversePlaces.from_csv, packaged_csv())
    print(f"places {len(index):,}, names {len(index.keys):,}, postings {len(index.ids):,}")

    print("== geocode (one core)")
    qs = queries(index, opts.queries, rng)
    indexes = [index]
    for q, cc in qs[:200]:  # warm-up
        search(indexes, q, cc)
    started = time.perf_counter()
    hits = sum(bool(search(indexes, q, cc)) for q, cc in qs)
    took = time.perf_counter() - started
    print(f"exact-name queries/s {len(qs) / took:>26,.0f}   ({hits / len(qs):.1%} answered)")

    picks = [rng.randrange(len(index)) for _ in range(opts.fuzzy)]
    bad = [(misspell(index.name[i], rng), i) for i in picks]
    bad = [(q, i) for q, i in bad if index.lookup(normalize(q)) is None]
    search(indexes, "Helsinkki")  # builds the fuzzy buckets once
    started = time.perf_counter()
    found = [search(indexes, q, limit=5) for q, _ in bad]
    took = time.perf_counter() - started
    right = sum(
        any(c.name == index.name[i] and c.country_code == index.country[i] for c in cands)
        for (_, i), cands in zip(bad, found, strict=True)
    )
    rate = len(bad) / took
    print(
        f"misspelt queries/s (rapidfuzz fallback) {rate:>9,.0f}   ({right / len(bad):.1%} in top 5)"
    )

    packaged_index()  # the tool shares the loaded index
    tool = GeocodeTool(Settings(home=Path(tempfile.gettempdir()) / "gre-bench"))

    async def through_tool(batch: list[tuple[str, str | None]]) -> None:
        for q, cc in batch:
            await tool.run({"query": q, "country_code": cc})

    sample = qs[:2000]
    started = time.perf_counter()
    asyncio.run(through_tool(sample))
    took = time.perf_counter() - started
    print(f"Tool.run calls/s (validation, thread hop) {len(sample) / took:>7,.0f}")

    print("== reverse (one core)")
    gen = np.random.default_rng(7)
    u = gen.random((2, opts.points))
    uniform = (np.degrees(np.arcsin(2 * u[0] - 1)), 360 * u[1] - 180)  # mostly ocean
    places = reverse_places()
    j = gen.integers(0, len(places.lat), opts.points)
    jitter = gen.normal(0, 0.3, (2, opts.points))  # ~30 km around real towns, like photos
    near = (
        np.clip(places.lat[j] + jitter[0], -90, 90),
        (places.lon[j] + jitter[1] + 180) % 360 - 180,
    )
    for label, (lats, lons) in {"uniform on the sphere": uniform, "near towns": near}.items():
        started = time.perf_counter()
        batch = reverse_batch(lats, lons, workers=1)
        took = time.perf_counter() - started
        print(
            f"reverse_batch points/s, {label:<22} {opts.points / took:>10,.0f}"
            f"   (median {np.median(batch.distance_km):,.0f} km to the nearest place)"
        )


if __name__ == "__main__":
    main()
