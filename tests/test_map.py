"""Maps of hypotheses, evidence and answers: offline assets, content, escaping."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from gre_agent.core.prediction import Prediction
from gre_agent.core.trace import load_trace, read_trace
from gre_agent.graphs.gre.map import (
    DEFAULT_TILES,
    build_map,
    evidence_points,
    layer_from_result,
    layer_from_trace,
    render_html,
    result_points,
    write_map,
)

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT / "examples" / "helsinki-street.trace.jsonl"
URL = re.compile(r"https?://[^\s\"'<>()`]+")
LOADS = re.compile(r'<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"')


def fake_result(place: str = "Helsinki") -> SimpleNamespace:
    """A LocateResult-like object: prediction, final state with evidence and trace."""
    hyps = [
        {"place": place, "country_code": "FI", "lat": 60.169, "lon": 24.951, "radius_km": 0.2,
         "confidence": 0.97, "status": "confirmed", "snapped_to": "crossing of A and B"},
        {"place": "Oslo", "country_code": "NO", "lat": 59.91, "lon": 10.75, "radius_km": 20,
         "confidence": 0.05, "status": "rejected"},
        {"place": "Somewhere", "lat": None, "lon": None, "confidence": 0.01, "status": "open"},
    ]  # fmt: skip
    pred = Prediction(
        lat=60.169, lon=24.951, place=place, country_code="FI", confidence=0.97,
        evidence=["streets cross"], hypotheses=hyps,
    )  # fmt: skip
    args = {"street_a": "A", "street_b": "B", "near": {"lat": 60.17, "lon": 24.94}}
    state = {
        "initial": {"place": place, "lat": 60.1699, "lon": 24.9384},
        "evidence": [
            {"claim": "streets 'A' and 'B' cross", "tool": "osm.street_intersection",
             "args": args, "effect": "confirm", "weight": 3.0, "summary": "they cross"},
            {"claim": "place 'Oslo'", "tool": "gazetteer.geocode", "args": {"query": "Oslo"},
             "effect": "against", "weight": -0.7, "summary": "in NO"},
            {"claim": "on land", "tool": "geo.check", "args": {"lat": 1, "lon": 2},
             "effect": "support", "weight": 0.1},
        ],
        "trace": [
            {"type": "tool_call", "tool": "osm.street_intersection", "args": args,
             "result": {"features": [{"lat": 60.16903, "lon": 24.95102, "name": "A / B",
                                      "osm_type": "node", "osm_id": 7}]}},
            {"type": "tool_call", "tool": "gazetteer.geocode", "args": {"query": "Oslo"},
             "result": {"candidates": [{"name": "Oslo", "lat": 59.91, "lon": 10.75}]}},
            {"type": "tool_call", "tool": "geo.check", "args": {"lat": 1, "lon": 2},
             "result": {"lat": 1.0, "lon": 2.0, "on_land": True}},
        ],
    }  # fmt: skip
    return SimpleNamespace(image="/photos/street.jpg", prediction=pred, state=state, error=None)


def test_layer_from_result_ranks_hypotheses_and_places_evidence():
    layer = layer_from_result(fake_result())
    assert [h["place"] for h in layer.hypotheses][:2] == ["Helsinki", "Oslo"]
    points = {(p.label, p.effect) for p in layer.evidence}
    assert points == {("A / B (OSM node 7)", "confirm"), ("Oslo", "against")}  # no geo.check
    page = render_html(build_map([layer]))
    for needle in ("#1 Helsinki, FI", "#2 Oslo, NO", "confirmed", "rejected", "0.97",
                   "first guess", "moved by verification", "answer for street.jpg"):  # fmt: skip
        assert needle in page, needle
    assert "Somewhere" not in page  # an unlocated hypothesis has no point
    assert "[60.16903, 24.95102]" in page and "[59.91, 10.75]" in page


def test_inline_html_loads_nothing_from_the_network():
    page = render_html(build_map([layer_from_result(fake_result())]), assets="inline")
    assert LOADS.findall(page) == []  # Leaflet is embedded, nothing is fetched
    assert "leaflet" in page.lower() and "L.circleMarker" in page
    assert DEFAULT_TILES in page
    for cdn in ("cdn.jsdelivr.net", "code.jquery.com", "cdnjs.cloudflare.com", "bootstrap"):
        assert cdn not in page


def test_copy_assets_and_configurable_tiles(tmp_path):
    layer = layer_from_result(fake_result())
    path = write_map(tmp_path / "a" / "m.html", [layer], tiles="http://tiles.local/{z}/{x}/{y}.png")
    page = path.read_text()
    assert set(URL.findall(page)) == {"http://tiles.local/{z}/{x}/{y}.png"}
    refs = LOADS.findall(page)
    assert sorted(refs) == ["m_files/leaflet.css", "m_files/leaflet.js"]
    assert all((path.parent / r).is_file() for r in refs)
    assert (path.parent / "m_files" / "LICENSE.txt").is_file()
    bare = write_map(tmp_path / "b.html", [layer], tiles=None).read_text()
    assert not URL.findall(bare)


def test_model_text_is_escaped_in_popups_and_tooltips():
    evil = "</script><script>alert(1)</script>`${x}`"
    page = render_html(build_map([layer_from_result(fake_result(place=evil))]))
    assert "<script>alert(1)" not in page
    assert "alert(1)" in page  # present, but only as escaped text


def test_several_images_get_a_layer_each_and_a_control():
    a, b = layer_from_result(fake_result()), layer_from_result(fake_result("Espoo"))
    b.image = "/photos/other.jpg"
    page = render_html(build_map([a, b]))
    assert "street.jpg" in page and "other.jpg" in page and "L.control.layers" in page


def test_failed_images_and_empty_maps_still_render():
    failed = SimpleNamespace(image="bad.jpg", prediction=None, state={}, error="corrupt")
    page = render_html(build_map([layer_from_result(failed)]))
    assert "L.map" in page


def test_layer_from_trace_uses_the_recorded_prediction_and_tool_results():
    _, events = read_trace(TRACE)
    layer = layer_from_trace(load_trace(TRACE))
    pred = next(e for e in events if e["type"] == "prediction")
    assert (layer.prediction["lat"], layer.prediction["lon"]) == (pred["lat"], pred["lon"])
    assert layer.initial["place"] == "Helsinki" and len(layer.hypotheses) == 1
    assert any("Unioninkatu" in p.label for p in layer.evidence)
    assert not any(p.tool in ("geo.check", "gazetteer.reverse") for p in layer.evidence)


def test_result_points_and_evidence_matching():
    assert result_points({"lat": 95, "lon": 0}) == []  # out of range
    assert result_points({"features": [{"lat": 1, "lon": 2, "name": f"n{i}"} for i in range(9)]})[
        -1
    ] == (1.0, 2.0, "n2")
    # evidence without a matching tool call adds no point
    assert evidence_points([{"tool": "osm.find_named", "args": {"name": "x"}}], []) == []


CHROMIUM = Path("/usr/bin/chromium")


def test_map_renders_in_a_real_browser_without_network(tmp_path):
    """Leaflet draws every marker and no script fails (folium's popups need jQuery; ours not)."""
    import os
    import shutil
    import subprocess

    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            raise AssertionError(f"no browser at {CHROMIUM}: run `make browser`")
        import pytest

        pytest.skip(f"no browser at {CHROMIUM}")
    path = write_map(tmp_path / "m.html", [layer_from_result(fake_result())], tiles=None)
    profile = tmp_path / "profile"
    done = subprocess.run(
        [str(CHROMIUM), "--headless=new", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--no-first-run",
         "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=3000", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    shutil.rmtree(profile, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Uncaught" not in done.stderr, done.stderr[-2000:]
    # 2 hypothesis circles + 2 hypothesis markers + 2 evidence + first guess + line + answer
    assert done.stdout.count('class="leaflet-interactive"') == 9
