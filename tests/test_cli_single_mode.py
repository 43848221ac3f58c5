"""`gre locate --mode single` on the demo (issue 15.3): the replay answers the single-shot
prompt only with an answer recorded for it (matched by request hash), and a failure shows a
red cross and its cause, never a green check mark."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gre_agent.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "examples" / "helsinki-street.jpg"
SINGLE = ROOT / "examples" / "helsinki-street.trace.jsonl"  # recorded single-pass
PER_STAGE = ROOT / "examples" / "helsinki-street.per-stage.trace.jsonl"


def gre(*args: str | Path):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_single_mode_on_a_per_stage_trace_fails_honestly(tmp_path):
    res = gre("locate", IMAGE, "--replay", PER_STAGE, "--mode", "single", "--trace-dir", tmp_path)
    assert res.exit_code == 1
    assert "✓ single" not in res.stderr and "✗ single" in res.stderr
    text = " ".join(res.stdout.split())
    assert "error: cache_miss: " in text and "cache_miss: cache_miss" not in text
    assert "no recorded answer for request" in text  # no other stage's answer served

    res = gre(
        "locate", IMAGE, "--replay", PER_STAGE, "--mode", "single", "--json", "-q",
        "--trace-dir", tmp_path,
    )  # fmt: skip
    out = json.loads(res.stdout)
    assert out["ok"] is False and out["prediction"]["lat"] is None
    assert out["error"].startswith("cache_miss: ")


def test_single_mode_on_the_single_pass_demo_answers(tmp_path, monkeypatch, helsinki_osm_db):
    monkeypatch.setenv("GRE_OSM__DATA_PATH", str(helsinki_osm_db))
    res = gre("locate", IMAGE, "--replay", SINGLE, "--mode", "single", "--trace-dir", tmp_path)
    assert res.exit_code == 0, res.output
    assert "✓ single" in res.stderr and "✗" not in res.stderr
    assert "Finland (FI)" in res.stdout
