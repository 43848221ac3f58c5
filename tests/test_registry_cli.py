"""The registry, the LangChain adapter and `gre tools` on the built-in tools."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from gre_agent.cli.main import app
from gre_agent.tools import Registry, to_langchain
from gre_agent.tools.langchain import tool_name_from_langchain
from gre_agent.tools.registry import BUILTIN

runner = CliRunner()

EXPECTED = {
    "gazetteer.geocode",
    "gazetteer.reverse",
    "gazetteer.spot",
    "osm.features_near",
    "osm.find_named",
    "osm.street_intersection",
    "osm.find_address",
    "wikipedia.search",
    "wikipedia.page",
    "wikipedia.geosearch",
    "exif.gps",
    "country.facts",
    "geo.check",
    "ocr.read",
}


def test_every_builtin_tool_is_registered_with_schemas(settings):
    registry = Registry(settings, include_plugins=False)
    assert set(registry.names()) == EXPECTED
    assert len(BUILTIN) == len(EXPECTED)
    for tool in registry.tools():
        spec = tool.spec()
        assert spec["description"].strip()
        assert spec["args_schema"]["type"] == "object"
        assert tool.backend in tool.backends


def test_langchain_adapter_keeps_the_schema_and_runs(settings):
    tool = Registry(settings, include_plugins=False).get("country.facts")
    lc = to_langchain(tool)
    assert lc.name == "country__facts" and tool_name_from_langchain(lc.name) == "country.facts"
    assert lc.args_schema.model_json_schema() == tool.Args.model_json_schema()
    assert lc.description == tool.description
    out = asyncio.run(lc.ainvoke({"country_code": "FI"}))
    assert out["result"]["name"] == "Finland"
    bad = asyncio.run(lc.ainvoke({"country_code": "QQ"}))
    assert bad["error"]["kind"] == "not_found"


def test_tools_list_json():
    result = runner.invoke(app, ["tools", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert {spec["name"] for spec in json.loads(result.stdout)} >= EXPECTED


def test_tools_list_table():
    result = runner.invoke(app, ["tools", "list"])
    assert result.exit_code == 0 and "gazetteer.geocode" in result.stdout


def test_tools_call_prints_json_result():
    result = runner.invoke(
        app,
        ["tools", "call", "gazetteer.geocode", "--offline", "--args", '{"query": "Gothenburg"}'],
    )
    assert result.exit_code == 0, result.output
    top = json.loads(result.stdout)["candidates"][0]
    # GeoNames' main name for Göteborg is the English "Gothenburg"; check the place itself
    assert top["country_code"] == "SE" and abs(top["lat"] - 57.71) < 0.1
    assert abs(top["lon"] - 11.97) < 0.1


def test_unknown_tool_exits_2_with_a_readable_message():
    result = runner.invoke(app, ["tools", "call", "nope.nothing", "--args", "{}"])
    assert result.exit_code == 2
    assert "unknown tool 'nope.nothing'" in result.stderr and "gazetteer.geocode" in result.stderr


def test_invalid_arguments_exit_2():
    bad_json = runner.invoke(app, ["tools", "call", "geo.check", "--args", "{lat: 1"])
    assert bad_json.exit_code == 2 and "not valid JSON" in bad_json.stderr
    not_object = runner.invoke(app, ["tools", "call", "geo.check", "--args", "[1, 2]"])
    assert not_object.exit_code == 2
    out_of_range = runner.invoke(
        app, ["tools", "call", "geo.check", "--args", '{"lat": 91, "lon": 0}']
    )
    assert out_of_range.exit_code == 2 and "invalid_args" in out_of_range.stderr
    assert json.loads(out_of_range.stdout)["error"]["kind"] == "invalid_args"
