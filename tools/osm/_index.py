"""The offline OSM index: any .osm.pbf imported into one SQLite file.

Tables
    features        one row per kept node/way/relation: representative point, name, tags,
                    geometry, bounding box
    boxes           the spatial index: each bounding box filed under one grid cell
                    (`cell_of`), clustered by cell; a search box becomes cell ranges
    tags            (key, value, feature), clustered by tag, for tag filters in SQL
    names           every name-like value of a feature, normalised (no case, no accents)
    names_fts       FTS5 trigram index over the distinct names: indexed substring search
    way_nodes       the node lists of named streets; two streets cross where they share one
    tag_counts      how many features carry each key (and each frequent key=value)

SQLite was chosen over DuckDB by measurement (benchmarks/bench_osm.py prints both). The
grid of `boxes` replaced an R*Tree: its inserts (about 10 us each) were most of a large
import, while sorted cell keys append at a fraction of that (benchmarks/bench_osm_scale.py).
"""

from __future__ import annotations

import json
import math
import os
import queue
import re
import sqlite3
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache, partial
from pathlib import Path
from typing import Any

import osmium
import osmium.filter
import osmium.geom

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.tools.osm import _native
from gre_agent.tools.osm._geo import (
    bbox_distance_m,
    distance_m,
    polyline_distance_m,
    radius_bbox,
)
from gre_agent.tools.osm._models import Feature
from gre_agent.tools.osm._text import name_rank, normalize
from gre_agent.tools.osm.query import NAME_KEYS

SCHEMA_VERSION = "3"
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
# Keys whose values the tags table leaves out: names (searched through `names`) and
# addr:street (matched by its normalised name); a filter on them reads the feature's JSON.
UNINDEXED_KEYS = frozenset({"name", "alt_name", "official_name", "short_name", "addr:street"})
UNINDEXED_PREFIXES = ("name:",)
# key=value pairs at least this common get a row in tag_counts (keys always do).
COUNTED_PAIRS = 100


def indexed_key(key: str) -> bool:
    return key not in UNINDEXED_KEYS and not key.startswith(UNINDEXED_PREFIXES)


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
    geom BLOB,
    min_lat REAL NOT NULL, max_lat REAL NOT NULL, min_lon REAL NOT NULL, max_lon REAL NOT NULL
);
CREATE TABLE boxes(cell INTEGER NOT NULL, id INTEGER NOT NULL,
                   min_lat REAL NOT NULL, max_lat REAL NOT NULL,
                   min_lon REAL NOT NULL, max_lon REAL NOT NULL,
                   PRIMARY KEY (cell, id)) WITHOUT ROWID;
CREATE TABLE tags(key TEXT NOT NULL, value TEXT NOT NULL, fid INTEGER NOT NULL,
                  PRIMARY KEY (key, value, fid)) WITHOUT ROWID;
CREATE TABLE names(fid INTEGER NOT NULL, norm TEXT NOT NULL);
CREATE VIRTUAL TABLE names_fts USING fts5(norm, tokenize='trigram');
CREATE TABLE tag_counts(key TEXT NOT NULL, value TEXT, n INTEGER NOT NULL);
CREATE TABLE way_nodes(way_fid INTEGER NOT NULL, seq INTEGER NOT NULL, node_id INTEGER NOT NULL,
                       lat REAL NOT NULL, lon REAL NOT NULL,
                       PRIMARY KEY (way_fid, seq)) WITHOUT ROWID;
"""

# The Python reader's boxes and tags, made in SQL (the native reader writes them sorted).
PYTHON_TABLES = f"""
INSERT INTO boxes SELECT cell_of(min_lat, min_lon, max_lat, max_lon), id,
    min_lat, max_lat, min_lon, max_lon FROM features ORDER BY 1, 2;
INSERT INTO tags SELECT j.key, j.value, f.id FROM features f, json_each(f.tags) j
    WHERE indexed_key(j.key) ORDER BY 1, 2, 3;
-- How common each key (value NULL) and each frequent key=value is, to plan queries.
INSERT INTO tag_counts SELECT key, NULL, count(*) FROM tags GROUP BY key;
INSERT INTO tag_counts SELECT key, value, count(*) FROM tags GROUP BY key, value
    HAVING count(*) >= {COUNTED_PAIRS};
"""

INDEXES = """
-- Nodes by OSM id: where two streets cross, the node's own tags.
CREATE INDEX features_node ON features(osm_id) WHERE osm_type = 'node';
CREATE INDEX names_norm ON names(norm);
CREATE INDEX way_nodes_node ON way_nodes(node_id);
CREATE INDEX tag_counts_kv ON tag_counts(key, value);
-- Each distinct name once: a street's name is on every way of it.
INSERT INTO names_fts(norm) SELECT DISTINCT norm FROM names;
PRAGMA analysis_limit=1000;
ANALYZE;
"""

# -- the grid of `boxes` -------------------------------------------------------------
# Level L cuts the globe into cells of 360 / 2**L degrees. A box is filed under the finest
# level whose cells are at least as large as it, in the cell of its south-west corner;
# it then lies in that cell and the three beside it to the north and east. The C++
# reader (native/osm_import.cpp) computes the same key.
MAX_LEVEL = 18  # cells of about 150 m: a building's box fits one
_LAST = (1 << 20) - 1
_ROW_RANGES = 16  # more rows than this at one level: one range over all of them


def _grid(value: float, size: float) -> int:
    return min(max(math.floor(value / size), 0), _LAST)


def cell_of(south: float, west: float, north: float, east: float) -> int:
    level, size = MAX_LEVEL, 360.0 / (1 << MAX_LEVEL)
    while level > 0 and (north - south > size or east - west > size):
        level, size = level - 1, size * 2
    return (level << 40) | (_grid(south + 90.0, size) << 20) | _grid(west + 180.0, size)


def cell_ranges(box: Box) -> list[tuple[int, int]]:
    """The (first, last) cell keys whose boxes may meet `box`, over every level."""
    south, west, north, east = box
    ranges = []
    for level in range(MAX_LEVEL + 1):
        size = 360.0 / (1 << level)
        r0, r1 = max(_grid(south + 90.0, size) - 1, 0), _grid(north + 90.0, size)
        c0, c1 = max(_grid(west + 180.0, size) - 1, 0), _grid(east + 180.0, size)
        top = level << 40
        if r1 - r0 >= _ROW_RANGES:
            ranges.append((top | r0 << 20 | c0, top | r1 << 20 | c1))
        else:
            ranges += [(top | r << 20 | c0, top | r << 20 | c1) for r in range(r0, r1 + 1)]
    return ranges


def _interesting(tags: Mapping[str, str]) -> bool:
    return any(k not in BORING_KEYS and not k.startswith(BORING_PREFIXES) for k in tags)


def _names(tags: Mapping[str, str]) -> set[str]:
    found: set[str] = set()
    for key, value in tags.items():
        if "name" in key and _is_name_key(key):  # the substring test skips most keys fast
            found.update(_value_names(value))
    return found


def _value_names(value: str) -> set[str]:
    """The normalised names in one tag value ("A;B" holds two)."""
    return {n for part in value.split(";") if (n := _normalize(part))}


def _is_name_key(key: str) -> bool:
    return NAME_KEY.match(key) is not None


@lru_cache(maxsize=65536)
def _normalize(name: str) -> str:
    return normalize(name)  # street names repeat across ways and addresses


@dataclass
class ImportStats:
    nodes: int = 0
    ways: int = 0
    relations: int = 0
    street_ways: int = 0
    seconds: float = 0.0
    seen: int = 0  # input objects read (known to the native reader only)
    engine: str = "python"


# Above this file size node locations go to a file next to the index, not to memory.
FILE_LOCATIONS_BYTES = 256 * 1024 * 1024


class _Writer:
    """Buffers rows and hands full batches to a writer thread (one transaction in all).

    sqlite3 releases the GIL while it steps, so parsing and writing overlap on two cores.
    The boxes and tags tables are not written from here: they are built from features in
    SQL after the load (PYTHON_TABLES), unless `tag_rows` is set (benchmarks that want
    the tag rows).
    """

    BATCH = 20_000
    tag_rows = False

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        self.next_id = 1
        self.rows: dict[str, list[tuple[Any, ...]]] = {
            "features": [], "tags": [], "names": [], "way_nodes": [],
        }  # fmt: skip
        self._queue: queue.Queue[tuple[str, list[tuple[Any, ...]]] | None] = queue.Queue(8)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._write, name="osm-import-writer")
        self._thread.start()

    def _write(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain after a failure; the import raises it at the end
            table, rows = item
            try:
                marks = ",".join("?" * len(rows[0]))
                self.db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
            except BaseException as exc:  # reported to the importing thread in close()
                self._error = exc

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        rows = self.rows[table]
        rows.append(row)
        if len(rows) >= self.BATCH:
            self.flush(table)

    def flush(self, table: str | None = None) -> None:
        for name in [table] if table else list(self.rows):
            rows = self.rows[name]
            if not rows:
                continue
            self.rows[name] = []
            if self._thread is None:
                marks = ",".join("?" * len(rows[0]))
                self.db.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)
            else:
                self._queue.put((name, rows))

    def close(self) -> None:
        """Write what is buffered and wait for the writer thread; raise what it raised."""
        self.flush()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise self._error

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
        south, west, north, east = box
        name = tags.get("name")
        row = (fid, osm_type, osm_id, *point, name, _dumps(tags), geom, south, north, west, east)
        self.add("features", row)
        if self.tag_rows:
            for key, value in tags.items():
                self.add("tags", (key, value, fid))
        for norm in _names(tags):
            self.add("names", (fid, norm))
        return fid


def import_pbf(
    pbf: Path,
    db_path: Path,
    progress: bool = False,
    locations: str | None = None,
    engine: str = "auto",
) -> ImportStats:
    """Build the index for `pbf` at `db_path` (written aside, then moved into place).

    A killed or failed import leaves the old index as it was: the new one is written to a
    temporary file that replaces it only when complete. `locations` is the node location
    store ("flex_mem", "sparse_file_array", ...); by default memory for small files and a
    file beside the index for large ones, to bound memory. `engine` picks the reader:
    "native" (the C++ program, `make native`), "python" (pyosmium), or "auto" (native
    when built).
    """
    started = time.perf_counter()
    binary = _native.choose(engine)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(f".{db_path.name}.{os.getpid()}.tmp")
    nodes_file = db_path.with_name(f".{db_path.name}.{os.getpid()}.nodes")
    tmp.unlink(missing_ok=True)
    if locations is None:
        big = pbf.stat().st_size > FILE_LOCATIONS_BYTES
        locations = "sparse_file_array" if big else "flex_mem"
    if locations.endswith("_file_array") and "," not in locations:
        locations = f"{locations},{nodes_file}"
    db = sqlite3.connect(tmp, check_same_thread=False)
    stats = ImportStats()
    try:
        db.executescript(PRAGMAS + SCHEMA)
        with _progress(progress, stats) as tick:
            if binary is None:
                _read_python(pbf, db, stats, locations, tick)
                extent = _extent(db)
            else:
                db.executescript(_native.RAW_NAMES)
                db.close()  # the program writes the rows; its lock must be free
                db, extent = _read_native(binary, pbf, tmp, stats, locations, tick)
        meta = {"schema": SCHEMA_VERSION, "source": str(pbf), "imported_at": time.time()}
        meta.update(zip(("south", "west", "north", "east"), extent, strict=True))
        meta.update(nodes=stats.nodes, ways=stats.ways, relations=stats.relations)
        db.executescript(INDEXES)
        db.executemany("INSERT INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in meta.items()])
        db.commit()
        db.close()
        os.replace(tmp, db_path)
    except BaseException:
        db.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        nodes_file.unlink(missing_ok=True)
    stats.seconds = time.perf_counter() - started
    return stats


def _read_python(
    pbf: Path, db: sqlite3.Connection, stats: ImportStats, locations: str, tick: Callable[[], None]
) -> None:
    out = _Writer(db)
    out.start()
    try:
        read_pbf(pbf, out, stats, locations=locations, tick=tick)
    finally:
        out.close()
    db.create_function("cell_of", 4, cell_of, deterministic=True)
    db.create_function("indexed_key", 1, indexed_key, deterministic=True)
    db.executescript(PYTHON_TABLES)


def _read_native(
    binary: Path, pbf: Path, tmp: Path, stats: ImportStats, locations: str, tick: Callable[[], None]
) -> tuple[sqlite3.Connection, Box]:
    """The C++ reader's rows, then the names; the database opened again, and the extent."""
    stats.engine = "native"

    def on_progress(seen: int, kept: int) -> None:
        stats.seen, stats.nodes = seen, kept  # nodes holds "kept" until the final counts
        if seen > 1:  # the first line only says the program has started: no rate yet
            tick()

    rules = _native.Rules(
        boring_keys=sorted(BORING_KEYS),
        boring_prefixes=BORING_PREFIXES,
        skipped_relations=sorted(SKIPPED_RELATIONS),
        unindexed_keys=sorted(UNINDEXED_KEYS),
        unindexed_prefixes=UNINDEXED_PREFIXES,
        counted_pairs=COUNTED_PAIRS,
    )
    counts = _native.run(binary, pbf, tmp, locations, rules, on_progress)
    stats.seen = counts.seen
    stats.nodes, stats.ways, stats.relations = counts.nodes, counts.ways, counts.relations
    db = sqlite3.connect(tmp, check_same_thread=False)
    db.executescript(PRAGMAS)
    _native.names_from_raw(db, _is_name_key, _value_names)
    stats.street_ways = db.execute("SELECT count(DISTINCT way_fid) FROM way_nodes").fetchone()[0]
    return db, counts.extent


PRAGMAS = """
PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY;
PRAGMA cache_size=-262144; PRAGMA threads=2; PRAGMA locking_mode=EXCLUSIVE;
"""


def _extent(db: sqlite3.Connection) -> tuple[float, float, float, float]:
    row = db.execute(
        "SELECT min(min_lat), min(min_lon), max(max_lat), max(max_lon) FROM features"
    ).fetchone()
    return (row[0], row[1], row[2], row[3]) if row[0] is not None else (0.0, 0.0, 0.0, 0.0)


@contextmanager
def _progress(show: bool, stats: ImportStats) -> Iterator[Callable[[], None]]:
    """A live line on stderr: objects kept so far and their rate (rich; off unless asked)."""
    if not show:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
               TextColumn("{task.completed:,.0f} objects {task.fields[rate]}"))  # fmt: skip
    started = time.perf_counter()
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("importing", total=None, rate="")

        def tick() -> None:
            kept = stats.nodes + stats.ways + stats.relations
            elapsed = max(time.perf_counter() - started, 1e-9)
            if stats.seen:  # the native reader counts what it reads, not only what it keeps
                note = f"kept, {stats.seen:,} read ({stats.seen / elapsed:,.0f}/s)"
            else:
                note = f"kept ({kept / elapsed:,.0f}/s)"
            bar.update(task, completed=kept, rate=note)

        yield tick
        tick()
        bar.update(task, description="indexing")


def _relation_members(pbf: Path) -> set[int]:
    """Ids of the ways that kept relations use: only their extents are remembered."""
    members: set[int] = set()
    for rel in osmium.FileProcessor(str(pbf), osmium.osm.RELATION):
        if isinstance(rel, osmium.osm.Relation) and _kept_relation(_tags(rel)):
            members.update(m.ref for m in rel.members if m.type == "w")
    return members


def _kept_relation(tags: Mapping[str, str]) -> bool:
    return bool(tags) and tags.get("type") not in SKIPPED_RELATIONS and _interesting(tags)


class _MemberWays(osmium.SimpleHandler):
    """Sees the untagged ways the C++ filter dropped; keeps the extents relations need."""

    def __init__(self, wanted: set[int], boxes: dict[int, tuple[float, float, float, float]]):
        super().__init__()
        self.wanted = wanted
        self.boxes = boxes

    def way(self, w: Any) -> None:
        if w.id in self.wanted and (box := _way_box(w)) is not None:
            self.boxes[w.id] = box


def _way_coords(w: Any) -> array[float] | None:
    """(lon, lat) pairs of a way's located nodes, built in C++ (WKB) when all are valid."""
    try:
        wkb = _WKB.create_linestring(w, use_nodes=osmium.geom.ALL)
    except (osmium.InvalidLocationError, RuntimeError):
        pts = [c for n in w.nodes if n.location.valid() for c in (n.lon, n.lat)]
        return array("d", pts) if pts else None
    coords = array("d")
    coords.frombytes(bytes.fromhex(wkb)[9:])  # after byte order, type and count
    return coords


def _way_box(w: Any) -> tuple[float, float, float, float] | None:
    coords = _way_coords(w)
    if coords is None:
        return None
    lons, lats = coords[0::2], coords[1::2]
    return (min(lats), min(lons), max(lats), max(lons))


_WKB = osmium.geom.WKBFactory()
_dumps = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode


def _tags(obj: Any) -> dict[str, str]:
    """The object's tags as a dict, read without pyosmium's per-tag Python iterator
    (the C++ accessor is driven by iter(callable, sentinel), which stops on StopIteration);
    this is most of the Python cost of an import."""
    data = getattr(obj.tags, "_pyosmium_data", None)
    if data is None:
        return dict(obj.tags)
    return dict(iter(partial(data.tags_next, data.tags_begin()), None))


def read_pbf(
    pbf: Path,
    out: _Writer,
    stats: ImportStats,
    locations: str = "flex_mem",
    tick: Callable[[], None] = lambda: None,
) -> None:
    """Two passes: the relations (which ways they need), then everything.

    Untagged nodes and ways are dropped in C++ (EmptyTagFilter) after their locations
    are stored, so Python sees only what may be kept; the untagged ways a relation needs
    reach `_MemberWays` instead.
    """
    wanted = _relation_members(pbf)
    boxes: dict[int, tuple[float, float, float, float]] = {}
    processor = (
        osmium.FileProcessor(str(pbf))
        .with_locations(locations)
        .with_filter(osmium.filter.EmptyTagFilter())
        .handler_for_filtered(_MemberWays(wanted, boxes))
    )
    store = processor.node_location_storage
    for count, obj in enumerate(processor):
        if count % 65536 == 0:
            tick()
        if isinstance(obj, osmium.osm.Changeset):
            continue
        if obj.is_node():
            _node(obj, out, stats)
        elif obj.is_way():
            _way(obj, out, stats, wanted, boxes)
        elif obj.is_relation():
            _relation(obj, store, boxes, out, stats)


def _node(obj: Any, out: _Writer, stats: ImportStats) -> None:
    tags = _tags(obj)
    if not _interesting(tags) or not obj.location.valid():
        return
    lat, lon = obj.location.lat, obj.location.lon
    out.feature("node", obj.id, (lat, lon), (lat, lon, lat, lon), tags)
    stats.nodes += 1


def _way(
    obj: Any,
    out: _Writer,
    stats: ImportStats,
    wanted: set[int],
    boxes: dict[int, tuple[float, float, float, float]],
) -> None:
    coords = _way_coords(obj)
    if coords is None:
        return
    lons, lats = coords[0::2], coords[1::2]
    box = (min(lats), min(lons), max(lats), max(lons))
    if obj.id in wanted:
        boxes[obj.id] = box  # relations need the extent of their member ways
    tags = _tags(obj)
    if not _interesting(tags):
        return
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)  # as Overpass's `out center`
    geom = array("d", coords)  # stored as (lat, lon) pairs
    geom[0::2], geom[1::2] = lats, lons
    fid = out.feature("way", obj.id, centre, box, tags, geom.tobytes())
    stats.ways += 1
    if "highway" in tags and _names(tags):
        stats.street_ways += 1
        refs = [n.ref for n in obj.nodes if n.location.valid()]
        if len(refs) != len(lats):  # WKB drops repeated points: take them one by one
            located = [n for n in obj.nodes if n.location.valid()]
            refs = [n.ref for n in located]
            lats = array("d", [n.lat for n in located])
            lons = array("d", [n.lon for n in located])
        for seq, (ref, lat, lon) in enumerate(zip(refs, lats, lons, strict=True)):
            out.add("way_nodes", (fid, seq, ref, lat, lon))


def _relation(
    obj: Any,
    locations: Any,
    boxes: dict[int, tuple[float, float, float, float]],
    out: _Writer,
    stats: ImportStats,
) -> None:
    tags = _tags(obj)
    if not _kept_relation(tags):
        return
    found = []
    for member in obj.members:
        if member.type == "n":
            try:
                loc = locations.get(member.ref)
            except KeyError:
                loc = None
            if loc is None or not loc.valid():
                return  # incomplete (clipped by the extract): its centre would be wrong
            found.append((loc.lat, loc.lon, loc.lat, loc.lon))
        elif member.type == "w":
            box = boxes.get(member.ref)
            if box is None:
                return  # incomplete, as above
            found.append(box)
    if not found:
        return  # only sub-relations: no geometry of its own
    box = (
        min(b[0] for b in found),
        min(b[1] for b in found),
        max(b[2] for b in found),
        max(b[3] for b in found),
    )
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    out.feature("relation", obj.id, centre, box, tags)
    stats.relations += 1


# -- queries ---------------------------------------------------------------------------

Box = tuple[float, float, float, float]  # south, west, north, east
WORLD: Box = (-90.0, -180.0, 90.0, 180.0)  # a name search everywhere in the index


def housenumber_variants(housenumber: str) -> list[str]:
    """How a house number may be tagged: "12b" also as "12 b", "12B", "12 B"."""
    hn = " ".join(housenumber.split())
    m = re.fullmatch(r"(\d+)\s*([A-Za-z])", hn)
    if not m:
        return [hn]
    num, letter = m.groups()
    return list(
        dict.fromkeys(
            f"{num}{sep}{case}" for sep in ("", " ") for case in (letter.lower(), letter.upper())
        )
    )


@dataclass(slots=True)
class _Candidate:
    """What the spatial step needs of a feature; names, tags and geometry come later."""

    id: int
    osm_type: str
    lat: float
    lon: float
    box: Box


def _tag_term(key: str, value: str | None) -> tuple[str, list[Any]]:
    """A feature `f` has the tag: a seek in `tags` for key=value, its JSON otherwise."""
    if value is None:
        return "EXISTS (SELECT 1 FROM json_each(f.tags) WHERE key = ?)", [key]
    if not indexed_key(key):
        return "EXISTS (SELECT 1 FROM json_each(f.tags) WHERE key = ? AND value = ?)", [key, value]
    return "EXISTS (SELECT 1 FROM tags t WHERE t.key = ? AND t.value = ? AND t.fid = f.id)", [
        key,
        value,
    ]


def _box_sql(box: Box, columns: str, join_features: bool = True) -> tuple[str, list[Any]]:
    """SELECT `columns` of the features whose box meets `box` (as b and f), by grid cell."""
    south, west, north, east = box
    ranges = cell_ranges(box)
    values = ", ".join(["(?, ?)"] * len(ranges))
    join = " CROSS JOIN features f ON f.id = b.id" if join_features else ""
    sql = (
        f"WITH q(lo, hi) AS (VALUES {values}) SELECT {columns}"
        f" FROM q CROSS JOIN boxes b ON b.cell BETWEEN q.lo AND q.hi{join}"
        " WHERE b.min_lat <= ? AND b.max_lat >= ? AND b.min_lon <= ? AND b.max_lon >= ?"
    )
    return sql, [*(k for r in ranges for k in r), north, south, east, west]


def _name_sql(name: str) -> tuple[str, list[Any]]:
    """Feature ids with a name containing `name`; trigram-indexed from 3 characters."""
    norm = normalize(name)
    if len(norm) >= 3:
        phrase = '"' + norm.replace('"', '""') + '"'
        return (
            "SELECT fid FROM names WHERE norm IN"
            " (SELECT norm FROM names_fts WHERE names_fts MATCH ?)",
            [phrase],
        )
    return "SELECT fid FROM names WHERE instr(norm, ?) > 0", [norm]


def _inside_circle(box: Box, lat: float, lon: float, radius_m: float) -> bool:
    south, west, north, east = box
    corners = ((south, west), (south, east), (north, west), (north, east))
    return all(distance_m(lat, lon, c_lat, c_lon) <= radius_m for c_lat, c_lon in corners)


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
        self._extent: Box | None = None

    @property
    def extent(self) -> Box:
        """South, west, north, east of everything in the index (stored at import)."""
        if self._extent is None:
            m = self.meta
            if all(k in m for k in ("south", "west", "north", "east")):
                self._extent = (float(m["south"]), float(m["west"]), float(m["north"]),
                                float(m["east"]))  # fmt: skip
            else:  # a database written by hand, without its extent
                row = self._rows(
                    "SELECT min(min_lat), min(min_lon), max(max_lat), max(max_lon) FROM features",
                    [],
                )[0]
                self._extent = WORLD if row[0] is None else (row[0], row[1], row[2], row[3])
        return self._extent

    def _rows(self, sql: str, params: Iterable[Any]) -> list[sqlite3.Row]:
        with self._lock:
            return self.db.execute(sql, list(params)).fetchall()

    # -- the spatial step ------------------------------------------------------------
    def _tag_count(self, key: str, value: str | None) -> int:
        """How many features carry the tag (rare pairs are not in tag_counts: count them)."""
        rows = self._rows("SELECT n FROM tag_counts WHERE key = ? AND value IS ?", [key, value])
        if rows:
            return rows[0][0]
        if value is None:
            return 0
        return self._rows("SELECT count(*) FROM tags WHERE key = ? AND value = ?", [key, value])[0][
            0
        ]

    def _in_box_at_least(self, box: Box, n: int) -> bool:
        """Whether the box holds more than `n` features (costs at most n steps)."""
        sql, params = _box_sql(box, "1", join_features=False)
        found = self._rows(f"SELECT count(*) FROM ({sql} LIMIT ?)", [*params, n + 1])[0][0]
        return found > n

    def _candidates(
        self, box: Box, tags: Mapping[str, str | None], name: str | None
    ) -> list[_Candidate]:
        """Features whose bounding box meets `box` and that match the tags and name.

        The most selective filter leads: a name's ids, a rare tag's ids (when the box
        holds more features than carry the tag), or else the grid cells of the box.
        """
        rest = dict(tags)
        lead: tuple[str, list[Any]] | None = None
        if name:
            name_sql, name_params = _name_sql(name)
            lead = f"f.id IN ({name_sql})", name_params
        elif indexed := [(k, v) for k, v in tags.items() if indexed_key(k)]:
            count, key, value = min((self._tag_count(k, v), k, v) for k, v in indexed)
            if self._in_box_at_least(box, count):
                rest.pop(key)
                value_sql = "" if value is None else " AND value = ?"
                lead = (
                    f"f.id IN (SELECT fid FROM tags WHERE key = ?{value_sql})",
                    ([key] if value is None else [key, value]),
                )
        columns = (
            "f.id, f.osm_type, f.lat, f.lon, {0}.min_lat, {0}.min_lon, {0}.max_lat, {0}.max_lon"
        )
        if lead is None:
            sql, params = _box_sql(box, columns.format("b"))
        else:
            south, west, north, east = box
            sql = (
                f"SELECT {columns.format('f')} FROM features f WHERE {lead[0]}"
                " AND f.min_lat <= ? AND f.max_lat >= ? AND f.min_lon <= ? AND f.max_lon >= ?"
            )
            params = [*lead[1], north, south, east, west]
        for key, value in rest.items():
            term, term_params = _tag_term(key, value)
            sql += f" AND {term}"
            params += term_params
        rows = self._rows(sql, params)
        return [_Candidate(r[0], r[1], r[2], r[3], (r[4], r[5], r[6], r[7])) for r in rows]

    def _reaches(self, c: _Candidate, lat: float, lon: float, radius_m: float, d: float) -> bool:
        """Whether any part of the feature is within the circle (Overpass `around`)."""
        if c.osm_type == "node":
            return d <= radius_m
        if bbox_distance_m(lat, lon, c.box) > radius_m:
            return False
        if c.osm_type == "relation" or _inside_circle(c.box, lat, lon, radius_m):
            return True  # relations: their extent is as close as we look
        blob = self._rows("SELECT geom FROM features WHERE id = ?", [c.id])[0][0]
        coords = array("d")
        coords.frombytes(blob)
        points = list(zip(coords[0::2], coords[1::2], strict=True))
        return polyline_distance_m(lat, lon, points) <= radius_m

    def _nearest(
        self, candidates: list[_Candidate], lat: float, lon: float, radius_m: float, limit: int
    ) -> list[Feature]:
        scored = sorted(
            ((distance_m(lat, lon, c.lat, c.lon), c.id, c) for c in candidates),
            key=lambda s: s[:2],
        )
        kept: list[tuple[float, int]] = []
        for distance, fid, c in scored:  # nearest first, so we stop at `limit`
            if self._reaches(c, lat, lon, radius_m, distance):
                kept.append((distance, fid))
                if len(kept) == limit:
                    break
        return self._features(kept)

    def _nearest_named(
        self,
        candidates: list[_Candidate],
        name: str,
        lat: float,
        lon: float,
        radius_m: float,
        limit: int,
    ) -> list[Feature]:
        """Exact name matches first, then prefix, then substring; nearest first in each.

        "<Name>" must come before a nearer "<Name> Q-Park" or "<Name>seurakunta".
        """
        names = self._names_of([c.id for c in candidates])
        scored = sorted(
            (
                name_rank(names.get(c.id), name)[0],
                distance_m(lat, lon, c.lat, c.lon),
                c.id,
                c,
            )
            for c in candidates
        )
        kept: list[tuple[float, int]] = []
        for _quality, distance, fid, c in scored:
            if self._reaches(c, lat, lon, radius_m, distance):
                kept.append((distance, fid))
                if len(kept) == limit:
                    break
        return self._features(kept)

    def _names_of(self, ids: Sequence[int]) -> dict[int, str]:
        names: dict[int, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self._rows(
                f"SELECT id, name FROM features WHERE id IN ({','.join('?' * len(chunk))})", chunk
            )
            names.update((row["id"], row["name"]) for row in rows)
        return names

    def _features(self, picked: Sequence[tuple[float | None, int]]) -> list[Feature]:
        """Full features for (distance, id) pairs, in the given order."""
        ids = [fid for _, fid in picked]
        by_id: dict[int, sqlite3.Row] = {}
        for start in range(0, len(ids), 500):  # stay far below SQLite's variable limit
            chunk = ids[start : start + 500]
            rows = self._rows(
                "SELECT id, osm_type, osm_id, lat, lon, name, tags FROM features"
                f" WHERE id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            by_id.update((row["id"], row) for row in rows)
        return [
            Feature(
                osm_type=by_id[fid]["osm_type"],
                osm_id=by_id[fid]["osm_id"],
                lat=by_id[fid]["lat"],
                lon=by_id[fid]["lon"],
                name=by_id[fid]["name"],
                tags=json.loads(by_id[fid]["tags"]),
                distance_m=None if distance is None else round(distance, 1),
            )
            for distance, fid in picked
        ]

    # -- the tools' queries ------------------------------------------------------------
    def features_near(
        self,
        lat: float,
        lon: float,
        radius_m: float,
        tags: Mapping[str, str | None],
        name: str | None,
        limit: int,
    ) -> list[Feature]:
        candidates = self._candidates(radius_bbox(lat, lon, radius_m), tags, name)
        return self._nearest(candidates, lat, lon, radius_m, limit)

    def find_named(
        self,
        name: str,
        tags: Mapping[str, str | None],
        box: Box | None,
        around: tuple[float, float, float] | None,
        limit: int,
    ) -> list[Feature]:
        if around is not None:
            candidates = self._candidates(radius_bbox(*around), tags, name)
            return self._nearest_named(candidates, name, *around, limit)
        candidates = self._candidates(box or WORLD, tags, name)
        # No query point: the closest matches first (exact, then prefix, then substring).
        # Ranked on names alone, so only the kept few are read in full (a common name
        # anywhere in a country matches thousands).
        names = self._names_of([c.id for c in candidates])
        ranked = sorted(candidates, key=lambda c: name_rank(names.get(c.id), name))
        return self._features([(None, c.id) for c in ranked[:limit]])

    def find_address(
        self,
        street: str,
        housenumber: str,
        around: tuple[float, float, float] | None,
        limit: int,
    ) -> list[Feature]:
        """Features tagged addr:housenumber and an addr:street of that name (any case or
        accents); nearest first when `around` is given. The tags table holds the house
        numbers; each match's street is read from its own tags (addr:street is left out
        of that table, see UNINDEXED_KEYS)."""
        variants = housenumber_variants(housenumber)
        rows = self._rows(
            "SELECT h.fid, json_extract(f.tags, '$.\"addr:street\"') FROM tags h"
            " JOIN features f ON f.id = h.fid WHERE h.key = 'addr:housenumber'"
            f" AND h.value IN ({','.join('?' * len(variants))})",
            variants,
        )
        wanted = normalize(street)
        ids = [fid for fid, value in rows if value is not None and normalize(value) == wanted]
        found = self._features([(None, fid) for fid in ids])
        if around is None:
            return found[:limit]
        lat, lon, radius_m = around
        near = [
            f.model_copy(update={"distance_m": round(d, 1)})
            for f in found
            if (d := distance_m(lat, lon, f.lat, f.lon)) <= radius_m
        ]
        return sorted(near, key=lambda f: f.distance_m or 0.0)[:limit]

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
                distance = distance_m(near[0], near[1], row["lat"], row["lon"])
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


# -- several regions ------------------------------------------------------------------

REGIONS_SUFFIX = ".regions"


def regions_dir(path: Path) -> Path:
    """Where the regions of the index at `path` live: osm.sqlite -> osm.regions/."""
    return path.with_name(path.stem + REGIONS_SUFFIX)


def region_path(path: Path, region: str) -> Path:
    if not re.fullmatch(r"[\w][\w.-]*", region):
        raise ValueError(f"a region name is letters, digits, '.', '-' or '_': {region!r}")
    return regions_dir(path) / f"{region}.sqlite"


def region_name(pbf: Path) -> str:
    """finland-latest.osm.pbf -> finland-latest."""
    name = pbf.name
    for suffix in (".osm.pbf", ".pbf", ".osm"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return pbf.stem


def index_files(path: Path) -> list[Path]:
    """The index at `path` (if any) and every region next to it, in a stable order."""
    found = [path] if path.is_file() else []
    folder = regions_dir(path)
    if folder.is_dir():  # hidden files are imports still being written
        found += sorted(p for p in folder.glob("*.sqlite") if not p.name.startswith("."))
    return found


@dataclass
class RegionInfo:
    """One imported index, as `gre data osm list` shows it."""

    name: str
    path: Path
    source: str
    imported_at: float
    extent: Box
    features: int
    size_bytes: int


def describe(path: Path) -> RegionInfo:
    index = OsmIndex(path)
    with index._lock:
        features = index.db.execute("SELECT count(*) FROM features").fetchone()[0]
    name = path.stem if path.parent.name.endswith(REGIONS_SUFFIX) else f"{path.name} (main)"
    return RegionInfo(
        name=name,
        path=path,
        source=index.meta.get("source", "?"),
        imported_at=float(index.meta.get("imported_at", 0.0)),
        extent=index.extent,
        features=features,
        size_bytes=path.stat().st_size,
    )


def _meets(a: Box, b: Box) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _around_box(around: tuple[float, float, float] | None, box: Box | None) -> Box:
    if around is not None:
        return radius_bbox(*around)
    return box or WORLD


class RegionsIndex:
    """Several imported regions searched together, with the queries of `OsmIndex`.

    Each region is its own database, so re-importing one replaces one file atomically and
    no query pays for the others: a region whose extent misses the query's box is not
    asked. Results are merged in the order one index would give them.
    """

    def __init__(self, parts: Sequence[OsmIndex]):
        self.parts = list(parts)

    def _asked(self, box: Box) -> list[OsmIndex]:
        return [p for p in self.parts if _meets(p.extent, box)]

    def features_near(
        self,
        lat: float,
        lon: float,
        radius_m: float,
        tags: Mapping[str, str | None],
        name: str | None,
        limit: int,
    ) -> list[Feature]:
        box = radius_bbox(lat, lon, radius_m)
        found = [
            f
            for p in self._asked(box)
            for f in p.features_near(lat, lon, radius_m, tags, name, limit)
        ]
        return sorted(found, key=lambda f: f.distance_m or 0.0)[:limit]

    def find_named(
        self,
        name: str,
        tags: Mapping[str, str | None],
        box: Box | None,
        around: tuple[float, float, float] | None,
        limit: int,
    ) -> list[Feature]:
        parts = self._asked(_around_box(around, box))
        found = [f for p in parts for f in p.find_named(name, tags, box, around, limit)]
        if around is not None:
            found.sort(key=lambda f: (name_rank(f.name, name)[0], f.distance_m or 0.0))
        else:
            found.sort(key=lambda f: name_rank(f.name, name))
        return found[:limit]

    def find_address(
        self,
        street: str,
        housenumber: str,
        around: tuple[float, float, float] | None,
        limit: int,
    ) -> list[Feature]:
        parts = self._asked(_around_box(around, None))
        found = [f for p in parts for f in p.find_address(street, housenumber, around, limit)]
        if around is not None:
            found.sort(key=lambda f: f.distance_m or 0.0)
        return found[:limit]

    def street_intersection(
        self, street_a: str, street_b: str, near: tuple[float, float, float] | None, limit: int
    ) -> list[Feature]:
        parts = self._asked(_around_box(near, None))
        found = [f for p in parts for f in p.street_intersection(street_a, street_b, near, limit)]
        found.sort(key=lambda f: (f.distance_m or 0.0, f.osm_id))
        return found[:limit]


AnyIndex = OsmIndex | RegionsIndex


@cache
def _open(files: tuple[tuple[str, int], ...]) -> AnyIndex:
    parts = [OsmIndex(Path(path)) for path, _mtime in files]
    return parts[0] if len(parts) == 1 else RegionsIndex(parts)


def open_index(path: Path) -> AnyIndex:
    """The index at `path` with its regions, opened once per process (again when any file
    is re-imported): one `OsmIndex`, or a `RegionsIndex` over several."""
    files = []
    for file in index_files(path):
        try:
            files.append((str(file), file.stat().st_mtime_ns))
        except FileNotFoundError:
            continue  # replaced or removed while we looked
    if not files:
        raise ToolFailure(ErrorKind.unavailable, f"no OSM index at {path}; {IMPORT_HINT}")
    return _open(tuple(files))
