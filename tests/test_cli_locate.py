"""`gre locate`: the bundled replay demo end to end, --json, bad images, --map, usage errors.

The demo replays hand-written GRE-format answers (examples/helsinki-street.trace.jsonl)
through the real graph and the real offline tools on the Helsinki extract.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gre_agent.cli.main import app
from gre_agent.core.geo import geodesic_km
from gre_agent.core.trace import read_trace
from gre_agent.graphs.gre.map import DEFAULT_TILES

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "examples" / "helsinki-street.jpg"
TRACE = ROOT / "examples" / "helsinki-street.trace.jsonl"
ALEKSANTERINKATU = (60.1685, 24.9490)
URL = re.compile(r"https?://[^\s\"'<>()`]+")


@pytest.fixture
def osm_env(monkeypatch, helsinki_osm_db):
    monkeypatch.setenv("GRE_OSM__DATA_PATH", str(helsinki_osm_db))
    return helsinki_osm_db


def gre(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def recorded_prediction() -> dict:
    _, events = read_trace(TRACE)
    return next(e for e in events if e["type"] == "prediction")


def without_timing(pred: dict) -> dict:
    return {k: v for k, v in pred.items() if k not in ("type", "elapsed_s", "osm_url")}


def test_demo_replay_reproduces_the_recorded_prediction(osm_env, tmp_path):
    res = gre("locate", IMAGE, "--replay", TRACE, "--json", "--trace-dir", tmp_path / "t")
    assert res.exit_code == 0, res.stderr
    (line,) = res.stdout.strip().splitlines()  # stdout holds only the JSON
    out = json.loads(line)
    assert out["ok"] is True and out["error"] is None and out["image"] == str(IMAGE)
    pred = out["prediction"]
    assert geodesic_km(pred["lat"], pred["lon"], *ALEKSANTERINKATU) < 1.0
    assert pred["country_code"] == "FI" and pred["place"] == "Helsinki"
    assert without_timing(pred) == without_timing(recorded_prediction())
    assert pred["osm_url"].startswith("https://www.openstreetmap.org/?mlat=60.16")
    # the replay answered every request by its hash, not by falling back to call order
    _, new_events = read_trace(out["trace"])
    _, old_events = read_trace(TRACE)
    hashes = [e["request_hash"] for e in new_events if e["type"] == "model_call"]
    assert hashes == [e["request_hash"] for e in old_events if e["type"] == "model_call"]
    head, _ = read_trace(out["trace"])
    assert head["config"]["backend"] == "replay" and head["config"]["offline"] is True
    # progress of every stage went to stderr
    for node in ("scene", "detail", "semantic", "hypotheses", "verify", "decide", "commit"):
        assert f"✓ {node}" in res.stderr


def test_human_output_has_place_confidence_evidence_and_osm_link(osm_env, tmp_path):
    res = gre("locate", IMAGE, "--replay", TRACE, "--trace-dir", tmp_path, "-q")
    assert res.exit_code == 0, res.stderr
    text = res.stdout
    pred = recorded_prediction()
    assert f"{pred['lat']:.5f}, {pred['lon']:.5f}" in text
    assert "Helsinki" in text and "Finland (FI)" in text
    assert re.search(r"confidence\s+\d\.\d\d", text)
    assert "Aleksanterinkatu' and 'Unioninkatu' cross" in text  # the evidence
    assert "https://www.openstreetmap.org/?mlat=" in text
    # the demo is single-pass: one generation, its tokens as recorded
    assert re.search(
        rf"model\s+1 call\(s\), {pred['prompt_tokens']:,} prompt tokens \(0 cached\), "
        rf"{pred['completion_tokens']:,} generated",
        text,
    )
    assert "✓" not in res.stderr  # --quiet


def test_bad_images_are_reported_and_the_others_still_run(osm_env, tmp_path):
    # two copies of the demo image (same pixels), so the replay file holds two runs
    replay = tmp_path / "twice.jsonl"
    replay.write_text(TRACE.read_text() * 2)
    good2 = tmp_path / "copy.jpg"
    shutil.copy(IMAGE, good2)
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(IMAGE.read_bytes()[:2000])  # truncated JPEG
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    missing = tmp_path / "missing.jpg"
    res = gre(
        "locate", IMAGE, corrupt, text, missing, good2, "--replay", replay, "--json",
        "--trace-dir", tmp_path / "t",
    )  # fmt: skip
    assert res.exit_code == 1
    rows = [json.loads(line) for line in res.stdout.strip().splitlines()]
    assert [r["image"] for r in rows] == [str(p) for p in (IMAGE, corrupt, text, missing, good2)]
    assert [r["ok"] for r in rows] == [True, False, False, False, True]
    assert "corrupt or truncated" in rows[1]["error"]
    assert "not an image" in rows[2]["error"]
    assert "no such file" in rows[3]["error"]
    assert all(r["prediction"] is None for r in rows[1:4])
    assert rows[4]["prediction"]["lat"] == rows[0]["prediction"]["lat"]
    assert "corrupt or truncated" in res.stderr  # reported as it happens


def test_map_is_offline_clean(osm_env, tmp_path):
    target = tmp_path / "out" / "where.html"
    res = gre("locate", IMAGE, "--replay", TRACE, "--map", target, "--trace-dir", tmp_path, "-q")
    assert res.exit_code == 0, res.stderr
    page = target.read_text()
    # no CDN: the only http(s) URL is the tile template
    assert set(URL.findall(page)) == {DEFAULT_TILES}
    for ref in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page):
        assert (target.parent / ref).is_file(), ref
    assert (target.parent / "where_files" / "leaflet.js").stat().st_size > 100_000
    assert "$(" not in page  # no jQuery needed
    pred = recorded_prediction()
    assert f"[{pred['lat']}, {pred['lon']}]" in page  # the answer
    for h in pred["hypotheses"]:  # every ranked hypothesis
        assert f"[{h['lat']}, {h['lon']}]" in page
    assert "first guess" in page and "street_intersection" in page  # moved, evidence
    # --tiles none: a map with no URL at all
    bare = tmp_path / "bare.html"
    res = gre(
        "locate", IMAGE, "--replay", TRACE, "--map", bare, "--tiles", "none", "-q",
        "--trace-dir", tmp_path,
    )  # fmt: skip
    assert res.exit_code == 0 and not URL.findall(bare.read_text())


def test_usage_errors_exit_2(tmp_path):
    res = gre("locate", IMAGE, "--backend", "openai", "--replay", TRACE)
    assert res.exit_code == 2 and "--replay needs --backend replay" in res.stderr
    res = gre("locate", IMAGE, "--replay", tmp_path / "nope.jsonl")
    assert res.exit_code == 2 and "no trace at" in res.stderr
    res = gre("locate", IMAGE, "--mode", "nonsense")
    assert res.exit_code == 2


def test_missing_osm_index_is_warned_about(tmp_path, monkeypatch):
    monkeypatch.setenv("GRE_OSM__DATA_PATH", str(tmp_path / "none.sqlite"))
    res = gre(
        "locate", IMAGE, "--replay", TRACE, "--json", "--trace-dir", tmp_path, "--max-rounds", "0"
    )
    assert "no offline OSM index" in res.stderr and "--sample helsinki" in res.stderr
    # with no verification rounds the graph commits the model's first guess
    out = json.loads(res.stdout)
    assert res.exit_code == 0 and out["prediction"]["rounds"] == 0
    assert geodesic_km(out["prediction"]["lat"], out["prediction"]["lon"], 60.1699, 24.9384) < 0.01


def test_online_switches_every_tool_with_an_online_backend(monkeypatch):
    from gre_agent.cli.locate import tool_settings
    from gre_agent.tools import Registry

    monkeypatch.setenv("GRE_OSM__ENDPOINT", "http://127.0.0.1:9/api/interpreter")
    online = Registry(tool_settings(online=True), include_plugins=False)
    offline = Registry(tool_settings(online=False), include_plugins=False)
    assert online.settings.osm.endpoint == "http://127.0.0.1:9/api/interpreter"  # from env
    for name in ("gazetteer.geocode", "osm.find_named", "wikipedia.search", "country.facts"):
        assert online.get(name).backend == "online", name
        assert offline.get(name).backend == "offline", name
    assert online.get("geo.check").backend == "offline"  # it has no online backend
