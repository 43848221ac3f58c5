"""geo.check on the real packaged data (GLOBE land mask, timezonefinder, GeoNames places)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gre_agent.core.errors import ToolFailure
from gre_agent.core.settings import Settings
from gre_agent.tools import registry
from gre_agent.tools.country import GeoCheckTool
from gre_agent.tools.country._geo import load_places
from gre_agent.tools.country._landmask import PACKED_NAME


@pytest.fixture(scope="module")
def geo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One geo data directory for the module: the packed land mask is built once."""
    return tmp_path_factory.mktemp("geo-data")


@pytest.fixture
def geo_settings(tmp_path: Path, geo_dir: Path) -> Settings:
    return Settings(home=tmp_path / "home", geo={"data_path": geo_dir})


async def check(settings: Settings, lat: float, lon: float):
    return await GeoCheckTool(settings).run({"lat": lat, "lon": lon})


async def test_helsinki(geo_settings: Settings, geo_dir: Path):
    outcome = await check(geo_settings, 60.1699, 24.9384)
    assert outcome.ok and outcome.backend == "offline", outcome.error
    r = outcome.result
    assert r.on_land is True
    assert r.timezone == "Europe/Helsinki"
    assert (r.country_code, r.country_name) == ("FI", "Finland")
    assert r.nearest_place.name == "Helsinki" and r.nearest_place.distance_km < 2
    assert (geo_dir / PACKED_NAME).is_file()  # the data path from the settings was used


async def test_baltic_sea_is_not_land(geo_settings: Settings):
    # Open sea between Gotland and Latvia: no country, nearest town on Gotland.
    r = (await check(geo_settings, 57.5, 19.8)).result
    assert r.on_land is False
    assert r.country_code is None and r.country_name is None
    assert r.nearest_place.country_code == "SE"
    assert r.nearest_place.distance_km > 22
    assert r.timezone.startswith("Etc/GMT")  # ocean zone


async def test_territorial_water_keeps_the_country(geo_settings: Settings):
    # Gulf of Finland, 19 km off Helsinki: sea, but within 12 nautical miles of a town.
    r = (await check(geo_settings, 60.0, 25.0)).result
    assert r.on_land is False and r.country_code == "FI"


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(-18.1416, 178.4419), (-16.85, -179.97)],  # Suva; Taveuni, east of the antimeridian
)
async def test_fiji_across_the_antimeridian(geo_settings: Settings, lat: float, lon: float):
    r = (await check(geo_settings, lat, lon)).result
    assert r.on_land is True
    assert r.timezone == "Pacific/Fiji"
    assert r.country_code == "FJ" and r.country_name == "Fiji"
    # The nearest town lies across the 180th meridian; a lat/lon-space search would
    # not find it within 100 km.
    assert r.nearest_place.country_code == "FJ" and r.nearest_place.distance_km < 100


@pytest.mark.parametrize(("lat", "lon"), [(90, 0), (90, 180), (-90, -180), (0, 180), (0, -180)])
async def test_poles_and_grid_edges_do_not_crash(geo_settings: Settings, lat: float, lon: float):
    outcome = await check(geo_settings, lat, lon)
    assert outcome.ok, outcome.error
    assert outcome.result.timezone
    assert outcome.result.nearest_place.distance_km >= 0


async def test_north_pole_is_sea_south_pole_is_antarctica(geo_settings: Settings):
    north = (await check(geo_settings, 90, 0)).result
    south = (await check(geo_settings, -90, 0)).result
    assert north.on_land is False and north.country_code is None
    assert south.on_land is True and south.country_code == "AQ"


@pytest.mark.parametrize(
    "args",
    [
        {"lat": 91, "lon": 0},
        {"lat": 0, "lon": -180.5},
        {"lat": math.nan, "lon": 0},
        {"lat": 0, "lon": math.inf},
        {"lat": "north", "lon": 0},
        {"lat": 60},
    ],
)
async def test_invalid_coordinates(geo_settings: Settings, args: dict):
    outcome = await GeoCheckTool(geo_settings).run(args)
    assert outcome.error is not None and outcome.error.kind == "invalid_args"


async def test_own_places_file_replaces_the_packaged_one(tmp_path: Path, geo_dir: Path):
    own = tmp_path / "own-geo"
    own.mkdir()
    (own / PACKED_NAME).symlink_to(geo_dir / PACKED_NAME)  # reuse the built mask
    (own / "places.csv").write_text(
        "lat,lon,name,admin1,admin2,cc\n60.17,24.94,Testville,Uusimaa,,FI\n0.0,0.0,Nulltown,,,XX\n"
    )
    settings = Settings(home=tmp_path / "home", geo={"data_path": own})
    r = (await check(settings, 60.2, 24.9)).result
    assert r.nearest_place.name == "Testville" and r.country_code == "FI"


@pytest.mark.parametrize("text", ["lat,lon,name,admin1,admin2,cc\n", "lat,lon,town\n1,2,X\n", ""])
def test_unusable_places_file_is_unavailable(tmp_path: Path, text: str):
    bad = tmp_path / "places.csv"
    bad.write_text(text)
    with pytest.raises(ToolFailure) as info:
        load_places(bad)
    assert info.value.kind == "unavailable"


def test_cli(monkeypatch: pytest.MonkeyPatch, geo_dir: Path):
    from gre_agent.cli.main import app

    # Load only this family's tools so the test does not depend on the other families.
    monkeypatch.setattr(registry, "BUILTIN", ("gre_agent.tools.country:GeoCheckTool",))
    monkeypatch.setenv("GRE_GEO__DATA_PATH", str(geo_dir))
    result = CliRunner().invoke(
        app, ["tools", "call", "geo.check", "--args", '{"lat": 60.1699, "lon": 24.9384}']
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["country_code"] == "FI" and payload["timezone"] == "Europe/Helsinki"
