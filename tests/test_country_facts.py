"""country.facts: offline on the packaged GeoNames data, online against a local server
speaking the REST Countries v3.1 format (with its faults)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from gre_agent.core.settings import Settings
from gre_agent.tools import registry
from gre_agent.tools.country import LEFT_HAND_TRAFFIC, FactsTool
from gre_agent.tools.country._offline import geonames_countries
from tests.conftest import fast_http

# Trimmed from a real https://restcountries.com/v3.1/alpha/fi answer (same shape).
FINLAND = [
    {
        "name": {
            "common": "Finland",
            "official": "Republic of Finland",
            "nativeName": {"fin": {"official": "Suomen tasavalta", "common": "Suomi"}},
        },
        "tld": [".fi"],
        "cca2": "FI",
        "ccn3": "246",
        "cca3": "FIN",
        "independent": True,
        "currencies": {"EUR": {"name": "Euro", "symbol": "€"}},
        "idd": {"root": "+3", "suffixes": ["58"]},
        "capital": ["Helsinki"],
        "region": "Europe",
        "subregion": "Northern Europe",
        "languages": {"fin": "Finnish", "swe": "Swedish"},
        "borders": ["NOR", "SWE", "RUS"],
        "car": {"signs": ["FIN"], "side": "right"},
        "continents": ["Europe"],
    }
]


async def facts(settings: Settings, code: str, backend: str | None = None):
    return await FactsTool(settings).run({"country_code": code}, backend=backend)


# -- offline -------------------------------------------------------------------------


async def test_offline_finland(settings: Settings):
    outcome = await facts(settings, "fi")
    assert outcome.ok and outcome.backend == "offline"
    r = outcome.result
    assert r.code == "FI" and r.name == "Finland" and r.capital == "Helsinki"
    assert r.continent == "Europe" and r.driving_side == "right"
    assert r.languages[:2] == ["Finnish", "Swedish"]
    assert r.calling_code == "+358" and r.tld == ".fi"
    assert (r.currency, r.currency_name) == ("EUR", "Euro")
    assert sorted(r.neighbours) == ["NO", "RU", "SE"]
    assert r.source == "geonames"


@pytest.mark.parametrize(
    ("code", "capital", "side", "calling", "continent"),
    [
        ("GB", "London", "left", "+44", "Europe"),
        ("JP", "Tokyo", "left", "+81", "Asia"),
        ("ZA", "Pretoria", "left", "+27", "Africa"),
        ("BR", "Brasilia", "right", "+55", "South America"),
        ("US", "Washington", "right", "+1", "North America"),
        ("NZ", "Wellington", "left", "+64", "Oceania"),
        ("JM", "Kingston", "left", "+1876", "North America"),
        ("DO", "Santo Domingo", "right", "+1", "North America"),  # '1-809 and 1-829'
        ("SE", "Stockholm", "right", "+46", "Europe"),  # switched to the right in 1967
    ],
)
async def test_offline_known_facts(settings, code, capital, side, calling, continent):
    r = (await facts(settings, code)).result
    assert (r.capital, r.driving_side, r.calling_code, r.continent) == (
        capital,
        side,
        calling,
        continent,
    )


async def test_offline_language_names_are_plain(settings: Settings):
    # pycountry says "Modern Greek (1453-)" and "Swahili (macrolanguage)".
    assert (await facts(settings, "GR")).result.languages[0] == "Modern Greek"
    assert "Swahili" in (await facts(settings, "TZ")).result.languages


async def test_offline_kosovo_is_known(settings: Settings):
    r = (await facts(settings, "XK")).result
    assert r.name == "Kosovo" and "RS" in r.neighbours


async def test_offline_unknown_code_is_not_found(settings: Settings):
    outcome = await facts(settings, "ZZ")
    assert outcome.error is not None and outcome.error.kind == "not_found"


@pytest.mark.parametrize("code", ["FIN", "F", "1A", "", "f!"])
async def test_malformed_code_is_invalid(settings: Settings, code: str):
    outcome = await facts(settings, code)
    assert outcome.error is not None and outcome.error.kind == "invalid_args"


def test_left_hand_table_names_real_countries():
    known = geonames_countries()
    assert set(known) >= LEFT_HAND_TRAFFIC
    assert {"GB", "IE", "JP", "IN", "AU", "ZA", "TH", "ID"} <= LEFT_HAND_TRAFFIC
    assert not {"SE", "US", "FR", "DE", "CN", "RU", "BR", "MM"} & LEFT_HAND_TRAFFIC


# -- online: a local server speaking REST Countries v3.1 ------------------------------


def online_settings(tmp_path: Path, server: HTTPServer, **overrides: object) -> Settings:
    return Settings(
        home=tmp_path / "home",
        country=fast_http(endpoint=server.url_for("/v3.1"), **overrides),
    )


async def test_online_finland(tmp_path: Path, httpserver: HTTPServer):
    httpserver.expect_request("/v3.1/alpha/FI").respond_with_json(FINLAND)
    settings = online_settings(tmp_path, httpserver)
    outcome = await facts(settings, "fi")
    assert outcome.ok and outcome.backend == "online", outcome.error
    r = outcome.result
    assert r.name == "Finland" and r.capital == "Helsinki" and r.continent == "Europe"
    assert r.languages == ["Finnish", "Swedish"]
    assert r.calling_code == "+358" and r.tld == ".fi" and r.driving_side == "right"
    assert (r.currency, r.currency_name) == ("EUR", "Euro")
    assert r.neighbours == ["NO", "SE", "RU"]  # alpha-3 borders converted
    assert r.source == "restcountries"
    assert not outcome.cached
    # The second call is answered by the HTTP cache; the server sees one request.
    again = await facts(settings, "FI")
    assert again.ok and again.cached
    assert len(httpserver.log) == 1


async def test_online_nanp_calling_code_and_kosovo_border(tmp_path: Path, httpserver: HTTPServer):
    serbia = {
        "name": {"common": "Serbia"},
        "cca2": "RS",
        "idd": {"root": "+3", "suffixes": ["81"]},
        "borders": ["BIH", "BGR", "HRV", "HUN", "UNK", "MKD", "MNE", "ROU"],
        "car": {"side": "right"},
    }
    usa = {"name": {"common": "United States"}, "cca2": "US"}
    usa["idd"] = {"root": "+1", "suffixes": ["201", "202", "203"]}
    httpserver.expect_request("/v3.1/alpha/RS").respond_with_json([serbia])
    httpserver.expect_request("/v3.1/alpha/US").respond_with_json([usa])
    settings = online_settings(tmp_path, httpserver)
    rs = (await facts(settings, "RS")).result
    assert "XK" in rs.neighbours and rs.calling_code == "+381"
    us = (await facts(settings, "US")).result
    assert us.calling_code == "+1"
    assert us.driving_side == "right"  # no `car`: falls back to the table
    assert us.capital is None and us.languages == []


async def test_online_404_is_not_found(tmp_path: Path, httpserver: HTTPServer):
    httpserver.expect_request("/v3.1/alpha/ZZ").respond_with_json(
        {"status": 404, "message": "Not Found"}, status=404
    )
    outcome = await facts(online_settings(tmp_path, httpserver), "ZZ")
    assert outcome.error is not None and outcome.error.kind == "not_found"


async def test_online_empty_list_is_not_found(tmp_path: Path, httpserver: HTTPServer):
    httpserver.expect_request("/v3.1/alpha/QQ").respond_with_json([])
    outcome = await facts(online_settings(tmp_path, httpserver), "QQ")
    assert outcome.error is not None and outcome.error.kind == "not_found"


async def test_online_429_with_retry_after_then_success(tmp_path: Path, httpserver: HTTPServer):
    arrivals: list[float] = []

    def limited(request: Request) -> Response:
        arrivals.append(time.monotonic())
        return Response("slow down", status=429, headers={"Retry-After": "1"})

    def ok(request: Request) -> Response:
        arrivals.append(time.monotonic())
        return Response(json.dumps(FINLAND), content_type="application/json")

    httpserver.expect_ordered_request("/v3.1/alpha/FI").respond_with_handler(limited)
    httpserver.expect_ordered_request("/v3.1/alpha/FI").respond_with_handler(ok)
    outcome = await facts(online_settings(tmp_path, httpserver), "FI")
    assert outcome.ok, outcome.error
    assert outcome.result.name == "Finland"
    assert len(arrivals) == 2 and arrivals[1] - arrivals[0] >= 0.9  # Retry-After honoured


async def test_online_persistent_429_is_rate_limited(tmp_path: Path, httpserver: HTTPServer):
    httpserver.expect_request("/v3.1/alpha/FI").respond_with_data("no", status=429)
    outcome = await facts(online_settings(tmp_path, httpserver, retries=1), "FI")
    assert outcome.error is not None and outcome.error.kind == "rate_limited"


async def test_online_500_is_http_error_after_retries(tmp_path: Path, httpserver: HTTPServer):
    httpserver.expect_request("/v3.1/alpha/FI").respond_with_data("boom", status=500)
    outcome = await facts(online_settings(tmp_path, httpserver), "FI")
    assert outcome.error is not None and outcome.error.kind == "http_error"
    assert len(httpserver.log) == 3  # first try + 2 retries


async def test_online_timeout(tmp_path: Path, httpserver: HTTPServer):
    def sleepy(request: Request) -> Response:
        time.sleep(0.6)
        return Response(json.dumps(FINLAND), content_type="application/json")

    httpserver.expect_request("/v3.1/alpha/FI").respond_with_handler(sleepy)
    settings = online_settings(tmp_path, httpserver, timeout_s=0.2, retries=0)
    outcome = await facts(settings, "FI")
    assert outcome.error is not None and outcome.error.kind == "timeout"


async def test_online_malformed_json_is_bad_response(tmp_path: Path, httpserver: HTTPServer):
    httpserver.expect_request("/v3.1/alpha/FI").respond_with_data(
        '[{"name": {"common": "Fin', content_type="application/json"
    )
    outcome = await facts(online_settings(tmp_path, httpserver), "FI")
    assert outcome.error is not None and outcome.error.kind == "bad_response"


@pytest.mark.parametrize(
    "payload",
    [
        {"message": "ok"},
        [{"name": "Finland"}],
        "Finland",
        [{"name": {"common": "Sweden"}, "cca2": "SE"}],
    ],
)
async def test_online_wrong_shape_is_bad_response(
    tmp_path: Path, httpserver: HTTPServer, payload: object
):
    httpserver.expect_request("/v3.1/alpha/FI").respond_with_json(payload)
    outcome = await facts(online_settings(tmp_path, httpserver), "FI")
    assert outcome.error is not None and outcome.error.kind == "bad_response"


async def test_online_without_endpoint_is_unavailable(tmp_path: Path):
    settings = Settings(home=tmp_path / "home", country=fast_http(endpoint=None))
    outcome = await facts(settings, "FI")
    assert outcome.error is not None and outcome.error.kind == "unavailable"


# -- through the CLI -----------------------------------------------------------------


@pytest.fixture
def only_country_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load just this family, so the CLI tests do not depend on the other families."""
    monkeypatch.setattr(
        registry,
        "BUILTIN",
        ("gre_agent.tools.country:FactsTool", "gre_agent.tools.country:GeoCheckTool"),
    )


def test_cli_offline(only_country_tools: None):
    from gre_agent.cli.main import app

    result = CliRunner().invoke(
        app, ["tools", "call", "country.facts", "--args", '{"country_code": "fi"}']
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["capital"] == "Helsinki" and payload["source"] == "geonames"


def test_cli_online(
    only_country_tools: None, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
):
    from gre_agent.cli.main import app

    httpserver.expect_request("/v3.1/alpha/FI").respond_with_json(FINLAND)
    monkeypatch.setenv("GRE_COUNTRY__ENDPOINT", httpserver.url_for("/v3.1"))
    result = CliRunner().invoke(
        app, ["tools", "call", "country.facts", "--online", "--args", '{"country_code": "fi"}']
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["source"] == "restcountries"


def test_cli_malformed_code_exits_2(only_country_tools: None):
    from gre_agent.cli.main import app

    result = CliRunner().invoke(
        app, ["tools", "call", "country.facts", "--args", '{"country_code": "fin"}']
    )
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["kind"] == "invalid_args"
