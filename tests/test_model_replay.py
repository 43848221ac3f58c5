"""The replay backend: matching by request hash, call-order fallback, typed misses."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from gre_agent.agent.backends import (
    Completion,
    Message,
    ModelError,
    ReplayBackend,
    ToolCall,
    Usage,
    _replay,
    model_call_record,
    request_hash,
)
from gre_agent.core.errors import ErrorKind


def write_trace(path: Path, pairs: list[tuple[object, Completion]], noise: bool = True) -> Path:
    lines = []
    if noise:  # a graph trace holds other records too; replay ignores them
        lines.append(json.dumps({"type": "stage", "name": "scene", "text": "..."}))
    for messages, completion in pairs:
        lines.append(json.dumps(model_call_record(messages, completion)))
        if noise:
            lines.append(json.dumps({"type": "tool_call", "name": "geocode"}))
    path.write_text("\n".join(lines) + "\n")
    return path


def answer(text: str, **kw) -> Completion:
    return Completion(text=text, model="gre", backend="openai", latency_s=2.0, **kw)


async def test_matches_by_hash_in_any_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    trace = write_trace(
        tmp_path / "t.jsonl", [("first?", answer("one")), ("second?", answer("two"))]
    )
    # the replay's clock reads 0.25 s later each time, so its own latency is exactly 0.25
    ticks = itertools.count(0.0, 0.25)
    monkeypatch.setattr(_replay, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))
    replay = ReplayBackend(trace, match="hash")
    assert (await replay.complete("second?")).text == "two"
    c = await replay.complete("first?")
    assert c.text == "one" and c.backend == "replay" and c.latency_s == 0.25  # not the 2.0
    assert replay.remaining == 0


async def test_keeps_tool_calls_usage_and_finish_reason(tmp_path: Path):
    recorded = answer(
        "",
        tool_calls=[ToolCall(id="call_1", name="geocode", arguments={"query": "Oslo"})],
        usage=Usage(prompt_tokens=120, completion_tokens=17),
        finish_reason="tool_calls",
    )
    trace = write_trace(tmp_path / "t.jsonl", [("Find Oslo", recorded)])
    c = await ReplayBackend(trace).complete("Find Oslo")
    assert c.tool_calls == recorded.tool_calls
    assert c.usage == recorded.usage and c.finish_reason == "tool_calls" and c.model == "gre"


async def test_streamed_answer_replays_with_its_tokens_and_text_in_one_piece(tmp_path: Path):
    recorded = answer(
        "Checking.",
        tool_calls=[ToolCall(id="call_1", name="geocode", arguments={"query": "Oslo"})],
        raw_text='Checking. <tool_call>{"name": "geocode", "arguments": {"query": "Oslo"}}'
        "</tool_call>",
        usage=Usage(prompt_tokens=120, completion_tokens=17, cached_tokens=96),
        ttft_s=0.4,
    )
    trace = write_trace(tmp_path / "t.jsonl", [("Find Oslo", recorded)])
    pieces: list[str] = []
    c = await ReplayBackend(trace).complete("Find Oslo", on_text=pieces.append)
    assert pieces == [recorded.raw_text]  # as generated, tags included
    assert c.usage.cached_tokens == 96 and c.ttft_s == 0.4


async def test_repeated_requests_replay_in_recorded_order(tmp_path: Path):
    trace = write_trace(tmp_path / "t.jsonl", [("again", answer("a")), ("again", answer("b"))])
    replay = ReplayBackend(trace, match="hash")
    assert [(await replay.complete("again")).text for _ in range(2)] == ["a", "b"]
    with pytest.raises(ModelError) as err:
        await replay.complete("again")
    assert err.value.kind == ErrorKind.cache_miss


async def test_strict_hash_miss_is_a_typed_error(tmp_path: Path):
    trace = write_trace(tmp_path / "t.jsonl", [("known", answer("x"))])
    with pytest.raises(ModelError) as err:
        await ReplayBackend(trace, match="hash").complete("unknown")
    assert err.value.kind == ErrorKind.cache_miss


async def test_falls_back_to_call_order(tmp_path: Path):
    trace = write_trace(
        tmp_path / "t.jsonl", [("a", answer("1")), ("b", answer("2")), ("c", answer("3"))]
    )
    replay = ReplayBackend(trace, match="hash_then_order")
    assert (await replay.complete("c")).text == "3"  # by hash
    assert (await replay.complete("changed prompt")).text == "1"  # first unused record
    assert (await replay.complete("b")).text == "2"


async def test_images_hash_by_pixels_not_by_form(tmp_path: Path):
    path = tmp_path / "p.png"
    Image.new("RGB", (60, 40), (1, 2, 3)).save(path)
    as_path = [Message.user("Where?", path)]
    as_str = [Message.user("Where?", str(path))]
    as_bytes = [Message.user("Where?", path.read_bytes())]
    as_pil = [Message.user("Where?", Image.open(path))]
    assert len({request_hash(m) for m in (as_path, as_str, as_bytes, as_pil)}) == 1
    other = [Message.user("Where?", Image.new("RGB", (60, 40), (1, 2, 4)))]
    assert request_hash(other) != request_hash(as_path)
    trace = write_trace(tmp_path / "t.jsonl", [(as_path, answer("Oslo"))])
    assert (await ReplayBackend(trace, match="hash").complete(as_pil)).text == "Oslo"


def test_hash_covers_tools_and_roles_not_sampling():
    tools = [{"name": "geocode", "parameters": {}}]
    assert request_hash("x") != request_hash("x", tools)
    assert request_hash("x", tools) == request_hash(
        "x", [{"type": "function", "function": tools[0]}]
    )
    assert request_hash([Message.system("x")]) != request_hash([Message.user("x")])
    assert request_hash([{"role": "user", "content": "x"}]) == request_hash("x")


def test_missing_or_broken_trace(tmp_path: Path):
    with pytest.raises(ModelError) as err:
        ReplayBackend(tmp_path / "nope.jsonl")
    assert err.value.kind == ErrorKind.unavailable
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "model_call", "completion": {"text": "ok"}}\nnot json\n')
    with pytest.raises(ModelError) as err:
        ReplayBackend(bad)
    assert err.value.kind == ErrorKind.bad_response


async def test_minimal_record_needs_only_text(tmp_path: Path):
    trace = tmp_path / "t.jsonl"
    trace.write_text(json.dumps({"type": "model_call", "completion": {"text": "hi"}}) + "\n")
    c = await ReplayBackend(trace).complete("anything")
    assert c.text == "hi" and c.tool_calls == []
