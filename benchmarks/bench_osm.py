"""Offline OSM index: import time of Helsinki.osm.pbf and median query times.

    python benchmarks/bench_osm.py [--repeat 200] [--no-duckdb]

Prints the numbers for the SQLite index the tools use, and for the same rows in DuckDB
(the alternative that was measured before choosing SQLite). Target: <= 5 ms median.
"""

from __future__ import annotations

import argparse
import importlib.util
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gre_agent.cli.data_osm import sample_path
from gre_agent.tools.osm import import_pbf, open_index
from gre_agent.tools.osm._geo import radius_bbox
from gre_agent.tools.osm._index import ImportStats, _Writer, read_pbf
from gre_agent.tools.osm._text import normalize

POINTS = [(60.1699, 24.9384), (60.1690, 24.9510), (60.1720, 24.9365), (60.1655, 24.9460)]
NAMES = ["Aleksanterinkatu", "ateneum", "stockmann", "Kiasma", "toolonlahdenkatu"]
CROSSINGS = [
    ("Mannerheimintie", "Kaivokatu"),
    ("Aleksanterinkatu", "Unioninkatu"),
    ("Mannerheimintie", "Aleksanterinkatu"),
    ("Pohjoisesplanadi", "Eteläesplanadi"),
]
BBOX = (60.15, 24.90, 60.19, 24.97)


def median_ms(fn: Callable[[int], Any], repeat: int) -> float:
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def bench_sqlite(pbf: Path, workdir: Path, repeat: int) -> dict[str, float]:
    db = workdir / "osm.sqlite"
    imports = []
    for _ in range(3):
        started = time.perf_counter()
        import_pbf(pbf, db)
        imports.append(time.perf_counter() - started)
    index = open_index(db)
    p = POINTS
    return {
        "import_s": statistics.median(imports),
        "features_near cafe 300 m": median_ms(
            lambda i: index.features_near(*p[i % 4], 300, {"amenity": "cafe"}, None, 50), repeat
        ),
        "features_near highway 200 m": median_ms(
            lambda i: index.features_near(*p[i % 4], 200, {"highway": None}, None, 50), repeat
        ),
        "find_named around 2 km": median_ms(
            lambda i: index.find_named(NAMES[i % 5], {}, None, (*p[i % 4], 2000), 20), repeat
        ),
        "find_named bbox": median_ms(
            lambda i: index.find_named(NAMES[i % 5], {}, BBOX, None, 20), repeat
        ),
        "street_intersection": median_ms(
            lambda i: index.street_intersection(*CROSSINGS[i % 4], None, 10), repeat
        ),
    }


class _Collect(_Writer):
    """Keeps the rows in lists instead of SQLite (the tags rows too, which the index
    itself builds in SQL)."""

    tag_rows = True

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows[table].append(row)

    def flush(self, table: str | None = None) -> None:
        pass


def bench_duckdb(pbf: Path, workdir: Path, repeat: int) -> dict[str, float]:
    """The same rows in DuckDB, with the same queries (bounding-box columns, no R-tree)."""
    import duckdb
    import pandas as pd

    started = time.perf_counter()
    scratch = sqlite3.connect(":memory:")
    rows = _Collect(scratch)
    read_pbf(pbf, rows, ImportStats())
    con = duckdb.connect(str(workdir / "osm.duckdb"))
    columns = {
        "features": ["id", "osm_type", "osm_id", "lat", "lon", "name", "tags", "geom"],
        "boxes": ["id", "min_lat", "max_lat", "min_lon", "max_lon"],
        "tags": ["fid", "key", "value"],
        "names": ["fid", "norm"],
        "way_nodes": ["way_fid", "seq", "node_id", "lat", "lon"],
    }
    sources = {"features": "features", "boxes": "features_rtree", "tags": "tags",
               "names": "names", "way_nodes": "way_nodes"}  # fmt: skip
    for table, cols in columns.items():
        frame = pd.DataFrame(rows.rows[sources[table]], columns=cols)  # noqa: F841
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM frame")
    con.execute(
        "CREATE TABLE feats AS SELECT f.id, osm_type, osm_id, lat, lon, name, tags, "
        "min_lat, max_lat, min_lon, max_lon FROM features f JOIN boxes b USING (id)"
    )
    con.execute("CREATE INDEX names_norm ON names(norm)")
    con.execute("CREATE INDEX way_nodes_node ON way_nodes(node_id)")
    load_s = time.perf_counter() - started

    def near(i: int, radius: float, key: str, value: str | None) -> list[Any]:
        s, w, n, e = radius_bbox(*POINTS[i % 4], radius)
        tag = "t.key = ?" + (" AND t.value = ?" if value else "")
        params = [n, s, e, w, key] + ([value] if value else [])
        return con.execute(
            "SELECT f.* FROM feats f WHERE f.min_lat <= ? AND f.max_lat >= ? "
            "AND f.min_lon <= ? AND f.max_lon >= ? AND EXISTS (SELECT 1 FROM tags t "
            f"WHERE t.fid = f.id AND {tag})",
            params,
        ).fetchall()

    def named(i: int) -> list[Any]:
        s, w, n, e = BBOX
        return con.execute(
            "SELECT f.* FROM feats f WHERE f.id IN (SELECT fid FROM names "
            "WHERE contains(norm, ?)) AND f.min_lat <= ? AND f.max_lat >= ? "
            "AND f.min_lon <= ? AND f.max_lon >= ?",
            [normalize(NAMES[i % 5]), n, s, e, w],
        ).fetchall()

    def crossing(i: int) -> list[Any]:
        a, b = CROSSINGS[i % 4]
        return con.execute(
            "SELECT DISTINCT a.node_id, a.lat, a.lon FROM way_nodes a "
            "JOIN way_nodes b ON b.node_id = a.node_id "
            "WHERE a.way_fid IN (SELECT fid FROM names WHERE norm = ?) "
            "AND b.way_fid IN (SELECT fid FROM names WHERE norm = ?)",
            [normalize(a), normalize(b)],
        ).fetchall()

    return {
        "import_s": load_s,
        "features_near cafe 300 m": median_ms(lambda i: near(i, 300, "amenity", "cafe"), repeat),
        "features_near highway 200 m": median_ms(lambda i: near(i, 200, "highway", None), repeat),
        "find_named bbox": median_ms(named, repeat),
        "street_intersection": median_ms(crossing, repeat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--no-duckdb", action="store_true")
    opts = parser.parse_args()
    pbf = sample_path("helsinki")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"{pbf.name} ({pbf.stat().st_size / 1e6:.1f} MB)")
        sqlite_numbers = bench_sqlite(pbf, work, opts.repeat)
        print("SQLite (R*Tree + FTS5 trigram), what the tools use:")
        for label, value in sqlite_numbers.items():
            unit = "s" if label.startswith("import") else "ms median"
            print(f"  {label:40s} {value:8.3f} {unit}")
        if not opts.no_duckdb and importlib.util.find_spec("duckdb") is None:
            print("DuckDB: not installed (pip install duckdb pandas), comparison skipped")
        elif not opts.no_duckdb:
            duck = bench_duckdb(pbf, work, opts.repeat)
            print("DuckDB (same rows and SQL, no exact-distance step: a lower bound):")
            for label, value in duck.items():
                unit = "s" if label.startswith("import") else "ms median"
                print(f"  {label:40s} {value:8.3f} {unit}")


if __name__ == "__main__":
    main()
