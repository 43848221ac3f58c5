"""Hugging Face datasets saved with `save_to_disk` (read with `datasets.load_from_disk`;
nothing is downloaded). Images may be paths, or embedded `Image` features: embedded
bytes are written once to `extract_dir` under their content hash, so every Sample
still points at a file."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from gre_agent.evals.datasets._model import DatasetFormatError, LoadedDataset, SampleMeta
from gre_agent.evals.datasets._rows import ImageCheck, ImageResolver, SampleBuilder
from gre_agent.evals.datasets._table import Columns, row_to_sample

_MAGIC = ((b"\xff\xd8\xff", ".jpg"), (b"\x89PNG", ".png"), (b"RIFF", ".webp"), (b"GIF8", ".gif"))


def _suffix(data: bytes) -> str:
    return next((s for magic, s in _MAGIC if data.startswith(magic)), ".bin")


def _open(path: Path, split: str | None):
    try:
        import datasets
    except ImportError as exc:
        raise DatasetFormatError(
            "reading HF datasets needs: pip install 'gre-agent[eval]'"
        ) from exc
    try:
        loaded = datasets.load_from_disk(str(path))
    except FileNotFoundError as exc:
        raise DatasetFormatError(f"{path}: not a dataset saved with save_to_disk ({exc})") from exc
    if isinstance(loaded, datasets.DatasetDict):
        names = list(loaded.keys())
        chosen = split or ("test" if "test" in names else names[0] if len(names) == 1 else None)
        if chosen not in loaded:
            raise DatasetFormatError(f"{path}: choose a split among {names}")
        return loaded[chosen], chosen
    return loaded, split


def load_hf_disk(
    path: Path,
    columns: Columns | None = None,
    *,
    split: str | None = None,
    images_root: Path | None = None,
    extract_dir: Path | None = None,
    check_images: ImageCheck = "header",
) -> LoadedDataset:
    """Load a dataset saved on disk. `split` picks one of a DatasetDict's splits (default:
    "test", or the only one). Embedded images go to `extract_dir` (default:
    `<path>.images` beside the dataset)."""
    path = Path(path)
    ds, chosen = _open(path, split)
    import datasets  # present: _open checked

    columns = columns or Columns.detect(ds.column_names)
    if columns.image and isinstance(ds.features.get(columns.image), datasets.Image):
        ds = ds.cast_column(columns.image, datasets.Image(decode=False))  # keep bytes, not PIL
    extract = (
        Path(extract_dir) if extract_dir is not None else path.with_name(path.name + ".images")
    )
    resolver = ImageResolver(images_root if images_root is not None else path)
    builder = SampleBuilder(path.name, str(path), "hf_disk", check_images)
    builder.decide(
        f"split: {chosen or 'single dataset'}; columns: {columns.model_dump(exclude_none=True)}"
    )

    def materialise(row: dict[str, Any]) -> dict[str, Any]:
        image = columns.image
        value = row.get(image) if image else None
        if image is None or not isinstance(value, dict):
            return row
        stored = value.get("path")
        if stored and Path(stored).is_file():
            return {**row, image: stored}
        data = value.get("bytes")
        if not data:
            return {**row, image: stored}
        target = extract / (hashlib.sha256(data).hexdigest()[:24] + _suffix(data))
        if not target.exists():
            extract.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(target.suffix + ".part")
            tmp.write_bytes(data)
            tmp.replace(target)  # atomic: a crash never leaves half an image under the name
        return {**row, image: str(target)}

    def sample(row: dict[str, Any]) -> tuple[Any, Path, Any, Any, SampleMeta]:
        return row_to_sample(materialise(row), columns, resolver)

    for number, row in enumerate(ds, start=1):
        builder.add(number, functools.partial(sample, row))
    return builder.finish()
