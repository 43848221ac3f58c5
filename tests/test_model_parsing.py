"""GRE output parsing: the answer corpus, think sections, and every stage parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gre_agent.agent.parsing import (
    AnswerParseError,
    extract_json,
    parse_answer,
    parse_stage,
    parse_think,
    section_key,
    stage_model,
    try_parse_answer,
)
from gre_agent.agent.schemas import (
    Details,
    FinalAnswer,
    Hypotheses,
    Scene,
    Semantics,
    Verification,
)
from gre_agent.core.errors import GreError

CORPUS = [
    json.loads(line)
    for line in (Path(__file__).parent / "data" / "gre_answers.jsonl")
    .read_text("utf-8")
    .splitlines()
    if line.strip()
]
BY_ID = {case["id"]: case for case in CORPUS}


def test_corpus_covers_the_variants():
    assert len(CORPUS) >= 50
    assert len(BY_ID) == len(CORPUS)
    assert sum(case["expect"] is None for case in CORPUS) >= 12  # failures and garbage


@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
def test_corpus_answer(case):
    if case["expect"] is None:
        with pytest.raises(AnswerParseError) as err:
            parse_answer(case["text"])
        assert case["error"] in err.value.reason
        assert isinstance(err.value, GreError)
        assert try_parse_answer(case["text"]) is None
    else:
        got = parse_answer(case["text"])
        assert got.lat == pytest.approx(case["expect"][0], abs=1e-9)
        assert got.lon == pytest.approx(case["expect"][1], abs=1e-9)


@pytest.mark.parametrize("case", [c for c in CORPUS if "sections" in c], ids=lambda c: c["id"])
def test_corpus_think_sections_and_quotes(case):
    think = parse_think(case["text"])
    assert think.keys() == case["sections"]
    assert think.quoted == case["quoted"]
    assert all(s.text for s in think.sections)


def test_out_of_range_reason_names_the_axis():
    with pytest.raises(AnswerParseError, match=r"latitude 95\.2 outside \[-90, 90\]"):
        parse_answer("<answer>Latitude: 95.2, Longitude: 10</answer>")
    with pytest.raises(AnswerParseError, match="longitude"):
        parse_answer("<answer>45.0, 200.5</answer>")


def test_answer_block_wins_over_numbers_in_the_reasoning():
    text = "<think>Sydney is at -33.87, 151.21 but the signs say Perth.</think>" + (
        "<answer>-31.95, 115.86</answer>"
    )
    assert parse_answer(text).as_tuple() == (-31.95, 115.86)


def test_out_of_range_answer_is_not_rescued_by_the_reasoning():
    text = "<think>Maybe 10.5, 20.5.</think><answer>Latitude: 123.4, Longitude: 5.0</answer>"
    with pytest.raises(AnswerParseError, match="latitude"):
        parse_answer(text)


def test_non_text_input_is_a_parse_error():
    with pytest.raises(AnswerParseError):
        parse_answer(None)  # type: ignore[arg-type]


# ------------------------------------------------------------------ parse_think


def test_think_inline_gre_sections_in_order():
    think = parse_think(BY_ID["gre_keyed_degree"]["text"])
    assert [s.number for s in think.sections] == [1, 2, 3, 4, 5]
    assert think.sections[0].title == "Street-level analysis"
    assert think.get("terrain", "").startswith("The land is flat")
    assert think.get("missing") is None
    assert "<answer>" not in think.think


def test_think_numbers_never_go_back_and_gaps_are_fine():
    text = "<think>1. Terrain: hills with 1. odd list\n2. Scene: x\n4. Climate: humid. 3. Bad: y"
    think = parse_think(text)
    assert [(s.number, s.key) for s in think.sections] == [
        (1, "terrain"),
        (2, "scene"),
        (4, "climate"),
    ]
    assert "3. Bad: y" in think.sections[-1].text


def test_think_markdown_variants():
    text = (
        "Intro line.\n### 1. Textual clues\nSigns say 'Praça da Sé'.\n"
        "2. **Vegetation**: palms\n**3. Terrain:** coastal\n4. Transport context\nBuses."
    )
    think = parse_think(text)
    assert think.preamble == "Intro line."
    assert think.keys() == ["textual_clues", "vegetation_biome", "terrain", "transport_context"]
    assert think.get("vegetation_biome") == "palms"
    assert think.quoted == ["Praça da Sé"]


def test_think_unnumbered_gre_headings():
    think = parse_think("Street-level analysis: narrow lanes. Terrain: steep. Climate: dry")
    assert think.as_dict() == {
        "street_level_analysis": "narrow lanes.",
        "terrain": "steep.",
        "climate": "dry",
    }


def test_think_repeated_keys_are_joined():
    think = parse_think("1. Terrain: flat. 2. Landscape: a river.")
    assert think.as_dict() == {"terrain": "flat.\na river."}


def test_quotes_every_kind_verbatim_and_once():
    text = (
        'Signs: "Rua Augusta", “Café Central”, „Bäckerei“, «Аптека», 「東京駅」, '
        "‘Marks & Spencer’, 'Bob's Diner', \"Rua Augusta\". Don't split 'lowercase words'."
    )
    assert parse_think(text).quoted == [
        "Rua Augusta",
        "Café Central",
        "Bäckerei",
        "Аптека",
        "東京駅",
        "Marks & Spencer",
        "Bob's Diner",
    ]


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("Street-level analysis", "street_level_analysis"),
        ("Textual clues", "textual_clues"),
        ("Signs and language", "textual_clues"),
        ("Vegetation/biome", "vegetation_biome"),
        ("Terrain", "terrain"),
        ("Transport context", "transport_context"),
        ("Final conclusion", "conclusion"),
        ("Sun position", "sun_position"),
    ],
)
def test_section_key(title, key):
    assert section_key(title) == key


def test_think_without_sections_keeps_the_text():
    think = parse_think("<think>Just some musing.</think><answer>1, 2</answer>")
    assert think.sections == [] and think.preamble == "Just some musing."


# ------------------------------------------------------------------ stages from GRE format


def test_gre_answer_fills_every_stage():
    text = BY_ID["gre_keyed_degree"]["text"]
    scene = parse_stage("scene", text)
    assert isinstance(scene, Scene)
    assert scene.terrain.startswith("The land is flat")
    assert scene.vegetation.startswith("Tall eucalyptus")
    assert "semi-arid" in scene.climate
    assert "corrugated iron roofs" in scene.architecture
    assert "asphalt" in scene.road_type
    assert scene.setting.startswith("The image shows a quiet two-lane")

    details = parse_stage("detail", text)
    assert details.texts == ["Gunnedah 42", "Tamworth 118", "Bob's Bakery", "IGA"]
    assert details.transport.startswith("A white ute")
    assert any("guide posts" in s for s in details.poles_bollards)
    assert any("centre line" in s for s in details.road_markings)
    assert any("directional sign" in s for s in details.signs)
    assert details.notes.startswith("A green directional sign")

    semantics = parse_stage("semantic", text)
    assert semantics.driving_side == "left"
    assert semantics.languages == ["English"]
    assert semantics.country_hints == ["Australia"]

    hyps = parse_stage("hypotheses", text)
    assert isinstance(hyps, Hypotheses)
    best = hyps.best
    assert (best.lat, best.lon) == (-31.28, 149.28)
    assert best.country_code == "AU"
    assert '"Gunnedah 42"' in best.evidence

    verification = parse_stage("verification", text)
    assert isinstance(verification, Verification)
    assert verification.best.coordinates.as_tuple() == (-31.28, 149.28)

    final = parse_stage("final", text)
    assert isinstance(final, FinalAnswer)
    assert final.coordinates.as_tuple() == (-31.28, 149.28)
    assert final.country == "Australia"
    assert final.reasoning.startswith("Street-level analysis:")


def test_gre_bold_format_semantics():
    semantics = parse_stage("semantic", BY_ID["gre_bold_headings"]["text"])
    assert semantics.driving_side == "right"
    assert semantics.languages == ["French"]
    assert semantics.country_hints == ["France"]
    details = parse_stage("detail", BY_ID["gre_bold_headings"]["text"])
    assert "Rue de Rivoli" in details.texts


def test_gre_scripts_and_left_traffic():
    text = BY_ID["gre_missing_section_lon_first"]["text"]
    semantics = parse_stage("semantic", text)
    assert semantics.scripts == ["Devanagari"]
    assert semantics.driving_side == "left"
    assert "India" in semantics.country_hints
    assert parse_stage("final", text).coordinates.as_tuple() == (26.8467, 80.9462)


def test_gre_without_answer_has_no_hypothesis():
    text = BY_ID["gre_unclosed_think_no_answer"]["text"]
    assert parse_stage("hypotheses", text).hypotheses == []
    final = parse_stage("final", text)
    assert final.coordinates is None
    assert final.country == "South Korea"
    semantics = parse_stage("semantic", text)
    assert semantics.scripts == ["Hangul"]
    assert semantics.driving_side == "right"


# ------------------------------------------------------------------ stages from JSON


@pytest.mark.parametrize(
    "text",
    [
        '{"terrain": "hilly", "vegetation": "pines"}',
        '```json\n{"terrain": "hilly", "vegetation": "pines",}\n```',
        "Sure! Here it is:\n{'terrain': 'hilly', 'vegetation': 'pines'}\nHope this helps.",
        '{"terrain": "hilly", "vegetation": "pines"',
        '{\n  "terrain": "hilly",\n  "vegetation": "pines",\n}',
        '```\n{"terrain": "hilly", "vegetation": ["pines"], "climate": None, "x": True}\n```',
    ],
)
def test_json_repair(text):
    scene = parse_stage("scene", text)
    assert (scene.terrain, scene.vegetation) == ("hilly", "pines")
    assert scene.climate is None


def test_json_aliases_and_coercion():
    details = parse_stage(
        "detail",
        '{"text": "Rua Augusta", "plates": ["EU blue band"], "markings": "white dashed; '
        'yellow edge", "poles": [], "brands": ["Pingo Doce"], "mystery": 3}',
    )
    assert details.texts == ["Rua Augusta"]
    assert details.license_plates == ["EU blue band"]
    assert details.road_markings == ["white dashed", "yellow edge"]
    assert details.shops_brands == ["Pingo Doce"]
    assert details.poles_bollards == []
    assert "mystery: 3" in details.notes


def test_json_hypotheses_every_shape():
    text = """Reasoning first... then:
    {"candidates": [
      {"place": "Lisbon", "country": "Portugal", "lat": "38.72", "lon": -9.14,
       "radius_km": "25 km", "confidence": "70%", "evidence": "tram; azulejos"},
      {"name": "Porto", "coordinates": [41.15, -8.61], "confidence": 0.2, "country_code": "prt"},
      {"place": "Nowhere", "lat": 123, "lon": 4},
      {"place": "Funchal", "location": {"latitude": "32.65° N", "longitude": "16.91° W"},
       "radius": "500 m", "confidence": "high"}
    ]}"""
    hyps = parse_stage("hypotheses", text).hypotheses
    assert [h.place for h in hyps] == ["Lisbon", "Porto", "Nowhere", "Funchal"]
    lisbon, porto, nowhere, funchal = hyps
    assert (lisbon.lat, lisbon.lon, lisbon.radius_km, lisbon.confidence) == (38.72, -9.14, 25, 0.7)
    assert lisbon.country_code == "PT" and lisbon.evidence == ["tram", "azulejos"]
    assert (porto.lat, porto.lon, porto.country_code) == (41.15, -8.61, "PT")
    assert nowhere.lat is None and nowhere.lon is None  # out of range: dropped, not raised
    assert (funchal.lat, funchal.lon) == (32.65, -16.91)
    assert funchal.radius_km == pytest.approx(0.5) and funchal.confidence == 0.8


def test_json_hypotheses_as_bare_list():
    hyps = parse_stage("hypotheses", '[{"place": "Oslo", "lat": 59.91, "lon": 10.75}]')
    assert hyps.best.coordinates.as_tuple() == (59.91, 10.75)


def test_json_verification():
    verification = parse_stage(
        "verification",
        '{"revised_hypotheses": [{"place": "Porto", "lat": 41.15, "lon": -8.61}],'
        ' "ruled_out": ["Lisbon: no such street"], "findings": "street found in Porto",'
        ' "next_checks": [], "decision": "Commit"}',
    )
    assert verification.best.place == "Porto"
    assert verification.rejected == ["Lisbon: no such street"]
    assert verification.findings == ["street found in Porto"]
    assert verification.decision == "commit"
    assert parse_stage("verify", '{"decision": false}').decision == "refine"


def test_json_final_answer_and_bad_coordinates():
    final = parse_stage(
        "final_answer",
        '{"latitude": "33.9° S", "longitude": "18.4° E", "place": "Cape Town", '
        '"confidence": 0.9, "summary": "Table Mountain"}',
    )
    assert final.coordinates.as_tuple() == (-33.9, 18.4)
    assert (final.place, final.confidence, final.reasoning) == ("Cape Town", 0.9, "Table Mountain")
    bad = parse_stage("final", '{"lat": 123, "lon": 5, "place": "X"}')
    assert bad.coordinates is None and bad.place == "X" and "lat: 123" in bad.notes


def test_final_answer_from_answer_tag_plus_json():
    final = parse_stage("final", '{"place": "Quito"} <answer>-0.1807, -78.4678</answer>')
    assert final.place == "Quito"
    assert final.coordinates.as_tuple() == (-0.1807, -78.4678)


def test_semantics_json_literal_and_lists():
    semantics = parse_stage(
        "semantic",
        '{"language": "Portuguese", "scripts": "Latin", "traffic_side": "Right-hand traffic",'
        ' "countries": ["Brazil", "Portugal"]}',
    )
    assert semantics.languages == ["Portuguese"]
    assert semantics.scripts == ["Latin"]
    assert semantics.driving_side == "right"
    assert semantics.country_hints == ["Brazil", "Portugal"]


def test_json_wins_and_gre_fills_the_rest():
    text = (
        "<think>1. Terrain: steep mountains. 2. Vegetation/biome: alpine meadows.</think>\n"
        '```json\n{"terrain": "rolling hills"}\n```'
    )
    scene = parse_stage(Scene, text)
    assert scene.terrain == "rolling hills"
    assert scene.vegetation == "alpine meadows."


# ------------------------------------------------------------------ prose and odd input


def test_prose_is_kept_in_notes():
    prose = "I really cannot tell where this is; it is a blurry indoor photo."
    for stage in ("scene", "detail", "hypotheses", "verification", "final"):
        model = parse_stage(stage, prose)
        assert model.notes == prose
        assert model.is_empty() or stage == "final"
    assert parse_stage("final", prose).coordinates is None


def test_prose_semantics_are_read():
    semantics = parse_stage(
        "semantics", "The signs are in Portuguese, Latin script, and cars drive on the right."
    )
    assert semantics.languages == ["Portuguese"]
    assert semantics.scripts == ["Latin"]
    assert semantics.driving_side == "right"


@pytest.mark.parametrize("text", ["", "   ", None, 42, "{", "[1, 2]", "```json\n```", "{}"])
def test_odd_input_never_raises(text):
    for stage in ("scene", "detail", "semantic", "hypotheses", "verification", "final"):
        assert parse_stage(stage, text) is not None


def test_stage_model_names():
    assert stage_model("details") is Details
    assert stage_model("Semantic") is Semantics
    assert stage_model(FinalAnswer) is FinalAnswer
    with pytest.raises(KeyError):
        stage_model("nonsense")


def test_extract_json_prefers_the_object_over_arrays_in_prose():
    assert extract_json('<answer>[1, 2]</answer> {"a": 1}') == {"a": 1}
    assert extract_json("<answer>[40.7, -73.9]</answer>") is None
    assert extract_json("no json") is None


@pytest.mark.parametrize(
    ("text", "place", "code"),
    [
        ("So this is the centre of Helsinki, Finland.", "Helsinki", "FI"),
        ("It must be Rio de Janeiro, Brazil.", "Rio de Janeiro", "BR"),
        ("Somewhere in rural Finland.", "Finland", "FI"),
    ],
)
def test_a_gre_answer_names_the_place_its_conclusion_gives(text, place, code):
    answer = f'<think> {text} </think> <answer> "Latitude": "10.0°", "Longitude": "20.0°" </answer>'
    best = parse_stage("hypotheses", answer).hypotheses[0]
    assert (best.place, best.country_code) == (place, code)
