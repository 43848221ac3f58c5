"""Typed tool results: an outcome keeps the tool's own Result model, its JSON stays the same."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from gre_agent.cli.main import app
from gre_agent.core.errors import ErrorKind
from gre_agent.core.settings import Settings
from gre_agent.tools import Registry, ToolErrorInfo, ToolOutcome
from gre_agent.tools.country import CountryFacts, GeoCheckResult

FINLAND = {
    "code": "FI",
    "name": "Finland",
    "capital": "Helsinki",
    "continent": "Europe",
    "languages": ["Finnish", "Swedish", "Inari Sami"],
    "driving_side": "right",
    "calling_code": "+358",
    "tld": ".fi",
    "currency": "EUR",
    "currency_name": "Euro",
    "neighbours": ["NO", "RU", "SE"],
    "source": "geonames",
}


@pytest.fixture
def registry(tmp_path) -> Registry:
    return Registry(Settings(home=tmp_path, offline=True), include_plugins=False)


def test_every_tool_returns_an_instance_of_its_result_class(registry: Registry):
    tool = registry.get("country.facts")
    outcome = asyncio.run(tool.run({"country_code": "FI"}))
    assert outcome.ok
    assert type(outcome.result) is tool.Result is CountryFacts
    facts = outcome.value(CountryFacts)
    assert (facts.capital, facts.driving_side) == ("Helsinki", "right")


def test_value_refuses_another_result_class_and_a_failed_call(registry: Registry):
    outcome = asyncio.run(registry.get("country.facts").run({"country_code": "FI"}))
    with pytest.raises(TypeError, match="CountryFacts, not GeoCheckResult"):
        outcome.value(GeoCheckResult)
    failed = ToolOutcome(
        tool="country.facts",
        backend="offline",
        args={},
        error=ToolErrorInfo(kind=ErrorKind.timeout, message="slow"),
    )
    assert not failed.ok
    with pytest.raises(TypeError, match="no result"):
        failed.value(CountryFacts)


def test_the_json_form_is_unchanged_for_a_real_offline_call(registry: Registry):
    outcome = asyncio.run(registry.get("country.facts").run({"country_code": "FI"}))
    data = outcome.model_dump(mode="json")
    assert list(data) == ["tool", "backend", "args", "result", "error", "cached", "latency_ms"]
    assert data["result"] == FINLAND
    assert data["error"] is None and data["args"] == {"country_code": "FI"}
    assert json.loads(outcome.model_dump_json())["result"] == FINLAND


def test_gre_tools_call_prints_the_json_form():
    result = CliRunner().invoke(
        app, ["tools", "call", "country.facts", "--args", '{"country_code": "FI"}', "--offline"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == FINLAND
