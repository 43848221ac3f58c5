"""Prompt templates and stage schemas: every stage prompt renders and names its fields."""

from __future__ import annotations

import re
from importlib import resources

import pytest
from pydantic import ValidationError

from gre_agent.agent import prompts
from gre_agent.agent.parsing import parse_answer, parse_think
from gre_agent.agent.schemas import (
    STAGE_MODELS,
    Coordinates,
    FinalAnswer,
    Hypotheses,
    Hypothesis,
    Scene,
)
from gre_agent.core.errors import GreError, PromptError
from gre_agent.core.evidence import EvidenceItem


def _dummy(name: str) -> dict[str, str]:
    return {v: f"<{v} value>" for v in prompts.variables(name)}


def test_every_prompt_ships_as_a_package_file():
    files = {p.name for p in resources.files("gre_agent.agent.prompts").iterdir()}
    assert {f"{name}.md" for name in prompts.PROMPTS} <= files


@pytest.mark.parametrize("name", prompts.PROMPTS)
def test_every_prompt_renders(name):
    text = prompts.render(name, **_dummy(name), unused="ignored")
    for var in prompts.variables(name) - set(prompts.OPTIONAL):
        assert f"<{var} value>" in text
    assert "$" not in text.replace("$$", "")
    assert "\n\n\n" not in text


@pytest.mark.parametrize("stage", prompts.STAGE_PROMPTS)
def test_stage_prompt_names_every_field_and_welcomes_json(stage):
    text = prompts.template(stage)
    model = STAGE_MODELS[stage]
    fields = set(model.model_fields) - {"notes"}
    if model is Hypotheses or "hypotheses" in fields:
        fields |= set(Hypothesis.model_fields)
    for field in fields:
        assert re.search(rf"\b{field}\b", text), f"{stage}.md does not mention {field}"
    assert "JSON is welcome" in text


def test_missing_value_and_unknown_prompt_are_prompt_errors():
    with pytest.raises(PromptError, match="scene"):
        prompts.render("detail")
    with pytest.raises(PromptError, match="no prompt"):
        prompts.render("nonsense")
    assert issubclass(PromptError, GreError)


def test_context_is_optional():
    assert "Stage 1 of 6" in prompts.render("scene")
    assert "Be brief." in prompts.render("scene", context="Be brief.")


def test_gre_prompt_asks_for_the_gre_format():
    text = prompts.render("gre")
    for heading in (
        "Street-level analysis",
        "Textual clues",
        "Vegetation/biome",
        "Terrain",
        "Transport context",
    ):
        assert heading in text
    assert "<think>" in text and "<answer>" in text
    # The example answer line is the GRE format the parser reads (with numbers filled in).
    example = re.findall(r"<answer>.*</answer>", text)[-1]
    filled = example.replace("xx.xxxx", "12.3456").replace("yy.yyyy", "-65.4321")
    assert parse_answer(filled).as_tuple() == (12.3456, -65.4321)
    # And its numbered list is the section structure parse_think reads.
    assert parse_think(text).keys()[:5] == [
        "street_level_analysis",
        "textual_clues",
        "vegetation_biome",
        "terrain",
        "transport_context",
    ]


def test_format_helpers():
    assert prompts.format_stage(None) == "(none)"
    assert prompts.format_stage(Scene()) == "(none)"
    assert prompts.format_stage(Scene(terrain="hilly")) == '{"terrain":"hilly"}'
    lines = prompts.format_evidence(
        [
            EvidenceItem(
                claim="street Rua Augusta", kind="street", tool="osm", summary="found", weight=2.5
            ),
            EvidenceItem(
                claim="shop Pingo Doce", kind="name", summary="none within 5 km", weight=-1
            ),
            EvidenceItem(claim="country PT", kind="country", tool="country.facts", summary="PT"),
            "free text",
        ]
    ).splitlines()
    assert lines == [
        "- street Rua Augusta | osm | found | supports",
        "- shop Pingo Doce | reasoning | none within 5 km | contradicts",
        "- country PT | country.facts | PT | neutral",
        "- free text",
    ]
    assert prompts.format_evidence([]) == "(none)"


# ------------------------------------------------------------------ schemas


@pytest.mark.parametrize(("lat", "lon"), [(90, 180), (-90, -180), (0, 0), (89.999999, -179.999999)])
def test_coordinates_edges_accepted(lat, lon):
    assert Coordinates(lat=lat, lon=lon).as_tuple() == (lat, lon)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (90.0000001, 0),
        (-90.5, 0),
        (0, 180.0000001),
        (0, -181),
        (float("nan"), 0),
        (0, float("inf")),
    ],
)
def test_coordinates_out_of_range_rejected(lat, lon):
    with pytest.raises(ValidationError):
        Coordinates(lat=lat, lon=lon)


def test_stage_models_are_partial_friendly():
    for model in STAGE_MODELS.values():
        empty = model()
        assert empty.is_empty()
        assert model.model_validate_json(empty.model_dump_json()) == empty


def test_hypothesis_and_final_answer_rules():
    assert Hypothesis(country_code=" pt ").country_code == "PT"
    with pytest.raises(ValidationError):
        Hypothesis(country_code="PRT")
    with pytest.raises(ValidationError):
        Hypothesis(confidence=1.5)
    with pytest.raises(ValidationError):
        Hypothesis(radius_km=0)
    with pytest.raises(ValidationError):
        FinalAnswer(lat=10.0)
    assert FinalAnswer(lat=1, lon=2).coordinates == Coordinates(lat=1, lon=2)
    assert Hypothesis(lat=1).coordinates is None
