"""Which column of a table holds the ground truth's coordinates: one resolver for the
evaluation loaders (evals/datasets) and `gre finetune data --gt` (agent/finetune)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Spellings of the ground-truth columns, preferred first (an explicit gt_* name wins).
LAT = ("gt_lat", "lat", "latitude", "LAT", "Latitude")
LON = ("gt_lon", "lon", "lng", "longitude", "LON", "Longitude")


def find_column(names: Iterable[str], options: Iterable[str]) -> str | None:
    """The first of `options` among the column `names`: exact spelling first, then any case."""
    names = list(names)
    options = list(options)
    if hit := next((o for o in options if o in names), None):
        return hit
    lower = {n.casefold(): n for n in names}
    return next((lower[o.casefold()] for o in options if o.casefold() in lower), None)


def pick(row: Mapping[str, Any], options: Iterable[str]) -> Any:
    """The value of the first of `options` that the row holds and is not empty."""
    options = list(options)
    for name in options:
        if row.get(name) not in (None, ""):
            return row[name]
    lower = {str(k).casefold(): k for k in row}
    for name in options:
        key = lower.get(name.casefold())
        if key is not None and row[key] not in (None, ""):
            return row[key]
    return None
