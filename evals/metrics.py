"""Distance metrics for geolocation: vectorised, exact to the peers' conventions.

Conventions (DESIGN.md; repeated wherever results are reported):

- Distance: geodesic on the WGS-84 ellipsoid by default. geopy's `geodesic` (the call
  GRE, GeoCLIP, G3 and GeoRanker make) and pyproj's `Geod.inv` both run Karney's
  algorithm, so they agree to well under a millimetre; pyproj does it in C for whole
  arrays. `haversine` on a sphere of R = 6371.0 km is the option OSV-5M and
  GeoEstimation use.
- Accuracy at threshold T counts d <= T (GeoCLIP, GeoEstimation). OSV-5M, G3, GeoRanker
  and PIGEON count d < T; the two differ only on exact ties.
- GeoScore = 5000 * exp(-d / 1492.7) per image, averaged without rounding (OSV-5M;
  PIGEON rounds per image first).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
from pydantic import BaseModel
from pyproj import Geod

DistanceMethod = Literal["geodesic", "haversine"]

THRESHOLDS_KM: tuple[float, ...] = (1, 25, 200, 750, 2500)
THRESHOLD_RULE = "d <= T"
EARTH_RADIUS_KM = 6371.0  # the sphere OSV-5M and GeoEstimation use
GEOSCORE_MAX = 5000.0
GEOSCORE_SCALE_KM = 1492.7

_WGS84 = Geod(ellps="WGS84")
# Below this many points a thread pool costs more than it saves.
_PARALLEL_MIN = 200_000


def _as_arrays(*columns: Iterable[float]) -> list[np.ndarray]:
    arrays = [np.ascontiguousarray(c, dtype=np.float64).ravel() for c in columns]
    if len({a.size for a in arrays}) > 1:
        raise ValueError(f"coordinate arrays differ in length: {[a.size for a in arrays]}")
    return arrays


def check_coordinates(lat: np.ndarray, lon: np.ndarray, what: str = "point") -> None:
    """Raise ValueError naming the first latitude/longitude that is NaN or out of range."""
    bad = ~(np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{what} {i} ({lat[i]}, {lon[i]}) is not a valid latitude/longitude")


def geodesic_km(lat1, lon1, lat2, lon2, workers: int | None = None) -> np.ndarray:
    """Geodesic distances on WGS-84 in km, element-wise.

    pyproj releases the GIL inside `Geod.inv`, so large inputs are split over threads.

    >>> round(float(geodesic_km([0.0], [0.0], [0.0], [1.0])[0]), 6)
    111.319491
    """
    lat1, lon1, lat2, lon2 = _as_arrays(lat1, lon1, lat2, lon2)
    check_coordinates(lat1, lon1, "prediction")
    check_coordinates(lat2, lon2, "ground truth")
    n = lat1.size
    workers = workers or min(os.cpu_count() or 1, 8)
    if workers <= 1 or n < _PARALLEL_MIN:
        return _WGS84.inv(lon1, lat1, lon2, lat2, return_back_azimuth=False)[2] / 1000.0
    out = np.empty(n)
    bounds = np.linspace(0, n, workers + 1, dtype=np.int64)

    def part(k: int) -> None:
        s = slice(bounds[k], bounds[k + 1])
        out[s] = _WGS84.inv(lon1[s], lat1[s], lon2[s], lat2[s], return_back_azimuth=False)[2]

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(part, range(workers)))
    return out / 1000.0


def haversine_km(lat1, lon1, lat2, lon2, radius_km: float = EARTH_RADIUS_KM) -> np.ndarray:
    """Great-circle distances on a sphere (R = 6371.0 km by default), element-wise.

    The arctan2 form OSV-5M writes (better conditioned near antipodes than arcsin).

    >>> round(float(haversine_km([0.0], [0.0], [0.0], [1.0])[0]), 6)
    111.194927
    """
    lat1, lon1, lat2, lon2 = _as_arrays(lat1, lon1, lat2, lon2)
    check_coordinates(lat1, lon1, "prediction")
    check_coordinates(lat2, lon2, "ground truth")
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((p1 - p2) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon1 - lon2) / 2) ** 2
    )
    a = np.clip(a, 0.0, 1.0)  # rounding can push a past 1 for antipodes
    return radius_km * 2.0 * np.arctan2(np.sqrt(a), np.sqrt(1.0 - a))


def distance_km(lat1, lon1, lat2, lon2, method: DistanceMethod = "geodesic") -> np.ndarray:
    """Distances between predictions (lat1, lon1) and ground truth (lat2, lon2) in km."""
    if method == "geodesic":
        return geodesic_km(lat1, lon1, lat2, lon2)
    if method == "haversine":
        return haversine_km(lat1, lon1, lat2, lon2)
    raise ValueError(f"unknown distance method {method!r}: use 'geodesic' or 'haversine'")


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
