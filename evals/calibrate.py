"""Fit the agent's confidence calibration on a finished evaluation run."""

from __future__ import annotations

from pathlib import Path

from gre_agent.evals._results import RESULTS_NAME, read_rows
from gre_agent.evals.metrics import DistanceMethod, distance_km
from gre_agent.graphs.gre.calibration import Calibration, fit


def calibrate_run(
    run_dir: Path, threshold_km: float = 25.0, distance: DistanceMethod = "geodesic"
) -> Calibration:
    """Platt scaling of the raw confidence against 'correct within threshold_km'.

    Images the agent failed on carry no confidence and are left out of the fit.
    """
    rows = [
        r
        for r in read_rows(Path(run_dir) / RESULTS_NAME).values()
        if r.get("pred_lat") is not None
        and r.get("gt_lat") is not None
        and (r.get("raw_confidence") is not None or r.get("confidence") is not None)
    ]
    if not rows:
        raise ValueError(f"{run_dir} has no answered images with a confidence to fit on")
    raw = [float(r.get("raw_confidence", r.get("confidence"))) for r in rows]
    d = distance_km(
        [r["pred_lat"] for r in rows],
        [r["pred_lon"] for r in rows],
        [r["gt_lat"] for r in rows],
        [r["gt_lon"] for r in rows],
        method=distance,
    )
    correct = [bool(x <= threshold_km) for x in d]
    return fit(raw, correct, threshold_km, source=str(run_dir))
