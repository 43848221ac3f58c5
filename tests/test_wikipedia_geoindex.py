"""The geosearch index build: resumable after an interruption, parallel, reused once done."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from libzim.reader import Archive
from typer.testing import CliRunner

from gre_agent.cli.main import app
from gre_agent.tools.wikipedia import Fact, _geoindex, _zim, build_zim
from gre_agent.tools.wikipedia._geoindex import (
    build_geo_index,
    load_or_build,
    partial_path,
    plan_chunks,
    read_index,
)
from gre_agent.tools.wikipedia._zimorder import html_in_cluster_order

CHUNK = 4  # entries per chunk, so a small ZIM has many


def facts(n: int, shift: float = 0.0) -> list[Fact]:
    return [
        Fact(
            title=f"Place {i:03d}",
            summary=f"Place {i:03d} is a test place.",
            lat=(10 + i / 10 + shift) if i % 3 else None,
            lon=(20 - i / 10) if i % 3 else None,
            redirects=[f"Alias {i:03d}"] if i % 5 == 0 else [],
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def zim_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, _ = build_zim(facts(30), tmp_path_factory.mktemp("zim") / "places.zim")
    return path


@pytest.fixture(scope="module")
def expected(zim_path: Path) -> list[list[object]]:
    """The rows of an uninterrupted serial build."""
    return [list(r) for r in _zim.scan_coordinates(_zim.open_zim(zim_path))]


class Interrupted(Exception):
    pass


def stop_after(n: int, seen: list[int]):
    def on_chunk(chunk: int) -> None:
        seen.append(chunk)
        if len(seen) >= n:
            raise Interrupted

    return on_chunk


def test_serial_build_is_the_full_scan(tmp_path: Path, zim_path: Path, expected):
    sidecar = tmp_path / "index.json"
    report = build_geo_index(zim_path, sidecar, workers=1, chunk_entries=CHUNK)
    assert len(expected) == 20  # the 30 places but every third
    assert read_index(sidecar) == expected
    assert report.rows == 20 and report.workers == 1
    assert report.articles == 31  # the HTML pages: 30 places and the main page
    assert report.chunks == report.chunks_scanned > 5 and report.chunks_resumed == 0
    data = json.loads(sidecar.read_text())
    archive = _zim.open_zim(zim_path).archive
    assert data["format"] == 1 and data["key"] == _zim.open_zim(zim_path).key
    assert (data["entries"], data["bytes"]) == (archive.entry_count, archive.filesize)
    assert not partial_path(sidecar).exists()  # the progress file goes once finished


def test_parallel_build_equals_serial(tmp_path: Path, zim_path: Path, expected):
    report = build_geo_index(zim_path, tmp_path / "index.json", workers=2, chunk_entries=CHUNK)
    assert report.workers == 2 and report.chunks_scanned == report.chunks
    assert read_index(tmp_path / "index.json") == expected


def test_interrupted_build_resumes_without_redoing_finished_chunks(
    tmp_path: Path, zim_path: Path, expected
):
    sidecar = tmp_path / "index.json"
    first: list[int] = []
    with pytest.raises(Interrupted):
        build_geo_index(
            zim_path, sidecar, workers=1, chunk_entries=CHUNK, on_chunk=stop_after(2, first)
        )
    assert first == [0, 1]
    # nothing that looks like a finished index, only the progress
    assert not sidecar.exists() and read_index(sidecar) is None
    assert partial_path(sidecar).is_file()

    rest: list[int] = []
    report = build_geo_index(
        zim_path, sidecar, workers=1, chunk_entries=CHUNK, on_chunk=rest.append
    )
    assert report.chunks_resumed == 2 and report.chunks_scanned == report.chunks - 2
    assert rest == list(range(2, report.chunks))
    assert read_index(sidecar) == expected
    assert not partial_path(sidecar).exists()


def test_interrupted_parallel_build_resumes(tmp_path: Path, zim_path: Path, expected):
    sidecar = tmp_path / "index.json"
    first: list[int] = []
    with pytest.raises(Interrupted):
        build_geo_index(
            zim_path, sidecar, workers=2, chunk_entries=CHUNK, on_chunk=stop_after(3, first)
        )
    rest: list[int] = []
    report = build_geo_index(
        zim_path, sidecar, workers=2, chunk_entries=CHUNK, on_chunk=rest.append
    )
    assert report.chunks_resumed == 3 and set(rest).isdisjoint(first)
    assert sorted(first + rest) == list(range(report.chunks))
    assert read_index(sidecar) == expected


def test_articles_are_scanned_in_storage_order(tmp_path: Path):
    # added in reverse: the storage (cluster, blob) order is the reverse of the path order
    zim, _ = build_zim(list(reversed(facts(30))), tmp_path / "reversed.zim")
    archive = Archive(str(zim))
    found = html_in_cluster_order(zim, archive)
    assert found is not None
    ids = found[0].tolist()
    entries = [archive._get_entry_by_id(i) for i in range(archive.entry_count)]
    html = [
        i
        for i, e in enumerate(entries)
        if not e.is_redirect and e.get_item().mimetype.startswith("text/html")
    ]
    assert sorted(ids) == html  # every article once, no redirect
    titles = [entries[i].title for i in ids]
    assert titles[:30] == [f"Place {i:03d}" for i in reversed(range(30))]
    assert [len(c) for c in plan_chunks(zim, archive, CHUNK)] == [4] * 7 + [3]
    # the index is still in path order, as the plain scan gives it
    build_geo_index(zim, tmp_path / "index.json", workers=1, chunk_entries=CHUNK)
    expected = [list(r) for r in _zim.scan_coordinates(_zim.open_zim(zim))]
    assert read_index(tmp_path / "index.json") == expected
    assert [r[0] for r in expected] == sorted(r[0] for r in expected)


def test_without_the_storage_order_every_entry_id_is_scanned(
    tmp_path: Path, zim_path: Path, expected, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(_geoindex, "html_in_cluster_order", lambda path, archive: None)
    archive = Archive(str(zim_path))
    chunks = plan_chunks(zim_path, archive, CHUNK)
    assert [int(i) for c in chunks for i in c] == list(range(archive.entry_count))
    build_geo_index(zim_path, tmp_path / "index.json", workers=1, chunk_entries=CHUNK)
    assert read_index(tmp_path / "index.json") == expected


KILL_AFTER_TWO = """
import os, sys
from pathlib import Path
from gre_agent.tools.wikipedia._geoindex import build_geo_index

def on_chunk(chunk):
    if chunk == 1:
        os._exit(9)  # like a kill: no cleanup, no exception handlers

build_geo_index(Path(sys.argv[1]), Path(sys.argv[2]), workers=1, chunk_entries=4,
                on_chunk=on_chunk)
"""


def test_killed_build_resumes(tmp_path: Path, zim_path: Path, expected):
    sidecar = tmp_path / "index.json"
    done = subprocess.run([sys.executable, "-c", KILL_AFTER_TWO, str(zim_path), str(sidecar)])
    assert done.returncode == 9
    assert not sidecar.exists() and partial_path(sidecar).is_file()
    report = build_geo_index(zim_path, sidecar, workers=1, chunk_entries=CHUNK)
    assert report.chunks_resumed == 2
    assert read_index(sidecar) == expected


def test_finished_index_is_reused(tmp_path: Path, zim_path: Path, expected):
    sidecar = tmp_path / "index.json"
    build_geo_index(zim_path, sidecar, workers=1, chunk_entries=CHUNK)
    stamp = sidecar.stat().st_mtime_ns
    seen: list[int] = []
    rows, report = load_or_build(zim_path, sidecar, chunk_entries=CHUNK, on_chunk=seen.append)
    assert report.reused and report.rows == 20 and report.chunks_scanned == 0 and not seen
    assert rows == expected and sidecar.stat().st_mtime_ns == stamp


def test_a_second_build_waits_for_the_first_and_reuses_it(tmp_path: Path, zim_path: Path):
    sidecar = tmp_path / "index.json"
    reports = []
    with open(tmp_path / "index.json.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a build in another process holds it
        waiting = threading.Thread(
            target=lambda: reports.append(build_geo_index(zim_path, sidecar, workers=1))
        )
        waiting.start()
        build_geo_index(zim_path, tmp_path / "other.json", workers=1)
        (tmp_path / "other.json").rename(sidecar)  # what the other build finishes with
        fcntl.flock(lock, fcntl.LOCK_UN)
    waiting.join()
    assert reports[0].reused and reports[0].chunks_scanned == 0


def test_changed_zim_rebuilds(tmp_path: Path):
    zim = tmp_path / "places.zim"
    build_zim(facts(30), zim)
    sidecar = tmp_path / "index.json"
    with pytest.raises(Interrupted):
        build_geo_index(zim, sidecar, workers=1, chunk_entries=CHUNK, on_chunk=stop_after(2, []))
    # the same path now holds another ZIM: its progress is not mixed with the old one's
    build_zim(facts(31, shift=1.0), zim)
    report = build_geo_index(zim, sidecar, workers=1, chunk_entries=CHUNK)
    assert report.chunks_resumed == 0
    new = [list(r) for r in _zim.scan_coordinates(_zim.open_zim(zim))]
    assert read_index(sidecar) == new and new[0][1] == pytest.approx(11.1)
    # a finished index of another ZIM (other entry count) at this path is stale, not reused
    build_zim(facts(33), zim)
    report = build_geo_index(zim, sidecar, workers=1, chunk_entries=CHUNK)
    assert not report.reused and report.rows == 22


def test_cli_geo_index_reports_the_rate_then_reuses(
    tmp_path: Path, zim_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("GRE_WIKIPEDIA__DATA_PATH", str(zim_path))
    runner = CliRunner()
    result = runner.invoke(app, ["data", "wikipedia", "geo-index", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "places.zim: 20 articles with coordinates" in result.stdout
    assert "scanned 31 articles" in result.stdout and "articles/s, 1 workers" in result.stdout
    result = runner.invoke(app, ["data", "wikipedia", "geo-index"])
    assert result.exit_code == 0, result.output
    assert "already built" in result.stdout
