"""Scoring a set of prediction rows: the headline numbers plus intervals and breakdowns."""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from gre_agent.evals._admin import AdminAccuracy, Reverser, admin_accuracy, labels_from_coordinates
from gre_agent.evals._agent_stats import AgentStats, agent_stats
from gre_agent.evals._bootstrap import SummaryCI, bootstrap_ci
from gre_agent.evals._predictions import PredictionRow
from gre_agent.evals.datasets import RowProblem
from gre_agent.evals.metrics import (
    EARTH_RADIUS_KM,
    GEOSCORE_SCALE_KM,
    THRESHOLD_RULE,
    THRESHOLDS_KM,
    DistanceMethod,
    DistanceSummary,
    distance_km,
    summarize,
)

AdminMode = Literal["auto", "labels", "gt", "off"]


def conventions(method: DistanceMethod) -> str:
    """The sentence that goes wherever these numbers are reported."""
    how = (
        "geodesic on WGS-84 (Karney; = geopy.distance.geodesic)"
        if method == "geodesic"
        else f"haversine on a sphere of R = {EARTH_RADIUS_KM} km"
    )
    return (
        f"distance: {how}; correct at T when {THRESHOLD_RULE} (peers using d < T differ only "
        f"on exact ties); GeoScore = 5000 * exp(-d / {GEOSCORE_SCALE_KM}) averaged unrounded"
    )


class ScoreReport(BaseModel):
    n: int  # rows scored
    n_bad: int  # rows refused (listed in `problems`)
    distance: DistanceMethod
    threshold_rule: str = THRESHOLD_RULE
    acc_km: dict[str, float]
    median_km: float
    mean_km: float
    mean_geoscore: float
    ci: SummaryCI | None = None
    by_scene: dict[str, DistanceSummary] = Field(default_factory=dict)
    admin: AdminAccuracy | None = None
    admin_labels: dict[str, int] | None = None  # rows labelled by the data / from the truth
    agent: AgentStats | None = None
    conventions: str
    problems: list[RowProblem] = Field(default_factory=list)


def score_rows(
    rows: list[PredictionRow],
    problems: list[RowProblem] | None = None,
    *,
    distance: DistanceMethod = "geodesic",
    bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    admin: AdminMode = "auto",
    reverser: Reverser | None = None,
) -> ScoreReport:
    """Score rows. `bootstrap` resamples (0: no intervals). `admin`: "auto" scores
    country/region/city when some row has labels; "labels" always (rows without labels
    are left out per level); "gt" labels unlabelled rows with their truth's own place;
    "off" skips it."""
    problems = list(problems or [])
    lat = np.array([r.pred_lat for r in rows], dtype=np.float64)
    lon = np.array([r.pred_lon for r in rows], dtype=np.float64)
    gt_lat = np.array([r.gt_lat for r in rows], dtype=np.float64)
    gt_lon = np.array([r.gt_lon for r in rows], dtype=np.float64)
    d = distance_km(lat, lon, gt_lat, gt_lon, distance)
    head = summarize(d, THRESHOLDS_KM)

    scenes: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        if r.scene:
            scenes[r.scene].append(i)
    by_scene = {s: summarize(d[idx]) for s, idx in sorted(scenes.items())}

    admin_result, admin_labels = None, None
    labelled = [r.has_labels for r in rows]
    if rows and (admin in ("labels", "gt") or (admin == "auto" and any(labelled))):
        labels = {
            "country": [r.country for r in rows],
            "region": [r.region for r in rows],
            "sub_region": [r.sub_region for r in rows],
            "city": [r.city for r in rows],
        }
        derived = 0
        if admin == "gt" and not all(labelled):
            missing = [i for i, ok in enumerate(labelled) if not ok]
            found = labels_from_coordinates(gt_lat[missing], gt_lon[missing], reverser)
            for level_name, column in labels.items():
                for j, i in enumerate(missing):
                    column[i] = found[level_name][j]
            derived = len(missing)
        admin_result = admin_accuracy(lat, lon, labels, reverser)
        admin_labels = {"from_data": sum(labelled), "from_ground_truth": derived}

    return ScoreReport(
        n=head.n,
        n_bad=len(problems),
        distance=distance,
        acc_km=head.acc_km,
        median_km=head.median_km,
        mean_km=head.mean_km,
        mean_geoscore=head.mean_geoscore,
        ci=bootstrap_ci(d, THRESHOLDS_KM, bootstrap, level, seed) if bootstrap and rows else None,
        by_scene=by_scene,
        admin=admin_result,
        admin_labels=admin_labels,
        agent=agent_stats(rows, distance),
        conventions=conventions(distance),
        problems=problems,
    )
