"""GREval-Bench: `{sample_id, image_path, gt_cot, gt_lat, gt_lon}` records, one file or a
folder of files, with urban / natural / landmark scenes.

Where a record names no scene, the scene is taken from the file name (`urban.jsonl`) or
from a folder in its image path (`natural/0001.jpg`); the report says how many rows got
their scene from where.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from gre_agent.evals.datasets._model import LoadedDataset, SampleMeta
from gre_agent.evals.datasets._records import images_root as root_of
from gre_agent.evals.datasets._records import read_records, record_files, require
from gre_agent.evals.datasets._rows import ImageCheck, ImageResolver, SampleBuilder, clean_label

SCENES = ("urban", "natural", "landmark")
_SCENE_KEYS = ("scene", "scene_type", "category", "type", "split")
_KNOWN = {"sample_id", "id", "image_path", "image", "gt_cot", "gt_lat", "gt_lon", *_SCENE_KEYS}


def _scene(record: dict, file: Path, image: str) -> tuple[str | None, str]:
    for key in _SCENE_KEYS:
        value = clean_label(record.get(key))
        if value:
            return value.casefold(), f"field {key}"
    if file.stem.casefold() in SCENES:
        return file.stem.casefold(), "file name"
    for part in Path(image).parts[:-1]:
        if part.casefold() in SCENES:
            return part.casefold(), "image folder"
    return None, "none"


def load_greval(
    path: Path,
    images_root: Path | None = None,
    *,
    split: str | None = None,
    check_images: ImageCheck = "header",
) -> LoadedDataset:
    """Load GREval-Bench from a JSON / JSON-lines file or a folder of them.

    `split` ("urban", "natural" or "landmark") keeps one scene type; the report still
    counts every row read. Image paths are relative to `images_root` (default: the
    folder of the records).
    """
    files = record_files(Path(path))
    resolver = ImageResolver(root_of(path, images_root))
    builder = SampleBuilder("greval", str(path), "greval", check_images)
    origins: Counter[str] = Counter()
    for file in files:
        builder.file = file.name if len(files) > 1 else None
        for number, record in read_records(file):

            def make(record=record, file=file):
                r = require(record)
                sample_id = clean_label(r.get("sample_id", r.get("id")))
                image = clean_label(r.get("image_path", r.get("image")))
                if image is None:
                    raise ValueError("image_path is missing")
                scene, origin = _scene(r, file, image)
                origins[origin] += 1
                extra = {k: v for k, v in r.items() if k not in _KNOWN}
                if len(files) > 1:
                    extra["file"] = file.name
                meta = SampleMeta(scene=scene, gt_cot=r.get("gt_cot"), extra=extra)
                return sample_id, resolver.by_path(image), r.get("gt_lat"), r.get("gt_lon"), meta

            builder.add(number, make)
    builder.decide(
        "scene taken from: " + ", ".join(f"{k} ({v} rows)" for k, v in sorted(origins.items()))
    )
    loaded = builder.finish()
    if split is None:
        return loaded
    if split.casefold() not in SCENES:
        raise ValueError(f"split must be one of {SCENES}, got {split!r}")
    return loaded.split(split)
