"""Confidence calibration: fitted on a run's results, applied by the agent."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from gre_agent.cli.main import app
from gre_agent.graphs.gre import Context, locate
from gre_agent.graphs.gre.calibration import Calibration, fit, load
from tests.scripted import ScriptedBackend
from tests.test_graph_agent import (
    DETAIL_HELSINKI,
    SCENE,
    SEMANTIC,
    espoo_guess,
    keep,
)


def overconfident_rows(n: int = 60) -> list[dict]:
    """Raw confidence 0.9 everywhere, but only a third of the answers within 25 km."""
    rows = []
    for i in range(n):
        off = 0.05 if i % 3 == 0 else 2.0  # degrees of latitude: ~5 km or ~220 km
        rows.append(
            {
                "id": f"img{i}",
                "status": "ok",
                "pred_lat": 10.0 + off,
                "pred_lon": 20.0,
                "gt_lat": 10.0,
                "gt_lon": 20.0,
                "confidence": 0.9,
                "raw_confidence": 0.9,
            }
        )
    return rows


def test_fit_pulls_an_overconfident_score_down_to_the_hit_rate():
    raw = [0.9] * 60
    correct = [i % 3 == 0 for i in range(60)]
    cal = fit(raw, correct, 25.0)
    assert abs(cal.apply(0.9) - 1 / 3) < 0.02
    assert cal.brier_after < cal.brier_before
    assert fit([0.9] * 5, [True] * 5, 25.0).apply(0.9) == 0.9  # too little data: identity


def test_calibrate_a_run_then_the_agent_applies_it(tmp_path, photo, offline_registry):
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in overconfident_rows()))
    result = CliRunner().invoke(app, ["eval", "calibrate", str(run), "--threshold-km", "25"])
    assert result.exit_code == 0, result.output
    path = run / "calibration.json"
    assert result.stdout.strip() == str(path)
    cal = load(path)
    assert cal.n == 60 and cal.threshold_km == 25.0

    script = {
        "scene": SCENE,
        "detail": DETAIL_HELSINKI,
        "semantic": SEMANTIC,
        "hypotheses": espoo_guess,
        "verification": keep,
    }

    def run_agent(**ctx):
        ctx = Context(backend_obj=ScriptedBackend(script), registry=offline_registry, **ctx)
        return asyncio.run(locate(photo, ctx)).prediction

    plain = run_agent()
    calibrated = run_agent(calibration=str(path))
    assert not plain.calibrated and plain.confidence == plain.raw_confidence
    assert calibrated.calibrated and calibrated.raw_confidence == plain.raw_confidence
    assert (
        abs(calibrated.confidence - Calibration.model_validate(cal).apply(plain.raw_confidence))
        < 1e-3
    )
    assert calibrated.confidence < plain.confidence


def test_calibrate_refuses_a_run_with_nothing_to_fit(tmp_path):
    (tmp_path / "results.jsonl").write_text(json.dumps({"id": "a", "status": "error"}) + "\n")
    result = CliRunner().invoke(app, ["eval", "calibrate", str(tmp_path)])
    assert result.exit_code == 2 and "no answered images" in " ".join(result.stderr.split())
