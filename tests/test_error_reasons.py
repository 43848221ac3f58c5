"""Every failed image names its real cause (issue 15.1): a server down, HTTP 500/429, a
hanging model, a replay cache_miss and an unreadable image show their typed kind and message
in `gre locate` (human and --json) and the prediction's reasoning, never "No candidate place
could be read..."; a symlink loop is not "no such file"."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from gre_agent.cli.main import app
from gre_agent.core.images import ImageError, check_image
from tests.fake_openai import dead_url

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT / "examples" / "helsinki-street.trace.jsonl"
GENERIC = "No candidate place could be read"


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (64, 48), (90, 120, 200)).save(path)
    return path


def gre(*args: str | Path):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def locate_json(photo: Path, tmp_path: Path, *args: str | Path) -> dict:
    res = gre("locate", photo, "--json", "-q", "--trace-dir", tmp_path / "t", *args)
    assert res.exit_code == 1, res.output
    return json.loads(res.stdout.strip().splitlines()[-1])


def assert_cause(out: dict, kind: str, *words: str) -> None:
    assert out["ok"] is False
    assert out["error"].startswith(f"{kind}: "), out["error"]
    for word in words:
        assert word in out["error"]
    reasoning = out["prediction"]["reasoning"]
    assert GENERIC not in reasoning and kind in reasoning, reasoning


@pytest.fixture
def quick_model(monkeypatch):
    monkeypatch.setenv("GRE_MODEL__RETRIES", "0")
    monkeypatch.setenv("GRE_MODEL__TIMEOUT_S", "0.5")


@pytest.mark.parametrize(
    ("mode", "kind", "word"),
    [("500", "http_error", "HTTP 500"), ("429", "http_error", "HTTP 429"), ("slow", "timeout", "")],
)
def test_server_faults_name_their_cause(photo, tmp_path, servers, quick_model, mode, kind, word):
    server = servers(default=mode, delay_s=2.0)
    out = locate_json(photo, tmp_path, "--backend", "openai", "--base-url", server.url)
    assert_cause(out, kind, word)


def test_server_down_names_its_cause(photo, tmp_path, quick_model):
    out = locate_json(photo, tmp_path, "--backend", "openai", "--base-url", dead_url())
    assert_cause(out, "unavailable")


def test_replay_cache_miss_names_its_cause(photo, tmp_path):
    out = locate_json(photo, tmp_path, "--replay", TRACE)  # a photo the demo never saw
    assert_cause(out, "cache_miss")


def test_human_output_shows_the_cause_not_no_place_found(photo, tmp_path):
    res = gre("locate", photo, "-q", "--replay", TRACE, "--trace-dir", tmp_path / "t")
    assert res.exit_code == 1
    assert "error: cache_miss: " in " ".join(res.stdout.split())
    assert "no place found" not in res.stdout and GENERIC not in res.stdout


async def test_a_bad_image_in_the_graph_names_its_cause(tmp_path):
    """What the LangGraph server runs: the graph itself, no check_image before it."""
    from gre_agent.agent.backends import ReplayBackend
    from gre_agent.graphs.gre import Context
    from gre_agent.graphs.gre.graph import graph

    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    ctx = Context(backend_obj=ReplayBackend(TRACE), backend="replay")
    state = await graph.ainvoke({"image": str(bad)}, context=ctx)
    reasoning = state["prediction"]["reasoning"]
    assert "invalid_args" in reasoning and "cannot read image" in reasoning, reasoning


def test_a_symlink_loop_is_not_no_such_file(tmp_path):
    loop = tmp_path / "loop.jpg"
    os.symlink(loop, loop)
    with pytest.raises(ImageError) as err:
        check_image(loop)
    assert "no such file" not in str(err.value) and "symlink" in str(err.value)
    with pytest.raises(ImageError, match="no such file"):
        check_image(tmp_path / "missing.jpg")


@pytest.mark.parametrize("stages", ["single-pass", "per-stage"])
def test_an_unreachable_model_is_not_asked_for_a_repair(
    photo, tmp_path, servers, quick_model, stages
):
    """A model that failed with HTTP 500 would fail the repair prompt too: not sent."""
    server = servers(default="500")
    out = locate_json(
        photo, tmp_path, "--backend", "openai", "--base-url", server.url, "--stages", stages
    )
    assert_cause(out, "http_error", "HTTP 500")
    sent = [str(r["messages"][-1]["content"]) for r in server.requests]
    assert sent and not any("could not read any candidate place" in s for s in sent), sent
