"""Which of two columns really holds latitudes, decided from the values.

A widely copied `im2gps3k_places365.csv` is headed `IMG_ID,AUTHOR,LON,LAT` while its
first coordinate column holds latitudes; later copies are headed `LAT,LON` with the same
values. So the header is evidence, not truth:

1. range: a value with 90 < |x| <= 180 can only be a longitude. If one column holds
   such values (ten times more than the other, so a few bad cells do not decide it),
   that column holds longitudes.
2. plausibility: otherwise both readings are valid coordinates; photos are taken where
   people are, so the reading whose points lie nearer to GeoNames places (median
   distance to the nearest town in the gazetteer's cities1000) is the true one, if it
   wins clearly.
3. header: if neither test is conclusive, the header is trusted, and the report says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel

Order = Literal["auto", "header", "lat_lon", "lon_lat"]
# The plausibility reading must be this many times nearer to towns to overrule the header.
_PLAUSIBILITY_RATIO = 3.0
_PLAUSIBILITY_MIN_ROWS = 5
# One column must hold this many times more values in (90, 180] than the other.
_RANGE_MAJORITY = 10

NearestKm = Callable[[np.ndarray, np.ndarray], np.ndarray]


class ColumnDecision(BaseModel):
    """The column holding latitudes, and why."""

    lat_column: str
    lon_column: str
    method: Literal["override", "range", "plausibility", "header"]
    header_swapped: bool  # True when the header's LAT column actually holds longitudes
    evidence: dict[str, float | int | str]

    def describe(self) -> str:
        ev = ", ".join(f"{k}={v}" for k, v in self.evidence.items())
        swapped = "; the header's labels are swapped" if self.header_swapped else ""
        return (
            f"latitudes read from column {self.lat_column!r}, longitudes from "
            f"{self.lon_column!r} (by {self.method}{swapped}; {ev})"
        )


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return np.nan  # an unparsable cell: that row is reported when it is loaded


def _floats(values: Sequence[object]) -> np.ndarray:
    return np.array([_float(v) for v in values], dtype=np.float64)


def _nearest_places_km(lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    from gre_agent.evals._admin import gazetteer_reverser

    return gazetteer_reverser().nearest_km(lats, lons)


def detect_lat_column(
    first: Sequence[object],
    second: Sequence[object],
    names: tuple[str, str],
    header_lat: str,
    order: Order = "auto",
    nearest_km: NearestKm | None = None,
) -> ColumnDecision:
    """Decide which of two coordinate columns holds latitudes.

    `names` are the two columns' header names in file order; `header_lat` is the one the
    header calls the latitude. `order` forces a reading: "lat_lon" (the first column holds
    latitudes), "lon_lat", or "header"; "auto" decides from the values.
    """
    a, b = names
    header_order = "lat_lon" if header_lat == a else "lon_lat"

    def decision(lat_first: bool, method, evidence) -> ColumnDecision:
        lat, lon = (a, b) if lat_first else (b, a)
        return ColumnDecision(
            lat_column=lat,
            lon_column=lon,
            method=method,
            header_swapped=lat != header_lat,
            evidence=evidence,
        )

    if order in ("lat_lon", "lon_lat"):
        return decision(order == "lat_lon", "override", {"order": order})
    if order == "header":
        return decision(header_order == "lat_lon", "override", {"order": "header"})

    x, y = _floats(first), _floats(second)
    # valid longitudes that cannot be latitudes; |x| > 180 is just a bad cell
    over_x = int(np.count_nonzero((np.abs(x) > 90) & (np.abs(x) <= 180)))
    over_y = int(np.count_nonzero((np.abs(y) > 90) & (np.abs(y) <= 180)))
    evidence: dict[str, float | int | str] = {
        f"rows_90_to_180_{a}": over_x,
        f"rows_90_to_180_{b}": over_y,
        f"range_{a}": f"[{np.nanmin(x):g}, {np.nanmax(x):g}]" if np.isfinite(x).any() else "none",
        f"range_{b}": f"[{np.nanmin(y):g}, {np.nanmax(y):g}]" if np.isfinite(y).any() else "none",
    }
    # A few stray values in the other column (bad rows, reported when loaded) do not
    # outvote the many the true longitude column holds.
    if over_x > _RANGE_MAJORITY * over_y:
        return decision(False, "range", evidence)
    if over_y > _RANGE_MAJORITY * over_x:
        return decision(True, "range", evidence)

    ok = np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 90) & (np.abs(y) <= 90)
    if np.count_nonzero(ok) >= _PLAUSIBILITY_MIN_ROWS:
        nearest = nearest_km or _nearest_places_km
        d_first = float(np.median(nearest(x[ok], y[ok])))  # first column as latitude
        d_second = float(np.median(nearest(y[ok], x[ok])))
        evidence[f"median_km_to_town_if_{a}_is_lat"] = round(d_first, 1)
        evidence[f"median_km_to_town_if_{b}_is_lat"] = round(d_second, 1)
        if d_second > _PLAUSIBILITY_RATIO * max(d_first, 1e-9):
            return decision(True, "plausibility", evidence)
        if d_first > _PLAUSIBILITY_RATIO * max(d_second, 1e-9):
            return decision(False, "plausibility", evidence)
    evidence["note"] = "values inconclusive; header trusted"
    return decision(header_order == "lat_lon", "header", evidence)
