"""The offline OSM index: any .osm.pbf imported into one SQLite file.

Tables
    features        one row per kept node/way/relation: representative point, name, tags
    features_rtree  R*Tree of each feature's bounding box (a point for nodes)
    tags            (feature, key, value), for tag filters in SQL
    names           every name-like value of a feature, normalised (no case, no accents)
    names_fts       FTS5 trigram index over names.norm: indexed substring search
    way_nodes       the node lists of named streets; two streets cross where they share one

SQLite was chosen over DuckDB by measurement (benchmarks/bench_osm.py prints both).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import osmium

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.tools.osm._geo import (
    bbox_distance_m,
    haversine_m,
    polyline_distance_m,
    radius_bbox,
)
from gre_agent.tools.osm._models import Feature
from gre_agent.tools.osm._text import name_rank, normalize
from gre_agent.tools.osm.query import NAME_KEYS

SCHEMA_VERSION = "1"
IMPORT_HINT = "run: gre data osm import FILE.osm.pbf (or: gre data osm import --sample helsinki)"

# Tags that say nothing about what a feature is; an object with only these is skipped.
BORING_KEYS = frozenset({"source", "created_by", "note", "fixme", "FIXME", "layer", "area"})
BORING_PREFIXES = ("source:", "note:", "fixme:")
# Relations that are collections rather than places; their centres mean nothing.
SKIPPED_RELATIONS = frozenset(
    {"route", "route_master", "superroute", "restriction", "network", "collection",
     "associatedStreet", "street", "destination_sign", "enforcement", "waterway"}
)  # fmt: skip
NAME_KEY = re.compile(NAME_KEYS)

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE features(
    id INTEGER PRIMARY KEY,
    osm_type TEXT NOT NULL,
    osm_id INTEGER NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    name TEXT,
    tags TEXT NOT NULL,
    geom BLOB
);
CREATE VIRTUAL TABLE features_rtree USING rtree(id, min_lat, max_lat, min_lon, max_lon);
CREATE TABLE tags(fid INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                  PRIMARY KEY (fid, key)) WITHOUT ROWID;
CREATE TABLE names(fid INTEGER NOT NULL, norm TEXT NOT NULL);
CREATE VIRTUAL TABLE names_fts USING fts5(norm, content='names', tokenize='trigram');
CREATE TABLE way_nodes(way_fid INTEGER NOT NULL, seq INTEGER NOT NULL, node_id INTEGER NOT NULL,
                       lat REAL NOT NULL, lon REAL NOT NULL,
                       PRIMARY KEY (way_fid, seq)) WITHOUT ROWID;
CREATE TEMP TABLE way_bbox(id INTEGER PRIMARY KEY, s REAL, w REAL, n REAL, e REAL);
"""

INDEXES = """
CREATE UNIQUE INDEX features_osm ON features(osm_type, osm_id);
CREATE INDEX tags_kv ON tags(key, value);
CREATE INDEX names_norm ON names(norm);
CREATE INDEX way_nodes_node ON way_nodes(node_id);
INSERT INTO names_fts(names_fts) VALUES ('rebuild');
ANALYZE;
"""


def _interesting(tags: Mapping[str, str]) -> bool:
    return any(k not in BORING_KEYS and not k.startswith(BORING_PREFIXES) for k in tags)


def _names(tags: Mapping[str, str]) -> set[str]:
    found = set()
    for key, value in tags.items():
        if NAME_KEY.match(key):
            found.update(n for part in value.split(";") if (n := normalize(part)))
    return found


@dataclass
class ImportStats:
    nodes: int = 0
    ways: int = 0
    relations: int = 0
    street_ways: int = 0
    seconds: float = 0.0


class _Writer:
    """Buffers rows and writes them in batches (one transaction for the whole import)."""

    BATCH = 20_000

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        self.next_id = 1
        self.rows: dict[str, list[tuple[Any, ...]]] = {
            "features": [], "features_rtree": [], "tags": [], "names": [], "way_nodes": [],
            "way_bbox": [],
        }  # fmt: skip

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        rows = self.rows[table]
        rows.append(row)
        if len(rows) >= self.BATCH:
            self.flush(table)

    def flush(self, table: str | None = None) -> None:
        for name in [table] if table else list(self.rows):
            rows = self.rows[name]
            if rows:
                marks = ",".join("?" * len(rows[0]))
                self.db.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)
                rows.clear()

    def feature(
        self,
        osm_type: str,
        osm_id: int,
        point: tuple[float, float],
        box: tuple[float, float, float, float],
        tags: dict[str, str],
        geom: bytes | None = None,
    ) -> int:
        fid = self.next_id
        self.next_id += 1
        name = tags.get("name")
        self.add(
            "features",
            (fid, osm_type, osm_id, point[0], point[1], name, json.dumps(tags), geom),
        )
        south, west, north, east = box
        self.add("features_rtree", (fid, south, north, west, east))
        for key, value in tags.items():
            self.add("tags", (fid, key, value))
        for norm in _names(tags):
            self.add("names", (fid, norm))
        return fid


def import_pbf(pbf: Path, db_path: Path) -> ImportStats:
    """Build the index for `pbf` at `db_path` (written aside, then moved into place)."""
    started = time.perf_counter()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(f".{db_path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    stats = ImportStats()
    try:
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)
        out = _Writer(db)
        processor = osmium.FileProcessor(str(pbf)).with_locations()
        for obj in processor:
            if obj.is_node():
                _node(obj, out, stats)
            elif obj.is_way():
                _way(obj, out, stats)
            elif obj.is_relation():
                if stats.relations == 0:
                    out.flush("way_bbox")
                _relation(obj, processor.node_location_storage, out, stats)
        out.flush()
        db.executescript("DROP TABLE temp.way_bbox;" + INDEXES)
        meta = {"schema": SCHEMA_VERSION, "source": str(pbf), "imported_at": time.time()}
        db.executemany("INSERT INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in meta.items()])
        db.commit()
        db.execute("VACUUM")
    finally:
        db.close()
    os.replace(tmp, db_path)
    stats.seconds = time.perf_counter() - started
    return stats


def _node(obj: Any, out: _Writer, stats: ImportStats) -> None:
    tags = dict(obj.tags)
    if not tags or not _interesting(tags) or not obj.location.valid():
        return
    lat, lon = obj.location.lat, obj.location.lon
    out.feature("node", obj.id, (lat, lon), (lat, lon, lat, lon), tags)
    stats.nodes += 1


def _way(obj: Any, out: _Writer, stats: ImportStats) -> None:
    nodes = [(n.ref, n.location.lat, n.location.lon) for n in obj.nodes if n.location.valid()]
    if not nodes:
        return
    lats = [n[1] for n in nodes]
    lons = [n[2] for n in nodes]
    box = (min(lats), min(lons), max(lats), max(lons))
    out.add("way_bbox", (obj.id, *box))  # relations need the extent of untagged ways too
    tags = dict(obj.tags)
    if not tags or not _interesting(tags):
        return
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)  # as Overpass's `out center`
    geom = array("d", [c for _, lat, lon in nodes for c in (lat, lon)]).tobytes()
    fid = out.feature("way", obj.id, centre, box, tags, geom)
    stats.ways += 1
    if "highway" in tags and _names(tags):
        stats.street_ways += 1
        for seq, (ref, lat, lon) in enumerate(nodes):
            out.add("way_nodes", (fid, seq, ref, lat, lon))


def _relation(obj: Any, locations: Any, out: _Writer, stats: ImportStats) -> None:
    tags = dict(obj.tags)
    if tags.get("type") in SKIPPED_RELATIONS or not _interesting(tags):
        return
    boxes = []
    for member in obj.members:
        if member.type == "n":
            try:
                loc = locations.get(member.ref)
            except KeyError:
                continue
            if loc.valid():
                boxes.append((loc.lat, loc.lon, loc.lat, loc.lon))
        elif member.type == "w":
            row = out.db.execute(
                "SELECT s, w, n, e FROM way_bbox WHERE id = ?", (member.ref,)
            ).fetchone()
            if row:
                boxes.append(row)
    if not boxes:
        return  # members outside the extract
    box = (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    out.feature("relation", obj.id, centre, box, tags)
    stats.relations += 1


# -- queries ---------------------------------------------------------------------------

_COLUMNS = (
    "f.id, f.osm_type, f.osm_id, f.lat, f.lon, f.name, f.tags, f.geom, "
    "r.min_lat, r.min_lon, r.max_lat, r.max_lon"
)


def _tag_sql(tags: Mapping[str, str | None]) -> tuple[str, list[Any]]:
    sql, params = [], []
    for key, value in tags.items():
        if value is None:
            sql.append("EXISTS (SELECT 1 FROM tags t WHERE t.fid = f.id AND t.key = ?)")
            params.append(key)
        else:
            sql.append(
                "EXISTS (SELECT 1 FROM tags t WHERE t.fid = f.id AND t.key = ? AND t.value = ?)"
            )
            params += [key, value]
    return "".join(f" AND {s}" for s in sql), params


def _name_sql(name: str) -> tuple[str, list[Any]]:
    """Feature ids with a name containing `name`; trigram-indexed from 3 characters."""
    norm = normalize(name)
    if len(norm) >= 3:
        phrase = '"' + norm.replace('"', '""') + '"'
        return (
            "SELECT n.fid FROM names_fts JOIN names n ON n.rowid = names_fts.rowid"
            " WHERE names_fts MATCH ?",
            [phrase],
        )
    return "SELECT fid FROM names WHERE instr(norm, ?) > 0", [norm]


def _reach_m(row: sqlite3.Row, lat: float, lon: float) -> float:
    """How close any part of a feature comes to the point (Overpass `around` semantics)."""
    if row["osm_type"] == "node":
        return haversine_m(lat, lon, row["lat"], row["lon"])
    if row["geom"] is not None:
        coords = array("d")
        coords.frombytes(row["geom"])
        points = list(zip(coords[0::2], coords[1::2], strict=True))
        return polyline_distance_m(lat, lon, points)
    box = (row["min_lat"], row["min_lon"], row["max_lat"], row["max_lon"])
    return bbox_distance_m(lat, lon, box)


def _feature(row: sqlite3.Row, distance: float | None) -> Feature:
    return Feature(
        osm_type=row["osm_type"],
        osm_id=row["osm_id"],
        lat=row["lat"],
        lon=row["lon"],
        name=row["name"],
        tags=json.loads(row["tags"]),
        distance_m=None if distance is None else round(distance, 1),
    )


class OsmIndex:
    """Read-only queries on one imported database (safe to share between threads)."""

    def __init__(self, path: Path):
        self.path = path
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        try:
            meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise ToolFailure(
                ErrorKind.unavailable, f"{path} is not an OSM index ({exc}); {IMPORT_HINT}"
            ) from exc
        if meta.get("schema") != SCHEMA_VERSION:
            raise ToolFailure(
                ErrorKind.unavailable, f"{path} has an old index format; {IMPORT_HINT}"
            )
        self.meta = meta

    def _rows(self, sql: str, params: Iterable[Any]) -> list[sqlite3.Row]:
        with self._lock:
            return self.db.execute(sql, list(params)).fetchall()

    def features_near(
        self,
        lat: float,
        lon: float,
        radius_m: float,
        tags: Mapping[str, str | None],
        name: str | None,
        limit: int,
    ) -> list[Feature]:
        south, west, north, east = radius_bbox(lat, lon, radius_m)
        tag_sql, tag_params = _tag_sql(tags)
        sql = (
            f"SELECT {_COLUMNS} FROM features_rtree r JOIN features f ON f.id = r.id"
            " WHERE r.min_lat <= ? AND r.max_lat >= ? AND r.min_lon <= ? AND r.max_lon >= ?"
            + tag_sql
        )
        params = [north, south, east, west, *tag_params]
        if name:
            name_sql, name_params = _name_sql(name)
            sql += f" AND f.id IN ({name_sql})"
            params += name_params
        hits = []
        for row in self._rows(sql, params):
            if _reach_m(row, lat, lon) <= radius_m:
                hits.append((haversine_m(lat, lon, row["lat"], row["lon"]), row["id"], row))
        hits.sort(key=lambda h: h[:2])
        return [_feature(row, d) for d, _, row in hits[:limit]]

    def find_named(
        self,
        name: str,
        tags: Mapping[str, str | None],
        box: tuple[float, float, float, float] | None,
        around: tuple[float, float, float] | None,
        limit: int,
    ) -> list[Feature]:
        if around is not None:
            box = radius_bbox(*around)
        assert box is not None
        south, west, north, east = box
        name_sql, name_params = _name_sql(name)
        tag_sql, tag_params = _tag_sql(tags)
        sql = (
            f"SELECT {_COLUMNS} FROM features f JOIN features_rtree r ON r.id = f.id"
            f" WHERE f.id IN ({name_sql})"
            " AND r.min_lat <= ? AND r.max_lat >= ? AND r.min_lon <= ? AND r.max_lon >= ?" + tag_sql
        )
        rows = self._rows(sql, [*name_params, north, south, east, west, *tag_params])
        if around is not None:
            lat, lon, radius_m = around
            hits = [
                (haversine_m(lat, lon, row["lat"], row["lon"]), row["id"], row)
                for row in rows
                if _reach_m(row, lat, lon) <= radius_m
            ]
            hits.sort(key=lambda h: h[:2])
            return [_feature(row, d) for d, _, row in hits[:limit]]
        # No query point: the closest matches first (exact, then prefix, then substring).
        rows.sort(key=lambda row: name_rank(row["name"], name))
        return [_feature(row, None) for row in rows[:limit]]

    def street_intersection(
        self, street_a: str, street_b: str, near: tuple[float, float, float] | None, limit: int
    ) -> list[Feature]:
        sql = (
            "SELECT a.node_id, a.lat, a.lon, fa.name AS name_a, fb.name AS name_b"
            " FROM way_nodes a JOIN way_nodes b ON b.node_id = a.node_id"
            " JOIN features fa ON fa.id = a.way_fid JOIN features fb ON fb.id = b.way_fid"
            " WHERE a.way_fid IN (SELECT fid FROM names WHERE norm = ?)"
            " AND b.way_fid IN (SELECT fid FROM names WHERE norm = ?)"
        )
        rows = self._rows(sql, [normalize(street_a), normalize(street_b)])
        crossings: dict[int, tuple[float | None, sqlite3.Row]] = {}
        for row in rows:
            distance = None
            if near is not None:
                distance = haversine_m(near[0], near[1], row["lat"], row["lon"])
                if distance > near[2]:
                    continue
            crossings.setdefault(row["node_id"], (distance, row))
        ordered = sorted(crossings.items(), key=lambda c: (c[1][0] or 0.0, c[0]))[:limit]
        features = []
        for node_id, (distance, row) in ordered:
            tagged = self._rows(
                "SELECT tags FROM features WHERE osm_type = 'node' AND osm_id = ?", [node_id]
            )
            features.append(
                Feature(
                    osm_type="node",
                    osm_id=node_id,
                    lat=row["lat"],
                    lon=row["lon"],
                    name=f"{row['name_a'] or street_a} / {row['name_b'] or street_b}",
                    tags=json.loads(tagged[0]["tags"]) if tagged else {},
                    distance_m=None if distance is None else round(distance, 1),
                )
            )
        return features


@cache
def _open(path: str, mtime_ns: int) -> OsmIndex:
    return OsmIndex(Path(path))


def open_index(path: Path) -> OsmIndex:
    """The index at `path`, opened once per process (again if the file is re-imported)."""
    try:
        mtime_ns = path.stat().st_mtime_ns
    except FileNotFoundError as exc:
        raise ToolFailure(ErrorKind.unavailable, f"no OSM index at {path}; {IMPORT_HINT}") from exc
    return _open(str(path), mtime_ns)
