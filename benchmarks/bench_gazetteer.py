"""Offline gazetteer speed: index load time, geocode queries/s, reverse points/s.

    python benchmarks/bench_gazetteer.py [--queries 20000] [--points 1000000]
    python benchmarks/bench_gazetteer.py --dump-rows 13_000_000   # full-size GeoNames

Targets (one core): geocoding >= 5,000 queries/s after load; batch reverse geocoding
>= 200,000 points/s. Everything here runs on one thread (KD-tree `workers=1`).

`--dump-rows N` also measures a synthetic GeoNames dump of N rows in the real
allCountries.zip format (written once to build/geonames-synth/, with its index): the
geocoder then searches it before the packaged data, as after `gre data geonames`.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import resource
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from gre_agent.core.settings import Settings
from gre_agent.tools.gazetteer import GeocodeTool, reverse_batch, reverse_places, search
from gre_agent.tools.gazetteer._dump import build_index
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


def geocode_rates(
    indexes: list[PlaceIndex], index: PlaceIndex, n_queries: int, n_fuzzy: int, rng: random.Random
) -> list[tuple[str, str | None]]:
    """Exact and misspelt queries/s over `indexes`, names drawn from `index`."""
    qs = queries(index, n_queries, rng)
    for q, cc in qs[:200]:  # warm-up
        search(indexes, q, cc)
    started = time.perf_counter()
    hits = sum(bool(search(indexes, q, cc)) for q, cc in qs)
    took = time.perf_counter() - started
    print(f"exact-name queries/s {len(qs) / took:>26,.0f}   ({hits / len(qs):.1%} answered)")

    # the worst case: names that hundreds of places share ("San Antonio", "Springfield")
    sizes = np.diff(index.ptr)
    crowded = np.flatnonzero(sizes >= 100)
    if len(crowded):
        names = [index.keys[int(s)] for s in rng.choices(crowded.tolist(), k=min(n_queries, 5000))]
        started = time.perf_counter()
        for q in names:
            search(indexes, q)
        took = time.perf_counter() - started
        print(
            f"queries/s, names of >= 100 places {len(names) / took:>12,.0f}"
            f"   ({len(crowded):,} such names, mean {sizes[crowded].mean():,.0f} places)"
        )

    picks = [rng.randrange(len(index)) for _ in range(n_fuzzy)]
    bad = [(misspell(index.name[i], rng), i) for i in picks]
    bad = [(q, i) for q, i in bad if all(ix.lookup(normalize(q)) is None for ix in indexes)]
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
    return qs


SYNTH_DIR = Path(__file__).resolve().parents[1] / "build" / "geonames-synth"
_SYLLABLES = [
    "ka",
    "ri",
    "to",
    "na",
    "mi",
    "se",
    "lo",
    "va",
    "ber",
    "gen",
    "dor",
    "ham",
    "ton",
    "vil",
    "burg",
    "stad",
    "sk",
    "nor",
    "bel",
    "mar",
    "san",
    "ta",
    "ro",
    "lin",
    "ko",
    "wa",
    "te",
    "du",
    "po",
    "hel",
    "sin",
    "ki",
    "ar",
    "ne",
    "os",
    "al",
    "mo",
    "ra",
    "ve",
    "li",
    "ga",
    "zu",
    "ny",
    "ol",
    "ek",
    "im",
    "us",
    "ab",
    "qu",
]
# GeoNames' mix of feature classes, in percent (P populated places 37%)
_CLASSES = (
    "P" * 37 + "H" * 19 + "T" * 12 + "S" * 13 + "A" * 4 + "L" * 4 + "V" * 3 + "R" * 4 + "U" * 4
)
_CYRILLIC = str.maketrans("abdegiklmnoprstuvz", "абдегиклмнопрстувз")


def _synthetic_name(n: int) -> str:
    """A unique made-up place name for each n (base-50 syllables)."""
    parts = []
    while True:
        n, d = divmod(n, len(_SYLLABLES))
        parts.append(_SYLLABLES[d])
        if not n:
            break
        n -= 1
    word = "".join(parts)
    return word.capitalize() if len(word) < 10 else f"{word[:6].capitalize()} {word[6:]}"


def make_dump(path: Path, rows: int, seed: int = 7) -> None:
    """A GeoNames-format dump of `rows` rows built around the packaged places.

    Each row copies the country and admin1 code of a random packaged place and lies
    within ~50 km of it. Names: 60% unique made-up names, 30% from a pool of 200,000
    shared names with a Zipf-like tail (the commonest about 3,000 times, like "San
    Antonio"), 10% real packaged names (so "Paris" has more namesakes); a third of the
    rows carry alternate names (other spellings and a Cyrillic form). Feature classes
    follow GeoNames' mix (37% P); 20% of places have a population.
    """
    base = packaged_index()
    gen = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    pool = 200_000
    weights = 1.0 / (np.arange(pool) + 200.0)
    weights /= weights.sum()
    tmp = path.with_name(path.name + ".tmp")
    with (
        zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
        zf.open("allCountries.txt", "w", force_zip64=True) as raw,
    ):
        out = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
        unique = 10_000_000  # made-up names past the shared pool
        for start in range(0, rows, 100_000):
            n = min(100_000, rows - start)
            j = gen.integers(0, len(base), n)
            lat = np.clip(base.lat[j] + gen.normal(0, 0.4, n), -90, 90)
            lon = (base.lon[j] + gen.normal(0, 0.4, n) + 180) % 360 - 180
            kind = gen.random(n)
            shared = gen.choice(pool, n, p=weights)
            real = gen.integers(0, len(base), n)
            pop = np.where(gen.random(n) < 0.2, gen.lognormal(6, 2, n), 0).astype(np.int64)
            fcls = gen.integers(0, len(_CLASSES), n)
            n_alt = np.where(gen.random(n) < 0.33, gen.geometric(0.4, n), 0)
            lines = []
            for r in range(n):
                if kind[r] < 0.6:
                    unique += 1
                    name = _synthetic_name(unique)
                elif kind[r] < 0.9:
                    name = _synthetic_name(int(shared[r]))
                else:
                    name = base.name[int(real[r])]
                alts = [
                    _synthetic_name(unique + 10_000_000 * (a + 1))
                    for a in range(min(int(n_alt[r]), 12))
                ]
                if alts:
                    alts.append(name.lower().translate(_CYRILLIC))
                jj = int(j[r])
                lines.append(
                    f"{start + r + 1}\t{name}\t{name}\t{','.join(alts)}\t"
                    f"{lat[r]:.5f}\t{lon[r]:.5f}\t{_CLASSES[fcls[r]]}\tPPL\t"
                    f"{base.country[jj]}\t\t{base.admin1[jj]}\t\t\t\t{pop[r]}\t\t0\t"
                    "Europe/Helsinki\t2024-01-01\n"
                )
            out.write("".join(lines))
        out.flush()
        out.detach()
    tmp.replace(path)


def full_size(rows: int, n_queries: int, n_fuzzy: int, rng: random.Random) -> None:
    """Import (once) and query a synthetic full-size dump, as `gre data geonames` would."""
    dump = SYNTH_DIR / f"allCountries-{rows}.zip"
    out = SYNTH_DIR / f"geonames-index-{rows}.npz"
    print(f"== full-size GeoNames ({rows:,} rows, {dump})")
    packaged_index(SYNTH_DIR / "packaged")  # kept between runs, like the data dir's
    if not dump.exists():
        timed("generate the synthetic dump", make_dump, dump, rows)
    if not out.exists():
        admin1 = packaged_index().admin1_names
        _, stats = timed(
            "import (gre data geonames, class P)", build_index, dump, out, admin1_names=admin1
        )
        print(f"kept {stats.kept:,} of {stats.read:,} rows")
    index = timed("load index from the .npz cache", PlaceIndex.load, out)
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"places {len(index):,}, names {len(index.keys):,}, postings {len(index.ids):,}; "
        f"peak RSS {cpu.ru_maxrss / 1e6:.2f} GB"
    )
    geocode_rates([index, packaged_index()], index, n_queries, n_fuzzy, rng)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--fuzzy", type=int, default=200)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument(
        "--dump-rows", type=int, default=0, help="also a synthetic GeoNames dump of N rows"
    )
    parser.add_argument("--dump-only", action="store_true", help="only the dump part")
    opts = parser.parse_args()
    rng = random.Random(7)
    if opts.dump_rows:
        full_size(opts.dump_rows, opts.queries, opts.fuzzy, random.Random(7))
        if opts.dump_only:
            return

    print("== load")
    index = timed("build packaged index from JSON (first run)", build)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "packaged.npz"
        timed("save index (.npz)", index.save, path)
        index = timed("load index from the .npz cache (later runs)", PlaceIndex.load, path)
        timed("load reverse places + KD-tree", ReversePlaces.from_csv, packaged_csv())
    print(f"places {len(index):,}, names {len(index.keys):,}, postings {len(index.ids):,}")

    print("== geocode (one core)")
    qs = geocode_rates([index], index, opts.queries, opts.fuzzy, rng)

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
