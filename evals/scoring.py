"""Scoring a run's results, failures included.

How failures count: a failed image (unreadable image, model error, timeout, no
coordinates) is a miss at every threshold and scores 0 GeoScore points; accuracy is
hits / all images attempted. The median error counts a failure as an infinite error (it
is reported as missing once half the images failed); the mean error, the bootstrap
intervals, the breakdowns and the agent statistics cover the answered images only, and
say so. The `answered` report is what `gre eval score` gives on the answered rows.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from gre_agent.evals._predictions import PredictionRow
from gre_agent.evals._results import RESULTS_NAME, read_rows
from gre_agent.evals._score import ScoreReport, score_rows
from gre_agent.evals.metrics import (
    THRESHOLDS_KM,
    DistanceMethod,
    accuracy_within,
    distance_km,
    geoscore,
)

FAILURE_RULE = (
    "failed images (bad image, model error, timeout, no coordinates) count as misses at "
    "every threshold and 0 GeoScore points; the median counts them as infinite errors; "
    "mean error, intervals and breakdowns cover answered images only"
)


class RunScore(BaseModel):
    n: int  # images with a row
    n_answered: int
    n_failed: int
    failures: dict[str, int] = Field(default_factory=dict)  # by status
    acc_km: dict[str, float]  # over all n, failures as misses
    median_km: float | None  # failures as infinite; None when undefined
    mean_geoscore: float  # over all n, failures as 0
    answered: ScoreReport
    failure_rule: str = FAILURE_RULE


def is_answered(row: dict[str, Any]) -> bool:
    return row.get("pred_lat") is not None and row.get("pred_lon") is not None


def load_results(run_dir: Path) -> list[dict[str, Any]]:
    return list(read_rows(Path(run_dir) / RESULTS_NAME).values())


def row_distances(rows: list[dict[str, Any]], method: DistanceMethod = "geodesic") -> np.ndarray:
    """Error in km per row; +inf for failed rows (and rows with impossible coordinates)."""
    d = np.full(len(rows), np.inf)
    idx = [i for i, r in enumerate(rows) if is_answered(r)]
    if not idx:
        return d
    cols = {
        k: np.array([float(rows[i][k]) for i in idx])
        for k in ("pred_lat", "pred_lon", "gt_lat", "gt_lon")
    }
    valid = np.ones(len(idx), dtype=bool)
    for k, bound in (("pred_lat", 90), ("gt_lat", 90), ("pred_lon", 180), ("gt_lon", 180)):
        valid &= np.isfinite(cols[k]) & (np.abs(cols[k]) <= bound)
    pick = np.array(idx)[valid]
    d[pick] = distance_km(
        cols["pred_lat"][valid],
        cols["pred_lon"][valid],
        cols["gt_lat"][valid],
        cols["gt_lon"][valid],
        method,
    )
    return d


def score_results(
    rows: list[dict[str, Any]],
    *,
    distance: DistanceMethod = "geodesic",
    bootstrap: int = 1000,
    seed: int = 0,
    admin: str = "auto",
) -> RunScore:
    # by id: the numbers (bootstrap draws, float sums) never depend on completion order
    rows = sorted(rows, key=lambda r: str(r.get("id")))
    answered: list[PredictionRow] = []
    failures: Counter[str] = Counter()
    d_all = np.full(len(rows), np.inf)  # failures: infinitely far
    ok: list[int] = []
    for i, row in enumerate(rows):
        if not is_answered(row):
            failures[str(row.get("status") or "error")] += 1
            continue
        try:
            answered.append(PredictionRow.model_validate(row))
            ok.append(i)
        except ValidationError:
            failures["bad_row"] += 1
    report = score_rows(
        answered,
        distance=distance,
        bootstrap=bootstrap,
        seed=seed,
        admin=admin,  # type: ignore[arg-type]
    )
    if ok:
        d_all[np.array(ok)] = distance_km(
            np.array([r.pred_lat for r in answered]),
            np.array([r.pred_lon for r in answered]),
            np.array([r.gt_lat for r in answered]),
            np.array([r.gt_lon for r in answered]),
            distance,
        )
    n = len(rows)
    median = float(np.median(d_all)) if n else float("nan")
    return RunScore(
        n=n,
        n_answered=len(answered),
        n_failed=n - len(answered),
        failures=dict(failures),
        acc_km=accuracy_within(d_all, THRESHOLDS_KM) if n else {},
        median_km=median if np.isfinite(median) else None,
        mean_geoscore=float(geoscore(d_all).mean()) if n else 0.0,
        answered=report,
    )
