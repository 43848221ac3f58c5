"""Search: claims of country-level clues, the country table, the whole-index and address
lookups, and explainable moves (gre locate, gre chat "why not X?")."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from gre_agent.agent.parsing import parse_stage
from gre_agent.core.settings import Settings
from gre_agent.graphs.chat.answers import why
from gre_agent.graphs.chat.runs import compact_run
from gre_agent.graphs.gre import Context, locate
from gre_agent.graphs.gre.claims import address_of, extract
from gre_agent.graphs.gre.search import answer_moves, country_scores
from gre_agent.tools import Registry
from gre_agent.tools.country import clues
from gre_agent.tools.gazetteer import offline_indexes, spot
from gre_agent.tools.osm import open_index
from tests.scripted import gre_model


def claims_of(answer: str):
    return extract(parse_stage("detail", answer), parse_stage("semantic", answer))


def test_country_level_clues_are_read_from_the_texts():
    c = claims_of(
        '<think> 2. Textual clues: a sign "Sími +354 551 2345", a poster "www.kaffi.is", '
        'a plate "00100 Helsinki", prices in € and "450 ISK", a door "Mannerheimintie 14 B", '
        '"221B Baker Street". </think>'
    )
    assert c.phones == ["354"] and c.domains == ["is"] and c.postcodes == ["00100"]
    assert {"EUR", "ISK"} <= set(c.currencies)
    assert ("Mannerheimintie", "14 B") in c.addresses and ("Baker Street", "221B") in c.addresses
    assert address_of("Aleksanterinkatu") is None


def test_the_country_table_answers_each_kind_of_clue():
    assert clues.countries_for_phone("354") == ["IS"]
    assert clues.countries_for_phone("1")[0] == "US"  # the population prior
    assert clues.countries_for_tld("fi") == ["FI"] and clues.countries_for_tld("tv") == []
    assert clues.countries_for_postcode("1012 AB") == ["NL"]
    assert "GB" in clues.countries_for_postcode("SW1A 1AA")
    assert clues.countries_for_postcode("FI-00100") == ["FI"]
    assert clues.countries_for_currency("ISK") == ["IS"]
    assert ("FI", True) in clues.countries_for_language("Finnish")
    assert [code for code, _ in clues.countries_named_in("Poczta Polska")] == ["PL"]


def test_clues_combine_into_one_best_country():
    hangul = claims_of('<think> 2. Textual clues: a shop sign "편의점". </think>')
    assert country_scores(hangul)[0][0] == "KR"  # before KP: the population prior
    mixed = claims_of(
        '<think> 2. Textual clues: "Tel. +358 9 123 456" and "www.kahvila.fi". </think>'
    )
    code, score, why_ = country_scores(mixed)[0]
    assert code == "FI" and score >= 5 and len(why_) == 2


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=80))
def test_no_text_makes_the_matcher_or_the_claims_raise(text: str):
    indexes = offline_indexes(Settings(offline=True))
    spot(indexes, text, None, 20)
    extract(parse_stage("detail", f'Textual clues: a sign "{text}".'), None)


@pytest.mark.parametrize("text", ["Tervetuloa", "OPEN 24H", "Push", "12:30", "www", "—"])
def test_a_text_with_no_gazetteer_name_yields_no_place(text: str):
    indexes = offline_indexes(Settings(offline=True))
    assert spot(indexes, text, None, 20) == []


def test_addresses_and_names_are_found_in_the_whole_index(helsinki_osm_db: Path):
    index = open_index(helsinki_osm_db)
    found = index.find_address("MANNERHEIMINTIE", "14b", None, 5)
    assert found and all(f.tags["addr:housenumber"] == "14 B" for f in found)
    near = index.find_address("Mannerheimintie", "14 B", (60.1685, 24.9397, 200.0), 5)
    assert near and near[0].distance_m is not None and near[0].distance_m < 200
    assert index.find_address("Mannerheimintie", "9999", None, 5) == []
    everywhere = index.find_named("Ateneum", {}, None, None, 5)
    assert everywhere[0].name == "Ateneum"


@pytest.fixture
def street_run(tmp_path: Path, helsinki_osm_db: Path):
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (64, 48)).save(photo)
    registry = Registry(
        Settings(home=tmp_path / "home", offline=True, osm={"data_path": str(helsinki_osm_db)}),
        include_plugins=False,
    )
    answer = (
        "<think> 1. Street-level analysis: a city street. 2. Textual clues: street signs "
        '"Aleksanterinkatu" and "Unioninkatu". 3. Vegetation/biome: none. 4. Terrain: flat. '
        '5. Transport context: trams. Tokyo. </think> <answer> "Latitude": "35.6812°", '
        '"Longitude": "139.7671°" </answer>'
    )
    ctx = Context(backend_obj=gre_model(answer), registry=registry, stages="single-pass")
    return asyncio.run(locate(photo, ctx, trace_dir=tmp_path / "traces"))


def test_every_move_of_the_answer_cites_its_finding(street_run):
    state = street_run.state
    moved = answer_moves(state["initial"], street_run.prediction.hypotheses, state["evidence"])
    assert moved[0].startswith("moved 7,84") and "street 'Aleksanterinkatu' everywhere" in moved[0]
    assert "crossing of Aleksanterinkatu and Unioninkatu" in moved[1]
    assert "they cross at" in moved[1]
    # the trace's prediction keeps the finding that moved it
    assert any("everywhere" in line for line in street_run.prediction.evidence)
    assert street_run.prediction.model_calls == 1


def test_why_not_the_first_guess_shows_the_moves(street_run):
    run = compact_run("locate", "photo.jpg", [], street_run.state, None, None)
    text = why(run, "why not Japan?")
    assert "How the answer moved:" in text and "everywhere" in text
