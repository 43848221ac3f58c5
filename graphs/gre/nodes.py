"""The nodes of the GRE agent graph.

scene -> detail -> semantic -> hypotheses -> (verify | call_tools <-> tools) -> revise ->
decide -> (another round | commit).
Stages share one conversation: the image is sent once, in the first user turn, so a
server's prefix cache serves every later stage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Literal

from langchain_core.messages import RemoveMessage
from langgraph.graph.message import REMOVE_ALL_MESSAGES
from langgraph.runtime import Runtime
from langgraph.types import Command

from gre_agent.agent.backends import Message, ToolCall
from gre_agent.agent.parsing import parse_stage, try_parse_answer
from gre_agent.agent.prompts import format_evidence, format_stage, render
from gre_agent.agent.schemas import Details, Hypotheses, Scene, Semantics, Verification
from gre_agent.core.errors import ErrorKind
from gre_agent.core.trace import (
    DecisionEvent,
    FallbackEvent,
    PredictionEvent,
    Record,
    RepairEvent,
    StageEvent,
)
from gre_agent.graphs.gre import checks, grounding, model_tools
from gre_agent.graphs.gre.answer import build_prediction
from gre_agent.graphs.gre.claims import extract
from gre_agent.graphs.gre.context import Context
from gre_agent.graphs.gre.evidence import (
    CONTRADICTS,
    Candidate,
    EvidenceItem,
    Finding,
    ranked,
    same_place,
)
from gre_agent.graphs.gre.hints import hint_texts
from gre_agent.graphs.gre.model import (
    ask,
    asks_again,
    assistant_message,
    backend_for,
    calibration_for,
    prepare,
    registry_for,
    stages_for,
)
from gre_agent.graphs.gre.state import State

REPAIR_PROMPT = (
    "I could not read any candidate place in your last reply. Answer again with JSON only, "
    'like {"hypotheses": [{"place": "town, region", "country_code": "XX", "lat": 0.0, '
    '"lon": 0.0, "radius_km": 25, "confidence": 0.5}]}, or at least give your best '
    'coordinates as <answer> "Latitude": "..", "Longitude": ".." </answer>.'
)


def _hint_context(state: State) -> str:
    if not state.hints:
        return ""
    return "What the user says about this photo (take it as evidence):\n" + "\n".join(
        f"- {h}" for h in state.hints
    )


async def _stage(
    ctx: Context, image: str, messages: list[dict[str, Any]], stage: str, prompt: str
) -> tuple[list[dict], str | None, list[dict]]:
    """Ask one stage in the conversation `messages` (a new one, with the image, when empty);
    returns (conversation so far, answer text or None, trace events)."""
    msgs = list(messages)
    if not msgs:
        msgs = [
            Message.system(render("system")).model_dump(mode="json"),
            Message.user(prompt, image).model_dump(mode="json"),
        ]
    else:
        msgs.append(Message.user(prompt).model_dump(mode="json"))
    completion, event = await ask(ctx, msgs, stage)
    if completion is None:
        msgs.pop()  # keep the conversation well-formed for the next stage
        if not msgs or msgs[-1]["role"] == "system":
            msgs = []
        return msgs, None, [event]
    msgs.append(assistant_message(completion))
    return msgs, completion["text"], [event]


def _event(event: Record) -> dict[str, Any]:
    """A trace event as the state holds it (plain JSON)."""
    return event.model_dump(mode="json")


def _parsed_event(stage: str, model: Any) -> dict[str, Any]:
    return _event(StageEvent(stage=stage, parsed=model.model_dump(mode="json")))


def _single_pass_prompt(state: State) -> str:
    """GRE's own prompt (the single-shot baseline's, so a prefix cache serves both), with
    the user's hints when there are any."""
    hints = _hint_context(state)
    return render("gre") + (f"\n\n{hints}" if hints else "")


async def _stage_text(
    state: State, ctx: Context, stage: str, prompt: Callable[[], str]
) -> tuple[dict[str, Any], str | None, list[dict[str, Any]]]:
    """The text a stage node parses: in single-pass, the one answer already given (no
    model call); per stage, the answer to the stage's own prompt. Returns (state update,
    text, trace events)."""
    if stages_for(ctx) == "single-pass":
        return {}, state.answer, []
    msgs, text, events = await _stage(ctx, state.image, state.messages, stage, prompt())
    return {"messages": msgs}, text, events


async def scene(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Stage 1; in single-pass, the run's one generation, which later stages read too."""
    ctx = runtime.context
    await prepare(ctx)  # settings and files read in a thread, once per run
    update: dict[str, Any] = {"started_at": state.started_at or time.time()}
    if stages_for(ctx) == "single-pass":
        prompt = _single_pass_prompt(state)
        msgs, text, events = await _stage(ctx, state.image, [], "single_pass", prompt)
        update["answer"] = text
    else:
        prompt = render("scene", context=_hint_context(state))
        msgs, text, events = await _stage(ctx, state.image, [], "scene", prompt)
    parsed = parse_stage("scene", text or "")
    return {
        **update,
        "messages": msgs,
        "scene": parsed.model_dump(mode="json"),
        "trace": [*events, _parsed_event("scene", parsed)],
    }


async def detail(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    def prompt() -> str:
        scene_ = format_stage(Scene.model_validate(state.scene or {}))
        return render("detail", scene=scene_, context=_hint_context(state))

    update, text, events = await _stage_text(state, runtime.context, "detail", prompt)
    parsed = parse_stage("detail", text or "")
    return {
        **update,
        "details": parsed.model_dump(mode="json"),
        "trace": [*events, _parsed_event("detail", parsed)],
    }


async def semantic(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    def prompt() -> str:
        return render(
            "semantic",
            scene=format_stage(Scene.model_validate(state.scene or {})),
            details=format_stage(Details.model_validate(state.details or {})),
            context=_hint_context(state),
        )

    update, text, events = await _stage_text(state, runtime.context, "semantic", prompt)
    parsed = parse_stage("semantic", text or "")
    return {
        **update,
        "semantics": parsed.model_dump(mode="json"),
        "trace": [*events, _parsed_event("semantic", parsed)],
    }


# Model failures after which the same server, asked again at once, would fail the same
# way: a repair prompt then only doubles the wait.
UNREACHABLE = frozenset({ErrorKind.timeout, ErrorKind.rate_limited, ErrorKind.http_error,
                         ErrorKind.unavailable, ErrorKind.cache_miss})  # fmt: skip


def _model_unreachable(events: list[dict[str, Any]]) -> bool:
    """Whether the run's last model call failed in one of the UNREACHABLE ways."""
    for event in reversed(events):
        if event.get("type") == "model_call":
            return False
        if event.get("type") == "model_error":
            return event.get("kind") in UNREACHABLE
    return False


def _candidates_from(parsed: Hypotheses, text: str | None) -> list[Candidate]:
    cands = [Candidate.from_hypothesis(h) for h in parsed.hypotheses if h.place or h.coordinates]
    if not cands and text:
        point = try_parse_answer(text)
        if point is not None:
            cands = [Candidate(lat=point.lat, lon=point.lon, radius_km=100.0)]
    return cands


async def hypotheses(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Candidate places; one repair prompt if none can be read, then a fallback."""
    ctx = runtime.context

    def prompt() -> str:
        return render(
            "hypotheses",
            scene=format_stage(Scene.model_validate(state.scene or {})),
            details=format_stage(Details.model_validate(state.details or {})),
            semantics=format_stage(Semantics.model_validate(state.semantics or {})),
            max_hypotheses=ctx.max_hypotheses,
            context=_hint_context(state),
        )

    update, text, events = await _stage_text(state, ctx, "hypotheses", prompt)
    msgs = update.get("messages", state.messages)
    parsed = parse_stage(Hypotheses, text or "")
    cands = _candidates_from(parsed, text)
    if not cands and asks_again(ctx) and not _model_unreachable([*state.trace, *events]):
        msgs, text, more = await _stage(ctx, state.image, msgs, "hypotheses_repair", REPAIR_PROMPT)
        events += more
        parsed = parse_stage(Hypotheses, text or "")
        cands = _candidates_from(parsed, text)
        events.append(_event(RepairEvent(stage="hypotheses", recovered=bool(cands))))
    if not cands:
        cands = _fallback_candidates(state)
        reason = "no candidate place in the model's replies"
        labels = [c.label for c in cands]
        events.append(_event(FallbackEvent(stage="hypotheses", reason=reason, candidates=labels)))
    cands = ranked(cands)
    return {
        "messages": msgs,
        "hypotheses": [c.model_dump() for c in cands],
        "initial": cands[0].model_dump() if cands else None,
        "trace": [*events, _parsed_event("hypotheses", parsed)],
    }


def _fallback_candidates(state: State) -> list[Candidate]:
    """Last resort: any coordinates the model wrote anywhere, else the countries it named."""
    for msg in reversed(state.messages):
        if msg["role"] == "assistant":
            point = try_parse_answer(Message.model_validate(msg).text)
            if point is not None:
                return [
                    Candidate(
                        lat=point.lat, lon=point.lon, radius_km=500.0, prior=0.2, origin="fallback"
                    )
                ]
    semantics = Semantics.model_validate(state.semantics or {})
    out = []
    for hint in semantics.country_hints[:2]:
        code = hint if len(hint) == 2 and hint.isalpha() else None
        out.append(
            Candidate(
                country=None if code else hint,
                country_code=code.upper() if code else None,
                radius_km=1000.0,
                prior=0.1,
                origin="fallback",
            )
        )
    return out


def _claims(state: State, ground: dict[str, Any] | None = None):
    """The claims of the model's stages, the user's hints, and the texts only the OCR read."""
    ground = ground if ground is not None else state.grounding
    from_ocr = grounding.Grounding.model_validate(ground).from_ocr() if ground else []
    return extract(
        Details.model_validate(state.details or {}),
        Semantics.model_validate(state.semantics or {}),
        (*hint_texts(state.hints), *from_ocr),
    )


def _round_start(state: State) -> int:
    return state.round + 1


async def verify(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Graph-driven verification: claims from the stages, checked with the tools."""
    ctx = runtime.context
    registry = registry_for(ctx)
    number = _round_start(state)
    checked = set(state.checked)
    budget = max(0, ctx.max_tool_calls - state.tool_calls)
    # once per run: the model's texts against the photo's OCR, before the checks use them
    ground, calls, errors = state.grounding, 0, 0
    events: list[dict[str, Any]] = []
    evidence: list[EvidenceItem] = []
    if "ocr" not in checked and budget and grounding.wanted(ctx, registry, backend_for(ctx).name):
        checked.add("ocr")
        details = Details.model_validate(state.details or {})
        found, events, evidence, failed = await grounding.read(
            registry, state.image, details, number
        )
        ground = found.model_dump(mode="json") if found else None
        calls, errors, budget = 1, int(failed), budget - 1
    cands, r = await checks.run_round(
        registry,
        number,
        budget,
        checked,
        _claims(state, ground),
        [Candidate.model_validate(c) for c in state.hypotheses],
        state.image,
        ctx.use_exif,
    )
    evidence += r.evidence
    if ground:  # what the OCR said raises or lowers what the model's texts found
        g = grounding.Grounding.model_validate(ground)
        evidence += grounding.weigh(g, r.evidence, cands, checked, number)
    return {
        "hypotheses": [c.model_dump() for c in ranked(cands)],
        "evidence": [e.model_dump(mode="json") for e in evidence],
        "checked": sorted(checked),
        "grounding": ground,
        "round": number,
        "tool_calls": state.tool_calls + calls + r.calls,
        "tool_errors": state.tool_errors + errors + r.errors,
        "trace": [*events, *r.events],
    }


async def call_tools(
    state: State, runtime: Runtime[Context]
) -> Command[Literal["tools", "revise"]]:
    """Model-driven verification, one model turn: the model sees the answers to its last
    calls (if any) and calls tools again (-> tools) or stops (-> revise)."""
    ctx = runtime.context
    update: dict[str, Any] = {"tool_steps": state.tool_steps + 1}
    msgs = list(state.messages)
    events: list[dict[str, Any]] = []
    evidence: list[EvidenceItem] = []
    calls, errors = state.tool_calls, state.tool_errors
    if state.tool_steps == 0:  # a new round: ask the model to check its candidates
        number = update["round"] = _round_start(state)
        prompt = render(
            "verification",
            hypotheses="\n".join(f"- {c.label}" for c in _ranked(state)) or "(none)",
            evidence="(none yet: call the tools to check your candidates, then answer)",
            round=number,
            max_rounds=ctx.max_rounds,
            context=_hint_context(state),
        )
        msgs.append(Message.user(prompt).model_dump(mode="json"))
    else:  # the ToolNode answered the last turn's calls
        number = state.round
        asked = Message.model_validate(msgs[-1]).tool_calls or []
        found = model_tools.results_since_request(state.tool_messages)
        replies, evidence, events, ran, failed = model_tools.fold_results(asked, found, number)
        msgs += replies
        calls, errors = calls + ran, errors + failed

    def stop() -> Command[Literal["tools", "revise"]]:
        update.update(messages=msgs, tool_calls=calls, tool_errors=errors, trace=events)
        update["evidence"] = [e.model_dump(mode="json") for e in evidence]
        return Command(goto="revise", update=update)

    if calls >= ctx.max_tool_calls and state.tool_steps > 0:
        return stop()
    if state.tool_steps >= model_tools.MAX_STEPS:
        return stop()
    schemas = model_tools.offered(registry_for(ctx))
    completion, event = await ask(ctx, msgs, "verify_tools", tools=schemas)
    events.append(event)
    if completion is None:
        return stop()
    asked = [ToolCall.model_validate(t) for t in completion["tool_calls"]]
    msgs.append(Message.assistant(completion["text"], asked).model_dump(mode="json"))
    if not asked:
        return stop()
    allowed = asked[: max(0, ctx.max_tool_calls - calls)]
    if not allowed:  # nothing may run: every call is answered "budget spent"
        replies, more, more_events, _, _ = model_tools.fold_results(asked, {}, number)
        msgs += replies
        evidence += more
        events += more_events
        return stop()
    update.update(messages=msgs, tool_calls=calls, tool_errors=errors, trace=events)
    update["evidence"] = [e.model_dump(mode="json") for e in evidence]
    update["tool_messages"] = [model_tools.tool_request(allowed)]
    return Command(goto="tools", update=update)


def _ranked(state: State) -> list[Candidate]:
    return ranked([Candidate.model_validate(c) for c in state.hypotheses])


def contradicted(cands: list[Candidate], evidence: list[EvidenceItem], number: int) -> bool:
    """The evidence of round `number` contradicts the best candidate, or rejects it. A weak
    miss (a street not found: the map may not cover it) is no contradiction."""
    ranked_ = ranked(cands)
    if not ranked_:
        return False
    best = ranked_[0]
    this_round = [e for e in evidence if e.round == number and e.candidate_key == best.key]
    against = any(e.weight <= CONTRADICTS for e in this_round)
    return against or best.status == "rejected"


async def revise(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """The model revises its candidates in the light of all the evidence so far.

    Per stage, the model is always asked. In single-pass the model is asked only when the
    round's evidence contradicts the best candidate, or the last round leaves as best a
    candidate the evidence built that no check has tested; otherwise the evidence scores
    stand and no model call is made (a move the next round checks is no contradiction).
    After model-driven tool calls, the model's last answer (it stopped calling tools) is
    its revision."""
    ctx = runtime.context
    cands = [Candidate.model_validate(c) for c in state.hypotheses]
    evidence = [EvidenceItem.model_validate(e) for e in state.evidence]
    update: dict[str, Any] = {}
    events: list[dict[str, Any]] = []
    text: str | None = None
    single_pass = stages_for(ctx) == "single-pass"
    if single_pass and ctx.verify == "model":
        last = Message.model_validate(state.messages[-1]) if state.messages else None
        text = last.text if last is not None and last.role == "assistant" else None
    elif asks_again(ctx) and (
        not single_pass
        or contradicted(cands, evidence, state.round)
        or _move_unchecked(state, ctx, cands)
    ):
        labels = [f"- {c.label}: confidence {c.confidence:.2f}" for c in ranked(cands)]
        shown = format_evidence(e.line() for e in evidence if e.effect != "error")
        prompt = render(
            "verification",
            hypotheses="\n".join(labels) or "(none)",
            evidence=shown or "(none)",
            round=state.round,
            max_rounds=ctx.max_rounds,
            context=_hint_context(state),
        )
        msgs, text, events = await _stage(ctx, state.image, state.messages, "verification", prompt)
        update["messages"] = msgs
    revision = parse_stage(Verification, text or "")
    cands, rejected = merge_revision(cands, revision, state.round)
    return {
        **update,
        "hypotheses": [c.model_dump() for c in ranked(cands)],
        "evidence": [e.model_dump(mode="json") for e in rejected],
        "tool_steps": 0,
        "tool_messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES)],
        "trace": [*events, _parsed_event("verification", revision)],
    }


def _move_unchecked(state: State, ctx: Context, cands: list[Candidate]) -> bool:
    """The run's last round leaves a candidate the evidence built (a move) unchecked."""
    return state.round >= ctx.max_rounds and checks.unchecked_move(cands, set(state.checked))


def merge_revision(
    cands: list[Candidate], revision: Verification, number: int
) -> tuple[list[Candidate], list[EvidenceItem]]:
    """Fold the model's revised hypotheses into the evidence-scored candidates; returns
    them and the evidence of the model's rejections.

    The model may re-rank, add places or reject some; the evidence scores stay, so a
    model that ignores the tools cannot talk its way past them.
    """
    evidence: list[EvidenceItem] = []
    for h in revision.hypotheses:
        new = Candidate.from_hypothesis(h)
        if not (new.place or new.located):
            continue
        match = next((c for c in cands if same_place(c, new)), None)
        if match is None:
            cands.append(new)
        elif h.confidence is not None:
            match.prior = h.confidence
    for rejected in revision.rejected:
        low = rejected.casefold()
        for c in cands:
            if c.place and c.place.casefold() in low:
                evidence.append(
                    Finding.MODEL_REJECTED.record(
                        c, claim=f"model rejects {c.place}", summary=rejected[:200], round=number
                    )
                )
    return cands, evidence


def _verdict(state: State, ctx: Context) -> tuple[Literal["commit", "refine"], str]:
    cands = _ranked(state)
    best = cands[0] if cands else None
    if best is None:
        return "commit", "no candidate to check"
    if best.confidence >= ctx.commit_threshold and best.status == "confirmed":
        return "commit", f"{best.label} confirmed ({best.confidence:.2f})"
    if state.round >= ctx.max_rounds:
        return "commit", f"{state.round} verification rounds done"
    if state.tool_calls >= ctx.max_tool_calls:
        return "commit", "tool-call budget spent"
    if time.time() - state.started_at >= ctx.max_wall_s:
        return "commit", "wall-time budget spent"
    if ctx.verify == "graph" and not checks.pending(_claims(state), cands, set(state.checked)):
        return "commit", "nothing left to check"
    return "refine", f"best is {best.label} at {best.confidence:.2f}; checking further"


def decide(
    state: State, runtime: Runtime[Context]
) -> Command[Literal["verify", "call_tools", "commit"]]:
    """Commit, or run another verification round in the run's mode."""
    ctx = runtime.context
    verdict, reason = _verdict(state, ctx)
    event = _event(DecisionEvent(round=state.round, decision=verdict, reason=reason))
    goto: Literal["verify", "call_tools", "commit"] = "commit"
    if verdict == "refine":
        goto = _verification_node(ctx)
    return Command(
        goto=goto,
        update={"decision": verdict, "decision_reason": reason, "trace": [event]},
    )


def _verification_node(ctx: Context) -> Literal["verify", "call_tools"]:
    if ctx.verify not in ("graph", "model"):
        raise ValueError(f"unknown verification mode {ctx.verify!r}")
    return "call_tools" if ctx.verify == "model" else "verify"


def route_after_hypotheses(
    state: State, runtime: Runtime[Context]
) -> Literal["verify", "call_tools", "commit"]:
    if runtime.context.max_rounds <= 0:
        return "commit"
    if not state.hypotheses and (runtime.context.verify != "graph" or _claims(state).is_empty()):
        return "commit"  # no candidate, and no text for the evidence search to place
    return _verification_node(runtime.context)


async def commit(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    cands = _ranked(state)
    evidence = [EvidenceItem.model_validate(e) for e in state.evidence]
    calibration = await asyncio.to_thread(calibration_for, ctx)  # reads settings and a file
    prediction, events = await build_prediction(
        registry_for(ctx),
        cands,
        evidence,
        mode="agent",
        events=state.trace,
        started_at=state.started_at,
        rounds=state.round,
        check_errors=state.tool_errors,
        calibration=calibration,
    )
    return {
        "prediction": prediction.model_dump(mode="json"),
        "trace": [*events, _event(PredictionEvent.of(prediction))],
    }


async def single(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """GRE's own single-shot prompt, no tools: the baseline of every evaluation."""
    ctx = runtime.context
    await prepare(ctx)  # settings and files read in a thread, once per run
    msgs, text, events = await _stage(ctx, state.image, [], "single", render("gre"))
    point = try_parse_answer(text or "")
    if point is None and text is not None:
        msgs, text2, more = await _stage(
            ctx,
            state.image,
            msgs,
            "single_repair",
            'Give only your best coordinates: <answer> "Latitude": "..", '
            '"Longitude": ".." </answer>',
        )
        events += more
        point = try_parse_answer(text2 or "")
        events.append(_event(RepairEvent(stage="single", recovered=point is not None)))
    cands = [Candidate(lat=point.lat, lon=point.lon, radius_km=100.0)] if point else []
    prediction, more = await build_prediction(
        registry_for(ctx),
        cands,
        [],
        mode="single",
        events=[*state.trace, *events],
        started_at=state.started_at,
        answer_text=text,
        calibration=await asyncio.to_thread(calibration_for, ctx),
    )
    return {
        "messages": msgs,
        "hypotheses": [c.model_dump() for c in cands],
        "initial": cands[0].model_dump() if cands else None,
        "prediction": prediction.model_dump(mode="json"),
        "trace": [*events, *more, _event(PredictionEvent.of(prediction))],
    }
