"""`gre data wikipedia ...` and `gre tools call wikipedia.*` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gre_agent.cli.main import app
from gre_agent.tools.wikipedia import DEMO_ZIM

runner = CliRunner()

FACTS = [
    {
        "title": "Gothenburg",
        "lang": "sv",
        "summary": "Göteborg är Sveriges näst största stad, vid Göta älvs mynning.",
        "lat": 57.7075,
        "lon": 11.9675,
        "redirects": ["Göteborg"],
    },
    {
        "title": "Liseberg",
        "lang": "sv",
        "summary": "Liseberg är en nöjespark i centrala Göteborg, öppnad 1923.",
        "lat": 57.6953,
        "lon": 11.9925,
    },
]


def test_build_zim_list_and_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    facts = tmp_path / "facts.jsonl"
    facts.write_text("\n".join(json.dumps(f, ensure_ascii=False) for f in FACTS) + "\n")
    zims = tmp_path / "zims"
    result = runner.invoke(
        app, ["data", "wikipedia", "build-zim", str(facts), str(zims / "sv.zim")]
    )
    assert result.exit_code == 0, result.output
    assert "2 articles" in result.stdout

    monkeypatch.setenv("GRE_WIKIPEDIA__DATA_PATH", str(zims))
    result = runner.invoke(app, ["data", "wikipedia", "list", "--json"])
    assert result.exit_code == 0, result.output
    (listed,) = json.loads(result.stdout)
    assert listed["language"] == "swe" and listed["articles"] == 2 and listed["fulltext_index"]

    args = json.dumps({"title": "Göteborg", "lang": "sv"})
    result = runner.invoke(app, ["tools", "call", "wikipedia.page", "--offline", "--args", args])
    assert result.exit_code == 0, result.output
    page = json.loads(result.stdout)
    assert page["title"] == "Gothenburg" and page["lat"] == pytest.approx(57.7075)

    args = json.dumps({"lat": 57.7075, "lon": 11.9675, "radius_m": 5000, "lang": "sv"})
    result = runner.invoke(
        app, ["tools", "call", "wikipedia.geosearch", "--offline", "--args", args]
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)["results"]
    assert [h["title"] for h in hits] == ["Gothenburg", "Liseberg"]
    assert 1500 < hits[1]["distance_m"] < 2200


def test_list_shows_the_demo_zim_by_default():
    result = runner.invoke(app, ["data", "wikipedia", "list", "--json"])
    assert result.exit_code == 0, result.output
    (listed,) = json.loads(result.stdout)
    assert listed["path"] == str(DEMO_ZIM) and listed["language"] == "eng"
    assert listed["articles"] >= 10


def test_build_zim_rejects_bad_facts(tmp_path: Path):
    facts = tmp_path / "facts.jsonl"
    facts.write_text('{"title": "No summary"}\n')
    result = runner.invoke(
        app, ["data", "wikipedia", "build-zim", str(facts), str(tmp_path / "x.zim")]
    )
    assert result.exit_code == 2
    assert "facts.jsonl:1" in result.output


def test_tools_call_error_exit_code():
    args = json.dumps({"title": "Atlantis"})
    result = runner.invoke(app, ["tools", "call", "wikipedia.page", "--offline", "--args", args])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["kind"] == "not_found"
