"""Ground truth and evaluation images, matched to trajectories by id, path or pixels' hash.

Ground truth comes from a CSV / TSV / JSON / JSON-lines table (columns found among common
spellings: id | image_id | sample_id, image | image_path | path, gt_lat | lat | latitude,
gt_lon | lon | longitude, optionally sha256), or from an evaluation run folder (its
`results.jsonl` / `predictions.jsonl` / `results.csv` rows carry `gt_lat`, `gt_lon`).
A trajectory matches a row by the image file's sha256, its path, its file name, or its
stem (the id the loaders give images named `<id>.jpg`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gre_agent.core.columns import LAT, LON, pick
from gre_agent.core.errors import GreError
from gre_agent.core.geo import is_latitude, is_longitude
from gre_agent.core.trace import file_sha256

__all__ = ["Exclusions", "GroundTruth", "GroundTruthError", "read_rows"]

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
RUN_FILES = ("results.jsonl", "predictions.jsonl", "results.json", "results.csv")
_ID = ("id", "image_id", "sample_id", "img_id", "uid")
_IMAGE = ("image_path", "image", "img_path", "path", "file", "filename")
_LAT = LAT  # the one resolver the evaluation loaders use too (core/columns.py)
_LON = LON
_SHA = ("image_sha256", "sha256")


class GroundTruthError(GreError, ValueError):
    """A ground-truth or exclusion source that cannot be read as a whole."""


def _pick(row: dict[str, Any], names: tuple[str, ...]) -> Any:
    return pick(row, names)


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a CSV / TSV / JSON list / JSON-lines file, or of a run folder's results file."""
    path = Path(path)
    if path.is_dir():
        for name in RUN_FILES:
            if (path / name).exists():
                return read_rows(path / name)
        raise GroundTruthError(f"{path}: no {' / '.join(RUN_FILES)} in this run folder")
    if not path.exists():
        raise GroundTruthError(f"no file at {path}")
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8-sig")
    if suffix in (".csv", ".tsv", ".txt"):
        return list(csv.DictReader(text.splitlines(), delimiter="\t" if suffix == ".tsv" else ","))
    if suffix == ".json":
        data = json.loads(text)
        if isinstance(data, dict):
            data = next((v for v in data.values() if isinstance(v, list)), None)
        if not isinstance(data, list):
            raise GroundTruthError(f"{path}: expected a list of records")
        return [r for r in data if isinstance(r, dict)]
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise GroundTruthError(f"{path}:{n}: not JSON ({exc})") from exc
    return [r for r in rows if isinstance(r, dict)]


def _keys(image: str | None, ident: str | None, sha: str | None) -> list[str]:
    keys = []
    if sha:
        keys.append(f"sha:{sha.lower()}")
    if ident:
        keys.append(f"id:{ident}")
    if image:
        p = Path(image)
        keys += [f"path:{p}", f"path:{p.resolve()}", f"name:{p.name}", f"id:{p.stem}"]
    return keys


def _image_keys(image: str, sha: str | None) -> list[str]:
    return _keys(image, None, sha)


@dataclass
class GroundTruth:
    """Image -> (lat, lon). `lookup(image, sha256)` tries hash, path, name, then id."""

    points: dict[str, tuple[float, float]] = field(default_factory=dict)
    rows: int = 0
    skipped: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, *sources: str | Path) -> GroundTruth:
        gt = cls()
        for source in sources:
            gt.add_rows(read_rows(source), str(source))
        return gt

    def add_rows(self, rows: Iterable[dict[str, Any]], where: str = "") -> None:
        for n, row in enumerate(rows, 1):
            try:
                lat, lon = float(_pick(row, _LAT)), float(_pick(row, _LON))
            except (TypeError, ValueError):
                self.skipped.append(f"{where}:{n}: no usable gt latitude/longitude")
                continue
            if not (is_latitude(lat) and is_longitude(lon)):
                self.skipped.append(f"{where}:{n}: ({lat}, {lon}) is out of range")
                continue
            ident, image, sha = _pick(row, _ID), _pick(row, _IMAGE), _pick(row, _SHA)
            keys = _keys(str(image) if image else None, str(ident) if ident else None, sha)
            if not keys:
                self.skipped.append(f"{where}:{n}: no id, image or sha256")
                continue
            self.rows += 1
            for k in keys:
                self.points.setdefault(k, (lat, lon))

    def lookup(self, image: str, sha256: str | None = None) -> tuple[float, float] | None:
        for k in _image_keys(image, sha256):
            if k in self.points:
                return self.points[k]
        return None

    def __len__(self) -> int:
        return self.rows


@dataclass
class Exclusions:
    """Evaluation images that must never reach training data (by sha256, path, name or id)."""

    keys: set[str] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)

    def add(self, source: str | Path) -> None:
        """A folder of images, a run folder, a table (id / image / sha256 columns), or a
        plain list (one id, path or sha256 per line)."""
        source = Path(source)
        self.sources.append(str(source))
        if source.is_dir() and not any((source / n).exists() for n in RUN_FILES):
            for p in sorted(source.rglob("*")):
                if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
                    self._add_image(str(p), None, None)
            return
        if source.is_file() and source.suffix.lower() in (".txt", ".lst", ""):
            for line in source.read_text(encoding="utf-8").splitlines():
                item = line.strip()
                if not item or item.startswith("#"):
                    continue
                if len(item) == 64 and all(c in "0123456789abcdefABCDEF" for c in item):
                    self.keys.add(f"sha:{item.lower()}")
                elif Path(item).suffix.lower() in IMAGE_SUFFIXES or "/" in item:
                    self._add_image(item, None, None)
                else:
                    self.keys.add(f"id:{item}")
            return
        for row in read_rows(source):
            image, ident, sha = _pick(row, _IMAGE), _pick(row, _ID), _pick(row, _SHA)
            self._add_image(str(image) if image else None, str(ident) if ident else None, sha)

    def _add_image(self, image: str | None, ident: str | None, sha: str | None) -> None:
        if image and not sha and Path(image).is_file():
            sha = file_sha256(image)  # the same photo under another name is still leakage
        self.keys.update(_keys(image, ident, sha))

    def excludes(self, image: str, sha256: str | None = None) -> bool:
        return any(k in self.keys for k in _image_keys(image, sha256))
