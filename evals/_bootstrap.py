"""Percentile bootstrap confidence intervals for the headline metrics (seeded numpy)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from pydantic import BaseModel

from gre_agent.evals.metrics import THRESHOLDS_KM, geoscore, threshold_key

# Indices drawn per chunk of resamples: bounds memory to ~32 MB whatever the size of n.
_CHUNK_ELEMENTS = 4_000_000


class Interval(BaseModel):
    low: float
    high: float


class SummaryCI(BaseModel):
    """Percentile intervals; each metric's interval is marginal (its own resamples)."""

    level: float
    n_resamples: int
    seed: int
    acc_km: dict[str, Interval]
    median_km: Interval
    mean_km: Interval
    mean_geoscore: Interval


def _interval(values: np.ndarray, level: float) -> Interval:
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return Interval(low=float(low), high=float(high))


def bootstrap_ci(
    d_km,
    thresholds: Iterable[float] = THRESHOLDS_KM,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> SummaryCI:
    """Bootstrap the accuracies, median, mean and mean GeoScore of `d_km`.

    An accuracy is a share of n hits, so its bootstrap distribution is exactly
    Binomial(n, hits / n) / n: drawn directly, no resampling of rows needed.
    """
    d = np.asarray(d_km, dtype=np.float64)
    n = d.size
    if n == 0 or n_resamples < 1:
        raise ValueError("bootstrap needs at least one distance and one resample")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    acc = {}
    for t in thresholds:
        p = np.count_nonzero(d <= t) / n
        acc[threshold_key(t)] = _interval(rng.binomial(n, p, size=n_resamples) / n, level)

    scores = geoscore(d)
    medians = np.empty(n_resamples)
    means = np.empty(n_resamples)
    geo = np.empty(n_resamples)
    per_chunk = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, n_resamples, per_chunk):
        stop = min(start + per_chunk, n_resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        sample = d[idx]
        medians[start:stop] = np.median(sample, axis=1)
        means[start:stop] = sample.mean(axis=1)
        geo[start:stop] = scores[idx].mean(axis=1)
    return SummaryCI(
        level=level,
        n_resamples=n_resamples,
        seed=seed,
        acc_km=acc,
        median_km=_interval(medians, level),
        mean_km=_interval(means, level),
        mean_geoscore=_interval(geo, level),
    )
