"""`gre tools serve`: the SDK's MCP client against our tools over stdio and streamable HTTP."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from gre_agent.core.settings import Settings
from gre_agent.tools import Registry
from gre_agent.tools.mcp.server import build_server
from tests.mcp_support import GRE, http_server
from tests.test_registry_cli import EXPECTED

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "helsinki-street.jpg"

# One offline call of every built-in tool, with what its structured result must hold.
CALLS: dict[str, tuple[dict[str, Any], str]] = {
    "gazetteer.geocode": ({"query": "Gothenburg"}, "candidates"),
    "gazetteer.reverse": ({"lat": 60.1699, "lon": 24.9384}, "name"),
    "gazetteer.spot": ({"text": "Helsinki 12 km"}, "matches"),
    "osm.features_near": (
        {"lat": 60.1699, "lon": 24.9384, "radius_m": 300, "tags": {"amenity": "cafe"}},
        "features",
    ),
    "osm.find_named": ({"name": "Kaivokatu", "around": {"lat": 60.17, "lon": 24.94}}, "features"),
    "osm.street_intersection": (
        {"street_a": "Mannerheimintie", "street_b": "Kaivokatu"},
        "features",
    ),
    "osm.find_address": ({"street": "Mannerheimintie", "housenumber": "18"}, "features"),
    "wikipedia.search": ({"query": "Gothenburg"}, "results"),
    "wikipedia.page": ({"title": "Gothenburg"}, "summary"),
    "wikipedia.geosearch": ({"lat": 57.7075, "lon": 11.9675, "radius_m": 5000}, "results"),
    "exif.gps": ({"image": str(EXAMPLE)}, "lat"),
    "country.facts": ({"country_code": "FI"}, "name"),
    "geo.check": ({"lat": 60.1699, "lon": 24.9384}, "country_code"),
    "ocr.read": ({"image": str(EXAMPLE)}, "texts"),
}


@pytest.fixture(scope="module")
def serve_env(tmp_path_factory: pytest.TempPathFactory, helsinki_osm_db: Path) -> dict[str, str]:
    """What a client passes to the server it starts: a private home, the Helsinki index."""
    home = tmp_path_factory.mktemp("serve-home")
    return {
        "GRE_HOME": str(home),
        "GRE_CONFIG": str(home / "gre.toml"),
        "GRE_OSM__DATA_PATH": str(helsinki_osm_db),
    }


@pytest.fixture(scope="module")
def http_url(serve_env: dict[str, str]) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRE_")} | serve_env
    cmd = [str(GRE), "tools", "serve", "--transport", "http", "--port", "0", "--offline"]
    with http_server(cmd, "gre tools serve:", env) as url:
        yield url


@asynccontextmanager
async def connect(transport: str, request: pytest.FixtureRequest) -> AsyncIterator[Client]:
    if transport == "stdio":
        env = request.getfixturevalue("serve_env")
        params = StdioServerParameters(
            command=str(GRE), args=["tools", "serve", "--offline"], env=env
        )
        target: Any = params
    else:
        target = request.getfixturevalue("http_url")
    async with Client(target, read_timeout_seconds=120) as client:
        yield client


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content)


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_client_lists_and_calls_every_builtin_tool(transport: str, request):
    registry = Registry(Settings(), include_plugins=False)

    async def go() -> None:
        async with connect(transport, request) as client:
            listed = {t.name: t for t in (await client.list_tools()).tools}
            assert set(listed) >= EXPECTED
            for name in EXPECTED:
                cls = registry.classes[name]
                assert listed[name].description == cls.description
                assert listed[name].input_schema == cls.Args.model_json_schema()
                assert listed[name].output_schema is not None

            assert set(CALLS) == EXPECTED
            for name, (args, key) in CALLS.items():
                result = await client.call_tool(name, args)
                assert not result.is_error, (name, text_of(result))
                assert key in result.structured_content, (name, result.structured_content)
                assert json.loads(text_of(result)) == result.structured_content

            # typed errors come back as isError results reading `kind: message`
            bad = await client.call_tool("gazetteer.geocode", {"query": 5})
            assert bad.is_error and text_of(bad).startswith("invalid_args: query")
            missing = await client.call_tool("country.facts", {"country_code": "QQ"})
            assert missing.is_error and text_of(missing).startswith("not_found: ")
            unknown = await client.call_tool("nope.nothing", {})
            assert unknown.is_error and "unknown tool 'nope.nothing'" in text_of(unknown)

    asyncio.run(go())


def test_osm_answers_come_from_the_helsinki_index(request):
    async def go() -> Any:
        async with connect("http", request) as client:
            return await client.call_tool(
                "osm.street_intersection", {"street_a": "Mannerheimintie", "street_b": "Kaivokatu"}
            )

    result = asyncio.run(go())
    crossing = result.structured_content["features"][0]
    assert abs(crossing["lat"] - 60.17) < 0.01 and abs(crossing["lon"] - 24.94) < 0.01


def test_flat_names_and_backend_in_process(settings: Settings):
    server = build_server(Registry(settings, include_plugins=False), flat_names=True)

    async def go() -> tuple[set[str], Any]:
        async with Client(server) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            return names, await client.call_tool("country__facts", {"country_code": "SE"})

    names, result = asyncio.run(go())
    assert "gazetteer__geocode" in names and "gazetteer.geocode" not in names
    assert result.structured_content["name"] == "Sweden"
