"""Single-pass reasoning: one generation per image, GRE's staged answer read by every stage
node; a second model call only when the evidence contradicts the best candidate."""

from __future__ import annotations

import asyncio

import pytest

from gre_agent.agent.backends import Message
from gre_agent.core.geo import geodesic_km
from gre_agent.core.trace import load_trace
from gre_agent.graphs.gre import Context, locate
from gre_agent.graphs.gre.model import is_gre_model
from tests.scripted import gre_model
from tests.test_graph_agent import ALEKSANTERINKATU, run

# GRE's own format: five numbered sections, then the answer (a point near the corner).
HELSINKI = """<think> 1. Street-level analysis: a dense European city street with stone
buildings of four to six storeys and tram rails. 2. Textual clues: a blue street sign reads
"Aleksanterinkatu" and a second one "Unioninkatu"; Finnish street names. 3. Vegetation/biome:
few trees, temperate. 4. Terrain: flat. 5. Transport context: cars drive on the right, a green
tram. This is central Helsinki, Finland. </think> <answer> "Latitude": "60.1690°",
"Longitude": "24.9500°" </answer>"""

# The same clues, but the answer is in Tokyo: Japan drives on the left, writes no Finnish.
TOKYO = HELSINKI.replace("60.1690°", "35.6812°").replace("24.9500°", "139.7671°")


def model_stages(result) -> list[str]:
    return [e.stage for e in load_trace(result.trace_path).model_calls]


def test_gre_model_names():
    assert is_gre_model("Anonymous0515/GRE") and is_gre_model("gre-7b-sft")
    assert is_gre_model("hand-written-gre-answers")
    assert not is_gre_model("Qwen/Qwen2.5-VL-7B-Instruct") and not is_gre_model("progress")


def test_one_generation_when_the_evidence_agrees(photo, offline_registry):
    backend = gre_model(HELSINKI)
    result = run(photo, backend, offline_registry, stages="single-pass")
    assert result.error is None, result.error
    assert model_stages(result) == ["single_pass"]
    assert [s for s, _ in backend.calls] == ["gre"]
    trace = load_trace(result.trace_path)
    # every stage node still reports what it read from the one answer
    assert [e.stage for e in trace.stages][:4] == ["scene", "detail", "semantic", "hypotheses"]
    details = trace.stage("detail")
    assert details is not None
    assert {"Aleksanterinkatu", "Unioninkatu"} <= set(details.parsed["texts"])
    pred = result.prediction
    assert geodesic_km(pred.lat, pred.lon, *ALEKSANTERINKATU) < 1.0
    assert pred.model_calls == 1 and pred.prompt_tokens > 0 and pred.completion_tokens > 0


def test_a_contradicted_guess_costs_one_revision_call(photo, offline_registry):
    result = run(photo, gre_model(TOKYO), offline_registry, stages="single-pass", max_rounds=1)
    assert result.error is None, result.error
    assert model_stages(result) == ["single_pass", "verification"]
    assert result.prediction.model_calls == 2


def test_single_pass_and_per_stage_give_the_same_answer(photo, offline_registry):
    single = run(photo, gre_model(HELSINKI), offline_registry, stages="single-pass")
    staged = run(photo, gre_model(HELSINKI), offline_registry, stages="per-stage")
    assert (single.prediction.lat, single.prediction.lon) == pytest.approx(
        (staged.prediction.lat, staged.prediction.lon), abs=1e-9
    )
    assert single.prediction.place == staged.prediction.place
    assert single.prediction.model_calls == 1 < staged.prediction.model_calls
    assert model_stages(staged)[:4] == ["scene", "detail", "semantic", "hypotheses"]


def test_single_pass_prompt_is_gres_own_with_the_hints(photo, offline_registry):
    backend = gre_model(HELSINKI)
    ctx = Context(backend_obj=backend, registry=offline_registry, stages="single-pass")
    asyncio.run(locate(photo, ctx, hints=["taken in winter"]))
    first: list[Message] = backend.calls[0][1]
    asked = first[-1].text
    assert asked.startswith("Where was this photo taken?") and "taken in winter" in asked


def test_auto_picks_single_pass_for_a_gre_model(photo, offline_registry):
    backend = gre_model(HELSINKI)
    backend.model = "Anonymous0515/GRE"
    result = run(photo, backend, offline_registry)
    assert model_stages(result) == ["single_pass"]
    backend = gre_model(HELSINKI)  # "scripted": not a GRE model, so one prompt per stage
    result = run(photo, backend, offline_registry)
    assert model_stages(result)[:4] == ["scene", "detail", "semantic", "hypotheses"]
