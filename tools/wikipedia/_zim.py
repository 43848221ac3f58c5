"""Offline Wikipedia: Kiwix ZIM files read with libzim.

- Which ZIM: `settings.wikipedia.data_path` (a .zim file or a folder of them), else the
  ZIMs under `<data_dir>/wikipedia/`, then the demo ZIM bundled with the package; the
  first whose Language metadata covers the requested language wins.
- Search: an exact title first, then libzim's full-text (Xapian) results, then title
  suggestions. Page: the first paragraphs of the article HTML as text, and the
  coordinates from its geo markup. Geosearch: a coordinate index of all articles, built
  on first use (or by `gre data wikipedia geo-index`; resumable and parallel, see
  `_geoindex`) and kept in a sidecar JSON file named by the ZIM's uuid and checksum.

Archives and indexes are opened once per process.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from bs4 import BeautifulSoup
from libzim.reader import Archive, Entry
from libzim.search import Query, Searcher
from libzim.suggestion import SuggestionSearcher

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.core.geo import MEAN_EARTH_RADIUS_KM, haversine_km_many
from gre_agent.core.settings import Settings

from ._geo import parse_coordinates as parse_coordinates  # used as _zim.parse_coordinates
from ._geoindex import BuildReport, load_or_build, scan_ids, zim_key
from ._lang import same_language

DEMO_ZIM = Path(__file__).parent / "data" / "demo-en.zim"
SUMMARY_CHARS = 600
_NOT_PROSE = ("table", "style", "script", "figure", "math")
_NOT_PROSE_CLASSES = ("geo", "geo-dec", "geo-dms", "noprint", "mw-empty-elt", "hatnote")


@dataclass(frozen=True)
class Zim:
    path: Path
    archive: Archive

    @property
    def language(self) -> str:
        return metadata(self.archive, "Language")

    @property
    def key(self) -> str:
        """Identifies this ZIM's content: its uuid plus (when present) its checksum."""
        return zim_key(self.archive)


@dataclass(frozen=True)
class Article:
    path: str
    title: str
    html: str


def metadata(archive: Archive, key: str) -> str:
    if key not in archive.metadata_keys:
        return ""
    return bytes(archive.get_metadata(key)).decode("utf-8", "replace")


@functools.lru_cache(maxsize=32)
def _open(path: str, mtime_ns: int) -> Archive:
    return Archive(path)


def open_zim(path: Path) -> Zim:
    """The archive at `path`, opened once per process (reopened if the file changes)."""
    try:
        return Zim(path, _open(str(path), path.stat().st_mtime_ns))
    except (OSError, RuntimeError) as exc:
        raise ToolFailure(ErrorKind.unavailable, f"cannot open ZIM {path}: {exc}") from exc


def candidate_paths(settings: Settings) -> list[Path]:
    """ZIM files to consider, in order of preference."""
    configured = settings.wikipedia.data_path
    if configured is not None:
        path = Path(configured).expanduser()
        if path.is_file():
            return [path]
        return sorted(path.glob("*.zim")) if path.is_dir() else []
    local = settings.data_dir / "wikipedia"
    found = sorted(local.glob("*.zim")) if local.is_dir() else []
    return [*found, DEMO_ZIM] if DEMO_ZIM.is_file() else found


def zim_for(settings: Settings, lang: str) -> Zim:
    """The ZIM that serves `lang`; ToolFailure(unavailable) saying what to do if none."""
    paths = candidate_paths(settings)
    hint = (
        "download a Kiwix Wikipedia ZIM (https://download.kiwix.org/zim/wikipedia/) into "
        f"{settings.data_dir / 'wikipedia'} or set wikipedia.data_path, or build one with "
        "`gre data wikipedia build-zim FACTS.jsonl OUT.zim`; `gre data wikipedia list` "
        "shows what is found"
    )
    if not paths:
        where = settings.wikipedia.data_path or settings.data_dir / "wikipedia"
        raise ToolFailure(ErrorKind.unavailable, f"no Wikipedia ZIM at {where}: {hint}")
    for path in paths:
        zim = open_zim(path)
        if same_language(lang, zim.language):
            return zim
    names = ", ".join(f"{p.name} ({open_zim(p).language or '?'})" for p in paths)
    raise ToolFailure(ErrorKind.unavailable, f"no ZIM for language {lang!r} among {names}: {hint}")


# -- articles ------------------------------------------------------------------------


def _resolve(entry: Entry) -> Entry:
    for _ in range(16):  # a redirect chain longer than this is a broken ZIM
        if not entry.is_redirect:
            return entry
        entry = entry.get_redirect_entry()
    return entry


def _is_article(zim: Zim, entry: Entry) -> bool:
    return entry.get_item().mimetype.startswith("text/html")


def _entry_at(archive: Archive, path: str) -> Entry | None:
    for candidate in (path, f"A/{path}"):  # new and old (pre-2021) namespace schemes
        if archive.has_entry_by_path(candidate):
            return archive.get_entry_by_path(candidate)
    return None


def _suggest(zim: Zim, text: str, limit: int) -> list[str]:
    if not zim.archive.has_title_index:
        return []
    return list(SuggestionSearcher(zim.archive).suggest(text).getResults(0, limit))


def find_article(zim: Zim, title: str) -> Article | None:
    """The article titled `title` (redirects followed; case-insensitive as a fallback)."""
    title = title.strip()
    archive = zim.archive
    entry = None
    # MediaWiki titles ignore the case of their first letter; try the usual spellings
    for spelling in dict.fromkeys((title, title[:1].upper() + title[1:], title.title())):
        entry = _entry_at(archive, spelling.replace(" ", "_"))
        if entry is not None:
            break
    if entry is None and archive.has_entry_by_title(title):
        entry = archive.get_entry_by_title(title)
    if entry is None:
        wanted = title.casefold().replace("_", " ")
        for path in _suggest(zim, title, 20):
            hit = archive.get_entry_by_path(path)
            if hit.title.casefold() == wanted:
                entry = hit
                break
    if entry is None:
        return None
    entry = _resolve(entry)
    if not _is_article(zim, entry):
        return None
    return _article(entry)


def _article(entry: Entry) -> Article:
    content = bytes(entry.get_item().content).decode("utf-8", "replace")
    return Article(path=entry.path.removeprefix("A/"), title=entry.title, html=content)


def summary_of(html: str, max_chars: int = SUMMARY_CHARS) -> str:
    """The first paragraph(s) of an article as plain text."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_NOT_PROSE):
        tag.decompose()
    # footnote markers ([1]) go; other superscripts (km², 1st) stay
    selector = ", ".join(["#coordinates", "sup.reference", *(f".{c}" for c in _NOT_PROSE_CLASSES)])
    for tag in soup.select(selector):
        tag.decompose()
    paragraphs: list[str] = []
    for p in soup.find_all("p"):
        text = " ".join(p.get_text().split())
        if len(text) < 20:  # empty or leftover fragments
            continue
        paragraphs.append(text)
        if sum(len(t) for t in paragraphs) >= max_chars:
            break
    if not paragraphs:
        body = soup.body or soup
        return " ".join(body.get_text().split())[:max_chars]
    return "\n\n".join(paragraphs)


def snippet(text: str, query: str, width: int = 160) -> str:
    """A window of `text` around the first query word found in it."""
    flat = " ".join(text.split())
    lowered = flat.casefold()
    for word in sorted(re.findall(r"\w+", query.casefold()), key=len, reverse=True):
        at = lowered.find(word)
        if at >= 0:
            start = max(0, at - width // 3)
            piece = flat[start : start + width]
            return ("…" if start else "") + piece + ("…" if start + width < len(flat) else "")
    return flat[:width] + ("…" if len(flat) > width else "")


def search(zim: Zim, query: str, limit: int) -> list[Article]:
    """Articles matching `query`: exact title, then full text, then title suggestions."""
    paths: list[str] = []
    exact = find_article(zim, query)
    if exact is not None:
        paths.append(exact.path)
    if zim.archive.has_fulltext_index:
        found = Searcher(zim.archive).search(Query().set_query(query))
        paths.extend(found.getResults(0, limit + 5))
    paths.extend(_suggest(zim, query, limit + 5))
    articles: list[Article] = []
    seen: set[str] = set()
    for path in paths:
        entry = _entry_at(zim.archive, path.removeprefix("A/"))
        if entry is None:
            continue
        entry = _resolve(entry)
        if entry.path in seen or not _is_article(zim, entry):
            continue
        seen.add(entry.path)
        articles.append(_article(entry))
        if len(articles) >= limit:
            break
    return articles


# -- geosearch -----------------------------------------------------------------------


@dataclass(frozen=True)
class GeoIndex:
    titles: list[str]
    lats: np.ndarray
    lons: np.ndarray

    def near(self, lat: float, lon: float, radius_m: float, limit: int) -> list[tuple[int, float]]:
        """(row, distance in metres) of the nearest articles within the radius."""
        if not self.titles:
            return []
        dist = 1000.0 * haversine_km_many(lat, lon, self.lats, self.lons, MEAN_EARTH_RADIUS_KM)
        rows = np.flatnonzero(dist <= radius_m)
        rows = rows[np.argsort(dist[rows], kind="stable")][:limit]
        return [(int(r), float(dist[r])) for r in rows]


def scan_coordinates(zim: Zim) -> list[tuple[str, float, float]]:
    """(title, lat, lon) of every article that carries coordinates."""
    rows, _ = scan_ids(zim.archive, range(zim.archive.entry_count))
    return [(title, lat, lon) for _, title, lat, lon in rows]


def geo_index_path(settings: Settings, zim: Zim) -> Path:
    return settings.data_dir / "wikipedia" / "geoindex" / f"{zim.key}.json"


_index_lock = threading.Lock()


def _to_index(rows: list[list[Any]]) -> GeoIndex:
    return GeoIndex(
        titles=[r[0] for r in rows],
        lats=np.array([r[1] for r in rows], dtype=float),
        lons=np.array([r[2] for r in rows], dtype=float),
    )


@functools.lru_cache(maxsize=8)
def _load_index(sidecar: Path, zim_path: Path, mtime_ns: int) -> GeoIndex:
    return _to_index(load_or_build(zim_path, sidecar)[0])


def geo_index(settings: Settings, zim: Zim) -> GeoIndex:
    """The coordinate index of a ZIM: from its sidecar file, else built and saved."""
    with _index_lock:  # one build at a time; the others then read the cached result
        return _load_index(geo_index_path(settings, zim), zim.path, zim.path.stat().st_mtime_ns)


def ensure_geo_index(
    settings: Settings, zim: Zim, *, workers: int | None = None
) -> tuple[GeoIndex, BuildReport]:
    """The coordinate index of a ZIM, built now unless finished before, with the build's
    report (`gre data wikipedia geo-index`); later `geo_index` calls reuse it."""
    with _index_lock:
        sidecar = geo_index_path(settings, zim)
        rows, report = load_or_build(zim.path, sidecar, workers=workers)
        return _to_index(rows), report
