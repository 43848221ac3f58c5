"""The C++ reader of the OSM import (`make native`) and the grid index both readers build.

The native reader must give the index the pyosmium reader gives, row for row; the grid
of `boxes` must find every box that meets a search box.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from gre_agent.cli.data_osm import sample_path
from gre_agent.cli.main import app
from gre_agent.core.errors import ConfigError
from gre_agent.tools.osm import _index as index_mod
from gre_agent.tools.osm import _native
from gre_agent.tools.osm._index import cell_of, cell_ranges, import_pbf, open_index

BUILT = _native.find_binary() is not None
# CI runs `make native` first: there a missing program is a failure, not a skip.
needs_native = pytest.mark.skipif(
    not BUILT and not os.environ.get("CI"), reason="the native importer is not built (make native)"
)

TABLES = {
    "features": "id",
    "boxes": "cell, id",
    "tags": "key, value, fid",
    "names": "fid, norm",
    "way_nodes": "way_fid, seq",
    "tag_counts": "key, value",
    "meta": "key",
}


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = sqlite3.connect(db)
    out = {t: con.execute(f"SELECT * FROM {t} ORDER BY {o}").fetchall() for t, o in TABLES.items()}
    out["meta"] = [row for row in out["meta"] if row[0] != "imported_at"]
    return out


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Streets in five scripts, addresses, multipolygons with untagged rings, a bus route."""
    spec = importlib.util.spec_from_file_location(
        "make_synthetic_osm", Path(__file__).parents[1] / "benchmarks" / "make_synthetic_osm.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("synth") / "synth.osm.pbf"
    module.generate(out, 30_000, seed=5, progress=False)
    return out


@needs_native
@pytest.mark.parametrize("extract", ["helsinki", "synthetic"])
def test_native_reader_gives_the_index_the_python_reader_gives(
    extract: str, synthetic: Path, tmp_path: Path
) -> None:
    pbf = sample_path("helsinki") if extract == "helsinki" else synthetic
    slow = import_pbf(pbf, tmp_path / "python.sqlite", engine="python")
    fast = import_pbf(pbf, tmp_path / "native.sqlite", engine="native")
    assert (slow.engine, fast.engine) == ("python", "native")
    assert (fast.nodes, fast.ways, fast.relations, fast.street_ways) == (
        slow.nodes, slow.ways, slow.relations, slow.street_ways,
    )  # fmt: skip
    assert fast.seen > fast.nodes + fast.ways + fast.relations  # it counts what it read
    python, native = dump(tmp_path / "python.sqlite"), dump(tmp_path / "native.sqlite")
    for table in TABLES:
        assert python[table] == native[table], table
    assert len(native["features"]) > 1000 and len(native["way_nodes"]) > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["native.sqlite", "python.sqlite"]


@needs_native
def test_native_reader_with_file_backed_locations(synthetic: Path, tmp_path: Path) -> None:
    import_pbf(synthetic, tmp_path / "mem.sqlite", locations="flex_mem", engine="native")
    import_pbf(synthetic, tmp_path / "file.sqlite", locations="sparse_file_array", engine="native")
    assert dump(tmp_path / "mem.sqlite") == dump(tmp_path / "file.sqlite")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.sqlite", "mem.sqlite"]


@needs_native
def test_a_file_that_is_not_osm_fails_with_its_cause_and_keeps_the_old_index(
    tmp_path: Path,
) -> None:
    db = tmp_path / "osm.sqlite"
    import_pbf(sample_path("helsinki"), db, engine="native")
    before = db.read_bytes()
    bad = tmp_path / "broken.osm.pbf"
    bad.write_bytes(b"\x00\x00\x00\x0dthis is not a pbf file at all")
    with pytest.raises(ConfigError, match=r"cannot import .*broken\.osm\.pbf: .*\S"):
        import_pbf(bad, db, engine="native")
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.osm.pbf", "osm.sqlite"]


@needs_native
def test_an_interrupted_native_import_keeps_the_old_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "osm.sqlite"
    import_pbf(sample_path("helsinki"), db, engine="native")
    before = db.read_bytes()

    def interrupted(seen: int, kept: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the program runs

    real_run = _native.run

    def run(*args: Any) -> _native.Counts:
        binary, pbf, out, locations, rules, _progress = args
        return real_run(binary, pbf, out, locations, rules, interrupted)

    monkeypatch.setattr(_native, "run", run)
    # The program reports its first object read, then every 2**20.
    monkeypatch.setattr(index_mod, "FILE_LOCATIONS_BYTES", 0)  # file-backed: a file to clean
    with pytest.raises(KeyboardInterrupt):
        import_pbf(sample_path("helsinki"), db, engine="native", progress=False)
    assert db.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["osm.sqlite"]


def test_engine_names_are_checked_and_native_needs_the_program(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="unknown import engine 'fast'"):
        import_pbf(sample_path("helsinki"), tmp_path / "osm.sqlite", engine="fast")
    monkeypatch.setattr(_native, "find_binary", lambda: None)
    with pytest.raises(ConfigError, match="make native"):
        import_pbf(sample_path("helsinki"), tmp_path / "osm.sqlite", engine="native")
    stats = import_pbf(sample_path("helsinki"), tmp_path / "osm.sqlite")  # auto: Python
    assert stats.engine == "python" and stats.seen == 0
    assert open_index(tmp_path / "osm.sqlite").find_named("Mannerheimintie", {}, None, None, 1)


# -- the grid ---------------------------------------------------------------------------

lats = st.floats(-89.9, 89.9)
lons = st.floats(-179.9, 179.9)
sizes = st.one_of(st.just(0.0), st.floats(0.0, 0.01), st.floats(0.0, 2.0), st.floats(0.0, 60.0))


def _box(lat: float, lon: float, dlat: float, dlon: float) -> tuple[float, float, float, float]:
    return lat, lon, min(lat + dlat, 90.0), min(lon + dlon, 180.0)


@settings(max_examples=400, deadline=None)
@given(lats, lons, sizes, sizes, lats, lons, sizes, sizes)
def test_every_box_that_meets_the_search_box_is_in_its_cell_ranges(
    lat: float, lon: float, dlat: float, dlon: float,
    q_lat: float, q_lon: float, q_dlat: float, q_dlon: float,
) -> None:  # fmt: skip
    feature = _box(lat, lon, dlat, dlon)
    query = _box(q_lat, q_lon, q_dlat, q_dlon)
    meets = feature[0] <= query[2] and query[0] <= feature[2]
    meets = meets and feature[1] <= query[3] and query[1] <= feature[3]
    cell = cell_of(*feature)
    found = any(lo <= cell <= hi for lo, hi in cell_ranges(query))
    assert found or not meets


def test_cells_are_fine_for_small_boxes_and_ranges_stay_few() -> None:
    point = cell_of(60.17, 24.94, 60.17, 24.94)
    assert point >> 40 == 18  # a point sits at the finest level
    assert cell_of(60.0, 24.0, 61.0, 25.0) >> 40 < 9  # a degree-wide box much higher up
    # A 2 km search box is a few dozen key ranges over all levels, the world one per level.
    near = cell_ranges((60.16, 24.92, 60.18, 24.96))
    assert len(near) < 80
    assert len(cell_ranges((-90.0, -180.0, 90.0, 180.0))) <= 2 * 19
    assert math.isclose(360.0 / (1 << 18), 0.001373291015625)


@needs_native
def test_the_cli_says_which_reader_ran_and_rejects_an_unknown_one(tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "osm.sqlite")
    fast = runner.invoke(app, ["data", "osm", "import", "--sample", "helsinki", "--db", db])
    assert fast.exit_code == 0, fast.output
    assert "(native reader, " in fast.output and "objects/s read)" in fast.output
    slow = runner.invoke(
        app, ["data", "osm", "import", "--sample", "helsinki", "--db", db, "--engine", "python"]
    )
    assert slow.exit_code == 0 and "(python reader)" in slow.output
    bad = runner.invoke(
        app, ["data", "osm", "import", "--sample", "helsinki", "--db", db, "--engine", "fast"]
    )
    assert bad.exit_code == 1 and "unknown import engine 'fast'" in bad.output


def test_filters_on_keys_the_tags_table_leaves_out_read_the_json(helsinki_osm_db: Path) -> None:
    """Names and addr:street are not in `tags`; filtering on them still finds the feature."""
    con = sqlite3.connect(helsinki_osm_db)
    fid, lat, lon, street, name = con.execute(
        "SELECT id, lat, lon, json_extract(tags, '$.\"addr:street\"'), name FROM features"
        " WHERE tags LIKE '%addr:street%' AND name IS NOT NULL AND osm_type = 'node' LIMIT 1"
    ).fetchone()
    assert (
        con.execute("SELECT count(*) FROM tags WHERE key IN ('name', 'addr:street')").fetchone()[0]
        == 0
    )
    index = open_index(helsinki_osm_db)
    for tags in ({"addr:street": street}, {"name": name}, {"addr:street": None}):
        found = index.features_near(lat, lon, 30, tags, None, 50)
        assert name in [f.name for f in found], tags
        assert all(k in f.tags and v in (None, f.tags[k]) for f in found for k, v in tags.items())
    assert index.features_near(lat, lon, 30, {"addr:street": street + "x"}, None, 50) == []
    assert fid > 0
