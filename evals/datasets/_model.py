"""Samples, per-row problems, load reports, and the dataset fingerprint."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gre_agent.core.errors import GreError
from gre_agent.core.geo import Latitude, Longitude

ProblemKind = Literal[
    "missing_image", "corrupt_image", "bad_coordinates", "bad_row", "duplicate_id"
]


class DatasetFormatError(GreError, ValueError):
    """A source as a whole is not in the expected format (no header, no such columns).

    Single bad rows never raise: they become RowProblems in the LoadReport.
    """


class SampleMeta(BaseModel):
    """What a benchmark knows about an image besides its coordinates."""

    model_config = ConfigDict(extra="forbid")

    scene: str | None = None  # urban / natural / landmark (GREval), indoor / ... (Im2GPS3k)
    country: str | None = None  # as the source writes it (OSV-5M: ISO alpha-2)
    region: str | None = None
    sub_region: str | None = None
    city: str | None = None
    gt_cot: str | None = None  # reference chain of thought (GREval-Bench, GRE30K)
    extra: dict[str, Any] = Field(default_factory=dict)  # everything else the source holds


class Sample(BaseModel):
    """One evaluation image with its ground truth."""

    model_config = ConfigDict(frozen=True)

    id: str
    image_path: Path
    gt_lat: Latitude
    gt_lon: Longitude
    metadata: SampleMeta = Field(default_factory=SampleMeta)


class RowProblem(BaseModel):
    """A row that was not loaded, and why. `row` is the 1-based data row (CSV, header
    excluded; JSON list) or line (JSON lines); `file` is set when a source has several."""

    row: int | None = None
    file: str | None = None
    id: str | None = None
    kind: ProblemKind
    reason: str


class LoadReport(BaseModel):
    """What a loader read, kept, refused, and decided."""

    source: str
    format: str
    rows: int = 0
    loaded: int = 0
    problems: list[RowProblem] = Field(default_factory=list)
    decisions: list[str] = Field(default_factory=list)  # e.g. which column holds latitudes

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(p.kind for p in self.problems))

    def summary(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items())) or "no problems"
        return f"{self.format} {self.source}: {self.loaded}/{self.rows} rows loaded ({counts})"


def fingerprint(samples: list[Sample]) -> str:
    """sha256 over sorted ids, coordinates (repr, exact) and image file sizes (-1 if gone).

    Two runs with the same fingerprint scored the same images against the same truth.
    """
    h = hashlib.sha256()
    for s in sorted(samples, key=lambda s: s.id):
        try:
            size = s.image_path.stat().st_size
        except OSError:
            size = -1
        h.update(f"{s.id}\t{s.gt_lat!r}\t{s.gt_lon!r}\t{size}\n".encode())
    return "sha256:" + h.hexdigest()


class LoadedDataset(BaseModel):
    """The samples of one source and the report of loading them."""

    name: str
    samples: list[Sample]
    report: LoadReport

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:  # type: ignore[override]
        return iter(self.samples)

    def fingerprint(self) -> str:
        return fingerprint(self.samples)

    def by_id(self) -> dict[str, Sample]:
        return {s.id: s for s in self.samples}

    def split(self, scene: str) -> LoadedDataset:
        """The samples of one scene type (e.g. GREval-Bench's "urban"), same report."""
        key = scene.casefold()
        kept = [s for s in self.samples if (s.metadata.scene or "").casefold() == key]
        return LoadedDataset(name=f"{self.name}:{scene}", samples=kept, report=self.report)
