"""`gre eval score`: JSON and table output, distance option, bad rows on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from geopy.distance import geodesic
from typer.testing import CliRunner

from gre_agent.cli.main import app

runner = CliRunner()

ROWS = [
    {
        "id": "a",
        "pred_lat": 48.8566,
        "pred_lon": 2.3522,
        "gt_lat": 48.8570,
        "gt_lon": 2.3530,
        "scene": "urban",
    },
    {
        "id": "b",
        "pred_lat": 51.5,
        "pred_lon": -0.12,
        "gt_lat": 48.85,
        "gt_lon": 2.35,
        "scene": "urban",
    },
    {
        "id": "c",
        "pred_lat": 40.0,
        "pred_lon": -74.0,
        "gt_lat": 35.68,
        "gt_lon": 139.69,
        "scene": "natural",
    },
    {
        "id": "d",
        "pred_lat": 0.0,
        "pred_lon": 179.99,
        "gt_lat": 0.0,
        "gt_lon": -179.99,
        "scene": "natural",
    },
]


def write(path: Path, rows: list, extra_lines: tuple[str, ...] = ()) -> Path:
    path.write_text(
        "".join(json.dumps(r) + "\n" for r in rows) + "".join(f"{x}\n" for x in extra_lines)
    )
    return path


def test_score_json_has_the_issue_keys_and_geopy_numbers(tmp_path: Path):
    preds = write(tmp_path / "p.jsonl", ROWS)
    result = runner.invoke(app, ["eval", "score", str(preds), "--json", "--bootstrap", "200"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["n"] == 4 and out["n_bad"] == 0 and out["distance"] == "geodesic"
    assert list(out["acc_km"]) == ["1", "25", "200", "750", "2500"]
    d = np.array(
        [geodesic((r["pred_lat"], r["pred_lon"]), (r["gt_lat"], r["gt_lon"])).km for r in ROWS]
    )
    for key in out["acc_km"]:
        assert out["acc_km"][key] == float(np.mean(d <= float(key)))
    assert out["median_km"] == pytest.approx(float(np.median(d)), abs=1e-6)
    assert out["mean_km"] == pytest.approx(float(np.mean(d)), abs=1e-6)
    assert out["mean_geoscore"] == pytest.approx(
        float(np.mean(5000 * np.exp(-d / 1492.7))), abs=1e-6
    )
    assert out["ci"]["n_resamples"] == 200 and set(out["ci"]["acc_km"]) == set(out["acc_km"])
    assert set(out["by_scene"]) == {"urban", "natural"} and out["by_scene"]["urban"]["n"] == 2
    assert out["threshold_rule"] == "d <= T" and "geodesic" in out["conventions"]
    assert out["admin"] is None and out["agent"] is None


def test_haversine_option(tmp_path: Path):
    preds = write(tmp_path / "p.jsonl", ROWS)
    geo = json.loads(
        runner.invoke(app, ["eval", "score", str(preds), "--json", "--bootstrap", "0"]).stdout
    )
    hav = json.loads(
        runner.invoke(
            app,
            ["eval", "score", str(preds), "--json", "--bootstrap", "0", "--distance", "haversine"],
        ).stdout
    )
    assert hav["distance"] == "haversine" and hav["ci"] is None
    assert hav["mean_km"] != geo["mean_km"] and abs(hav["mean_km"] / geo["mean_km"] - 1) < 0.006
    bad = runner.invoke(app, ["eval", "score", str(preds), "--distance", "vincenty"])
    assert bad.exit_code == 2 and "geodesic or haversine" in bad.stderr


def test_bad_rows_go_to_stderr_and_are_counted(tmp_path: Path):
    preds = write(
        tmp_path / "p.jsonl",
        ROWS,
        (
            "not json",
            json.dumps({"id": "x", "pred_lat": 95, "pred_lon": 0, "gt_lat": 0, "gt_lon": 0}),
        ),
    )
    result = runner.invoke(app, ["eval", "score", str(preds), "--json", "--bootstrap", "0"])
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["n"] == 4 and out["n_bad"] == 2
    assert [p["kind"] for p in out["problems"]] == ["bad_row", "bad_coordinates"]
    assert "line 5" in result.stderr and "line 6 (id x)" in result.stderr
    assert "2 bad rows skipped, 4 scored" in result.stderr


def test_table_output_with_admin_and_agent_stats(tmp_path: Path):
    rows = [
        {
            **ROWS[0],
            "country": "FR",
            "region": "Ile-de-France",
            "city": "Paris",
            "tool_calls": 3,
            "cache_hits": 1,
        },
        {
            **ROWS[1],
            "country": "FR",
            "pre_verify_lat": 48.0,
            "pre_verify_lon": 2.0,
            "tool_calls": 1,
        },
    ]
    preds = write(tmp_path / "p.jsonl", rows)
    result = runner.invoke(app, ["eval", "score", str(preds), "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "accuracy % within km" in text and "95% CI" in text and "urban" in text
    assert "administrative accuracy" in text and "country" in text
    assert "tool calls per image: 2.00" in text and "verification changed 100.00% of 1" in text
    as_json = json.loads(
        runner.invoke(app, ["eval", "score", str(preds), "--json", "--bootstrap", "0"]).stdout
    )
    assert as_json["admin"]["country"] == {"n": 2, "accuracy": 0.5}  # London is not France
    assert as_json["admin"]["city"] == {"n": 1, "accuracy": 1.0}
    assert as_json["admin_labels"] == {"from_data": 2, "from_ground_truth": 0}


def test_missing_file_and_bad_options(tmp_path: Path):
    missing = runner.invoke(app, ["eval", "score", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    preds = write(tmp_path / "p.jsonl", ROWS)
    assert runner.invoke(app, ["eval", "score", str(preds), "--admin", "x"]).exit_code == 2
    assert runner.invoke(app, ["eval", "score", str(preds), "--bootstrap", "-1"]).exit_code == 2
    empty = write(tmp_path / "e.jsonl", [])
    out = json.loads(runner.invoke(app, ["eval", "score", str(empty), "--json"]).stdout)
    assert out["n"] == 0 and out["median_km"] is None and out["ci"] is None
