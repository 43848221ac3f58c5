"""The nodes of the GRE agent graph.

scene -> detail -> semantic -> hypotheses -> verify -> decide -> (verify | commit).
Stages share one conversation: the image is sent once, in the first user turn, so a
server's prefix cache serves every later stage.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from langgraph.runtime import Runtime

from gre_agent.agent.backends import Message
from gre_agent.agent.parsing import parse_stage, try_parse_answer
from gre_agent.agent.prompts import format_evidence, format_stage, render
from gre_agent.agent.schemas import Details, Hypotheses, Scene, Semantics, Verification
from gre_agent.graphs.gre import checks, model_tools
from gre_agent.graphs.gre.answer import build_prediction
from gre_agent.graphs.gre.claims import extract
from gre_agent.graphs.gre.context import Context
from gre_agent.graphs.gre.evidence import WEIGHTS, Candidate, EvidenceItem, ranked, same_place
from gre_agent.graphs.gre.model import ask, assistant_message, calibration_for, registry_for
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
    state: State,
    ctx: Context,
    stage: str,
    prompt: str,
    messages: list[dict[str, Any]] | None = None,
) -> tuple[list[dict], str | None, list[dict]]:
    """Ask one stage; returns (conversation so far, answer text or None, trace events)."""
    msgs = list(state.messages if messages is None else messages)
    if not msgs:
        msgs = [
            Message.system(render("system")).model_dump(mode="json"),
            Message.user(prompt, state.image).model_dump(mode="json"),
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


def _parsed_event(stage: str, model: Any) -> dict[str, Any]:
    return {"type": "stage", "stage": stage, "parsed": model.model_dump(mode="json")}


async def scene(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    prompt = render("scene", context=_hint_context(state))
    msgs, text, events = await _stage(state, ctx, "scene", prompt, messages=[])
    parsed = parse_stage("scene", text or "")
    return {
        "messages": msgs,
        "scene": parsed.model_dump(mode="json"),
        "started_at": state.started_at or time.time(),
        "trace": [*events, _parsed_event("scene", parsed)],
    }


async def detail(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    scene_ = Scene.model_validate(state.scene or {})
    prompt = render("detail", scene=format_stage(scene_), context=_hint_context(state))
    msgs, text, events = await _stage(state, runtime.context, "detail", prompt)
    parsed = parse_stage("detail", text or "")
    return {
        "messages": msgs,
        "details": parsed.model_dump(mode="json"),
        "trace": [*events, _parsed_event("detail", parsed)],
    }


async def semantic(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    prompt = render(
        "semantic",
        scene=format_stage(Scene.model_validate(state.scene or {})),
        details=format_stage(Details.model_validate(state.details or {})),
        context=_hint_context(state),
    )
    msgs, text, events = await _stage(state, runtime.context, "semantic", prompt)
    parsed = parse_stage("semantic", text or "")
    return {
        "messages": msgs,
        "semantics": parsed.model_dump(mode="json"),
        "trace": [*events, _parsed_event("semantic", parsed)],
    }


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
    prompt = render(
        "hypotheses",
        scene=format_stage(Scene.model_validate(state.scene or {})),
        details=format_stage(Details.model_validate(state.details or {})),
        semantics=format_stage(Semantics.model_validate(state.semantics or {})),
        max_hypotheses=ctx.max_hypotheses,
        context=_hint_context(state),
    )
    msgs, text, events = await _stage(state, ctx, "hypotheses", prompt)
    parsed = parse_stage("hypotheses", text or "")
    cands = _candidates_from(parsed, text)
    if not cands:
        state_now = State(image=state.image, messages=msgs)
        msgs, text, more = await _stage(state_now, ctx, "hypotheses_repair", REPAIR_PROMPT)
        events += more
        parsed = parse_stage("hypotheses", text or "")
        cands = _candidates_from(parsed, text)
        events.append({"type": "repair", "stage": "hypotheses", "recovered": bool(cands)})
    if not cands:
        cands = _fallback_candidates(state)
        events.append(
            {
                "type": "fallback",
                "stage": "hypotheses",
                "reason": "no candidate place in the model's replies",
                "candidates": [c.label for c in cands],
            }
        )
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


def _claims(state: State):
    return extract(
        Details.model_validate(state.details or {}),
        Semantics.model_validate(state.semantics or {}),
        tuple(state.hints),
    )


async def verify(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Check the candidates with tools, then let the model revise them with the evidence."""
    ctx = runtime.context
    registry = registry_for(ctx)
    cands = [Candidate.model_validate(c) for c in state.hypotheses]
    checked = set(state.checked)
    number = state.round + 1
    budget = max(0, ctx.max_tool_calls - state.tool_calls)
    msgs = list(state.messages)
    events: list[dict[str, Any]] = []
    if ctx.verify == "model":
        found, msgs, events, calls, errors = await model_tools.run(
            ctx, registry, msgs, cands, number, budget, _hint_context(state)
        )
        evidence = found
    else:
        claims = _claims(state)
        cands, r = await checks.run_round(
            registry, number, budget, checked, claims, cands, state.image, ctx.use_exif
        )
        evidence, events, calls, errors = r.evidence, r.events, r.calls, r.errors
    # The model revises its candidates in the light of the evidence.
    all_evidence = [EvidenceItem.model_validate(e) for e in state.evidence] + evidence
    prompt = render(
        "verification",
        hypotheses="\n".join(f"- {c.label}: confidence {c.confidence:.2f}" for c in ranked(cands))
        or "(none)",
        evidence=format_evidence(e.line() for e in all_evidence if e.effect != "error") or "(none)",
        round=number,
        max_rounds=ctx.max_rounds,
        context=_hint_context(state),
    )
    msgs, text, more = await _stage(
        State(image=state.image, messages=msgs), ctx, "verification", prompt
    )
    events += more
    revision = parse_stage("verification", text or "")
    cands = merge_revision(cands, revision, evidence, number)
    events.append(_parsed_event("verification", revision))
    return {
        "messages": msgs,
        "hypotheses": [c.model_dump() for c in ranked(cands)],
        "evidence": [e.model_dump(mode="json") for e in evidence],
        "checked": sorted(checked),
        "round": number,
        "tool_calls": state.tool_calls + calls,
        "tool_errors": state.tool_errors + errors,
        "trace": events,
    }


def merge_revision(
    cands: list[Candidate], revision: Verification, evidence: list[EvidenceItem], number: int
) -> list[Candidate]:
    """Fold the model's revised hypotheses into the evidence-scored candidates.

    The model may re-rank, add places or reject some; the evidence scores stay, so a
    model that ignores the tools cannot talk its way past them.
    """
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
                c.score += WEIGHTS["model_rejected"]
                evidence.append(
                    EvidenceItem(
                        claim=f"model rejects {c.place}",
                        kind="model",
                        summary=rejected[:200],
                        effect="against",
                        weight=WEIGHTS["model_rejected"],
                        candidate=c.label,
                        candidate_key=c.key,
                        round=number,
                    )
                )
    return cands


def decide(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    cands = ranked([Candidate.model_validate(c) for c in state.hypotheses])
    best = cands[0] if cands else None
    claims = _claims(state)
    if best is None:
        verdict, reason = "commit", "no candidate to check"
    elif best.confidence >= ctx.commit_threshold and best.status == "confirmed":
        verdict, reason = "commit", f"{best.label} confirmed ({best.confidence:.2f})"
    elif state.round >= ctx.max_rounds:
        verdict, reason = "commit", f"{state.round} verification rounds done"
    elif state.tool_calls >= ctx.max_tool_calls:
        verdict, reason = "commit", "tool-call budget spent"
    elif time.time() - state.started_at >= ctx.max_wall_s:
        verdict, reason = "commit", "wall-time budget spent"
    elif ctx.verify == "graph" and not checks.pending(claims, cands, set(state.checked)):
        verdict, reason = "commit", "nothing left to check"
    else:
        verdict, reason = (
            "refine",
            f"best is {best.label} at {best.confidence:.2f}; checking further",
        )
    return {
        "decision": f"{verdict}: {reason}",
        "trace": [
            {"type": "decision", "round": state.round, "decision": verdict, "reason": reason}
        ],
    }


def route_after_decide(state: State) -> Literal["verify", "commit"]:
    if not state.decision:
        raise ValueError("decide ran without a decision")
    return "verify" if state.decision.startswith("refine") else "commit"


def route_after_hypotheses(state: State, runtime: Runtime[Context]) -> Literal["verify", "commit"]:
    return "verify" if state.hypotheses and runtime.context.max_rounds > 0 else "commit"


async def commit(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    cands = ranked([Candidate.model_validate(c) for c in state.hypotheses])
    evidence = [EvidenceItem.model_validate(e) for e in state.evidence]
    calibration = await asyncio.to_thread(calibration_for, ctx)  # reads settings and a file
    prediction, events = await build_prediction(
        registry_for(ctx), cands, evidence, state, mode="agent", calibration=calibration
    )
    return {
        "prediction": prediction.model_dump(mode="json"),
        "trace": [*events, {"type": "prediction", **prediction.model_dump(mode="json")}],
    }


async def single(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """GRE's own single-shot prompt, no tools: the baseline of every evaluation."""
    ctx = runtime.context
    msgs, text, events = await _stage(state, ctx, "single", render("gre"), messages=[])
    point = try_parse_answer(text or "")
    if point is None and text is not None:
        msgs, text2, more = await _stage(
            State(image=state.image, messages=msgs),
            ctx,
            "single_repair",
            'Give only your best coordinates: <answer> "Latitude": "..", '
            '"Longitude": ".." </answer>',
        )
        events += more
        point = try_parse_answer(text2 or "")
        events.append({"type": "repair", "stage": "single", "recovered": point is not None})
    cands = [Candidate(lat=point.lat, lon=point.lon, radius_km=100.0)] if point else []
    prediction, more = await build_prediction(
        registry_for(ctx),
        cands,
        [],
        State(image=state.image, messages=msgs, started_at=state.started_at),
        mode="single",
        answer_text=text,
        calibration=await asyncio.to_thread(calibration_for, ctx),
    )
    return {
        "messages": msgs,
        "hypotheses": [c.model_dump() for c in cands],
        "initial": cands[0].model_dump() if cands else None,
        "prediction": prediction.model_dump(mode="json"),
        "trace": [*events, *more, {"type": "prediction", **prediction.model_dump(mode="json")}],
    }
