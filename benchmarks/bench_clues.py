"""The clue corpus as a measure: does the search move a wrong first guess to the truth?

For every case of tests/data/clues/cases.jsonl (a GRE-format answer whose first guess is
in another city or country, served by a model that answers every prompt with it, run
single-pass on the offline data: the Helsinki OSM extract, GeoNames cities500, the country
table) it prints the share within 1 / 25 / 750 km of the truth for the model's first
guess and for the agent's answer, per clue kind; the model calls per image (issue 13's
target: mean <= 1.5); and the agent's overhead per image (everything but generation: the
scripted model answers at once), median over the corpus after a warm-up pass (target:
median < 50 ms). Nothing-to-check and distractor cases count as right when the answer
stays within 5 km of the first guess.

Run: python benchmarks/bench_clues.py [--passes 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.test_graph_search_clues (cases and runner)

from PIL import Image  # noqa: E402

from tests.test_graph_search_clues import (  # noqa: E402
    KEEP_KINDS,
    Outcome,
    load_cases,
    registry_for,
    run_case,
)

THRESHOLDS = (1.0, 25.0, 750.0)


def share(values: list[float], km: float) -> str:
    return f"{100 * sum(v <= km for v in values) / len(values):3.0f}%"


def report(outcomes: list[Outcome]) -> None:
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_kind[o.case["kind"]].append(o)
    head = " ".join(f"{int(t):>4}km" for t in THRESHOLDS)
    print(f"{'kind':<13} {'n':>3}  first guess {head}   agent {head}   calls")
    clue = [o for o in outcomes if o.case["kind"] not in KEEP_KINDS]
    groups = [*sorted(by_kind.items()), ("all clues", clue)]
    for kind, group in groups:
        first = [o.first_km for o in group]
        final = [o.final_km for o in group]
        calls = statistics.mean(o.model_calls for o in group)
        cells_first = " ".join(f"{share(first, t):>6}" for t in THRESHOLDS)
        cells_final = " ".join(f"{share(final, t):>6}" for t in THRESHOLDS)
        note = ""
        if kind in KEEP_KINDS:
            kept = sum(o.moved_km <= 5.0 for o in group)
            note = f"  kept {kept}/{len(group)}"
        print(f"{kind:<13} {len(group):>3}  {cells_first}  {cells_final}  {calls:5.2f}{note}")
    calls = [o.model_calls for o in outcomes]
    print(
        f"model calls per image (single-pass): mean {statistics.mean(calls):.2f}, "
        f"max {max(calls)} (target: mean <= 1.5)"
    )


def main(passes: int) -> None:
    from gre_agent.cli.data_osm import sample_path
    from gre_agent.tools.osm import import_pbf

    tmp = Path(tempfile.mkdtemp(prefix="bench-clues-"))
    db = tmp / "osm.sqlite"
    import_pbf(sample_path("helsinki"), db)
    photo = tmp / "photo.jpg"
    Image.new("RGB", (64, 48), (120, 130, 140)).save(photo)
    registry = registry_for(tmp / "home", db)
    cases = load_cases()
    outcomes = [run_case(c, photo, registry) for c in cases]  # also the warm-up pass
    report(outcomes)
    times: list[float] = []
    for _ in range(passes):
        for case in cases:
            started = time.perf_counter()
            run_case(case, photo, registry)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    print(
        f"agent overhead per image ({len(cases)} cases x {passes} passes, scripted model, "
        f"offline tools): median {statistics.median(times):.1f} ms, "
        f"p90 {times[int(0.9 * len(times)) - 1]:.1f} ms, max {times[-1]:.1f} ms "
        "(target: median < 50 ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--passes", type=int, default=3)
    main(parser.parse_args().passes)
