"""`gre eval report` and `gre eval compare` on run folders with known errors."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pyproj import Geod
from typer.testing import CliRunner

from gre_agent.cli.main import app
from gre_agent.evals import compare_runs, score_results, write_report
from gre_agent.evals._manifest import MANIFEST_VERSION, write_manifest
from gre_agent.evals._results import rewrite
from gre_agent.evals.compare import paired_bootstrap

GEOD = Geod(ellps="WGS84")


def make_run(folder: Path, errors_km, *, mode="agent", fmt="im2gps3k", before_km=None, fp="x"):
    """A run folder whose image i is predicted errors_km[i] km north-east of its truth
    (None: a failed image); in agent mode the pre-verification answer is before_km[i] away."""
    folder.mkdir(parents=True)
    (folder / "traces").mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for i, e in enumerate(errors_km):
        gt_lat, gt_lon = float(rng.uniform(-50, 50)), float(rng.uniform(-170, 170))
        row = {
            "id": f"i{i:03d}",
            "gt_lat": gt_lat,
            "gt_lon": gt_lon,
            "scene": "urban" if i % 2 else "natural",
            "pred_lat": None,
            "pred_lon": None,
            "status": "error",
            "error": "ModelError: boom",
            "trace": f"traces/i{i:03d}.jsonl",
            "tool_calls": 4,
            "cache_hits": 1,
        }
        if e is not None:
            lon, lat, _ = GEOD.fwd(gt_lon, gt_lat, 45.0, e * 1000.0)
            row.update(pred_lat=float(lat), pred_lon=float(lon), status="ok", error=None)
            if before_km is not None:
                lon0, lat0, _ = GEOD.fwd(gt_lon, gt_lat, 45.0, before_km[i] * 1000.0)
                row.update(pre_verify_lat=float(lat0), pre_verify_lon=float(lon0))
        rows.append(row)
        (folder / row["trace"]).write_text(json.dumps({"type": "trace", "version": 1}) + "\n")
    rewrite(folder / "results.jsonl", rows)
    write_manifest(
        folder,
        {
            "version": MANIFEST_VERSION,
            "kind": "gre-eval-run",
            "dataset": {"name": "synthetic", "format": fmt, "fingerprint": fp},
            "selection": {"shard": None},
            "config": {"mode": mode, "model": f"model-{mode}", "backend": "openai"},
            "started": time.time() - 5,
            "ended": time.time(),
            "sessions": [],
        },
    )
    return folder


ERRORS = [0.5, 0.9, 10, 24, 100, 150, 500, 700, 2000, 2400, 5000, 9000, None, None, 30, 60]
BEFORE = [50.0] * len(ERRORS)


def local_refs(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', page)


def test_report_files_numbers_and_offline_html(tmp_path):
    run = make_run(tmp_path / "run", ERRORS, before_km=BEFORE)
    files = write_report(run, bootstrap=100)
    for path in (files.markdown, files.html, files.accuracy_plot, files.cdf_plot, files.map):
        assert path.is_file() and path.stat().st_size > 0
    for png in (files.accuracy_plot, files.cdf_plot):
        with Image.open(png) as im:
            assert im.format == "PNG" and im.size[0] > 300
    # 16 images, 2 failed: @1 km 2/16, @25 km 4/16, @200 km 8/16 (30, 60 included)
    s = files.score
    assert (s.n, s.n_failed) == (16, 2)
    assert s.acc_km["1"] == pytest.approx(2 / 16)
    assert s.acc_km["25"] == pytest.approx(4 / 16)
    assert s.acc_km["200"] == pytest.approx(8 / 16)
    assert s.acc_km["2500"] == pytest.approx(12 / 16)
    md = files.markdown.read_text()
    assert "| this run, all 16 images (failures as misses) | 12.50 | 25.00 | 50.00 |" in md
    assert "| this run, 14 answered images | 14.29 | 28.57 | 57.14 |" in md
    # published numbers of the benchmark, with their sources
    assert "GeoRanker (published) | 18.8 | 45.1 | 61.5 | 76.3 | 89.3" in md
    assert "GRE (published) | 11.3 | 35.3" in md and "NeurIPS 2023" in md
    # agent statistics: 4 tool calls per image, verification moved every answer
    assert "| tool calls per image | 4.00 |" in md
    assert "Verification changed 100.00% of 14 answers" in md
    assert "| before verification | 0.00 | 0.00 | 100.00 |" in md
    # worst cases first, linked to traces; failures listed with theirs
    worst = md.index("## Worst")
    assert md.index("| i011 | 9,000.0", worst) < md.index("| i010 | 5,000.0", worst)
    assert "[traces/i012.jsonl](../traces/i012.jsonl)" in md
    # HTML: same numbers, every reference local and present, nothing from the network
    page = files.html.read_text()
    assert "<td>12.50</td>" in page and "GeoRanker (published)" in page
    for ref in local_refs(page):
        assert "://" not in ref and (files.html.parent / ref).exists(), ref
    map_page = files.map.read_text()
    assert "://" not in " ".join(local_refs(map_page)) and "tile.openstreetmap" not in map_page
    for ref in local_refs(map_page):
        assert (files.map.parent / ref).exists(), ref
    assert map_page.count("bindTooltip") == 2 * 14


def test_report_cli_and_bad_run_folder(tmp_path):
    run = make_run(tmp_path / "run", ERRORS, fmt="table")
    result = CliRunner().invoke(app, ["eval", "report", str(run), "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    md = (run / "report" / "report.md").read_text()
    assert "(published)" not in md  # no benchmark for a generic table
    result = CliRunner().invoke(
        app, ["eval", "report", str(run), "--benchmark", "greval", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    assert "Qwen2.5-VL-7B (published) | 0.33" in (tmp_path / "r" / "report.md").read_text()
    bad = CliRunner().invoke(app, ["eval", "report", str(tmp_path / "nothing")])
    assert bad.exit_code == 2 and "not an evaluation run" in bad.output


def test_compare_is_paired_with_a_bootstrap_interval(tmp_path):
    # A: the agent, better on the small thresholds; B: single-shot
    a = make_run(tmp_path / "a", ERRORS)
    b_errors = [e * 3 if e is not None else 100.0 for e in ERRORS]
    b = make_run(tmp_path / "b", b_errors, mode="single")
    c = compare_runs(a, b, bootstrap=500)
    assert c.n_paired == 16 and c.same_dataset
    da = np.array([np.inf if e is None else e for e in ERRORS])
    db = np.array(b_errors)
    for t in (1, 25, 200, 750, 2500):
        acc = c.acc_km[f"{t:g}"]
        expected = float(np.mean(da <= t * (1 + 1e-9)) - np.mean(db <= t * (1 + 1e-9)))
        assert acc.diff == pytest.approx(expected, abs=1e-9)
        assert acc.ci.low <= acc.diff + 1e-12 and acc.diff - 1e-12 <= acc.ci.high
    assert c.a_closer == 14 and c.b_closer == 2
    assert c.score_a.n_failed == 2 and c.score_b.n_failed == 0
    result = CliRunner().invoke(
        app, ["eval", "compare", str(a), str(b), "--out", str(tmp_path / "c.md")]
    )
    assert result.exit_code == 0, result.output
    text = (tmp_path / "c.md").read_text()
    assert "model-agent (agent) (A) versus model-single (single) (B)" in text
    assert "| @25 km | 25.00 | 12.50 | +12.50 |" in text
    as_json = CliRunner().invoke(app, ["eval", "compare", str(a), str(b), "--json"])
    assert json.loads(as_json.output)["n_paired"] == 16


def test_paired_bootstrap_cancels_shared_noise():
    rng = np.random.default_rng(1)
    hard = rng.random(400) < 0.5  # images both runs get wrong or right together
    a = hard.copy()
    b = hard.copy()
    b[:20] = ~b[:20] & False  # B misses 20 images A gets (where A was right)
    ci = paired_bootstrap(a, b, 2000, 0.95, 0)
    diff = a.mean() - b.mean()
    assert ci.low <= diff <= ci.high
    assert ci.high - ci.low < 0.05  # far narrower than unpaired (about 0.14 here)
    assert score_results([]).n == 0
