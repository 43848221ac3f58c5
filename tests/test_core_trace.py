"""core.trace: typed events joined by `type`, exact round trips, old files, one set of counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gre_agent.core.errors import GreError
from gre_agent.core.prediction import Prediction
from gre_agent.core.trace import (
    DecisionEvent,
    ErrorEvent,
    FallbackEvent,
    ModelCall,
    ModelErrorEvent,
    OtherEvent,
    PredictionEvent,
    RepairEvent,
    StageEvent,
    ToolCallEvent,
    Trace,
    TraceError,
    TraceHeader,
    header,
    load_trace,
    parse_event,
    read_trace,
    write_trace,
)

ROOT = Path(__file__).resolve().parents[1]
TRACES = sorted((ROOT / "examples").glob("*.trace.jsonl"))

# One event of every type, in the JSON shape the graph writes today.
EVENTS = [
    {
        "type": "model_call",
        "request_hash": "ab" * 32,
        "completion": {
            "text": "<think> x </think>",
            "tool_calls": [{"id": "c1", "name": "geo__check", "arguments": {"lat": 1, "lon": 2}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3},
            "latency_s": 0.5,
            "model": "m",
            "backend": "scripted",
            "finish_reason": "stop",
        },
        "model": "m",
        "ts": 1.0,
        "stage": "scene",
        "messages": [{"role": "user", "content": "hi", "tool_calls": []}],
        "tools": [{"type": "function", "function": {"name": "geo__check"}}],
    },
    {
        "type": "model_error",
        "stage": "detail",
        "kind": "timeout",
        "message": "no answer",
        "latency_s": 2.0,
    },
    {"type": "stage", "stage": "scene", "parsed": {"setting": "city"}},
    {
        "type": "tool_call",
        "round": 1,
        "claim": "street X exists",
        "tool": "osm.find_named",
        "backend": "offline",
        "args": {"name": "X"},
        "result": {"features": []},
        "error": None,
        "cached": True,
        "latency_ms": 3.0,
    },
    {
        "type": "tool_call",
        "round": 1,
        "claim": "c",
        "tool": "osm.find_named",
        "backend": "offline",
        "args": {},
        "result": None,
        "error": {"kind": "unavailable", "message": "no index"},
        "cached": False,
        "latency_ms": 1.0,
    },
    {"type": "repair", "stage": "hypotheses", "recovered": False},
    {"type": "fallback", "stage": "hypotheses", "reason": "none", "candidates": ["FI"]},
    {"type": "decision", "round": 1, "decision": "commit", "reason": "confirmed"},
    {"type": "prediction", **Prediction(lat=1.0, lon=2.0, tool_calls=3).model_dump(mode="json")},
    {"type": "error", "kind": "timeout", "message": "no answer within 1 s"},
]
MODELS = [
    ModelCall,
    ModelErrorEvent,
    StageEvent,
    ToolCallEvent,
    ToolCallEvent,
    RepairEvent,
    FallbackEvent,
    DecisionEvent,
    PredictionEvent,
    ErrorEvent,
]


@pytest.mark.parametrize(("data", "model"), list(zip(EVENTS, MODELS, strict=True)))
def test_every_event_type_parses_to_its_model_and_dumps_back_unchanged(data, model):
    event = parse_event(data)
    assert type(event) is model
    dumped = event.model_dump(mode="json")
    assert dumped == data and list(dumped) == list(data)  # same keys, same order


def test_unknown_keys_and_unknown_types_survive_a_round_trip():
    data = {"type": "decision", "round": 2, "decision": "refine", "reason": "", "note": [1]}
    event = parse_event(data)
    assert isinstance(event, DecisionEvent) and event.model_dump(mode="json") == data
    other = parse_event({"type": "future_thing", "x": 1})
    assert isinstance(other, OtherEvent) and other.model_dump(mode="json") == {
        "type": "future_thing",
        "x": 1,
    }


def test_emitters_write_what_they_were_given():
    # a replay recording has no stage or request: none is invented on the way out
    call = ModelCall(request_hash="h", completion={"text": "t"}, model="m", ts=1.0)
    assert call.model_dump(mode="json") == {
        "type": "model_call",
        "request_hash": "h",
        "completion": {"text": "t"},
        "model": "m",
        "ts": 1.0,
    }
    budget = ToolCallEvent(
        round=1, claim="model called geo.check", tool="geo.check", args={}, error={"kind": "budget"}
    )
    assert budget.skipped and "result" not in budget.model_dump(mode="json")


def test_a_bad_event_is_a_trace_error_naming_its_line(tmp_path):
    path = tmp_path / "t.jsonl"
    write_trace(path, TraceHeader(image="x.jpg"), [EVENTS[2], {"type": "decision"}])
    with pytest.raises(TraceError, match="line 3"):
        load_trace(path)
    assert issubclass(TraceError, GreError) and issubclass(TraceError, ValueError)


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.name)
def test_version_1_files_on_disk_load_and_write_back_byte_for_byte_json(path, tmp_path):
    trace = load_trace(path)
    assert trace.header is not None and trace.header.version == 1
    head, events = read_trace(path)
    assert trace.header.model_dump(mode="json") == head
    assert trace.dump_events() == events
    again = write_trace(tmp_path / "again.jsonl", trace.header, trace.events)
    assert [json.loads(x) for x in again.read_text().splitlines()] == [head, *events]


def test_counts_are_defined_once():
    trace = Trace.of(
        [
            *EVENTS,
            {
                "type": "tool_call",
                "round": 2,
                "claim": "model called geo.check",
                "tool": "geo.check",
                "args": {},
                "error": {"kind": "budget", "message": "tool budget spent"},
            },
        ]
    )
    counts = trace.counts()
    # the budget-skipped call never ran: neither a call nor an error
    assert (counts.tool_calls, counts.tool_errors, counts.cache_hits) == (2, 1, 1)
    assert (counts.model_calls, counts.model_errors) == (1, 1)
    assert (counts.prompt_tokens, counts.completion_tokens, counts.rounds) == (10, 3, 2)
    assert trace.prediction == Prediction(lat=1.0, lon=2.0, tool_calls=3)
    assert trace.stage("scene").parsed == {"setting": "city"}
    assert trace.error is not None and trace.error.kind == "timeout"


def test_header_hashes_the_photo(tmp_path):
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"pixels")
    head = header(photo, {"mode": "agent"})
    assert head.image == str(photo) and head.image_sha256 and len(head.image_sha256) == 64
    assert header(tmp_path / "missing.jpg", {}).image_sha256 is None
    assert set(head.model_dump(mode="json")) == {
        "type",
        "version",
        "image",
        "image_sha256",
        "config",
        "started",
    }


@pytest.mark.parametrize(
    "ctx",
    [{"verify": "graph"}, {"verify": "model", "max_rounds": 1}, {"mode": "single"}],
    ids=["graph", "model", "single"],
)
def test_a_real_runs_prediction_eval_row_and_trace_agree(ctx, tmp_path, helsinki_osm_db):
    import asyncio

    from PIL import Image

    from gre_agent.agent.backends import Completion, ToolCall
    from gre_agent.core.settings import Settings
    from gre_agent.evals.datasets import Sample
    from gre_agent.evals.runner import result_row
    from gre_agent.graphs.gre import Context, locate
    from gre_agent.tools import Registry
    from tests.scripted import ScriptedBackend
    from tests.test_graph_agent import DETAIL_HELSINKI, SCENE, SEMANTIC, espoo_guess, keep

    photo = tmp_path / "street.jpg"
    Image.new("RGB", (64, 48), (120, 130, 140)).save(photo)
    registry = Registry(
        Settings(home=tmp_path / "home", offline=True, osm={"data_path": str(helsinki_osm_db)}),
        include_plugins=False,
    )
    calls = Completion(
        text="",
        tool_calls=[
            ToolCall(id=f"c{i}", name="geo__check", arguments={"lat": 60.0 + i / 100, "lon": 24.9})
            for i in range(3)
        ],
    )
    backend = ScriptedBackend(
        {
            "scene": SCENE,
            "detail": DETAIL_HELSINKI,
            "semantic": SEMANTIC,
            "hypotheses": espoo_guess,
            "verification": [calls, keep] if ctx.get("verify") == "model" else keep,
            "gre": '<answer> "Latitude": "60.1685", "Longitude": "24.9490" </answer>',
        }
    )
    context = Context(backend_obj=backend, registry=registry, max_tool_calls=2, **ctx)
    result = asyncio.run(locate(photo, context, trace_path=tmp_path / "t.jsonl"))
    assert result.error is None and result.prediction is not None
    trace = load_trace(result.trace_path)
    counts = trace.counts()
    assert trace.prediction == result.prediction
    assert any(e.claim == "name of the answer" for e in trace.tool_calls)
    assert counts.tool_calls == result.prediction.tool_calls > 0
    assert counts.tool_errors == result.prediction.tool_errors
    assert counts.rounds == result.prediction.rounds
    sample = Sample(id="s", image_path=photo, gt_lat=60.17, gt_lon=24.95)
    row = result_row(sample, result, context.mode, "t.jsonl", 1.0)
    assert row["tool_calls"] == counts.tool_calls and row["tool_errors"] == counts.tool_errors
    assert Trace.of(result.state["trace"]).counts() == counts
