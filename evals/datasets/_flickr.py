"""Im2GPS3k and YFCC4k: a CSV keyed by IMG_ID (the image's file name) plus an image folder.

GeoEstimation's `*_places365.csv` copies also carry a scene label, S3_Label
(0 indoor, 1 natural, 2 urban), with its probabilities; they go into the metadata.
"""

from __future__ import annotations

import csv
from pathlib import Path

from gre_agent.evals.datasets._coords import NearestKm, Order, detect_lat_column
from gre_agent.evals.datasets._model import DatasetFormatError, LoadedDataset, SampleMeta
from gre_agent.evals.datasets._rows import ImageCheck, ImageResolver, SampleBuilder, clean_label

S3_SCENES = {"0": "indoor", "1": "natural", "2": "urban"}


def _column(fields: list[str], *names: str) -> str | None:
    by_upper = {f.strip().upper(): f for f in fields}
    for name in names:
        if name.upper() in by_upper:
            return by_upper[name.upper()]
    return None


def _scene(row: dict[str, str]) -> str | None:
    label = clean_label(row.get("S3_Label"))
    if label is None:
        return None
    return S3_SCENES.get(label.split(".")[0], label)


def load_flickr_csv(
    csv_path: Path,
    images_dir: Path | None = None,
    *,
    name: str,
    order: Order = "auto",
    check_images: ImageCheck = "header",
    nearest_km: NearestKm | None = None,
) -> LoadedDataset:
    """Load an IMG_ID / LAT / LON CSV; see `load_im2gps3k` for `order`."""
    csv_path = Path(csv_path)
    resolver = ImageResolver(images_dir if images_dir is not None else csv_path.parent)
    with csv_path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    id_col = _column(fields, "IMG_ID", "id", "image", "filename")
    lat_col = _column(fields, "LAT", "latitude")
    lon_col = _column(fields, "LON", "longitude", "lng")
    if id_col is None or lat_col is None or lon_col is None:
        raise DatasetFormatError(
            f"{csv_path}: expected IMG_ID, LAT and LON columns, found {fields or 'no header'}"
        )
    first, second = sorted((lat_col, lon_col), key=fields.index)
    decided = detect_lat_column(
        [r.get(first) for r in rows],
        [r.get(second) for r in rows],
        names=(first, second),
        header_lat=lat_col,
        order=order,
        nearest_km=nearest_km,
    )
    builder = SampleBuilder(name, str(csv_path), name, check_images)
    builder.decide(decided.describe())
    lat_key, lon_key = decided.lat_column, decided.lon_column
    known = {id_col, lat_col, lon_col, "S3_Label"}

    for number, row in enumerate(rows, start=1):

        def make(row=row):
            image_id = clean_label(row.get(id_col))
            extra = {k: v for k, v in row.items() if k not in known and k is not None}
            if None in row:  # more cells than header names
                raise ValueError(f"{len(fields) + len(row[None])} cells for {len(fields)} columns")
            meta = SampleMeta(scene=_scene(row), extra=extra)
            image = resolver.by_path(image_id) if image_id else resolver.root
            return image_id, image, row.get(lat_key), row.get(lon_key), meta

        builder.add(number, make)
    return builder.finish()


def load_im2gps3k(
    csv_path: Path,
    images_dir: Path | None = None,
    *,
    order: Order = "auto",
    check_images: ImageCheck = "header",
    nearest_km: NearestKm | None = None,
) -> LoadedDataset:
    """Im2GPS3k (`im2gps3k_places365.csv` + its image folder).

    The header is not trusted: `order="auto"` finds which column holds latitudes from
    the values and records the decision with its evidence in `report.decisions`.
    `order="lat_lon"` / `"lon_lat"` forces the file's first coordinate column to be the
    latitude / longitude; `"header"` trusts the header.
    """
    return load_flickr_csv(
        csv_path,
        images_dir,
        name="im2gps3k",
        order=order,
        check_images=check_images,
        nearest_km=nearest_km,
    )


def load_yfcc4k(
    csv_path: Path,
    images_dir: Path | None = None,
    *,
    order: Order = "auto",
    check_images: ImageCheck = "header",
    nearest_km: NearestKm | None = None,
) -> LoadedDataset:
    """YFCC4k (IMG_ID, LAT, LON CSV + image folder); coordinates checked as for Im2GPS3k."""
    return load_flickr_csv(
        csv_path,
        images_dir,
        name="yfcc4k",
        order=order,
        check_images=check_images,
        nearest_km=nearest_km,
    )
