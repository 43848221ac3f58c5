"""Distance metrics for geolocation: vectorised, exact to the peers' conventions.

Conventions (DESIGN.md; repeated wherever results are reported):

- Distance: geodesic on the WGS-84 ellipsoid by default. geopy's `geodesic` (the call
  GRE, GeoCLIP, G3 and GeoRanker make) and pyproj's `Geod.inv` both run Karney's
  algorithm, so they agree to well under a millimetre; pyproj does it in C for whole
  arrays. `haversine` on a sphere of R = 6371.0 km is the option OSV-5M and
  GeoEstimation use. The formulas live in `gre_agent.core.geo`; `distance_km` here adds
  the evaluation's side: predictions first, ground truth second, each checked by name.
- Accuracy at threshold T counts d <= T (GeoCLIP, GeoEstimation). OSV-5M, G3, GeoRanker
  and PIGEON count d < T; the two differ only on exact ties.
- GeoScore = 5000 * exp(-d / 1492.7) per image, averaged without rounding (OSV-5M;
  PIGEON rounds per image first).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Literal

import numpy as np
from pydantic import BaseModel

from gre_agent.core.geo import EARTH_RADIUS_KM as EARTH_RADIUS_KM  # the reports print it
from gre_agent.core.geo import (
    ArrayLike,
    as_arrays,
    check_points,
    geodesic_km_many,
    haversine_km_many,
)

DistanceMethod = Literal["geodesic", "haversine"]

THRESHOLDS_KM: tuple[float, ...] = (1, 25, 200, 750, 2500)
THRESHOLD_RULE = "d <= T"
GEOSCORE_MAX = 5000.0
GEOSCORE_SCALE_KM = 1492.7


def distance_km(
    lat1: ArrayLike,
    lon1: ArrayLike,
    lat2: ArrayLike,
    lon2: ArrayLike,
    method: DistanceMethod = "geodesic",
    workers: int | None = None,
) -> np.ndarray:
    """Distances from predictions (lat1, lon1) to ground truth (lat2, lon2) in km.

    A ValueError names the first invalid prediction or ground-truth point; `workers`
    splits a large geodesic computation over threads.

    >>> distance_km([0.0], [0.0], [0.0], [1.0]).round(6).tolist()
    [111.319491]
    >>> distance_km([0.0], [0.0], [0.0], [1.0], "haversine").round(6).tolist()
    [111.194927]
    """
    p_lat, p_lon, t_lat, t_lon = as_arrays(lat1, lon1, lat2, lon2)
    check_points(p_lat, p_lon, "prediction")
    check_points(t_lat, t_lon, "ground truth")
    if method == "geodesic":
        return geodesic_km_many(p_lat, p_lon, t_lat, t_lon, workers=workers)
    if method == "haversine":
        return haversine_km_many(p_lat, p_lon, t_lat, t_lon)
    raise ValueError(f"unknown distance method {method!r}: use 'geodesic' or 'haversine'")


# The evaluation's distance by method, under the names the reports and benchmarks use.
geodesic_km = partial(distance_km, method="geodesic")
haversine_km = partial(distance_km, method="haversine")


def threshold_key(threshold: float) -> str:
    """JSON key of a threshold: "1", "25", ... (no trailing ".0")."""
    return f"{threshold:g}"


def accuracy_within(d_km, thresholds: Iterable[float] = THRESHOLDS_KM) -> dict[str, float]:
    """Share of distances d <= T for each threshold T, keyed "1", "25", ...

    >>> accuracy_within([0.5, 25.0, 300.0], (1, 25))
    {'1': 0.3333333333333333, '25': 0.6666666666666666}
    """
    d = np.asarray(d_km, dtype=np.float64)
    if d.size == 0:
        return {threshold_key(t): float("nan") for t in thresholds}
    return {threshold_key(t): float(np.count_nonzero(d <= t)) / d.size for t in thresholds}


def geoscore(d_km) -> np.ndarray:
    """GeoScore per image, unrounded: 5000 * exp(-d / 1492.7).

    >>> geoscore([0.0, 1492.7]).round(3).tolist()
    [5000.0, 1839.397]
    """
    return GEOSCORE_MAX * np.exp(-np.asarray(d_km, dtype=np.float64) / GEOSCORE_SCALE_KM)


class DistanceSummary(BaseModel):
    """The headline numbers of one set of distances."""

    n: int
    acc_km: dict[str, float]
    median_km: float
    mean_km: float
    mean_geoscore: float


def summarize(d_km, thresholds: Iterable[float] = THRESHOLDS_KM) -> DistanceSummary:
    """Accuracy at each threshold, median and mean error, mean GeoScore."""
    d = np.asarray(d_km, dtype=np.float64)
    nan = float("nan")
    return DistanceSummary(
        n=int(d.size),
        acc_km=accuracy_within(d, thresholds),
        median_km=float(np.median(d)) if d.size else nan,
        mean_km=float(d.mean()) if d.size else nan,
        mean_geoscore=float(geoscore(d).mean()) if d.size else nan,
    )
