"""Several regions at once: `gre data osm import a.osm.pbf b.osm.pbf`, `list`, re-import."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import osmium
import pytest
from osmium.osm.mutable import Node, Way
from typer.testing import CliRunner, Result

from gre_agent.cli.main import app
from gre_agent.tools.osm import _index as index_mod
from gre_agent.tools.osm import open_index
from gre_agent.tools.osm._index import RegionsIndex, regions_dir

runner = CliRunner()


def write_extract(path: Path, lat: float, lon: float, street: str, cafe: str) -> Path:
    """Two streets crossing at a shared node, a cafe and a house with an address."""
    d = 0.001
    nodes = [
        Node(id=1, location=(lon - d, lat)), Node(id=2, location=(lon, lat)),
        Node(id=3, location=(lon + d, lat)), Node(id=4, location=(lon, lat - d)),
        Node(id=5, location=(lon, lat + d)),
        Node(id=6, location=(lon + 0.0002, lat + 0.0002), tags={"amenity": "cafe", "name": cafe}),
        Node(id=7, location=(lon - 0.0003, lat + 0.0001),
             tags={"addr:street": street, "addr:housenumber": "12b"}),
    ]  # fmt: skip
    ways = [
        Way(id=1, nodes=[1, 2, 3], tags={"highway": "residential", "name": street}),
        Way(id=2, nodes=[4, 2, 5], tags={"highway": "primary", "name": "Keskuskatu"}),
    ]
    writer = osmium.SimpleWriter(str(path))
    try:
        for node in nodes:
            writer.add_node(node)
        for way in ways:
            writer.add_way(way)
    finally:
        writer.close()
    return path


@pytest.fixture
def extracts(tmp_path: Path) -> tuple[Path, Path]:
    a = write_extract(tmp_path / "alpha.osm.pbf", 60.0, 22.0, "Koivukatu", "Kahvila Alfa")
    b = write_extract(tmp_path / "beta.osm.pbf", 61.0, 25.0, "Пушкина", "Кафе Бета")
    return a, b


def gre(*args: str) -> Result:
    return runner.invoke(app, ["data", "osm", *args])


def test_two_extracts_become_two_regions_searched_together(
    tmp_path: Path, extracts: tuple[Path, Path]
) -> None:
    db = tmp_path / "osm.sqlite"
    result = runner.invoke(app, ["data", "osm", "import", *map(str, extracts), "--db", str(db)])
    assert result.exit_code == 0, result.output
    folder = regions_dir(db)
    assert sorted(p.name for p in folder.iterdir()) == ["alpha.sqlite", "beta.sqlite"]
    assert not db.exists()  # the regions are the index; no main file was written
    index = open_index(db)
    assert isinstance(index, RegionsIndex) and len(index.parts) == 2

    near_a = index.features_near(60.0, 22.0, 300, {"amenity": "cafe"}, None, 10)
    near_b = index.features_near(61.0, 25.0, 300, {"amenity": "cafe"}, None, 10)
    assert [f.name for f in near_a] == ["Kahvila Alfa"]
    assert [f.name for f in near_b] == ["Кафе Бета"]
    # A name search anywhere sees both regions; Keskuskatu is in each.
    both = index.find_named("Keskuskatu", {}, None, None, 10)
    assert sorted(round(f.lat) for f in both) == [60, 61]
    crossing = index.street_intersection("пушкина", "keskuskatu", None, 5)
    assert [(f.osm_id, round(f.lat, 3), round(f.lon, 3)) for f in crossing] == [(2, 61.0, 25.0)]
    address = index.find_address("Koivukatu", "12 B", (60.0, 22.0, 500), 5)
    assert [f.tags["addr:housenumber"] for f in address] == ["12b"]


def test_list_shows_each_region_with_extent_source_and_date(
    tmp_path: Path, extracts: tuple[Path, Path]
) -> None:
    db = tmp_path / "osm.sqlite"
    assert gre("import", *map(str, extracts), "--db", str(db)).exit_code == 0
    listed = gre("list", "--db", str(db))
    assert listed.exit_code == 0, listed.output
    out = listed.stdout
    assert "alpha" in out and "beta" in out
    lines = dict(line.split("  ", 1) for line in out.splitlines())
    assert "extent (S W N E) 59.999 21.999 60.001 22.001" in lines["alpha"]
    assert "extent (S W N E) 60.999 24.999 61.001 25.001" in lines["beta"]
    assert f"source {extracts[0]}" in lines["alpha"] and "4 features" in lines["beta"]


def test_a_main_index_and_a_region_are_searched_together(
    tmp_path: Path, extracts: tuple[Path, Path]
) -> None:
    db = tmp_path / "osm.sqlite"
    a, b = extracts
    assert gre("import", str(a), "--db", str(db)).exit_code == 0
    assert db.exists()
    assert gre("import", str(b), "--region", "beta", "--db", str(db)).exit_code == 0
    found = open_index(db).find_named("keskuskatu", {}, None, None, 10)
    assert sorted(round(f.lat) for f in found) == [60, 61]
    # A region far from the query is not asked at all.
    index = open_index(db)
    assert isinstance(index, RegionsIndex)
    assert [p.path.name for p in index._asked((59.9, 21.9, 60.1, 22.1))] == ["osm.sqlite"]


def test_reimport_replaces_a_region_and_a_failed_one_keeps_the_old(
    tmp_path: Path, extracts: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "osm.sqlite"
    assert gre("import", *map(str, extracts), "--db", str(db)).exit_code == 0
    (tmp_path / "new").mkdir()
    changed = write_extract(tmp_path / "new" / "alpha.osm.pbf", 60.0, 22.0, "Koivukatu", "Uusi")
    assert gre("import", str(changed), "--region", "alpha", "--db", str(db)).exit_code == 0
    names = {
        f.name for f in open_index(db).features_near(60, 22, 300, {"amenity": "cafe"}, None, 9)
    }
    assert names == {"Uusi"}

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C half way

    monkeypatch.setattr(index_mod, "read_pbf", broken)  # either reader
    monkeypatch.setattr(index_mod._native, "run", broken)
    alpha = regions_dir(db) / "alpha.sqlite"
    before = alpha.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        index_mod.import_pbf(extracts[0], alpha)
    assert alpha.read_bytes() == before
    assert sorted(p.name for p in regions_dir(db).iterdir()) == ["alpha.sqlite", "beta.sqlite"]
    row = sqlite3.connect(alpha).execute("SELECT name FROM features WHERE name = 'Uusi'")
    assert row.fetchone() == ("Uusi",)


def test_region_names_are_checked(tmp_path: Path, extracts: tuple[Path, Path]) -> None:
    db = tmp_path / "osm.sqlite"
    a, b = extracts
    assert gre("import", str(a), "--region", "../evil", "--db", str(db)).exit_code == 2
    assert gre("import", str(a), str(b), "--region", "x", "--db", str(db)).exit_code == 2
    assert gre("remove", "gamma", "--db", str(db)).exit_code == 1


def test_tools_read_the_regions_through_settings(
    tmp_path: Path, extracts: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "osm.sqlite"
    assert gre("import", *map(str, extracts), "--db", str(db)).exit_code == 0
    monkeypatch.setenv("GRE_OSM__DATA_PATH", str(db))
    args = {"street_a": "Koivukatu", "street_b": "Keskuskatu"}
    called = runner.invoke(
        app, ["tools", "call", "osm.street_intersection", "--args", json.dumps(args), "--offline"]
    )
    assert called.exit_code == 0, called.output
    features = json.loads(called.stdout)["features"]
    assert [(round(f["lat"], 3), round(f["lon"], 3)) for f in features] == [(60.0, 22.0)]
