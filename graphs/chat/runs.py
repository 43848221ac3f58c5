"""Run the GRE agent from a chat turn: the whole agent on a new photo, or hypotheses ->
verify -> decide -> commit again with the user's hints (re-verification).

Both run as subgraphs inside a chat node: they inherit the chat's checkpointer, so each
stage is checkpointed under the session's thread and an interrupted run resumes from its
last completed stage. Each finished stage is reported as a custom stream event
{"stage", "text"} (LangGraph `stream_mode="custom"`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any, Literal

from langgraph.config import get_stream_writer
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime

from gre_agent.core.trace import ErrorEvent, ToolCallEvent, Trace, header, write_trace
from gre_agent.graphs.gre import nodes
from gre_agent.graphs.gre.context import Context
from gre_agent.graphs.gre.evidence import Candidate, ranked, same_place
from gre_agent.graphs.gre.graph import add_verification
from gre_agent.graphs.gre.graph import graph as gre_graph
from gre_agent.graphs.gre.runner import context_config
from gre_agent.graphs.gre.state import State

# The part of the GRE state a re-verification starts from.
BASE_KEYS = ("messages", "scene", "details", "semantics")


async def rehypothesize(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """The hypotheses stage again (its prompt now holds the hints), joined with the last
    run's candidates (given as input): they are checked again too, their evidence scores
    reset since this round's checks score them anew. A model that fails here (or a replay
    with no answer for the new prompt) thus keeps the earlier candidates, not a fallback."""
    earlier = [Candidate.model_validate(c) for c in state.hypotheses]
    update = await nodes.hypotheses(state, runtime)
    fresh = [Candidate.model_validate(c) for c in update["hypotheses"]]
    cands = [c for c in fresh if c.origin != "fallback"] or ([] if earlier else fresh)
    for old in earlier:
        if old.origin != "fallback" and not any(same_place(old, c) for c in cands):
            cands.append(old.model_copy(update={"score": 0.0}))
    if not cands:
        cands = fresh
    update["hypotheses"] = [c.model_dump() for c in ranked(cands)]
    update["initial"] = update["hypotheses"][0] if cands else None
    return update


def build_recheck_graph():
    """hypotheses -> verification rounds -> decide -> commit: the GRE agent's second half,
    on the same nodes, started from a stored perception of the photo, the last run's
    candidates and the user's hints."""
    builder = StateGraph(State, input_schema=State, context_schema=Context)
    builder.add_node("hypotheses", rehypothesize)
    builder.add_edge(START, "hypotheses")
    add_verification(builder)
    return builder.compile(name="gre-recheck")


recheck_graph = build_recheck_graph()


def _short(text: Any, width: int = 90) -> str:
    """Free text cut after a whole word (lines with figures are not cut: the chats wrap)."""
    return _clip(" ".join(str(text).split()), width)


def _where(h: dict[str, Any]) -> str:
    return ", ".join(p for p in (h.get("place"), h.get("country_code")) if p) or "unnamed"


def _candidates(hyps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Candidate dicts from a run's hypothesis summaries (which add label, confidence...)."""
    fields = set(Candidate.model_fields)
    return [
        Candidate.model_validate({k: v for k, v in h.items() if k in fields}).model_dump()
        for h in hyps
    ]


def stage_line(node: str, update: dict[str, Any]) -> str:
    """One line on what a finished GRE node produced."""
    trace = Trace.of(update.get("trace") or [])
    errors = trace.model_errors
    note = f" (model error: {_short(errors[0].message, 60)})" if errors else ""
    if node == "scene":
        scene = update.get("scene") or {}
        return _short(scene.get("setting") or scene.get("architecture") or "looked at the scene")
    if node == "detail":
        texts = (update.get("details") or {}).get("texts") or []
        shown = ", ".join(f'"{t}"' for t in texts[:4])
        return _short(f"{len(texts)} text(s) read" + (f": {shown}" if shown else "")) + note
    if node == "semantic":
        sem = update.get("semantics") or {}
        bits = [
            ", ".join(sem.get("languages") or []),
            ", ".join(sem.get("country_hints") or []),
            f"drives on the {sem['driving_side']}" if sem.get("driving_side") else "",
        ]
        return _short("; ".join(b for b in bits if b) or "no language or country clue") + note
    if node == "hypotheses":
        hyps = update.get("hypotheses") or []
        return _short(f"{len(hyps)} candidate(s): " + "; ".join(_where(h) for h in hyps[:4])) + note
    if node == "verify":
        counts = trace.counts()
        best = (update.get("hypotheses") or [{}])[0]
        return (
            f"round {update.get('round')}: {counts.tool_calls} tool call(s), "
            f"{counts.tool_errors} error(s); best {_short(_where(best), 40)}"
        )
    if node == "call_tools":
        calls = trace.of_type(ToolCallEvent)  # the skipped ones were answered too
        failed = sum(1 for e in calls if not e.ok)
        return f"the model's tool calls: {len(calls)} answered, {failed} error(s)"
    if node == "tools":
        return f"{len(update.get('tool_messages') or [])} tool call(s) run"
    if node == "revise":
        best = (update.get("hypotheses") or [{}])[0]
        return _short(f"revised with the evidence; best {_where(best)}") + note
    if node == "decide":
        return f"{update.get('decision')}: {update.get('decision_reason')}"  # figures: whole
    if node in ("commit", "single"):
        pred = update.get("prediction") or {}
        if pred.get("lat") is None:
            return f"no coordinates ({pred.get('status', 'failed')})" + note
        return f"{pred['lat']:.5f}, {pred['lon']:.5f}"
    return ""


def _result_summary(call: ToolCallEvent) -> str:
    """What a tool said, in words ("3 matches, first: Tampere (61.498, 23.761)"), cut at a
    word, never raw JSON cut mid-word."""
    if not call.ok:
        return f"error: {call.error_message}"
    return _clip(_readable(call.result), 200)


# The fields that name a thing in a tool's result, best first.
_NAME_KEYS = ("name", "display_name", "title", "label", "place", "street", "country_name")


def _readable(value: Any, nested: bool = False) -> str:
    """A JSON value as words: objects as "key: value" pairs (a nested one by its name and
    point), lists by their length and first item."""
    if isinstance(value, dict):
        name = next((value[k] for k in _NAME_KEYS if isinstance(value.get(k), str)), None)
        if nested and name:
            lat, lon = value.get("lat"), value.get("lon")
            point = isinstance(lat, int | float) and isinstance(lon, int | float)
            return f"{name} ({lat:.3f}, {lon:.3f})" if point else name
        parts = []
        for key, v in value.items():
            if v is None or v == [] or v == {} or v == "":
                continue
            label = str(key).replace("_", " ")
            if isinstance(v, list):
                first = f" (first: {_readable(v[0], True)})" if not nested else ""
                parts.append(f"{len(v)} {label}{first}")
            elif isinstance(v, bool):
                parts.append(f"{label}: {'yes' if v else 'no'}")
            elif isinstance(v, float):
                parts.append(f"{label}: {v:.4g}")
            else:
                parts.append(f"{label}: {_readable(v, True)}")
        return ", ".join(parts) or "nothing"
    if isinstance(value, list):
        return f"{len(value)} item(s)" + (f", first: {_readable(value[0], True)}" if value else "")
    return " ".join(str(value).split()) if value is not None else "nothing"


def _clip(text: str, width: int) -> str:
    """At most `width` characters, cut after a whole word."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > width // 2 else cut).rstrip(" ,;:") + " …"


def compact_run(
    kind: Literal["locate", "recheck"],
    photo: str,
    hints: list[str],
    values: dict[str, Any],
    trace_path: Path | None,
    error: str | None,
) -> dict[str, Any]:
    """What the chat keeps of a GRE run to answer questions about it (plain JSON)."""
    trace = Trace.of(values.get("trace") or [])
    pred = values.get("prediction")
    hyps = (pred or {}).get("hypotheses") or [
        c.summary()
        for c in ranked([Candidate.model_validate(h) for h in values.get("hypotheses") or []])
    ]
    for h in hyps:
        h["label"] = Candidate.model_validate(h).label
    return {
        "kind": kind,
        "photo": photo,
        "hints": list(hints),
        "prediction": pred,
        "hypotheses": hyps,
        "initial": values.get("initial"),
        "evidence": values.get("evidence") or [],
        "tools": [
            {
                "tool": e.tool,
                "claim": e.claim,
                "args": e.args,
                "round": e.round,
                "ok": e.ok,
                "summary": _result_summary(e),
                "latency_ms": e.latency_ms,
            }
            for e in trace.of_type(ToolCallEvent)
        ],
        "decisions": [e.model_dump(mode="json") for e in trace.decisions],
        "model_errors": [e.message for e in trace.model_errors],
        "stages": {k: values.get(k) for k in ("scene", "details", "semantics")},
        "trace_path": str(trace_path) if trace_path else None,
        "error": error,
    }


async def run_agent(
    ctx: Context,
    photo: str,
    hints: list[str],
    trace_dir: Path,
    base: dict[str, Any] | None = None,
    earlier: list[dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Run the agent (base given: re-verify from it and the `earlier` run's hypotheses);
    returns (compact run, base for later re-verification). Errors end up in the run's
    `error`, never as an exception."""
    writer = get_stream_writer()
    recheck = base is not None
    graph = recheck_graph if recheck else gre_graph
    inputs: dict[str, Any] = {"image": photo, "hints": list(hints)}
    if base is not None:
        inputs.update({k: base[k] for k in BASE_KEYS if k in base}, started_at=time.time())
        inputs["hypotheses"] = _candidates(earlier or [])
    config = {**context_config(ctx), "hints": list(hints), "recheck": recheck}
    head = await asyncio.to_thread(header, photo, config)  # hashes the photo: off the loop
    values: dict[str, Any] = {}
    found_base = base
    error = None
    try:
        async for mode, chunk in graph.astream(
            inputs, context=ctx, stream_mode=["updates", "values", "custom"]
        ):
            if mode == "custom":  # the model's text as it is written (ctx.stream_text)
                writer(chunk)
                continue
            if mode == "values":
                values = dict(chunk)
                if found_base is None and values.get("semantics") and not values.get("hypotheses"):
                    found_base = {k: values.get(k) for k in BASE_KEYS}
                continue
            for node, update in chunk.items():
                writer({"stage": node, "text": stage_line(node, update or {})})
    except Exception as exc:  # reported in the reply; the session goes on
        error = f"{type(exc).__name__}: {exc}"
    events = list(values.get("trace") or [])
    if error:
        events.append(ErrorEvent(kind=error.split(":")[0], message=error).model_dump(mode="json"))
    stem = Path(photo).stem + ("-recheck" if recheck else "")
    name = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}.jsonl"
    path = await asyncio.to_thread(write_trace, trace_dir / name, head, events)
    run = compact_run("recheck" if recheck else "locate", photo, hints, values, path, error)
    return run, found_base
