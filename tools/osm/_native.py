"""The C++ read phase of an OSM import (native/osm_import.cpp, built by `make native`).

pyosmium hands every kept object to Python, which costs about 40 us an object; the
program does the same work in C++ (libosmium) and writes the rows straight into SQLite.
Python keeps what needs Python: name normalisation (run once per distinct name, not
once per feature), the rules of what is kept (passed on the command line) and the
indexes (tools/osm/_index.py). Both readers give the same index.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel

from gre_agent.core.errors import ConfigError

BINARY = "gre-osm-import"
SOURCE = Path(__file__).parent / "native" / "osm_import.cpp"
ENGINES = ("auto", "native", "python")

# Every tag whose key holds "name", as the program writes them; turned into `names`.
RAW_NAMES = "CREATE TABLE names_raw(fid INTEGER NOT NULL, key TEXT NOT NULL, value TEXT);"


class Rules(BaseModel):
    """What the program keeps and indexes: the constants of tools/osm/_index.py."""

    boring_keys: Sequence[str]
    boring_prefixes: Sequence[str]
    skipped_relations: Sequence[str]
    unindexed_keys: Sequence[str]
    unindexed_prefixes: Sequence[str]
    counted_pairs: int

    def args(self) -> list[str]:
        lists = (self.boring_keys, self.boring_prefixes, self.skipped_relations,
                 self.unindexed_keys, self.unindexed_prefixes)  # fmt: skip
        return [*(",".join(items) for items in lists), str(self.counted_pairs)]


class Counts(BaseModel):
    """What the program kept and read, and the extent (south, west, north, east)."""

    nodes: int
    ways: int
    relations: int
    seen: int
    extent: tuple[float, float, float, float]


def find_binary() -> Path | None:
    """The built program: $GRE_OSM_IMPORTER, next to its source, or on PATH."""
    if env := os.environ.get("GRE_OSM_IMPORTER"):
        return Path(env)
    built = SOURCE.with_name(BINARY)
    if built.is_file() and os.access(built, os.X_OK):
        return built
    found = shutil.which(BINARY)
    return Path(found) if found else None


def choose(engine: str) -> Path | None:
    """The program to run for `engine`, or None for the Python reader."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown import engine {engine!r}; use one of {', '.join(ENGINES)}")
    if engine == "python":
        return None
    binary = find_binary()
    if binary is None and engine == "native":
        raise ConfigError(f"the native OSM importer is not built ({SOURCE}); run: make native")
    return binary


def run(
    binary: Path,
    pbf: Path,
    db: Path,
    locations: str,
    rules: Rules,
    on_progress: Callable[[int, int], None],
) -> Counts:
    """Run the program on `db` (schema and `names_raw` already made); its counts."""
    args = [str(binary), str(pbf), str(db), locations, *rules.args()]
    problems: list[str] = []
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stderr is not None and proc.stdout is not None
            for line in proc.stderr:
                if line.startswith("progress "):
                    _, seen, kept = line.split()
                    on_progress(int(seen), int(kept))
                else:
                    problems.append(line.strip())
            out = proc.stdout.read()
            code = proc.wait()
        finally:
            if proc.poll() is None:  # interrupted: the program must not outlive the import
                proc.kill()
                proc.wait()
    if code != 0:
        cause = "; ".join(p.removeprefix("error: ") for p in problems if p) or f"exit {code}"
        raise ConfigError(f"cannot import {pbf}: {cause}")
    return Counts.model_validate_json(out.strip().splitlines()[-1])


def names_from_raw(
    db: sqlite3.Connection, is_name_key: Callable[[str], bool], norms: Callable[[str], set[str]]
) -> None:
    """Fill `names` from `names_raw`: each distinct name-like value normalised once.

    Also drops the node lists of highways left without a name (a "name" that
    normalises to nothing), as the Python reader never writes them.
    """
    keys = [k for (k,) in db.execute("SELECT DISTINCT key FROM names_raw") if is_name_key(k)]
    db.execute("CREATE TEMP TABLE name_keys(key TEXT PRIMARY KEY)")
    db.executemany("INSERT INTO name_keys VALUES (?)", [(k,) for k in keys])
    db.execute("CREATE TEMP TABLE name_map(value TEXT NOT NULL, norm TEXT NOT NULL)")
    values = db.execute(
        "SELECT DISTINCT value FROM names_raw WHERE key IN (SELECT key FROM name_keys)"
    ).fetchall()
    db.executemany(
        "INSERT INTO name_map VALUES (?, ?)",
        ((value, norm) for (value,) in values for norm in norms(value)),
    )
    db.executescript(
        """
        CREATE INDEX temp.name_map_value ON name_map(value);
        INSERT INTO names SELECT DISTINCT r.fid, m.norm FROM names_raw r
            JOIN name_map m ON m.value = r.value
            WHERE r.key IN (SELECT key FROM name_keys) ORDER BY r.fid;
        DELETE FROM way_nodes WHERE way_fid NOT IN (SELECT fid FROM names);
        DROP TABLE names_raw; DROP TABLE name_map; DROP TABLE name_keys;
        """
    )
