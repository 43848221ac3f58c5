"""`gre trace show`: renders the bundled demo trace; bad files are clear errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gre_agent.cli.main import app
from gre_agent.core.trace import read_trace

ROOT = Path(__file__).resolve().parents[1]
# the per-stage demo: a model call, a parsed stage and a revision for every stage
TRACE = ROOT / "examples" / "helsinki-street.per-stage.trace.jsonl"


def show(*args, width: int = 160):
    return CliRunner().invoke(
        app, ["trace", "show", *map(str, args)], env={"COLUMNS": str(width)},
        catch_exceptions=False,
    )  # fmt: skip


def test_show_renders_header_stages_calls_decisions_and_prediction():
    res = show(TRACE)
    assert res.exit_code == 0, res.stderr
    out = res.stdout
    head, events = read_trace(TRACE)
    # header
    assert head["image"] in out and "version" in out and "mode=agent" in out
    # every stage, with its parsed fields
    for stage in ("scene", "detail", "semantic", "hypotheses", "verification"):
        assert f"stage {stage}" in out
    assert "Aleksanterinkatu; Unioninkatu" in out  # detail.texts
    assert "#1" in out and "Helsinki, FI (60.1699, 24.9384), confidence 0.55" in out
    # model calls: stage, tokens, first lines of text
    first = next(e for e in events if e["type"] == "model_call")
    usage = first["completion"]["usage"]
    assert f"{usage['prompt_tokens']} prompt + {usage['completion_tokens']} completion" in out
    assert "<think> 1. Street-level analysis" in out
    # tool calls: tool, args, result summary, latency
    assert "osm.street_intersection" in out
    assert "street_a=Aleksanterinkatu, street_b=Unioninkatu" in out
    assert "1 features: Aleksanterinkatu / Unioninkatu (60.1690, 24.9510)" in out
    assert "5 features: Unioninkatu" in out and " ms" in out and "[offline]" in out
    # decision and prediction
    assert "decision round 1: commit" in out
    pred = next(e for e in events if e["type"] == "prediction")
    assert f"{pred['lat']:.5f}, {pred['lon']:.5f}" in out and "Helsinki, Uusimaa, FI" in out
    n_tools = sum(e["type"] == "tool_call" for e in events)
    assert f"{n_tools} tool call(s), 0 error(s)" in out


def test_show_renders_errors_repairs_and_fallbacks(tmp_path):
    head = {"type": "trace", "version": 1, "image": "x.jpg", "config": {}, "started": 0}
    events = [
        {"type": "model_error", "stage": "scene", "kind": "timeout", "message": "no answer"},
        {"type": "repair", "stage": "hypotheses", "recovered": False},
        {"type": "fallback", "stage": "hypotheses", "reason": "nothing", "candidates": []},
        {
            "type": "tool_call", "tool": "osm.find_named", "args": {"name": "X"},
            "error": {"kind": "unavailable", "message": "no index"}, "cached": True,
            "latency_ms": 1.5, "backend": "offline",
        },
        {"type": "prediction", "status": "failed", "lat": None, "lon": None, "confidence": 0},
        {"type": "error", "kind": "ImageError", "message": "x.jpg: corrupt"},
    ]  # fmt: skip
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in [head, *events]) + "\n")
    res = show(path)
    assert res.exit_code == 0, res.stderr
    out = res.stdout
    assert "timeout: no answer" in out and "repair" in out and "fallback" in out
    assert "✗ unavailable: no index" in out and "cached" in out
    assert "failed" in out and "error ImageError: x.jpg: corrupt" in out
    assert "1 tool call(s), 1 error(s), 1 cached" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json at all\n", "line 1 is not JSON"),
        ('{"type": "model_call"}\n', "not a gre-agent trace"),
        ('{"type": "trace", "version": 99}\n', "trace version 99"),
        ('{"type": "trace", "version": 1}\n[1, 2]\n', "must be a JSON object"),
        ("[1, 2]\n", "not a gre-agent trace"),
        ("", "not a gre-agent trace"),
        (b"\xff\xfe\x00binary", "not a text file"),
    ],
)
def test_bad_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    res = show(path)
    assert res.exit_code == 2
    assert message in res.stderr and "Traceback" not in res.stderr


def test_missing_file_and_directory(tmp_path):
    res = show(tmp_path / "nope.jsonl")
    assert res.exit_code == 2 and "no such file" in res.stderr
    res = show(tmp_path)
    assert res.exit_code == 2 and "is a directory" in res.stderr


def test_show_can_write_a_map_of_the_trace(tmp_path):
    target = tmp_path / "m.html"
    res = show(TRACE, "--map", target)
    assert res.exit_code == 0, res.stderr
    page = target.read_text()
    assert "Aleksanterinkatu / Unioninkatu" in page and (tmp_path / "m_files").is_dir()
