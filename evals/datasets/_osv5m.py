"""OSV-5M: `test.csv` (id, latitude, longitude, ..., country, region, sub-region, city)
and images named by id (flat, or in the sharded folders the zips unpack to)."""

from __future__ import annotations

import csv
from pathlib import Path

from gre_agent.evals.datasets._model import DatasetFormatError, LoadedDataset, SampleMeta
from gre_agent.evals.datasets._rows import ImageCheck, ImageResolver, SampleBuilder, clean_label

_LABELS = {"country": "country", "region": "region", "sub-region": "sub_region", "city": "city"}


def load_osv5m(
    csv_path: Path,
    images_dir: Path | None = None,
    *,
    check_images: ImageCheck = "header",
) -> LoadedDataset:
    """Load OSV-5M's test split; country/region/sub-region/city become the labels that
    country/region/city accuracy is measured against. `images_dir` defaults to
    `images/test` beside the CSV when that exists, else the CSV's folder."""
    csv_path = Path(csv_path)
    if images_dir is None:
        guess = csv_path.parent / "images" / "test"
        images_dir = guess if guess.is_dir() else csv_path.parent
    resolver = ImageResolver(images_dir)
    builder = SampleBuilder("osv5m", str(csv_path), "osv5m", check_images)
    with csv_path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        fields = set(reader.fieldnames or [])
        missing = {"id", "latitude", "longitude"} - fields
        if missing:
            raise DatasetFormatError(f"{csv_path}: OSV-5M columns {sorted(missing)} are missing")
        for number, row in enumerate(reader, start=1):

            def make(row=row):
                sample_id = clean_label(row.get("id"))
                labels = {dst: clean_label(row.get(src)) for src, dst in _LABELS.items()}
                extra = {
                    k: v
                    for k, v in row.items()
                    if k not in _LABELS and k not in {"id", "latitude", "longitude"} and k
                }
                meta = SampleMeta(**labels, extra=extra)
                image = resolver.by_id(sample_id) if sample_id else resolver.root
                return sample_id, image, row.get("latitude"), row.get("longitude"), meta

            builder.add(number, make)
    return builder.finish()
