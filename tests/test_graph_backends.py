"""The whole graph on real backends: the tiny random Qwen2.5-VL in-process, an
OpenAI-compatible server (fake and real vLLM), replay determinism, model-driven tools."""

from __future__ import annotations

import asyncio

from gre_agent.agent.backends import (
    Completion,
    OpenAIBackend,
    ReplayBackend,
    ToolCall,
    TransformersBackend,
)
from gre_agent.core.geo import geodesic_km
from gre_agent.core.settings import ModelSettings
from gre_agent.core.trace import load_trace, read_trace
from gre_agent.graphs.gre import Context, locate
from tests.fake_openai import FakeOpenAIServer
from tests.scripted import ScriptedBackend
from tests.test_graph_agent import DETAIL_HELSINKI, SCENE, SEMANTIC, espoo_guess, keep

AGENT_STAGES = {"scene", "detail", "semantic", "hypotheses"}  # verification needs a candidate


def run(photo, **ctx):
    async def go():
        try:
            return await locate(photo, Context(**ctx), trace_dir=photo.parent / "traces")
        finally:
            await ctx["backend_obj"].aclose()  # no socket left for the garbage collector

    return asyncio.run(go())


def assert_ran_every_stage(result):
    assert result.error is None, result.error
    _head, events = read_trace(result.trace_path)
    stages = {e["stage"] for e in events if e["type"] == "model_call"}
    assert stages >= AGENT_STAGES, stages
    assert events[-1]["type"] == "prediction"
    assert result.prediction is not None
    assert result.prediction.status in {"ok", "fallback", "failed"}


def test_graph_on_the_tiny_random_qwen_in_process(photo, registry, tiny_qwen_dir):
    import torch

    torch.set_num_threads(1)
    backend = TransformersBackend(
        ModelSettings(
            backend="transformers",
            model=str(tiny_qwen_dir),
            max_tokens=24,
            device="cpu",
            dtype="float32",
        )
    )
    result = run(photo, backend_obj=backend, registry=registry, max_rounds=1)
    assert_ran_every_stage(result)
    calls = [e for e in result.state["trace"] if e["type"] == "model_call"]
    assert all(c["completion"]["usage"]["prompt_tokens"] > 0 for c in calls)
    # each stage's prompt extends the previous conversation (prefix reuse)
    tokens = [c["completion"]["usage"]["prompt_tokens"] for c in calls]
    assert tokens == sorted(tokens)


def test_graph_through_the_openai_backend_on_a_local_server(photo, registry):
    server = FakeOpenAIServer().start()
    try:
        backend = OpenAIBackend(ModelSettings(max_tokens=32), base_urls=[server.url])
        result = run(
            photo, backend_obj=backend, registry=registry, max_rounds=1, stages="per-stage"
        )
    finally:
        server.stop()
    assert_ran_every_stage(result)
    first = server.requests[0]
    assert any(
        p.get("type") == "image_url"
        for m in first["messages"]
        if isinstance(m.get("content"), list)
        for p in m["content"]
    )


def test_graph_against_a_real_vllm_server(photo, registry, vllm_server):
    backend = OpenAIBackend(ModelSettings(max_tokens=16, model="tiny"), base_urls=[vllm_server])
    result = run(photo, backend_obj=backend, registry=registry, max_rounds=1)
    assert_ran_every_stage(result)


def test_single_pass_through_the_openai_backend_is_one_generation(photo, registry):
    """A GRE model (by its id) answers once; every stage node reads that answer."""
    server = FakeOpenAIServer().start()
    try:
        backend = OpenAIBackend(ModelSettings(max_tokens=32), base_urls=[server.url])
        assert "GRE" in backend.model
        result = run(photo, backend_obj=backend, registry=registry, max_rounds=1)
    finally:
        server.stop()
    assert result.error is None, result.error
    stages = [e.stage for e in load_trace(result.trace_path).model_calls]
    # the fake server's answer holds no coordinates: a repair call, and a revision when the
    # evidence speaks against the fallback; never a stage prompt of its own
    assert stages[0] == "single_pass"
    assert set(stages) <= {"single_pass", "hypotheses_repair", "verification"}
    first = server.requests[0]["messages"]
    assert "Where was this photo taken?" in str(first[-1]["content"])


def test_replaying_a_trace_gives_an_identical_prediction(photo, registry):
    script = {
        "scene": SCENE,
        "detail": DETAIL_HELSINKI,
        "semantic": SEMANTIC,
        "hypotheses": espoo_guess,
        "verification": keep,
    }
    first = run(photo, backend_obj=ScriptedBackend(script), registry=registry)
    replay = ReplayBackend(first.trace_path, match="hash")
    again = run(photo, backend_obj=replay, registry=registry)
    drop = {"elapsed_s"}
    assert again.prediction.model_dump(exclude=drop) == first.prediction.model_dump(exclude=drop)
    assert geodesic_km(again.prediction.lat, again.prediction.lon, 60.1685, 24.9490) < 1.0


def test_model_driven_verification_runs_the_models_tool_calls(photo, registry):
    call = Completion(
        text="",
        tool_calls=[
            ToolCall(
                id="c1",
                name="osm__find_named",
                arguments={
                    "name": "Aleksanterinkatu",
                    "around": {"lat": 60.17, "lon": 24.94, "radius_m": 3000},
                },
            )
        ],
    )
    tagged = Completion(
        text="",
        tool_calls=[
            ToolCall(
                id="c2", name="gazetteer__geocode", arguments={"query": "Helsinki", "limit": 1}
            )
        ],
    )
    final = (
        '{"hypotheses": [{"place": "Aleksanterinkatu, Helsinki", "country_code": "FI", '
        '"lat": 60.1685, "lon": 24.9490, "radius_km": 0.5, "confidence": 0.9}], '
        '"decision": "commit"}'
    )
    backend = ScriptedBackend(
        {
            "scene": SCENE,
            "detail": DETAIL_HELSINKI,
            "semantic": SEMANTIC,
            "hypotheses": espoo_guess,
            "verification": [call, tagged, final],
        }
    )
    result = run(photo, backend_obj=backend, registry=registry, verify="model", max_rounds=1)
    assert result.error is None
    tool_events = [
        e
        for e in result.state["trace"]
        if e["type"] == "tool_call" and e["claim"].startswith("model called")
    ]
    assert [e["tool"] for e in tool_events] == ["osm.find_named", "gazetteer.geocode"]
    assert tool_events[0]["result"]["features"], "the street exists in the Helsinki extract"
    # the model saw the tool results as tool messages before its final answer
    last_request = backend.calls[-1][1]
    assert [m.role for m in last_request].count("tool") == 2
    pred = result.prediction
    assert geodesic_km(pred.lat, pred.lon, 60.1685, 24.9490) < 1.0


def test_model_driven_tool_budget_is_enforced(photo, registry):
    many = Completion(
        text="",
        tool_calls=[
            ToolCall(id=f"c{i}", name="geo__check", arguments={"lat": 60.0 + i / 100, "lon": 24.9})
            for i in range(5)
        ],
    )
    backend = ScriptedBackend(
        {
            "scene": SCENE,
            "detail": "",
            "semantic": "",
            "hypotheses": espoo_guess,
            "verification": [many, keep],
        }
    )
    result = run(
        photo,
        backend_obj=backend,
        registry=registry,
        verify="model",
        max_rounds=1,
        max_tool_calls=2,
    )
    ran = [
        e
        for e in result.state["trace"]
        if e["type"] == "tool_call" and e["claim"].startswith("model called") and e.get("result")
    ]
    assert len(ran) == 2
    # the two that ran, and the reverse geocode naming the answer (a tool call like any)
    assert result.prediction.tool_calls == 3
