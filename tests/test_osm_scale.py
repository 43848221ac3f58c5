"""The import at scale (C++ filtering, file-backed node locations, the synthetic generator)
and the path to planet scale: the online backends pointed at a self-hosted instance."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sqlite3
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from gre_agent.core.settings import Settings
from gre_agent.tools.gazetteer import GeocodeResult, GeocodeTool
from gre_agent.tools.osm import FeaturesNearTool, FeaturesResult, import_pbf, open_index
from tests.conftest import fast_http

ROOT = Path(__file__).resolve().parents[1]


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_synthetic_osm", ROOT / "benchmarks" / "make_synthetic_osm.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 30,000-node synthetic country (one town) written with pyosmium."""
    out = tmp_path_factory.mktemp("synth") / "synth.osm.pbf"
    load_generator().generate(out, 30_000, seed=3, progress=False)
    return out


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = sqlite3.connect(db)
    tables = {"features": "id", "boxes": "cell, id", "tags": "key, value, fid",
              "names": "fid, norm", "way_nodes": "way_fid, seq"}  # fmt: skip
    return {t: con.execute(f"SELECT * FROM {t} ORDER BY {o}").fetchall() for t, o in tables.items()}


def test_generated_file_has_what_the_index_needs(synthetic: Path, tmp_path: Path) -> None:
    counts = json.loads(synthetic.with_name(synthetic.name + ".json").read_text())
    assert counts["nodes"] > 29_000 and counts["ways"] > 3_000 and counts["relations"] == 7
    stats = import_pbf(synthetic, tmp_path / "osm.sqlite")
    # Most nodes are untagged way members: only POIs and address nodes are kept.
    assert 0 < stats.nodes < counts["nodes"] // 10
    assert stats.relations == 6  # the multipolygons; the bus route is skipped
    assert stats.street_ways == 84
    index = open_index(tmp_path / "osm.sqlite")
    con = sqlite3.connect(tmp_path / "osm.sqlite")
    a, b = con.execute(
        "SELECT fa.name, fb.name FROM way_nodes x JOIN way_nodes y ON y.node_id = x.node_id"
        " JOIN features fa ON fa.id = x.way_fid JOIN features fb ON fb.id = y.way_fid"
        " WHERE fa.name < fb.name LIMIT 1"
    ).fetchone()
    assert index.street_intersection(a, b, None, 5)
    street, number = con.execute(
        "SELECT json_extract(f.tags, '$.\"addr:street\"'), h.value FROM tags h"
        " JOIN features f ON f.id = h.fid WHERE h.key = 'addr:housenumber'"
        " AND f.tags LIKE '%addr:street%' LIMIT 1"
    ).fetchone()
    assert index.find_address(street, number, None, 5)
    scripts = con.execute("SELECT group_concat(name, '') FROM features").fetchone()[0]
    assert any(ch.isascii() for ch in scripts) and any(not ch.isascii() for ch in scripts)


def test_file_backed_node_locations_give_the_same_index(synthetic: Path, tmp_path: Path) -> None:
    import_pbf(synthetic, tmp_path / "mem.sqlite", locations="flex_mem")
    import_pbf(synthetic, tmp_path / "file.sqlite", locations="sparse_file_array")
    assert dump(tmp_path / "mem.sqlite") == dump(tmp_path / "file.sqlite")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.sqlite", "mem.sqlite"]


def test_progress_is_off_unless_asked(
    synthetic: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import_pbf(synthetic, tmp_path / "quiet.sqlite")
    assert capfd.readouterr().err == ""
    import_pbf(synthetic, tmp_path / "loud.sqlite", progress=True)
    assert "objects kept" in capfd.readouterr().err


# -- planet scale: a self-hosted Overpass and Nominatim behind a path prefix -------------


def test_overpass_at_a_path_prefix_with_custom_headers(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    seen: list[Request] = []

    def overpass(request: Request) -> Response:
        seen.append(request)
        body = {"elements": [{"type": "node", "id": 1, "lat": 60.17, "lon": 24.94,
                              "tags": {"amenity": "cafe", "name": "Oma"}}]}  # fmt: skip
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/osm/overpass/api/interpreter", method="POST").respond_with_handler(
        overpass
    )
    endpoint = httpserver.url_for("/osm/overpass/api/interpreter")
    osm = fast_http(endpoint=endpoint, headers={"Authorization": "Bearer local-token"})
    settings = Settings(home=tmp_path, osm=osm)
    args = {"lat": 60.17, "lon": 24.94, "radius_m": 100, "tags": {"amenity": "cafe"}}
    out = asyncio.run(FeaturesNearTool(settings).run(args, backend="online"))
    assert out.ok, out.error
    assert isinstance(out.result, FeaturesResult)
    assert [f.name for f in out.result.features] == ["Oma"]
    (request,) = seen
    assert request.headers["Authorization"] == "Bearer local-token"


def test_nominatim_at_a_path_prefix_with_custom_headers(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    seen: list[Request] = []

    def nominatim(request: Request) -> Response:
        seen.append(request)
        place = {"lat": "60.17", "lon": "24.94", "display_name": "Helsinki, Suomi",
                 "name": "Helsinki",
                 "address": {"city": "Helsinki", "country_code": "fi"}}  # fmt: skip
        return Response(json.dumps([place]), content_type="application/json")

    httpserver.expect_request("/geo/nominatim/search").respond_with_handler(nominatim)
    gazetteer = fast_http(
        endpoint=f"{httpserver.host}:{httpserver.port}/geo/nominatim",
        scheme="http",
        headers={"X-Api-Key": "k1"},
    )
    settings = Settings(home=tmp_path, gazetteer=gazetteer)
    out = asyncio.run(GeocodeTool(settings).run({"query": "Helsinki"}, backend="online"))
    assert out.ok, out.error
    assert isinstance(out.result, GeocodeResult)
    assert out.result.candidates[0].name == "Helsinki"
    (request,) = seen
    assert request.headers["X-Api-Key"] == "k1"
    assert request.args["q"] == "Helsinki"
