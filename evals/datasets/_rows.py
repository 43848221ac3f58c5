"""Shared row handling: coordinate parsing, image checks, and the builder every loader
feeds, so that a bad row is always reported and counted and never ends a load."""

from __future__ import annotations

import math
import os
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from PIL import Image, UnidentifiedImageError

from gre_agent.core.errors import GreError
from gre_agent.evals.datasets._model import (
    LoadedDataset,
    LoadReport,
    ProblemKind,
    RowProblem,
    Sample,
    SampleMeta,
)

ImageCheck = Literal["exists", "header", "decode"]
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".JPG", ".JPEG", ".PNG")


class RowError(GreError):
    """A row cannot become a sample; `kind` says which way it failed."""

    def __init__(self, kind: ProblemKind, reason: str):
        self.kind = kind
        super().__init__(reason)


def parse_coordinate(value: Any, name: str, limit: float) -> float:
    """A finite float within [-limit, limit], from a number or a numeric string."""
    if isinstance(value, bool) or value is None:
        raise RowError("bad_coordinates", f"{name} is missing")
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise RowError("bad_coordinates", f"{name} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise RowError("bad_coordinates", f"{name} is {number}")
    if abs(number) > limit:
        raise RowError("bad_coordinates", f"{name} {number} is outside [-{limit:g}, {limit:g}]")
    return number


def check_image(path: Path, how: ImageCheck) -> None:
    """Raise RowError when the image is missing or (to the chosen depth) unreadable.

    "exists": present and non-empty; "header": Pillow identifies it (cheap); "decode":
    every pixel decodes, which also catches truncated files.
    """
    try:
        size = path.stat().st_size
    except OSError:
        raise RowError("missing_image", f"no image at {path}") from None
    if not path.is_file():
        raise RowError("missing_image", f"{path} is not a file")
    if size == 0:
        raise RowError("corrupt_image", f"{path} is empty")
    if how == "exists":
        return
    try:
        with warnings.catch_warnings():
            # A very large image warns; it is not a broken one.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if how == "decode":
                    img.load()
                else:
                    img.verify()
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    ) as exc:
        raise RowError("corrupt_image", f"{path}: {type(exc).__name__}: {exc}") from None


class ImageResolver:
    """Finds an image by relative path or by id under a root folder.

    Copies of a benchmark differ in layout (flat, sharded sub-folders): when the direct
    path is absent, a file with the same name (or id plus an image suffix) anywhere under
    the root is used, but only if exactly one exists.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self._by_name: dict[str, list[Path]] | None = None

    def _index(self) -> dict[str, list[Path]]:
        if self._by_name is None:
            found: dict[str, list[Path]] = defaultdict(list)
            if self.root.is_dir():
                for folder, _, files in os.walk(self.root):
                    for f in files:
                        found[f].append(Path(folder) / f)
            self._by_name = found
        return self._by_name

    def _unique(self, name: str) -> Path | None:
        hits = self._index().get(name, [])
        return hits[0] if len(hits) == 1 else None

    def by_path(self, relative: str | os.PathLike[str]) -> Path:
        path = Path(relative)
        direct = path if path.is_absolute() else self.root / path
        if direct.exists():
            return direct
        return self._unique(path.name) or direct

    def by_id(self, sample_id: str) -> Path:
        for suffix in IMAGE_SUFFIXES:
            direct = self.root / f"{sample_id}{suffix}"
            if direct.exists():
                return direct
        for suffix in IMAGE_SUFFIXES:
            hit = self._unique(f"{sample_id}{suffix}")
            if hit:
                return hit
        return self.root / f"{sample_id}.jpg"


class SampleBuilder:
    """Collects samples and problems for one load; one call per source row."""

    def __init__(self, name: str, source: str, fmt: str, check: ImageCheck = "header"):
        self.name = name
        self.check = check
        self.samples: list[Sample] = []
        self.report = LoadReport(source=source, format=fmt)
        self._seen: set[str] = set()
        self.file: str | None = None  # set by loaders that read several files

    def problem(self, row: int | None, sample_id: Any, kind: ProblemKind, reason: str) -> None:
        self.report.problems.append(
            RowProblem(
                row=row,
                file=self.file,
                id=None if sample_id is None else str(sample_id),
                kind=kind,
                reason=reason,
            )
        )

    def add(self, row: int, make: Callable[[], tuple[str, Path, Any, Any, SampleMeta]]) -> None:
        """Run `make` (which parses one row into id, image, lat, lon, metadata) and keep
        the sample, or record why not. Any error in parsing is a problem of that row."""
        self.report.rows += 1
        sample_id: str | None = None
        try:
            sample_id, image, lat, lon, meta = make()
            sample_id = str(sample_id).strip() if sample_id is not None else ""
            if not sample_id:
                raise RowError("bad_row", "id is missing")
            if sample_id in self._seen:
                raise RowError("duplicate_id", f"id {sample_id!r} appeared in an earlier row")
            gt_lat = parse_coordinate(lat, "latitude", 90.0)
            gt_lon = parse_coordinate(lon, "longitude", 180.0)
            check_image(image, self.check)
            sample = Sample(
                id=sample_id, image_path=image, gt_lat=gt_lat, gt_lon=gt_lon, metadata=meta
            )
        except RowError as exc:
            self.problem(row, sample_id, exc.kind, str(exc))
            return
        except Exception as exc:  # a malformed row of any shape is that row's problem only
            self.problem(row, sample_id, "bad_row", f"{type(exc).__name__}: {exc}")
            return
        self._seen.add(sample_id)
        self.samples.append(sample)

    def decide(self, text: str) -> None:
        self.report.decisions.append(text)

    def finish(self) -> LoadedDataset:
        self.report.loaded = len(self.samples)
        return LoadedDataset(name=self.name, samples=self.samples, report=self.report)


def clean_label(value: Any) -> str | None:
    """A label string, or None for the spellings of "no label" tables use."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return None if text.casefold() in {"", "nan", "none", "null"} else text
