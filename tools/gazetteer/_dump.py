"""Import a GeoNames dump (`allCountries.txt`, `cities500.txt`, ... or their .zip).

The dump is tab-separated, one place per line, 19 columns:

    geonameid name asciiname alternatenames latitude longitude feature_class
    feature_code country_code cc2 admin1 admin2 admin3 admin4 population
    elevation dem timezone modification_date

The import keeps the chosen feature classes (default P, populated places) and writes a
PlaceIndex `.npz` that the offline geocoder searches before the packaged data.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from gre_agent.core.errors import GreError
from gre_agent.core.geo import is_latitude, is_longitude
from gre_agent.core.settings import Settings
from gre_agent.tools.gazetteer._index import Place, PlaceIndex

COLUMNS = 19
INDEX_NAME = "geonames-index.npz"
ADMIN1_FILE = "admin1CodesASCII.txt"  # GeoNames' admin1 code -> name table


class DumpError(GreError, ValueError):
    """The file is not a GeoNames dump."""


def index_path(settings: Settings) -> Path:
    """Where `gre data geonames` writes the index and the geocoder reads it."""
    path = settings.gazetteer.data_path
    if path is None:
        return settings.data_dir / "geonames" / INDEX_NAME
    return path if path.suffix == ".npz" else path / INDEX_NAME


@contextmanager
def _open_text(path: Path) -> Iterator[TextIO]:
    if path.suffix.lower() != ".zip":
        with path.open(encoding="utf-8", newline="\n") as f:
            yield f
        return
    with zipfile.ZipFile(path) as zf:
        members = [
            m
            for m in zf.infolist()
            if m.filename.lower().endswith(".txt") and "readme" not in m.filename.lower()
        ]
        if not members:
            raise DumpError(f"{path} holds no .txt dump")
        biggest = max(members, key=lambda m: m.file_size)
        with zf.open(biggest) as raw:
            yield io.TextIOWrapper(raw, encoding="utf-8", newline="\n")


@dataclass
class DumpStats:
    read: int = 0
    kept: int = 0
    malformed: int = 0


def read_places(
    path: Path,
    classes: frozenset[str] | None = frozenset("P"),
    min_population: int = 0,
    stats: DumpStats | None = None,
) -> Iterator[Place]:
    """Places of a dump; `classes=None` keeps every feature class."""
    stats = stats if stats is not None else DumpStats()
    with _open_text(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            stats.read += 1
            cols = line.rstrip("\r\n").split("\t")
            try:
                if len(cols) < COLUMNS:
                    raise ValueError(f"{len(cols)} columns")
                place = Place(
                    geonameid=int(cols[0]),
                    name=cols[1],
                    lat=float(cols[4]),
                    lon=float(cols[5]),
                    country_code=cols[8][:2],
                    admin1_code=cols[10],
                    population=int(cols[14] or 0),
                    alternate_names=[cols[2], *cols[3].split(",")] if cols[3] else [cols[2]],
                    feature_class=cols[6][:1] or "P",
                )
                if not (is_latitude(place.lat) and is_longitude(place.lon)):
                    raise ValueError("coordinates out of range")
            except ValueError:
                stats.malformed += 1
                if stats.malformed > 100 and stats.malformed > stats.read // 10:
                    raise DumpError(
                        f"{path} does not look like a GeoNames dump "
                        f"({stats.malformed} of {stats.read} lines malformed)"
                    ) from None
                continue
            if classes is not None and cols[6] not in classes:
                continue
            if place.population < min_population:
                continue
            stats.kept += 1
            yield place


def read_admin1_names(path: Path) -> dict[str, str]:
    """{"CC.code": name} from GeoNames' admin1CodesASCII.txt."""
    names: dict[str, str] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) >= 2 and "." in cols[0]:
                names[cols[0]] = cols[1]
    return names


def build_index(
    dump: Path,
    out: Path,
    *,
    classes: frozenset[str] | None = frozenset("P"),
    min_population: int = 0,
    admin1_names: dict[str, str] | None = None,
) -> tuple[PlaceIndex, DumpStats]:
    """Read `dump`, write its index to `out`, return both the index and the counts."""
    stats = DumpStats()
    places = read_places(dump, classes, min_population, stats)
    index = PlaceIndex.build(places, f"geonames:{dump.name}", admin1_names)
    if stats.read and not stats.kept and stats.malformed == stats.read:
        raise DumpError(f"{dump} does not look like a GeoNames dump: no line parsed")
    index.save(out)
    return index, stats
