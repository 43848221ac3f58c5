"""The Overpass QL builder: no string can break out of a query (property tests)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gre_agent.tools.osm import query
from tests.osm_ql import QLError, literals, shape, tokenize

texts = st.text(min_size=1, max_size=60)
lats = st.floats(-90, 90, allow_nan=False)
lons = st.floats(-180, 180, allow_nan=False)
radii = st.floats(1, 50_000, allow_nan=False)


@given(texts)
def test_a_string_literal_decodes_back_to_its_input(value: str) -> None:
    assert tokenize(query.string(value)) == [("str", value)]


@given(texts, st.one_of(st.none(), texts))
def test_a_tag_filter_has_the_intended_structure(key: str, value: str | None) -> None:
    tokens = tokenize(query.tag_filters({key: value}))
    if value is None:
        assert tokens == [("punct", "["), ("str", key), ("punct", "]")]
    else:
        expected = [("punct", "["), ("str", key), ("punct", "="), ("str", value), ("punct", "]")]
        assert tokens == expected


@given(texts, texts, st.one_of(st.none(), texts), texts, lats, lons, radii)
def test_features_query_structure_does_not_depend_on_the_strings(
    name: str, key: str, value: str | None, _: str, lat: float, lon: float, radius: float
) -> None:
    spatial = query.around(lat, lon, radius)
    ql = query.features_query(spatial, tags={key: value}, name=name, limit=40, timeout_s=25)
    benign_value = None if value is None else "v"
    benign = query.features_query(
        spatial, tags={"k": benign_value}, name="n", limit=40, timeout_s=25
    )
    tokens = tokenize(ql)
    assert shape(tokens) == shape(tokenize(benign))
    regex = query.name_regex(name)
    expected = [key] + ([value] if value is not None else []) + [query.NAME_KEYS, regex]
    assert literals(tokens) == expected * 3  # node, way, relation
    assert re.search(regex, f"<{name}>", re.IGNORECASE)


@given(texts, texts, lats, lons, radii)
def test_intersection_query_anchors_both_street_names(
    street_a: str, street_b: str, lat: float, lon: float, radius: float
) -> None:
    spatial = query.around(lat, lon, radius)
    ql = query.intersection_query(street_a, street_b, spatial, limit=10, timeout_s=25)
    benign = query.intersection_query("a", "b", spatial, limit=10, timeout_s=25)
    tokens = tokenize(ql)
    assert shape(tokens) == shape(tokenize(benign))
    regex_a, regex_b = literals(tokens)[2], literals(tokens)[5]
    assert re.fullmatch(regex_a, street_a, re.IGNORECASE)
    assert re.fullmatch(regex_b, street_b, re.IGNORECASE)


@given(texts)
def test_a_name_regex_matches_its_name_and_nothing_longer(name: str) -> None:
    anchored = query.name_regex(name, anchored=True)
    assert re.fullmatch(anchored, name, re.IGNORECASE)
    assert re.fullmatch(anchored, name + "x", re.IGNORECASE) is None
    assert re.search(query.name_regex(name), f"pre {name} post", re.IGNORECASE)


@pytest.mark.parametrize(
    ("name", "other", "matches"),
    [
        ("Toolonlahdenkatu", "Töölönlahdenkatu", True),
        ("töölönlahdenkatu", "TOOLONLAHDENKATU", True),
        ("Café", "CAFE", True),
        ("St. Mary's", "St. Mary's", True),
        ("St. Mary's", "StX Mary's", False),  # the dot is literal, not "any character"
        ("a+b", "aab", False),
        ("(x)", "x", False),
        ("Mannerheimintie", "Mannerheimintie 5", False),  # anchored: the whole name
    ],
)
def test_name_regex_examples(name: str, other: str, matches: bool) -> None:
    assert bool(re.fullmatch(query.name_regex(name, anchored=True), other, re.I)) is matches


def test_hostile_names_stay_inside_their_literal() -> None:
    hostile = 'x"]; out; node(1); out; //\n\t\\"\r\x00'
    tokens = tokenize(query.features_query("(1,2,3,4)", name=hostile, limit=5, timeout_s=5))
    benign = tokenize(query.features_query("(1,2,3,4)", name="n", limit=5, timeout_s=5))
    assert shape(tokens) == shape(benign)
    assert tokens.count(("word", "out")) == 2  # [out:json] and the out statement
    assert query.name_regex(hostile) in literals(tokens)


def test_the_tokenizer_rejects_broken_literals() -> None:
    for broken in ['"abc', '"a\\qb"', '"a\nb"', '"\\u12"']:
        with pytest.raises(QLError):
            tokenize(broken)


def test_numbers_are_plain_decimals() -> None:
    assert query.around(60.1699, 24.9384, 250) == "(around:250,60.1699,24.9384)"
    assert query.bbox(-33.9, 151.1, -33.8, 151.3) == "(-33.9,151.1,-33.8,151.3)"
