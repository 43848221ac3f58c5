"""gazetteer.spot speed: load time, memory, texts/s over sign-like texts.

    python benchmarks/bench_spot.py [--texts 10000]

Target (one core): >= 20,000 texts/s after load. The texts mix what signs carry: road
signs with distances ("Lahti 103 km"), station and shop names with a place inside
("Tampere Central", "Pizzeria Napoli"), names in other scripts (Cyrillic, CJK, Hangul,
Thai), and texts with no place at all ("Open 24 h", "SALE -50%").
"""

from __future__ import annotations

import argparse
import random
import resource
import time

from gre_agent.core.settings import load_settings
from gre_agent.tools.gazetteer import offline_indexes
from gre_agent.tools.gazetteer._index import PlaceIndex
from gre_agent.tools.gazetteer._spot import spaceless_automaton, spot, stop_words

_PLAIN = [
    "Open 24 h",
    "SALE -50%",
    "Main Street",
    "No parking",
    "Exit",
    "Pizza Kebab Grill",
    "Best coffee in town",
    "Apteekki",
    "Bus stop",
    "older Japanese and Korean cars",
]
_AROUND = ["{} Central", "Hotel {}", "Pizzeria {}", "{} Photo Studio", "Welcome to {}", "{}"]
_OTHER_SCRIPTS = ["Москва 120", "서울역", "東京駅", "กรุงเทพมหานคร", "北京市", "Αθήνα", "القاهرة"]


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def texts(index: PlaceIndex, n: int, rng: random.Random) -> list[str]:
    big = [i for i in range(len(index)) if index.population[i] >= 20_000]
    out: list[str] = []
    for _ in range(n):
        roll = rng.random()
        name = index.name[rng.choice(big)]
        if roll < 0.3:
            out.append(f"{name} {rng.randint(1, 400)} km")
        elif roll < 0.6:
            out.append(rng.choice(_AROUND).format(name))
        elif roll < 0.75:
            out.append(rng.choice(_OTHER_SCRIPTS))
        elif roll < 0.85:
            other = index.name[rng.choice(big)]
            out.append(f"{name} {rng.randint(1, 99)}\n{other} {rng.randint(100, 300)}")
        else:
            out.append(rng.choice(_PLAIN))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    rss0 = _rss_mib()
    started = time.perf_counter()
    index = offline_indexes(load_settings())[-1]  # the cached .npz (built on a first run)
    load_s = time.perf_counter() - started
    rss1 = _rss_mib()
    started = time.perf_counter()
    spaceless_automaton(index)
    stop_words(None)
    build_s = time.perf_counter() - started
    rss2 = _rss_mib()
    batch = texts(index, args.texts, random.Random(args.seed))
    # CPU time of this process: the figure a shared, busy machine does not distort
    started, cpu = time.perf_counter(), time.process_time()
    found = sum(len(spot([index], t)) for t in batch)
    spot_s, spot_cpu = time.perf_counter() - started, time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()  # again: rankings are cached now
    sum(len(spot([index], t)) for t in batch)
    warm_s, warm_cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"index load                      {load_s:8.2f} s   {rss1 - rss0:7.1f} MiB")
    print(f"automaton + stop-lists build    {build_s:8.2f} s   {rss2 - rss1:7.1f} MiB")
    print(
        f"spot {len(batch):,} texts             {spot_s:8.2f} s   "
        f"{len(batch) / spot_s:,.0f} texts/s ({len(batch) / spot_cpu:,.0f} per CPU s)   "
        f"{found:,} matches"
    )
    print(
        f"the same texts again            {warm_s:8.2f} s   {len(batch) / warm_s:,.0f} texts/s "
        f"({len(batch) / warm_cpu:,.0f} per CPU s)"
    )
    print(f"peak RSS                                     {_rss_mib():7.1f} MiB")


if __name__ == "__main__":
    main()
