"""Images in, pixels out: decoding, DataLoader batching and (image, score) pairs files."""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from gre_agent.agent._locatability_base import ImageLoadError, LocatabilityError

ImageInput = str | os.PathLike[str] | Image.Image


def load_image(source: ImageInput) -> Image.Image:
    """An RGB PIL image from a path or a PIL image; `ImageLoadError` if unreadable."""
    if isinstance(source, Image.Image):
        return source if source.mode == "RGB" else source.convert("RGB")
    path = Path(source)
    try:
        with Image.open(path) as img:
            return img.convert("RGB")  # forces a full decode: truncated files fail here
    except FileNotFoundError as exc:
        raise ImageLoadError(path, "no such file") from exc
    except IsADirectoryError as exc:
        raise ImageLoadError(path, "is a directory") from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(path, "not an image or an unsupported format") from exc
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(path, f"too large ({exc})") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageLoadError(path, f"corrupt image ({exc})") from exc


def describe(source: ImageInput) -> str:
    if isinstance(source, Image.Image):
        return f"<image {source.width}x{source.height}>"
    return str(source)


# --- batching -----------------------------------------------------------------------------


class Images(Dataset):
    """Items for a DataLoader: (index, image source); decoding happens in the collate."""

    def __init__(self, sources: Sequence[ImageInput]):
        self.sources = sources

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, i: int) -> tuple[int, ImageInput]:
        return i, self.sources[i]


@dataclass
class Batch:
    indices: list[int]
    pixel_values: torch.Tensor | None
    errors: dict[int, ImageLoadError]


class Collate:
    """Decodes a batch of sources and runs the CLIP preprocessing; keeps decode errors."""

    def __init__(self, processor: Any):
        self.processor = processor

    def __call__(self, items: list[tuple[int, ImageInput]]) -> Batch:
        indices, images, errors = [], [], {}
        for i, source in items:
            try:
                images.append(load_image(source))
                indices.append(i)
            except ImageLoadError as exc:
                errors[i] = exc
        pixels = None
        if images:
            pixels = self.processor(images=images, return_tensors="pt")["pixel_values"]
        return Batch(indices, pixels, errors)


# --- pairs files --------------------------------------------------------------------------

_IMAGE_KEYS = ("image", "image_path", "path", "file")
_SCORE_KEYS = ("score", "locatability", "label")


def _pick(record: dict[str, Any], keys: Sequence[str], where: str) -> Any:
    for key in keys:
        if key in record and record[key] not in (None, ""):
            return record[key]
    raise LocatabilityError(f"{where}: needs one of the fields {', '.join(keys)}")


def read_pairs(path: str | os.PathLike[str]) -> list[tuple[Path, float]]:
    """(image, score) pairs from a CSV (with a header) or a JSON-lines file.

    Fields: the image as `image`, `image_path`, `path` or `file`; the score as `score`,
    `locatability` or `label`, in [0, 1]. Relative image paths are relative to the file.
    """
    src = Path(path)
    try:
        text = src.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise LocatabilityError(f"cannot read {src}: {exc}") from exc
    if src.suffix.lower() == ".csv":
        rows = [(n + 2, r) for n, r in enumerate(csv.DictReader(text.splitlines()))]
    elif src.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        rows = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LocatabilityError(f"{src}:{n}: not JSON: {exc}") from exc
            if not isinstance(record, dict):
                raise LocatabilityError(f"{src}:{n}: expected a JSON object")
            rows.append((n, record))
    else:
        raise LocatabilityError(f"{src}: expected a .csv or .jsonl file")
    pairs = []
    for n, record in rows:
        where = f"{src}:{n}"
        image = Path(str(_pick(record, _IMAGE_KEYS, where)))
        try:
            score = float(_pick(record, _SCORE_KEYS, where))
        except (TypeError, ValueError) as exc:
            raise LocatabilityError(f"{where}: the score is not a number") from exc
        if not (math.isfinite(score) and 0.0 <= score <= 1.0):
            raise LocatabilityError(f"{where}: score {score} is outside [0, 1]")
        pairs.append((image if image.is_absolute() else src.parent / image, score))
    if not pairs:
        raise LocatabilityError(f"{src}: no pairs")
    return pairs
