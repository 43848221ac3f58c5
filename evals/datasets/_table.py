"""Any table of images and coordinates: CSV / TSV or JSON / JSON lines, columns named by
a `Columns` mapping (or found among common spellings)."""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from gre_agent.core.columns import LAT, LON, find_column
from gre_agent.evals.datasets._model import DatasetFormatError, LoadedDataset, SampleMeta
from gre_agent.evals.datasets._records import read_records, require
from gre_agent.evals.datasets._rows import ImageCheck, ImageResolver, SampleBuilder, clean_label

_CANDIDATES = {
    "id": ("id", "sample_id", "img_id", "image_id", "uid"),
    "image": ("image_path", "image", "img_path", "path", "file", "filename", "img_id"),
    "lat": LAT,  # the one resolver `gre finetune data --gt` uses too (core/columns.py)
    "lon": LON,
    "scene": ("scene", "scene_type", "category"),
    "country": ("country", "country_code"),
    "region": ("region", "state", "admin1"),
    "sub_region": ("sub_region", "sub-region", "admin2"),
    "city": ("city",),
    "gt_cot": ("gt_cot", "cot"),
}
_LABELS = ("scene", "country", "region", "sub_region", "city", "gt_cot")


class Columns(BaseModel):
    """Which column (CSV) or key (JSON) holds what. `image` None: images are found by id
    under the images root, or named by `image_template` (e.g. "{id}.jpg")."""

    id: str = "id"
    image: str | None = "image_path"
    lat: str = "lat"
    lon: str = "lon"
    scene: str | None = None
    country: str | None = None
    region: str | None = None
    sub_region: str | None = None
    city: str | None = None
    gt_cot: str | None = None
    image_template: str | None = None

    @classmethod
    def detect(cls, names: Iterable[str]) -> Columns:
        """Columns found among common spellings (exact name first, then any case)."""
        names = list(names)
        found: dict[str, str | None] = {}
        for field, options in _CANDIDATES.items():
            found[field] = find_column(names, options)
        missing = [f for f in ("id", "lat", "lon") if not found[f]]
        if missing:
            raise DatasetFormatError(f"no column for {missing} among {names}; pass Columns(...)")
        return cls(**{k: v for k, v in found.items() if v is not None or k == "image"})

    def required(self) -> list[str]:
        return [self.id, self.lat, self.lon] + ([self.image] if self.image else [])


def row_to_sample(
    row: dict[str, Any], columns: Columns, resolver: ImageResolver
) -> tuple[Any, Path, Any, Any, SampleMeta]:
    """Parse one mapping by `columns` (the shared step of tables and HF datasets)."""
    sample_id = clean_label(row.get(columns.id))
    if columns.image:
        image_value = clean_label(row.get(columns.image))
        if image_value is None:
            raise ValueError(f"{columns.image} is missing")
        image = resolver.by_path(image_value)
    elif columns.image_template:
        image = resolver.by_path(columns.image_template.format(id=sample_id))
    else:
        image = resolver.by_id(sample_id) if sample_id else resolver.root
    labels = {f: clean_label(row.get(getattr(columns, f))) for f in _LABELS if getattr(columns, f)}
    used = {columns.id, columns.image, columns.lat, columns.lon}
    used |= {getattr(columns, f) for f in _LABELS}
    extra = {k: v for k, v in row.items() if k not in used and k is not None}
    meta = SampleMeta(**labels, extra=extra)
    return sample_id, image, row.get(columns.lat), row.get(columns.lon), meta


def _csv_rows(path: Path, delimiter: str) -> tuple[list[str], list[dict[str, Any]]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        return list(reader.fieldnames or []), list(reader)


def load_table(
    path: Path,
    columns: Columns | None = None,
    images_root: Path | None = None,
    *,
    fmt: Literal["auto", "csv", "tsv", "jsonl", "json"] = "auto",
    name: str | None = None,
    check_images: ImageCheck = "header",
) -> LoadedDataset:
    """Load a generic table. Without `columns`, they are detected from the header (CSV) or
    the first record (JSON)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(f"{path} is not a file")
    kind = fmt if fmt != "auto" else path.suffix.lower().lstrip(".")
    resolver = ImageResolver(images_root if images_root is not None else path.parent)
    builder = SampleBuilder(name or path.stem, str(path), f"table:{kind}", check_images)
    if kind in ("csv", "tsv", "txt"):
        fields, rows = _csv_rows(path, "\t" if kind == "tsv" else ",")
        columns = columns or Columns.detect(fields)
        missing = [c for c in columns.required() if c not in fields]
        if missing:
            raise DatasetFormatError(f"{path}: columns {missing} not in header {fields}")
        numbered: Iterable[tuple[int, Any]] = enumerate(rows, start=1)
    elif kind in ("json", "jsonl", "ndjson"):
        numbered = list(read_records(path))
        if columns is None:
            first = next((r for _, r in numbered if isinstance(r, dict)), None)
            if first is None:
                raise DatasetFormatError(f"{path}: no records to detect columns from")
            columns = Columns.detect(first.keys())
    else:
        raise DatasetFormatError(f"{path}: unknown table format {kind!r} (csv, tsv, json, jsonl)")
    builder.decide(f"columns: {columns.model_dump(exclude_none=True)}")

    def sample(row: Any) -> tuple[Any, Path, Any, Any, SampleMeta]:
        return row_to_sample(require(row), columns, resolver)

    for number, row in numbered:
        builder.add(number, functools.partial(sample, row))
    return builder.finish()
