"""The GRE agent graph with a scripted model on the real offline tools (Helsinki extract)."""

from __future__ import annotations

import asyncio
import json

from gre_agent.core.geo import geodesic_km
from gre_agent.core.settings import Settings
from gre_agent.core.trace import read_trace
from gre_agent.graphs.gre import Context, locate
from gre_agent.tools import Registry
from tests.scripted import ScriptedBackend

# Aleksanterinkatu, central Helsinki (a point on the street)
ALEKSANTERINKATU = (60.1685, 24.9490)

SCENE = """<think> 1. Street-level analysis: a dense European city street with stone
buildings of four to six storeys and tram rails. 3. Vegetation/biome: few trees, temperate.
4. Terrain: flat. </think>"""
DETAIL_HELSINKI = """<think> 2. Textual clues: a blue street sign reads "Aleksanterinkatu" and a
second one "Unioninkatu"; the shop front says "Stockmann". 5. Transport context: cars drive on
the right, a green tram. </think>"""
SEMANTIC = """{"languages": ["Finnish", "Swedish"], "scripts": ["Latin"], "driving_side": "right",
"country_hints": ["FI"]}"""


def espoo_guess(_messages) -> str:
    # 30 km west of the street: the model's first guess is in Espoo, not Helsinki
    return (
        '{"hypotheses": [{"place": "Espoo", "country_code": "FI", "lat": 60.205, '
        '"lon": 24.40, "radius_km": 40, "confidence": 0.5, "evidence": ["Finnish signs"]}]}'
    )


def keep(_messages) -> str:
    return '{"decision": "refine", "findings": ["waiting for more checks"]}'


def run(photo, backend, registry, **ctx):
    return asyncio.run(
        locate(
            photo,
            Context(backend_obj=backend, registry=registry, **ctx),
            trace_dir=photo.parent / "traces",
        )
    )


def test_street_name_snaps_a_30_km_off_guess_onto_the_street(photo, offline_registry):
    backend = ScriptedBackend(
        {
            "scene": SCENE,
            "detail": DETAIL_HELSINKI,
            "semantic": SEMANTIC,
            "hypotheses": espoo_guess,
            "verification": keep,
        }
    )
    result = run(photo, backend, offline_registry)
    assert result.error is None
    first = result.state["initial"]
    assert geodesic_km(first["lat"], first["lon"], *ALEKSANTERINKATU) > 25
    pred = result.prediction
    assert pred.status == "ok" and pred.country_code == "FI"
    assert geodesic_km(pred.lat, pred.lon, *ALEKSANTERINKATU) < 1.0
    assert any("Aleksanterinkatu" in e for e in pred.evidence)
    assert pred.confidence > 0.75
    assert backend.stages()[:4] == ["scene", "detail", "semantic", "hypotheses"]
    # the image went to the model once, in the first user turn of one conversation
    last_messages = backend.calls[-1][1]
    assert sum(len(m.images) for m in last_messages) == 1
    assert last_messages[1].images and not any(m.images for m in last_messages[2:])


def test_tools_contradict_the_first_hypothesis_and_the_agent_revises(photo, offline_registry):
    detail = (
        'Textual clues: a road sign says "Helsinki" and the street sign reads "Aleksanterinkatu".'
    )
    oslo = (
        '{"hypotheses": [{"place": "Oslo", "country_code": "NO", "lat": 59.91, "lon": 10.75, '
        '"radius_km": 20, "confidence": 0.7}]}'
    )
    backend = ScriptedBackend(
        {
            "scene": SCENE,
            "detail": detail,
            "semantic": SEMANTIC,
            "hypotheses": oslo,
            "verification": keep,
        }
    )
    result = run(photo, backend, offline_registry, max_rounds=3)
    pred = result.prediction
    assert result.state["initial"]["place"] == "Oslo"
    assert pred.country_code == "FI"
    assert geodesic_km(pred.lat, pred.lon, *ALEKSANTERINKATU) < 1.0
    evidence = result.state["evidence"]
    against_oslo = [
        e for e in evidence if e["candidate"] and "Oslo" in e["candidate"] and e["weight"] < 0
    ]
    assert against_oslo, "the tools should have counted against Oslo"
    oslo_final = next(h for h in pred.hypotheses if h["place"] == "Oslo")
    assert oslo_final["confidence"] < pred.confidence


class FailingRegistry(Registry):
    """Every OSM and geo call fails as if the network were down."""

    def get(self, name):
        tool = super().get(name)
        if name.startswith(("osm.", "geo.", "country.")):

            async def broken(args=None, **_):
                from gre_agent.core.errors import ErrorKind
                from gre_agent.tools.base import ToolErrorInfo, ToolOutcome

                return ToolOutcome(
                    tool=name,
                    backend="online",
                    args=dict(args or {}),
                    error=ToolErrorInfo(kind=ErrorKind.timeout, message="simulated"),
                )

            tool.run = broken  # type: ignore[method-assign]
        return tool


def test_tool_failures_still_end_in_a_prediction_with_lower_confidence(
    photo, tmp_path, helsinki_osm_db
):
    script = {
        "scene": SCENE,
        "detail": DETAIL_HELSINKI,
        "semantic": SEMANTIC,
        "hypotheses": espoo_guess,
        "verification": keep,
    }
    settings = Settings(home=tmp_path / "h2", offline=True, osm={"data_path": str(helsinki_osm_db)})
    good = run(photo, ScriptedBackend(script), Registry(settings, include_plugins=False))
    bad = run(photo, ScriptedBackend(script), FailingRegistry(settings, include_plugins=False))
    assert bad.error is None and bad.prediction is not None and bad.prediction.status == "ok"
    assert bad.prediction.tool_errors > 0
    assert bad.prediction.confidence < good.prediction.confidence
    assert any(e["type"] == "tool_call" and e.get("error") for e in bad.state["trace"])


def test_unparseable_output_gets_one_repair_prompt_then_a_clear_fallback(photo, offline_registry):
    backend = ScriptedBackend(
        {
            "scene": "asdf ###",
            "detail": "qwerty",
            "semantic": "zzz",
            "hypotheses": "I cannot tell.",
            "repair": "no idea at all",
            "verification": keep,
        }
    )
    result = run(photo, backend, offline_registry)
    assert backend.stages().count("repair") == 1
    assert result.error is None
    assert result.prediction.status == "failed"
    assert result.prediction.lat is None and "No candidate" in result.prediction.reasoning
    kinds = [e["type"] for e in result.state["trace"]]
    assert "repair" in kinds and "fallback" in kinds


def test_repair_prompt_recovers_coordinates(photo, offline_registry):
    backend = ScriptedBackend(
        {
            "scene": SCENE,
            "detail": "",
            "semantic": "",
            "hypotheses": "hmm",
            "repair": "<answer> 60.1699, 24.9384 </answer>",
            "verification": keep,
        }
    )
    result = run(photo, backend, offline_registry)
    assert result.prediction.status == "ok"
    assert geodesic_km(result.prediction.lat, result.prediction.lon, 60.1699, 24.9384) < 0.01


def test_single_shot_mode_uses_the_gre_prompt_and_no_tools(photo, offline_registry):
    answer = (
        '<think> 1. Street-level analysis: Nordic capital. 2. Textual clues: "Senaatintori". '
        '</think> <answer> "Latitude": "60.1695°", "Longitude": "24.9525°" </answer>'
    )
    backend = ScriptedBackend({"gre": answer})
    result = run(photo, backend, offline_registry, mode="single")
    assert backend.stages() == ["gre"]
    pred = result.prediction
    assert pred.mode == "single" and pred.answer_text == answer
    assert (pred.lat, pred.lon) == (60.1695, 24.9525)
    assert not [
        e
        for e in result.state["trace"]
        if e["type"] == "tool_call" and e.get("tool") != "gazetteer.reverse"
    ]


def test_trace_is_written_and_versioned(photo, offline_registry):
    backend = ScriptedBackend(
        {
            "scene": SCENE,
            "detail": DETAIL_HELSINKI,
            "semantic": SEMANTIC,
            "hypotheses": espoo_guess,
            "verification": keep,
        }
    )
    result = run(photo, backend, offline_registry)
    head, events = read_trace(result.trace_path)
    assert head["version"] == 1 and head["image"] == str(photo) and head["image_sha256"]
    types = {e["type"] for e in events}
    assert {"model_call", "stage", "tool_call", "decision", "prediction"} <= types
    calls = [e for e in events if e["type"] == "tool_call"]
    assert all({"tool", "args", "backend", "latency_ms", "cached"} <= e.keys() for e in calls)
    model_calls = [e for e in events if e["type"] == "model_call"]
    assert [e["stage"] for e in model_calls][:4] == ["scene", "detail", "semantic", "hypotheses"]
    assert all(e["completion"]["usage"]["prompt_tokens"] > 0 for e in model_calls)
    json.dumps(events)  # plain JSON all the way


def test_corrupt_image_is_a_clear_error_not_a_crash(tmp_path, offline_registry):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    backend = ScriptedBackend({})
    result = asyncio.run(locate(bad, Context(backend_obj=backend, registry=offline_registry)))
    assert (
        result.prediction is None and "corrupt" in result.error
    ) or "not an image" in result.error
    assert backend.calls == []


def test_bilingual_signs_of_one_street_are_not_a_crossing(photo, offline_registry):
    detail = (
        'Textual clues: the street sign reads "Aleksanterinkatu" and below it, in Swedish, '
        '"Alexandersgatan".'
    )
    backend = ScriptedBackend(
        {
            "scene": SCENE,
            "detail": detail,
            "semantic": SEMANTIC,
            "hypotheses": espoo_guess,
            "verification": keep,
        }
    )
    result = run(photo, backend, offline_registry)
    tools = [e.get("tool") for e in result.state["trace"] if e["type"] == "tool_call"]
    assert "osm.street_intersection" not in tools
    found = [e for e in result.state["evidence"] if e["kind"] == "street" and e["weight"] > 0]
    assert len(found) == 1, "one street, counted once"
    assert geodesic_km(result.prediction.lat, result.prediction.lon, *ALEKSANTERINKATU) < 1.0


def test_two_candidates_give_the_same_prompts_every_run(photo, offline_registry):
    two = (
        '{"hypotheses": [{"place": "Helsinki", "country_code": "FI", "lat": 60.17, '
        '"lon": 24.94, "radius_km": 10, "confidence": 0.6}, {"place": "Tampere", '
        '"country_code": "FI", "lat": 61.50, "lon": 23.76, "radius_km": 10, '
        '"confidence": 0.3}]}'
    )
    prompts = []
    for _ in range(3):
        backend = ScriptedBackend(
            {
                "scene": SCENE,
                "detail": DETAIL_HELSINKI,
                "semantic": SEMANTIC,
                "hypotheses": two,
                "verification": keep,
            }
        )
        result = run(photo, backend, offline_registry)
        prompts.append([m[-1].text for stage, m in backend.calls if stage == "verification"])
        facts = [e for e in result.state["evidence"] if e["kind"] == "language"]
        assert {e["candidate_key"] for e in facts} == {
            h["key"] for h in result.state["hypotheses"] if h["place"] in ("Helsinki", "Tampere")
        }, "both candidates get the language evidence"
    assert prompts[0] == prompts[1] == prompts[2]


def test_script_read_in_the_image_counts_against_a_country_that_does_not_write_it(
    photo, offline_registry
):
    detail = 'Textual clues: a blue sign reads "강남대로" and a shop says "편의점".'
    two = (
        '{"hypotheses": [{"place": "Tokyo", "country_code": "JP", "lat": 35.68, '
        '"lon": 139.76, "radius_km": 20, "confidence": 0.6}, {"place": "Seoul", '
        '"country_code": "KR", "lat": 37.50, "lon": 127.03, "radius_km": 20, '
        '"confidence": 0.4}]}'
    )
    backend = ScriptedBackend(
        {"scene": SCENE, "detail": detail, "semantic": "", "hypotheses": two, "verification": keep}
    )
    result = run(photo, backend, offline_registry)
    scripts = {
        e["candidate"].split(",")[0]: e for e in result.state["evidence"] if e["kind"] == "script"
    }
    assert scripts["Tokyo"]["weight"] < 0 and scripts["Seoul"]["weight"] > 0
    assert "Hangul" in scripts["Tokyo"]["claim"]
    assert result.prediction.country_code == "KR"


def test_scripts_are_read_from_the_letters_and_from_the_models_words():
    from gre_agent.agent.schemas import Details, Semantics
    from gre_agent.graphs.gre.claims import extract

    claims = extract(
        Details(texts=["Больница", "Main Street"]), Semantics(scripts=["Greek", "Latin"])
    )
    assert claims.scripts == ["Cyrillic", "Greek"]
