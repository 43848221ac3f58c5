"""gazetteer.spot: place names inside any text, on the real packaged GeoNames data."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gre_agent.core.settings import Settings
from gre_agent.tools.gazetteer import SpotMatch, SpotResult, SpotTool, spot
from gre_agent.tools.gazetteer._index import Place, PlaceIndex
from gre_agent.tools.gazetteer._packaged import packaged_index
from gre_agent.tools.gazetteer._spot import normalized_with_offsets, stop_words


@pytest.fixture(scope="module")
def packaged(request: pytest.FixtureRequest) -> PlaceIndex:
    """The packaged index, kept between runs in pytest's cache dir."""
    cache = getattr(request.config, "cache", None)
    return packaged_index(Path(cache.mkdir("gazetteer-index")) if cache is not None else None)


def found(index: PlaceIndex, text: str, **kw: Any) -> list[tuple[str, str, str | None]]:
    return [(m.text, m.place.name, m.place.country_code) for m in spot([index], text, **kw)]


def test_names_inside_longer_texts(packaged):
    assert found(packaged, "Helsinki Central") == [("Helsinki", "Helsinki", "FI")]
    assert found(packaged, "Bombay Photo Studio") == [("Bombay", "Mumbai", "IN")]
    assert found(packaged, "Welcome to Saigon")[0][1] == "Ho Chi Minh City"
    assert found(packaged, "Göteborg C") == [("Göteborg", "Gothenburg", "SE")]
    assert found(packaged, "HOTEL HELSINKI") == [("HELSINKI", "Helsinki", "FI")]


def test_any_script(packaged):
    assert found(packaged, "Москва 120") == [("Москва", "Moscow", "RU")]
    assert found(packaged, "الرياض")[0][1:] == ("Riyadh", "SA")
    assert found(packaged, "เชียงใหม่")[0][1:] == ("Chiang Mai", "TH")
    assert found(packaged, "부산")[0][1:] == ("Busan", "KR")


def test_spaceless_scripts_match_inside_words(packaged):
    (seoul,) = spot([packaged], "서울역")  # Seoul Station: the name, then 역
    assert (seoul.text, seoul.place.name, seoul.whole_word) == ("서울", "Seoul", False)
    assert (seoul.start, seoul.end) == (0, 2)
    (shinjuku,) = spot([packaged], "新宿駅")
    assert shinjuku.place.name == "Shinjuku" and not shinjuku.whole_word


def test_spans_point_into_the_original_text(packaged):
    text = "  Tervetuloa — Jyväskylä!  Kouvola "
    for m in spot([packaged], text):
        assert text[m.start : m.end] == m.text
    assert {m.place.name for m in spot([packaged], text)} == {"Jyväskylä", "Kouvola"}


def test_road_sign_distances(packaged):
    def distances(text: str) -> dict[str, float | None]:
        return {m.text: m.distance_km for m in spot([packaged], text)}

    assert distances("Lahti 103 km") == {"Lahti": 103.0}
    assert distances("Lahti 103") == {"Lahti": 103.0}
    assert distances("12 km Kouvola") == {"Kouvola": 12.0}
    assert distances("Tampere 173\nJyväskylä 270 km") == {"Tampere": 173.0, "Jyväskylä": 270.0}
    assert distances("Ufa → 5 mi")["Ufa"] == pytest.approx(8.047)
    # a postal code or a year beside a name is no distance
    assert distances("00100 Helsinki") == {"Helsinki": None}
    assert distances("Oslo 2024") == {"Oslo": None}


def test_overlaps_longest_first_then_population(packaged):
    (ny,) = spot([packaged], "New York Pizza")
    assert ny.text == "New York" and ny.place.name == "New York City"
    two = spot([packaged], "Helsinki-Vantaa")
    assert [m.text for m in two] == ["Helsinki", "Vantaa"]  # same length: bigger first
    paris = spot([packaged], "Paris")[0]
    assert paris.place.country_code == "FR" and paris.others  # Paris, Texas and others
    assert all(o.population <= paris.place.population for o in paris.others)


def test_words_are_not_places(packaged):
    for text in (
        "older Japanese and Korean cars",
        "country pub",
        "Best Western",
        "Open 24 h",
        "Sale 50%",
        "Main Street",
        "Nice view of the sea",  # Nice, France: but "nice" is an English word
        "Apteekki",
        "K-Market",
        "Burger King",
    ):
        assert found(packaged, text) == [], text


def test_short_names_only_for_big_places(packaged):
    assert found(packaged, "Ulm Hbf") == [("Ulm", "Ulm", "DE")]
    assert found(packaged, "Ayr") == []  # 3 letters and a small town


def test_lower_case_words_in_capitalised_text_are_skipped(packaged):
    assert found(packaged, "Kotka") == [("Kotka", "Kotka", "FI")]
    assert found(packaged, "kotka") == [("kotka", "Kotka", "FI")]  # all lower case: kept
    assert found(packaged, "Lintu kotka Tie") == []


def test_stop_lists_follow_the_text_language(packaged):
    # "Nice" is a French city and an English word
    assert found(packaged, "Nice", langs=["fr"]) == [("Nice", "Nice", "FR")]
    assert found(packaged, "Nice", langs=["en"]) == []
    assert found(packaged, "Nice") == []
    assert "nice" in stop_words(("English",))  # a language's name works too
    assert stop_words(("no",)) == stop_words(("nb",))


def test_limit_keeps_the_best(packaged):
    text = "Helsinki Tampere Turku Oulu Lahti Kouvola"
    assert [m.text for m in spot([packaged], text, limit=2)] == ["Helsinki", "Tampere"]


def test_normalized_with_offsets_matches_the_index_keys():
    norm, origin = normalized_with_offsets("Saint-Étienne,  Gel'sinki æ")
    assert norm == "saint etienne gelsinki ae"
    assert len(origin) == len(norm) and origin[-1] == origin[-2]  # "æ" -> "ae"


def test_feature_class_round_trips(tmp_path):
    index = PlaceIndex.build(
        [
            Place(1, "Testville", 60.0, 25.0, "FI", "01", 5000, (), "P"),
            Place(2, "Testhill", 61.0, 25.0, "FI", "01", 0, (), "T"),
        ],
        "test",
    )
    index.save(tmp_path / "ix.npz")
    loaded = PlaceIndex.load(tmp_path / "ix.npz")
    (hill,) = spot([loaded], "Testhill")
    assert hill.place.feature_class == "T"


def test_the_tool(settings: Settings, packaged):
    out = asyncio.run(SpotTool(settings).run({"text": "Lahti 103 km", "langs": ["fi"]}))
    assert out.ok, out.error
    (match,) = out.value(SpotResult).matches
    assert isinstance(match, SpotMatch)
    assert (match.place.name, match.distance_km, match.place.feature_class) == ("Lahti", 103.0, "P")
    assert out.model_dump(mode="json")["result"]["matches"][0]["start"] == 0


# -- properties ----------------------------------------------------------------------

_ANY_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",)), max_size=200
)  # every script, symbols, controls, combining marks


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_ANY_TEXT)
def test_no_text_makes_it_raise(packaged, text):
    for m in spot([packaged], text):
        assert 0 <= m.start < m.end <= len(text)
        assert text[m.start : m.end] == m.text


_JUNK_WORD = st.text("bcdfghjklmnpqrstvwxz", min_size=1, max_size=9)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    words=st.lists(st.one_of(_JUNK_WORD, st.sampled_from(sorted(stop_words(None)))), max_size=8),
    seps=st.lists(st.sampled_from([" ", ", ", " - ", "\n", " | ", " 12 km "]), min_size=8),
)
def test_a_text_with_no_gazetteer_name_yields_no_match(packaged, words, seps):
    text = "".join(w + s for w, s in zip(words, seps, strict=False))
    norm, _ = normalized_with_offsets(text)
    tokens = norm.split()
    names = [
        " ".join(tokens[a:b])
        for a in range(len(tokens))
        for b in range(a + 1, len(tokens) + 1)
        if " ".join(tokens[a:b]) in packaged._slot and " ".join(tokens[a:b]) not in stop_words(None)
    ]
    if not names:
        assert spot([packaged], text) == []
