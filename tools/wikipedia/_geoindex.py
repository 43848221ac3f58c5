"""Build a ZIM's geosearch coordinate index: once, resumable, in parallel.

The finished index is a JSON sidecar, written in one atomic replace at the end:

    {"format": 1, "zim": PATH, "key": UUID-CHECKSUM, "entries": N, "bytes": SIZE,
     "rows": [[title, lat, lon], ...]}

A sidecar whose `entries`/`bytes` (when present) differ from the ZIM's is stale and
rebuilt; its file name already carries the ZIM's uuid and checksum (`Zim.key`).

While building, progress lives next to it in `<sidecar>.partial.sqlite`: the HTML
entries, in the order their content is stored (`_zimorder`: cluster by cluster, so each
compressed cluster is read once), are cut into chunks of `CHUNK_ENTRIES`, and each
finished chunk's rows go in with a `done` mark in one transaction. A killed build
resumes with the chunks not marked done; the partial file is keyed by the ZIM's
identity (key, size, mtime, entry count, chunk size), so a changed ZIM starts over.
Nothing reads the partial file as an index. A build holds an flock on `<sidecar>.lock`,
so a second process building the same index waits, then reuses it.

With several workers each process opens the ZIM itself (archives are not picklable)
and returns a chunk's rows to the one writer here; rows are merged in entry-id (path)
order, so the index is the same whatever the number of workers or the scan order.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from libzim.reader import Archive
from pydantic import BaseModel

from ._geo import parse_coordinates
from ._zimorder import html_in_cluster_order

GEO_INDEX_FORMAT = 1
_PLAN = 2  # how entries are cut into chunks; part of the partial file's identity
CHUNK_ENTRIES = 2_000
# A worker process costs about a second to start (it imports the package); below this
# many entries each, more workers would not pay for themselves.
ENTRIES_PER_WORKER = 20_000

IdRow = tuple[int, str, float, float]  # with the entry id, to merge in path order


class BuildReport(BaseModel):
    """What one `build_geo_index` call did."""

    zim: Path
    index: Path
    reused: bool = False
    entries: int = 0
    chunks: int = 0
    chunks_resumed: int = 0
    chunks_scanned: int = 0
    articles: int = 0  # HTML articles scanned by this call
    rows: int = 0  # articles with coordinates in the index
    workers: int = 1
    seconds: float = 0.0

    @property
    def articles_per_s(self) -> float:
        return self.articles / self.seconds if self.seconds > 0 else 0.0


def zim_key(archive: Archive) -> str:
    """Identifies a ZIM's content: its uuid plus (when present) its checksum."""
    checksum = archive.checksum if archive.has_checksum else ""
    return f"{archive.uuid}-{checksum[:16]}" if checksum else str(archive.uuid)


def scan_ids(archive: Archive, ids: Iterable[int]) -> tuple[list[IdRow], int]:
    """(entry id, title, lat, lon) of the articles with coordinates among entries `ids`,
    and how many HTML articles there were."""
    rows: list[IdRow] = []
    articles = 0
    for i in ids:
        entry = archive._get_entry_by_id(int(i))
        if entry.is_redirect:
            continue
        item = entry.get_item()
        if not item.mimetype.startswith("text/html"):
            continue
        articles += 1
        found = parse_coordinates(bytes(item.content).decode("utf-8", "replace"))
        if found is not None:
            rows.append((int(i), entry.title, found[0], found[1]))
    return rows, articles


def plan_chunks(zim_path: Path, archive: Archive, chunk_entries: int) -> list[np.ndarray]:
    """The entry ids to scan, cut into chunks: HTML entries in cluster order when the
    ZIM's directory can be read so, else every entry id in order."""
    order = html_in_cluster_order(zim_path, archive)
    ids = np.arange(archive.entry_count) if order is None else order[0]
    return [ids[lo : lo + chunk_entries] for lo in range(0, len(ids), chunk_entries)]


# -- the finished sidecar ----------------------------------------------------------


def read_index(sidecar: Path, archive: Archive | None = None) -> list[list[Any]] | None:
    """The rows of a finished sidecar, or None when it is missing, damaged or stale."""
    if not sidecar.is_file():
        return None
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        if data.get("format") != GEO_INDEX_FORMAT:
            return None
        if archive is not None and (
            data.get("entries", archive.entry_count) != archive.entry_count
            or data.get("bytes", archive.filesize) != archive.filesize
        ):
            return None
        rows: list[list[Any]] = data["rows"]
        return rows
    except (OSError, ValueError, KeyError, AttributeError):
        return None  # a damaged sidecar is rebuilt


def _write_index(sidecar: Path, zim_path: Path, archive: Archive, rows: list[list[Any]]) -> None:
    payload = {
        "format": GEO_INDEX_FORMAT,
        "zim": str(zim_path),
        "key": zim_key(archive),
        "entries": archive.entry_count,
        "bytes": archive.filesize,
        "rows": rows,
    }
    tmp = sidecar.with_name(f"{sidecar.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, sidecar)


# -- progress ----------------------------------------------------------------------


def partial_path(sidecar: Path) -> Path:
    return sidecar.with_name(f"{sidecar.name}.partial.sqlite")


class _Progress:
    """The partial build: finished chunks and their rows, one transaction per chunk."""

    def __init__(self, path: Path, identity: dict[str, Any]):
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        with self.db:
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            self.db.execute("CREATE TABLE IF NOT EXISTS done (chunk INTEGER PRIMARY KEY)")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, chunk INTEGER,"
                " title TEXT, lat REAL, lon REAL)"
            )
            wanted = json.dumps(identity, sort_keys=True)
            found = self.db.execute("SELECT value FROM meta WHERE key = 'zim'").fetchone()
            if found is None or found[0] != wanted:  # another ZIM, or another chunking
                self.db.execute("DELETE FROM done")
                self.db.execute("DELETE FROM rows")
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('zim', ?)", [wanted])

    def done(self) -> set[int]:
        return {c for (c,) in self.db.execute("SELECT chunk FROM done")}

    def record(self, chunk: int, rows: list[IdRow]) -> None:
        with self.db:
            self.db.execute("DELETE FROM rows WHERE chunk = ?", [chunk])
            self.db.executemany(
                "INSERT OR REPLACE INTO rows VALUES (?, ?, ?, ?, ?)",
                [(i, chunk, title, lat, lon) for i, title, lat, lon in rows],
            )
            self.db.execute("INSERT OR REPLACE INTO done VALUES (?)", [chunk])

    def rows(self) -> list[list[Any]]:
        cursor = self.db.execute("SELECT title, lat, lon FROM rows ORDER BY id")
        return [list(r) for r in cursor]

    def remove(self) -> None:
        self.db.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


# -- workers -----------------------------------------------------------------------

_worker_archive: dict[str, Archive] = {}


def _scan_chunk(task: tuple[str, int, np.ndarray]) -> tuple[int, list[IdRow], int]:
    """In a worker process: scan one chunk of the ZIM at `path` (opened once per process)."""
    path, chunk, ids = task
    archive = _worker_archive.get(path)
    if archive is None:
        archive = _worker_archive[path] = Archive(path)
    rows, articles = scan_ids(archive, ids)
    return chunk, rows, articles


def _context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fork server that has imported this module once: a plain fork
    would copy this process's threads and open archives, and a spawn per worker costs an
    import of the package (about a second) each. Spawn where there is no fork server."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


@contextlib.contextmanager
def _exclusive(sidecar: Path) -> Iterator[None]:
    """One build of an index at a time across processes (a second waits, then reuses it)."""
    if sys.platform == "win32":  # no flock; the builds of one process are serialised anyway
        yield
        return
    import fcntl

    with open(sidecar.with_name(f"{sidecar.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def auto_workers(pending_entries: int) -> int:
    """The default: one worker per CPU, but none for fewer than ENTRIES_PER_WORKER entries."""
    return max(1, min(os.cpu_count() or 1, pending_entries // ENTRIES_PER_WORKER))


def build_geo_index(
    zim_path: Path,
    sidecar: Path,
    *,
    workers: int | None = None,
    chunk_entries: int = CHUNK_ENTRIES,
    on_chunk: Callable[[int], None] | None = None,
) -> BuildReport:
    """Build the coordinate index of the ZIM at `zim_path` into `sidecar`, unless a finished
    one is there. Resumes an interrupted build. `workers`: processes that scan (None: one
    per CPU, fewer on small ZIMs; 1: in this process). `on_chunk(chunk)` runs after each
    chunk is committed (progress display; tests interrupt a build there)."""
    return load_or_build(
        zim_path, sidecar, workers=workers, chunk_entries=chunk_entries, on_chunk=on_chunk
    )[1]


def load_or_build(
    zim_path: Path,
    sidecar: Path,
    *,
    workers: int | None = None,
    chunk_entries: int = CHUNK_ENTRIES,
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[list[list[Any]], BuildReport]:
    """The index rows from a finished sidecar, else built (see `build_geo_index`)."""
    started = time.perf_counter()
    archive = Archive(str(zim_path))
    report = BuildReport(zim=zim_path, index=sidecar, entries=archive.entry_count)
    rows = read_index(sidecar, archive)
    if rows is not None:
        report.reused, report.rows = True, len(rows)
        return rows, report
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(sidecar):
        rows = read_index(sidecar, archive)  # another process may have built it meanwhile
        if rows is not None:
            report.reused, report.rows = True, len(rows)
            return rows, report
        stat = zim_path.stat()
        identity = {
            "format": GEO_INDEX_FORMAT,
            "plan": _PLAN,
            "key": zim_key(archive),
            "bytes": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "entries": archive.entry_count,
            "chunk_entries": chunk_entries,
        }
        progress = _Progress(partial_path(sidecar), identity)
        try:
            chunks = plan_chunks(zim_path, archive, chunk_entries)
            done = progress.done()
            pending = [c for c in range(len(chunks)) if c not in done]
            report.chunks, report.chunks_resumed = len(chunks), len(chunks) - len(pending)
            pending_entries = sum(len(chunks[c]) for c in pending)
            n = auto_workers(pending_entries) if workers is None else max(1, workers)
            report.workers = n = min(n, len(pending)) or 1

            def finished(chunk: int, found: list[IdRow], articles: int) -> None:
                progress.record(chunk, found)
                report.chunks_scanned += 1
                report.articles += articles
                if on_chunk is not None:
                    on_chunk(chunk)

            if n == 1:
                for chunk in pending:
                    finished(chunk, *scan_ids(archive, chunks[chunk]))
            else:
                tasks = [(str(zim_path), c, chunks[c]) for c in pending]
                with _context().Pool(n) as pool:
                    for chunk, found, articles in pool.imap_unordered(_scan_chunk, tasks):
                        finished(chunk, found, articles)
            rows = progress.rows()
            _write_index(sidecar, zim_path, archive, rows)
        except BaseException:
            progress.db.close()  # keep what was committed for the next try
            raise
        progress.remove()
        report.rows = len(rows)
        report.seconds = time.perf_counter() - started
        return rows, report
