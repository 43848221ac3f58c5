"""What the benchmark scripts share: median and p95 of repeated calls."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[int], Any], repeat: int) -> tuple[float, float]:
    """Median and p95 in ms of `fn(i)` for i in range(repeat)."""
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]
