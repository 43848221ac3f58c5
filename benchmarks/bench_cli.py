"""CLI start-up: wall time of `gre --help` and `gre tools call gazetteer.geocode`, and the
imports behind it.

Each command runs `--runs` times in a fresh process (like hyperfine: a warm-up run first,
then min / median / mean); `--importtime` adds the slowest imports of each, from
`python -X importtime`. Targets (issue 15.5): `gre --help` under 0.5 s, `gre tools call
gazetteer.geocode` under 1.5 s, on an idle machine: the load average is printed before and
after, since other processes on the cores stretch every time.

Run: python benchmarks/bench_cli.py [--runs 10] [--importtime]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

PY = sys.executable
COMMANDS = {
    "gre --help": ["-m", "gre_agent.cli.main", "--help"],
    "gre tools call gazetteer.geocode": [
        "-m",
        "gre_agent.cli.main",
        "tools",
        "call",
        "gazetteer.geocode",
        "--offline",
        "--args",
        '{"query": "Tampere"}',
    ],
    "import gre_agent.tools": ["-c", "import gre_agent.tools"],
}
TARGETS_S = {"gre --help": 0.5, "gre tools call gazetteer.geocode": 1.5}


def timed(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([PY, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def slowest_imports(args: list[str], n: int = 8) -> list[tuple[int, str]]:
    """The `n` top-level imports with the largest cumulative time (microseconds)."""
    res = subprocess.run(
        [PY, "-X", "importtime", *args], capture_output=True, text=True, check=False
    )
    rows = []
    for line in res.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if (
            cumulative.strip().isdigit()
            and name.startswith(" ")
            and len(name) - len(name.lstrip()) <= 3
        ):
            rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:n]


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--importtime", action="store_true")
    a = ap.parse_args()
    print(f"before: {load_average()}")
    print(f"{'command':<36} {'min':>7} {'median':>7} {'mean':>7} {'target':>7}")
    for label, args in COMMANDS.items():
        timed(args)  # warm-up: the OS file cache, .pyc files
        times = [timed(args) for _ in range(a.runs)]
        target = TARGETS_S.get(label)
        print(
            f"{label:<36} {min(times):>6.3f}s {statistics.median(times):>6.3f}s "
            f"{statistics.mean(times):>6.3f}s {f'{target:.1f}s' if target else '-':>7}"
        )
        if a.importtime:
            for us, name in slowest_imports(args):
                print(f"    {us / 1e6:6.3f}s  {name}")
    print(f"after: {load_average()}")


if __name__ == "__main__":
    main()
