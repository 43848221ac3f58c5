"""wikipedia.* offline: Kiwix ZIM files read with libzim, and the bundled demo ZIM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from libzim.writer import Creator, Hint, Item, StringProvider
from setuptools import find_packages

from gre_agent.core.settings import Settings
from gre_agent.tools.wikipedia import (
    DEMO_ZIM,
    Fact,
    GeosearchTool,
    PageTool,
    SearchTool,
    _zim,
    build_zim,
)

# Articles written the way mwoffliner writes Wikipedia into ZIMs, each with a
# different kind of geo markup.
CATHEDRAL = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Helsinki Cathedral</title>
</head><body><div id="mw-content-text"><table class="infobox"><tr><td>Denomination</td>
<td>Lutheran</td></tr></table>
<p><span id="coordinates"><a href="Geographic_coordinate_system">Coordinates</a>:
<span class="plainlinks nourlexpansion"><span class="geo-default"><span class="geo-dms"
title="Maps"><span class="latitude">60°10′13″N</span> <span class="longitude">24°57′08″E
</span></span></span><span class="geo-multi-punct">&#xfeff; / &#xfeff;</span><span
class="geo-nondefault"><span class="geo-dec" title="Maps">60.17028°N 24.95222°E</span><span
style="display:none">&#xfeff; / <span class="geo">60.17028; 24.95222</span></span></span>
</span></span></p>
<p><b>Helsinki Cathedral</b> is the Finnish Evangelical Lutheran cathedral of the Diocese
of Helsinki, at the top of <a href="Senate_Square,_Helsinki">Senate Square</a>.<sup
class="reference"><a href="#cite_note-1">[1]</a></sup> It was built from 1830 to 1852 to
plans by Carl Ludvig Engel and seats 1,300 people in 350 m<sup>2</sup>.</p>
<p>Its tall green dome rises over the city centre.</p></div></body></html>"""

USPENSKI = """<html><head><meta charset="utf-8"><title>Uspenski Cathedral</title></head><body>
<p><a class="mw-kartographer-maplink" data-mw="interface" data-style="osm-intl"
data-zoom="14" data-lat="60.168611" data-lon="24.959722">60°10′07″N 24°57′35″E</a></p>
<p>Uspenski Cathedral is an Eastern Orthodox cathedral on the Katajanokka peninsula,
overlooking the harbour. Its onion domes are gilded.</p></body></html>"""

MARKET = """<html><head><meta charset="utf-8"><meta name="geo.position"
content="60.1675;24.9525"><title>Market Square, Helsinki</title></head><body>
<p>The Market Square is a central square in Helsinki by the Baltic Sea, known for its
stalls of fish, berries and souvenirs. Ferries to Suomenlinna leave from its pier.</p>
<p>Nearby lies the Presidential Palace; see also <span class="geo">59.4372; 24.7454</span>
for Tallinn's square.</p></body></html>"""

SYDNEY = """<html><head><meta charset="utf-8"><title>Sydney Opera House</title></head><body>
<p>The Sydney Opera House is a performing arts venue on Bennelong Point with sail-like
shells designed by Jørn Utzon.</p><p><span id="coordinates"><span class="geo-dms"><span
class="latitude">33°51′25″S</span> <span class="longitude">151°12′55″E</span></span></span>
</p></body></html>"""

SAUNA = """<html><head><meta charset="utf-8"><title>Sauna</title></head><body>
<p></p><p>A sauna is a room in which people bathe in dry or wet heat; the löyly steam rises
when water is thrown on the hot stones of the kiuas.</p></body></html>"""

ARTICLES = {
    "Helsinki_Cathedral": ("Helsinki Cathedral", CATHEDRAL),
    "Uspenski_Cathedral": ("Uspenski Cathedral", USPENSKI),
    "Market_Square,_Helsinki": ("Market Square, Helsinki", MARKET),
    "Sydney_Opera_House": ("Sydney Opera House", SYDNEY),
    "Sauna": ("Sauna", SAUNA),
}


class _Html(Item):
    def __init__(self, path: str, title: str, html: str):
        super().__init__()
        self.p, self.t, self.h = path, title, html

    def get_path(self) -> str:
        return self.p

    def get_title(self) -> str:
        return self.t

    def get_mimetype(self) -> str:
        return "text/html"

    def get_contentprovider(self) -> StringProvider:
        return StringProvider(self.h)

    def get_hints(self) -> dict[Hint, int]:
        return {Hint.FRONT_ARTICLE: True}


@pytest.fixture(scope="module")
def zim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with an English Kiwix-style ZIM and a Finnish one built from facts."""
    folder = tmp_path_factory.mktemp("zims")
    with Creator(str(folder / "wiki_en.zim")).config_indexing(True, "eng") as creator:
        creator.set_mainpath("Helsinki_Cathedral")
        creator.add_metadata("Language", "eng")
        creator.add_metadata("Title", "Test Wikipedia")
        for path, (title, html) in ARTICLES.items():
            creator.add_item(_Html(path, title, html))
        creator.add_redirection("Tuomiokirkko", "Tuomiokirkko", "Helsinki_Cathedral", {})
    fi = Fact(
        title="Helsingin tuomiokirkko",
        lang="fi",
        summary="Helsingin tuomiokirkko on Senaatintorin pohjoislaidalla oleva kirkko.",
        lat=60.170278,
        lon=24.952222,
    )
    build_zim([fi], folder / "wiki_fi.zim")
    return folder


@pytest.fixture
def settings(tmp_path: Path, zim_dir: Path) -> Settings:
    return Settings(home=tmp_path / "home", offline=True, wikipedia={"data_path": zim_dir})


async def test_search_finds_article_by_word_in_body(settings: Settings):
    out = await SearchTool(settings).run({"query": "kiuas"})
    assert out.ok, out.error
    hits = out.result.results
    assert [h.title for h in hits] == ["Sauna"]
    assert "kiuas" in hits[0].snippet
    assert hits[0].url == "https://en.wikipedia.org/wiki/Sauna"


async def test_search_matches_all_words(settings: Settings):
    out = await SearchTool(settings).run({"query": "cathedral", "limit": 5})
    assert out.ok, out.error
    titles = {h.title for h in out.result.results}
    assert titles == {"Helsinki Cathedral", "Uspenski Cathedral"}
    out = await SearchTool(settings).run({"query": "onion cathedral"})
    assert [h.title for h in out.result.results] == ["Uspenski Cathedral"]
    out = await SearchTool(settings).run({"query": "cathedral", "limit": 1})
    assert len(out.result.results) == 1


async def test_page_summary_and_coordinates_from_geo_markup(settings: Settings):
    out = await PageTool(settings).run({"title": "Helsinki Cathedral"})
    assert out.ok, out.error
    r = out.result
    assert r.summary.startswith("Helsinki Cathedral is the Finnish Evangelical Lutheran cathedral")
    assert "[1]" not in r.summary and "Denomination" not in r.summary
    assert "60.17028" not in r.summary  # the coordinates line is not prose
    assert "green dome" in r.summary and "350 m2" in r.summary
    assert (r.lat, r.lon) == pytest.approx((60.17028, 24.95222))
    assert r.url == "https://en.wikipedia.org/wiki/Helsinki_Cathedral"


@pytest.mark.parametrize(
    ("title", "lat", "lon"),
    [
        ("Uspenski Cathedral", 60.168611, 24.959722),  # data-lat / data-lon
        ("Market Square, Helsinki", 60.1675, 24.9525),  # <meta name="geo.position">
        ("Sydney Opera House", -33.856944, 151.215278),  # geo-dms, southern hemisphere
    ],
)
async def test_page_coordinates_in_other_markups(settings: Settings, title, lat, lon):
    out = await PageTool(settings).run({"title": title})
    assert out.ok, out.error
    assert (out.result.lat, out.result.lon) == pytest.approx((lat, lon), abs=1e-5)


async def test_page_without_coordinates_redirects_and_case(settings: Settings):
    out = await PageTool(settings).run({"title": "sauna"})
    assert out.ok, out.error
    assert out.result.title == "Sauna" and out.result.lat is None
    assert out.result.summary.startswith("A sauna is a room")
    out = await PageTool(settings).run({"title": "Tuomiokirkko"})
    assert out.ok and out.result.title == "Helsinki Cathedral"


async def test_page_missing_is_not_found(settings: Settings):
    out = await PageTool(settings).run({"title": "Atlantis"})
    assert out.error is not None and out.error.kind == "not_found"


async def test_language_picks_the_matching_zim(settings: Settings):
    out = await PageTool(settings).run({"title": "Helsingin tuomiokirkko", "lang": "fi"})
    assert out.ok, out.error
    assert out.result.summary.startswith("Helsingin tuomiokirkko on")
    assert out.result.url == "https://fi.wikipedia.org/wiki/Helsingin_tuomiokirkko"
    assert out.result.lat == pytest.approx(60.170278)
    out = await PageTool(settings).run({"title": "Helsinki Cathedral", "lang": "fi"})
    assert out.error is not None and out.error.kind == "not_found"
    out = await PageTool(settings).run({"title": "Helsinki", "lang": "sv"})
    assert out.error is not None and out.error.kind == "unavailable"
    assert "gre data wikipedia" in out.error.message


async def test_geosearch_near_cathedral_returns_it_first(settings: Settings):
    args = {"lat": 60.1703, "lon": 24.9522, "radius_m": 1000}
    out = await GeosearchTool(settings).run(args)
    assert out.ok, out.error
    hits = out.result.results
    assert [h.title for h in hits] == [
        "Helsinki Cathedral",
        "Market Square, Helsinki",
        "Uspenski Cathedral",
    ]
    assert hits[0].distance_m < 10
    assert 300 < hits[1].distance_m < 330  # 0.0028° of latitude
    assert [h.distance_m for h in hits] == sorted(h.distance_m for h in hits)
    out = await GeosearchTool(settings).run({**args, "radius_m": 100})
    assert [h.title for h in out.result.results] == ["Helsinki Cathedral"]


async def test_geo_index_sidecar_is_built_once_and_reused(settings: Settings, zim_dir: Path):
    zim = _zim.open_zim(zim_dir / "wiki_en.zim")
    sidecar = _zim.geo_index_path(settings, zim)
    assert str(zim.archive.uuid) in sidecar.name
    await GeosearchTool(settings).run({"lat": -33.86, "lon": 151.21})
    rows = json.loads(sidecar.read_text())["rows"]
    assert sorted(r[0] for r in rows) == sorted(t for t, _ in ARTICLES.values() if t != "Sauna")
    # a new process reads the sidecar instead of scanning: prove it by editing the file
    rows.append(["Bondi Beach", -33.8908, 151.2743])
    sidecar.write_text(json.dumps({"format": 1, "rows": rows}))
    _zim._load_index.cache_clear()
    out = await GeosearchTool(settings).run({"lat": -33.89, "lon": 151.27, "radius_m": 500})
    assert [h.title for h in out.result.results] == ["Bondi Beach"]


async def test_exclude_domains_offline(tmp_path: Path, zim_dir: Path):
    settings = Settings(
        home=tmp_path / "home",
        offline=True,
        wikipedia={"data_path": zim_dir, "exclude_domains": ["Market_Square", "USPENSKI"]},
    )
    out = await GeosearchTool(settings).run({"lat": 60.1703, "lon": 24.9522})
    assert [h.title for h in out.result.results] == ["Helsinki Cathedral"]
    out = await SearchTool(settings).run({"query": "cathedral"})
    assert [h.title for h in out.result.results] == ["Helsinki Cathedral"]
    out = await PageTool(settings).run({"title": "Market Square, Helsinki"})
    assert out.error is not None and out.error.kind == "not_found"


async def test_missing_data_path_is_unavailable(tmp_path: Path):
    settings = Settings(home=tmp_path, offline=True, wikipedia={"data_path": tmp_path / "none"})
    out = await SearchTool(settings).run({"query": "Helsinki"})
    assert out.error is not None and out.error.kind == "unavailable"
    assert "build-zim" in out.error.message


# -- the bundled demo ZIM ------------------------------------------------------------


@pytest.fixture
def demo(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", offline=True)


def test_demo_zim_is_small_and_default(demo: Settings):
    assert DEMO_ZIM.is_file() and DEMO_ZIM.stat().st_size < 200_000
    assert _zim.candidate_paths(demo) == [DEMO_ZIM]


def test_demo_zim_ships_in_the_wheel():
    # setup.py maps only folders with an __init__.py to packages; package-data does the rest
    repo = Path(__file__).resolve().parents[1]
    assert "wikipedia.data" in find_packages(str(repo / "tools"))
    assert DEMO_ZIM.parent == repo / "tools" / "wikipedia" / "data"


async def test_demo_zim_answers_by_default(demo: Settings):
    out = await PageTool(demo).run({"title": "Gothenburg"})
    assert out.ok, out.error
    assert (out.result.lat, out.result.lon) == pytest.approx((57.7075, 11.9675))
    assert "Göta älv" in out.result.summary
    out = await PageTool(demo).run({"title": "Bombay"})
    assert out.ok and out.result.title == "Mumbai"
    out = await SearchTool(demo).run({"query": "Utzon"})
    assert [h.title for h in out.result.results] == ["Sydney Opera House"]
    # the full-text index ranks Senate Square first; the exact title goes first
    out = await SearchTool(demo).run({"query": "helsinki", "limit": 3})
    titles = [h.title for h in out.result.results]
    assert titles[0] == "Helsinki" and len(titles) == 3
    out = await GeosearchTool(demo).run({"lat": 60.1703, "lon": 24.9522, "radius_m": 300})
    assert [h.title for h in out.result.results] == [
        "Helsinki Cathedral",
        "Senate Square, Helsinki",
    ]


async def test_local_zims_come_before_the_demo(demo: Settings):
    local = demo.data_dir / "wikipedia"
    fact = Fact(title="Helsinki Cathedral", summary="A local copy of the cathedral page.")
    build_zim([fact], local / "mine.zim")
    assert _zim.candidate_paths(demo) == [local / "mine.zim", DEMO_ZIM]
    out = await PageTool(demo).run({"title": "Helsinki Cathedral"})
    assert out.result.summary == "A local copy of the cathedral page."
    assert out.result.lat is None
