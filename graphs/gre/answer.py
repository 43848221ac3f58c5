"""Build the committed prediction (core.prediction.Prediction) from the ranked candidates:
the reverse geocode that names it, calibrated confidence, evidence lines, GRE text."""

from __future__ import annotations

import time
from typing import Any, Literal

from gre_agent.agent._answer import gre_answer_text
from gre_agent.core.prediction import Prediction
from gre_agent.core.trace import ToolCallEvent, ToolErrorRecord, Trace
from gre_agent.graphs.gre.calibration import IDENTITY, Calibration
from gre_agent.graphs.gre.evidence import Candidate, EvidenceItem
from gre_agent.tools import Registry
from gre_agent.tools.gazetteer import ReverseResult

# The claim of the reverse geocode that names the committed point (a tool call like any).
NAMING_CLAIM = "name of the answer"
# Confidence lost per failed tool call: an answer that could not be checked is less sure.
ERROR_PENALTY = 0.3
# Tool error kinds that mean the tool could not be reached (an outage, not a hard image).
UNREACHABLE = ("timeout", "rate_limited", "http_error", "unavailable")


def _reasoning(best: Candidate, evidence: list[EvidenceItem]) -> str:
    lines = [f"Best candidate: {best.label} ({best.status}, confidence {best.confidence:.2f})."]
    if best.snapped_to:
        lines.append(f"Coordinates snapped to {best.snapped_to}.")
    for e in evidence:
        if e.candidate_key == best.key and e.weight != 0:
            lines.append(f"{e.claim}: {e.summary}.")
    return " ".join(lines[:8])


def failure_cause(events: list[Any]) -> str | None:
    """The typed cause of a run without an answer, "kind: message": the first model error
    (server down, HTTP 500/429, timeout, replay cache_miss, unreadable image), else the
    first tool error that says a tool could not be reached. None when nothing failed."""
    trace = Trace.of(events)
    if trace.model_errors:
        first = trace.model_errors[0]
        message = first.message.removeprefix(f"{first.kind}: ")  # ModelError's str has it
        return f"{first.kind}: {message}"
    for call in trace.tool_calls:
        if call.error_kind in UNREACHABLE:
            said = call.error.message if isinstance(call.error, ToolErrorRecord) else call.error
            return f"{call.error_kind}: {call.tool}: {said}"
    return None


def _failed_reasoning(events: list[Any]) -> str:
    cause = failure_cause(events)
    if cause is None:
        return (
            "No candidate place could be read from the model's answers or located with the tools."
        )
    who = "The model" if Trace.of(events).model_errors else "A tool"
    return f"{who} could not answer ({cause})."


async def build_prediction(
    registry: Registry,
    cands: list[Candidate],
    evidence: list[EvidenceItem],
    *,
    mode: Literal["agent", "single"],
    events: list[dict[str, Any]],
    started_at: float = 0.0,
    rounds: int = 0,
    check_errors: int = 0,
    answer_text: str | None = None,
    calibration: Calibration = IDENTITY,
) -> tuple[Prediction, list[dict[str, Any]]]:
    """Turn the best located candidate into a Prediction (reverse geocoded).

    `events` is the run's trace so far (its counts become the prediction's);
    `check_errors` the failed checks, which lower the confidence. Returns the prediction
    and the trace events of naming it."""
    named: list[dict[str, Any]] = []
    located = [c for c in cands if c.located]
    common: dict[str, Any] = {
        "mode": mode,
        "rounds": rounds,
        "elapsed_s": time.time() - started_at if started_at else 0.0,
        "hypotheses": [c.summary() for c in cands],
    }
    if not located:
        return Prediction(
            status="failed",
            reasoning=_failed_reasoning(events),
            **common,
            **_counts(events),
        ), named
    best = located[0]
    # the penalty counts the checks' errors (the naming call below comes after it)
    raw = best.confidence * (1 - ERROR_PENALTY) ** min(check_errors, 5)
    conf = calibration.apply(raw)
    outcome = await registry.get("gazetteer.reverse").run({"lat": best.lat, "lon": best.lon})
    named.append(ToolCallEvent.of(rounds, NAMING_CLAIM, outcome).model_dump(mode="json"))
    rev = outcome.value(ReverseResult) if outcome.result is not None else None
    supporting = [e for e in evidence if e.candidate_key == best.key and e.weight > 0]
    reasoning = _reasoning(best, evidence) if mode == "agent" else "Single-shot GRE answer."
    prediction = Prediction(
        status="fallback" if best.origin == "fallback" else "ok",
        lat=best.lat,
        lon=best.lon,
        place=(rev.name if rev else None) or best.place,
        admin1=rev.admin1 if rev else None,
        country_code=(rev.country_code if rev else None) or best.country_code,
        confidence=round(conf, 4),
        raw_confidence=round(raw, 4),
        calibrated=calibration is not IDENTITY,
        reasoning=reasoning,
        evidence=[f"{e.claim}: {e.summary}" for e in supporting],
        answer_text=answer_text
        if mode == "single" and answer_text
        else gre_answer_text(best.lat, best.lon, reasoning),  # type: ignore[arg-type]
        **common,
        **_counts([*events, *named]),
    )
    return prediction, named


def _counts(events: list[Any]) -> dict[str, int]:
    """The prediction's numbers, as `Trace` defines them for the whole run."""
    c = Trace.of(events).counts()
    return {
        "tool_calls": c.tool_calls,
        "tool_errors": c.tool_errors,
        "model_calls": c.model_calls,
        "prompt_tokens": c.prompt_tokens,
        "cached_tokens": c.cached_tokens,
        "completion_tokens": c.completion_tokens,
    }
