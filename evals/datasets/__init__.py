"""Evaluation datasets: one loader per source format, all returning a `LoadedDataset`
(pydantic `Sample`s plus a `LoadReport`).

A bad row (missing or corrupt image, unparsable or out-of-range coordinates, duplicate
id, malformed record) is never dropped silently and never ends a load: it is counted in
`report.problems` with its row, id and reason. Only a source that is wrong as a whole
(no header, no coordinate columns) raises `DatasetFormatError`.

    >>> ds = load_im2gps3k("im2gps3k_places365.csv", "im2gps3k/")  # doctest: +SKIP
    >>> ds.report.decisions  # which column really holds latitudes, and the evidence
    >>> ds.fingerprint()     # for run manifests
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gre_agent.evals.datasets._coords import ColumnDecision, detect_lat_column
from gre_agent.evals.datasets._flickr import load_im2gps3k, load_yfcc4k
from gre_agent.evals.datasets._gre30k import load_gre30k
from gre_agent.evals.datasets._greval import SCENES, load_greval
from gre_agent.evals.datasets._hf import load_hf_disk
from gre_agent.evals.datasets._model import (
    DatasetFormatError,
    LoadedDataset,
    LoadReport,
    RowProblem,
    Sample,
    SampleMeta,
    fingerprint,
)
from gre_agent.evals.datasets._osv5m import load_osv5m
from gre_agent.evals.datasets._table import Columns, load_table

LOADERS: dict[str, Callable[..., LoadedDataset]] = {
    "im2gps3k": load_im2gps3k,
    "yfcc4k": load_yfcc4k,
    "osv5m": load_osv5m,
    "greval": load_greval,
    "gre30k": load_gre30k,
    "table": load_table,
    "hf": load_hf_disk,
}


def load_dataset(kind: str, path: str | Path, *args: Any, **kwargs: Any) -> LoadedDataset:
    """Load by format name (one of LOADERS), e.g. `load_dataset("greval", "bench.jsonl")`."""
    try:
        loader = LOADERS[kind]
    except KeyError:
        raise DatasetFormatError(
            f"unknown dataset kind {kind!r}: one of {sorted(LOADERS)}"
        ) from None
    return loader(Path(path), *args, **kwargs)


__all__ = [
    "LOADERS",
    "SCENES",
    "ColumnDecision",
    "Columns",
    "DatasetFormatError",
    "LoadReport",
    "LoadedDataset",
    "RowProblem",
    "Sample",
    "SampleMeta",
    "detect_lat_column",
    "fingerprint",
    "load_dataset",
    "load_gre30k",
    "load_greval",
    "load_hf_disk",
    "load_im2gps3k",
    "load_osv5m",
    "load_table",
    "load_yfcc4k",
]
