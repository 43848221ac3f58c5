"""Property tests: the parsers never crash, and every answer format round-trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gre_agent.agent.parsing import AnswerParseError, parse_answer, parse_stage, parse_think
from gre_agent.agent.schemas import STAGE_MODELS, ThinkSections

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

lats = st.floats(min_value=-90, max_value=90, allow_nan=False)
lons = st.floats(min_value=-180, max_value=180, allow_nan=False)
# Text around an answer block: anything but the angle brackets that make tags.
around = st.text(
    st.characters(blacklist_characters="<>", blacklist_categories=("Cs",)), max_size=80
)

# Fragments that steer random text into the parsers' interesting paths.
FRAGMENTS = [
    "<answer>",
    "</answer>",
    "<think>",
    "</think>",
    "Latitude",
    "Longitude",
    "lat",
    "lon",
    "lng",
    ":",
    ",",
    ";",
    ".",
    "°",
    "'",
    '"',
    "″",
    "′",
    "N",
    "S",
    "E",
    "W",
    "-",
    "−",
    " ",
    "\n",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "1.",
    "2. Textual clues:",
    "**3. Terrain**",
    "«",
    "»",
    "“",
    "”",
    "„",
    "‘",
    "’",
    "```json",
    "```",
    "True",
    "None",
    "null",
    "90",
    "180",
    "45.5",
    "123",
    "999.9",
    "0",
    "12,5",
]
fragment_text = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=5)), max_size=40
).map("".join)
any_text = st.one_of(st.text(max_size=300), fragment_text)


def _hemi(value: float, pos: str, neg: str) -> tuple[float, str]:
    return abs(value), (pos if value >= 0 else neg)


def _dms(value: float) -> tuple[int, int, str]:
    tenths = round(abs(value) * 3600 * 10_000)  # seconds with 4 decimals, exactly
    degrees, rest = divmod(tenths, 3600 * 10_000)
    minutes, seconds = divmod(rest, 60 * 10_000)
    return degrees, minutes, f"{seconds / 10_000:.4f}"


def _fmt_dms(lat: float, lon: float) -> str:
    (ad, am, as_), (od, om, os_) = _dms(lat), _dms(lon)
    ns, ew = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
    return f"{ad}°{am}'{as_}\"{ns} {od}°{om}'{os_}\"{ew}"


def _comma(x: float) -> str:
    return f"{x:.7f}".replace(".", ",")


FORMATS = {
    "pair": lambda a, o: f"{a:.7f}, {o:.7f}",
    "brackets": lambda a, o: f"[{a:.7f}, {o:.7f}]",
    "parens": lambda a, o: f"({a:.7f}, {o:.7f})",
    "space": lambda a, o: f"{a:.7f} {o:.7f}",
    "keyed_gre": lambda a, o: f'"Latitude": "{a:.7f}°", "Longitude": "{o:.7f}°"',
    "keyed_lon_first": lambda a, o: f'"Longitude" : {o:.7f}, "Latitude" : {a:.7f}',
    "lat_lon": lambda a, o: f"lat: {a:.7f} lon: {o:.7f}",
    "json": lambda a, o: json.dumps({"lat": round(a, 7), "lon": round(o, 7)}),
    "json_long": lambda a, o: json.dumps({"longitude": round(o, 7), "latitude": round(a, 7)}),
    "hemi_suffix": lambda a, o: "{:.7f}° {}, {:.7f}° {}".format(
        *_hemi(a, "N", "S"), *_hemi(o, "E", "W")
    ),
    "hemi_prefix": lambda a, o: "{1} {0:.7f}, {3} {2:.7f}".format(
        *_hemi(a, "N", "S"), *_hemi(o, "E", "W")
    ),
    "hemi_lon_first": lambda a, o: "{:.7f}{}, {:.7f}{}".format(
        *_hemi(o, "E", "W"), *_hemi(a, "N", "S")
    ),
    "decimal_comma": lambda a, o: f"{_comma(a)}; {_comma(o)}",
    "decimal_comma_keyed": lambda a, o: f'"Latitude": "{_comma(a)}", "Longitude": "{_comma(o)}"',
    "dms": _fmt_dms,
}


@FAST
@given(text=any_text)
def test_parse_answer_raises_only_its_error(text):
    try:
        coords = parse_answer(text)
    except AnswerParseError as err:
        assert err.reason
    else:
        assert -90 <= coords.lat <= 90 and -180 <= coords.lon <= 180


@FAST
@given(text=any_text)
def test_parse_think_never_crashes(text):
    think = parse_think(text)
    assert isinstance(think, ThinkSections)
    assert all(q == q.strip() and q for q in think.quoted)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=any_text, stage=st.sampled_from(sorted(STAGE_MODELS)))
def test_parse_stage_never_crashes(text, stage):
    model = parse_stage(stage, text)
    assert isinstance(model, STAGE_MODELS[stage])
    model.model_dump_json()


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
field_names = st.sampled_from(
    sorted({f for m in STAGE_MODELS.values() for f in m.model_fields} | {"coordinates"})
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.dictionaries(st.one_of(field_names, st.text(max_size=8)), json_values, max_size=6),
    stage=st.sampled_from(sorted(STAGE_MODELS)),
)
def test_parse_stage_survives_any_json(data, stage):
    text = json.dumps(data, allow_nan=True)
    model = parse_stage(stage, text)
    assert isinstance(model, STAGE_MODELS[stage])


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lat=lats, lon=lons, before=around, after=around)
def test_every_format_round_trips_inside_any_text(fmt, lat, lon, before, after):
    text = f"{before}<answer> {FORMATS[fmt](lat, lon)} </answer>{after}"
    got = parse_answer(text)
    assert got.lat == pytest.approx(lat, abs=1e-6)
    assert got.lon == pytest.approx(lon, abs=1e-6)


@FAST
@given(lat=lats, lon=lons, think=around)
def test_gre_format_round_trips(lat, lon, think):
    text = f'<think>{think}</think>\n<answer> "Latitude": "{lat:.6f}°", "Longitude": "{lon:.6f}°"'
    got = parse_answer(text)  # unclosed answer, too
    assert got.as_tuple() == pytest.approx((round(lat, 6), round(lon, 6)), abs=1e-9)


bad_lat = (
    st.floats(min_value=90, max_value=999, exclude_min=True)
    .map(lambda v: round(v, 4))
    .filter(lambda v: v > 90)
)
bad_lon = (
    st.floats(min_value=180, max_value=999, exclude_min=True)
    .map(lambda v: round(v, 4))
    .filter(lambda v: v > 180)
)
signs = st.sampled_from([1, -1])


@FAST
@given(lat=bad_lat, lon=lons, sign=signs)
def test_out_of_range_latitude_always_rejected(lat, lon, sign):
    for text in (
        f'<answer>"Latitude": "{sign * lat}°", "Longitude": "{lon:.4f}°"</answer>',
        f"<answer>lat={sign * lat} lon={lon:.4f}</answer>",
        f"<answer>{lat}° {'N' if sign > 0 else 'S'}, {abs(lon):.4f}° E</answer>",
    ):
        with pytest.raises(AnswerParseError, match=r"latitude .* outside"):
            parse_answer(text)


@FAST
@given(lat=lats, lon=bad_lon, sign=signs)
def test_out_of_range_longitude_always_rejected(lat, lon, sign):
    for text in (
        f'<answer>"Latitude": "{lat:.4f}°", "Longitude": "{sign * lon}°"</answer>',
        f"<answer>{lat:.4f}, {sign * lon}</answer>",
        f"<answer>[{sign * lon}, {lat:.4f}]</answer>",
        f"<answer>{abs(lat):.4f} N {lon} {'E' if sign > 0 else 'W'}</answer>",
    ):
        with pytest.raises(AnswerParseError, match=r"(latitude|longitude) .* outside"):
            parse_answer(text)
