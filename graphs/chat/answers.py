"""Answers to follow-up questions, from the stored run alone: no model, no tools.

Each function takes the compact run (runs.compact_run) and returns plain text.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from gre_agent.graphs.gre.search import answer_moves

NO_RUN = "No photo yet: send one (/image PATH) and I will locate it first."


@lru_cache(maxsize=1)
def _countries() -> list[tuple[str, str]]:
    """(name in lower case, alpha-2) for every country name pycountry knows."""
    import pycountry

    out = []
    for c in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            name = getattr(c, attr, None)
            if name:
                out.append((name.lower(), c.alpha_2))
    return sorted(out, key=lambda x: -len(x[0]))


def country_name(code: str | None) -> str | None:
    if not code:
        return None
    import pycountry

    found = pycountry.countries.get(alpha_2=code.upper())
    return (getattr(found, "common_name", None) or found.name) if found else None


def _mentions(question: str, name: str | None) -> bool:
    if not name or len(name) < 3:
        return False
    return re.search(r"\b" + re.escape(name.lower()) + r"\b", question.lower()) is not None


def named_countries(question: str) -> list[tuple[str, str]]:
    """Countries named in a question: [(name as written in pycountry, alpha-2)]."""
    low = question.lower()
    found: list[tuple[str, str]] = []
    for name, code in _countries():
        if code not in {c for _, c in found} and _mentions(low, name):
            found.append((name.title(), code))
    return found


def _best(run: dict[str, Any]) -> dict[str, Any] | None:
    return next((h for h in run["hypotheses"] if h.get("lat") is not None), None)


def _evidence_for(run: dict[str, Any], key: str | None, sign: int) -> list[str]:
    out = []
    for e in run["evidence"]:
        if key is not None and e.get("candidate_key") != key:
            continue
        w = e.get("weight") or 0
        if (sign > 0 and w > 0) or (sign < 0 and w < 0):
            source = e.get("tool") or "reasoning"
            out.append(f"- {e.get('claim')}: {e.get('summary') or '-'} ({source}, {w:+.1f})")
    return out


def _hyp_line(h: dict[str, Any]) -> str:
    label = h.get("label") or h.get("place")
    return f"{label}: confidence {h.get('confidence', 0):.2f} ({h.get('status', 'open')})"


def where(run: dict[str, Any]) -> str:
    """One line: the answer."""
    p = run.get("prediction") or {}
    if p.get("lat") is None:
        reason = run.get("error") or p.get("reasoning") or "no candidate place could be read"
        return f"No place found: {reason}"
    country = country_name(p.get("country_code"))
    place = ", ".join(x for x in (p.get("place"), p.get("admin1"), country) if x) or "-"
    code = f" ({p['country_code']})" if p.get("country_code") else ""
    return f"{place}{code}: {p['lat']:.5f}, {p['lon']:.5f}, confidence {p.get('confidence', 0):.2f}"


def answer(run: dict[str, Any] | None) -> str:
    if not run:
        return NO_RUN
    lines = [where(run)]
    p = run.get("prediction") or {}
    if p.get("lat") is not None:
        lines.append(
            f"https://www.openstreetmap.org/?mlat={p['lat']:.6f}&mlon={p['lon']:.6f}"
            f"#map=15/{p['lat']:.6f}/{p['lon']:.6f}"
        )
    return "\n".join(lines)


def _clues(run: dict[str, Any]) -> list[str]:
    sem = (run.get("stages") or {}).get("semantics") or {}
    bits = []
    if sem.get("languages"):
        bits.append("languages read: " + ", ".join(sem["languages"]))
    if sem.get("driving_side"):
        bits.append(f"traffic drives on the {sem['driving_side']}")
    if sem.get("country_hints"):
        bits.append("country clues: " + ", ".join(sem["country_hints"]))
    texts = ((run.get("stages") or {}).get("details") or {}).get("texts") or []
    if texts:
        bits.append("text in the photo: " + ", ".join(f'"{t}"' for t in texts[:5]))
    return [f"- {b}" for b in bits]


def why(run: dict[str, Any] | None, question: str = "") -> str:
    """Why this answer, or why not the place or country the question names."""
    if not run:
        return NO_RUN
    best = _best(run)
    if best is None:
        return where(run)
    for h in run["hypotheses"]:
        names = [h.get("place"), h.get("country"), country_name(h.get("country_code"))]
        names += [part.strip() for part in (h.get("place") or "").split(",")]
        if h is not best and any(_mentions(question, n) for n in names):
            return _why_not_candidate(run, h, best)
    best_codes = {h.get("country_code") for h in run["hypotheses"] if h.get("country_code")}
    for name, code in named_countries(question):
        if code not in best_codes:
            return _why_not_country(run, name, best)
    lines = [f"I answered {where(run)}."]
    support = _evidence_for(run, best.get("key"), +1)
    lines += (
        ["What supports it:", *support] if support else ["No tool finding supports it directly."]
    )
    if best.get("model_evidence"):
        lines.append("What the model saw: " + "; ".join(best["model_evidence"][:4]))
    if best.get("snapped_to"):
        lines.append(f"The coordinates were moved onto {best['snapped_to']}.")
    lines += _moves(run)
    against = _evidence_for(run, best.get("key"), -1)
    if against:
        lines += ["What speaks against it:", *against]
    if run.get("decisions"):
        lines.append(f"The agent stopped because: {run['decisions'][-1].get('reason')}.")
    return "\n".join(lines)


def _why_not_candidate(run: dict[str, Any], h: dict[str, Any], best: dict[str, Any]) -> str:
    lines = [
        f"{h.get('label')} was a candidate, at confidence {h.get('confidence', 0):.2f} "
        f"({h.get('status', 'open')}), against {best.get('confidence', 0):.2f} for "
        f"{best.get('label')}."
    ]
    against = _evidence_for(run, h.get("key"), -1)
    lines += (
        ["What speaks against it:", *against]
        if against
        else ["No tool finding ruled it out; it scored lower."]
    )
    support = _evidence_for(run, best.get("key"), +1)
    if support:
        lines += [f"What supports {best.get('place') or best.get('label')}:", *support[:4]]
    lines += _moves(run)
    return "\n".join(lines)


def _moves(run: dict[str, Any]) -> list[str]:
    """How the answer moved from the model's first guess, each move with its finding."""
    moved = answer_moves(run.get("initial"), run.get("hypotheses") or [], run.get("evidence") or [])
    return ["How the answer moved:", *(f"- {m}" for m in moved)] if moved else []


def _why_not_country(run: dict[str, Any], name: str, best: dict[str, Any]) -> str:
    proposed = "; ".join(h.get("label") or "?" for h in run["hypotheses"][:4])
    lines = [
        f"{name} was never among the candidates (the model proposed: {proposed}).",
        f"What points to {country_name(best.get('country_code')) or best.get('label')}:",
    ]
    lines += _clues(run) + _evidence_for(run, best.get("key"), +1)[:4]
    if len(lines) == 2:
        lines.append("- nothing beyond the model's own reading of the photo")
    lines += _moves(run)
    lines.append(f'Add a hint ("I think it is in {name}") to have it checked.')
    return "\n".join(lines)


def evidence(run: dict[str, Any] | None) -> str:
    """What the tools were asked and what they said."""
    if not run:
        return NO_RUN
    tools = run.get("tools") or []
    if not tools:
        return "No tool was called for this answer."
    failed = sum(1 for t in tools if not t.get("ok"))
    lines = [f"{len(tools)} tool call(s), {failed} failed:"]
    for t in tools[:20]:
        args = ", ".join(f"{k}={v}" for k, v in (t.get("args") or {}).items())
        ms = t.get("latency_ms")
        took = f", {ms:.0f} ms" if isinstance(ms, int | float) else ""
        lines.append(f"- {t.get('tool')}({args}) -> {t.get('summary')}{took}")
    if len(tools) > 20:
        lines.append(f"... and {len(tools) - 20} more (see the trace)")
    telling = _evidence_for(run, None, +1) + _evidence_for(run, None, -1)
    if telling:
        lines += ["What the findings did to the candidates:", *telling[:12]]
    return "\n".join(lines)


def alternatives(run: dict[str, Any] | None) -> str:
    if not run:
        return NO_RUN
    hyps = run["hypotheses"]
    if not hyps:
        return "There were no candidates."
    lines = ["The candidates, best first:", *[f"- {_hyp_line(h)}" for h in hyps]]
    first = run.get("initial")
    best = _best(run)
    if first and best and first.get("key") != best.get("key"):
        label = ", ".join(p for p in (first.get("place"), first.get("country_code")) if p)
        lines.append(f"Before checking, the best guess was {label or 'another place'}.")
    return "\n".join(lines)


def confidence(run: dict[str, Any] | None) -> str:
    if not run:
        return NO_RUN
    p = run.get("prediction") or {}
    if p.get("lat") is None:
        return where(run)
    best = _best(run) or {}
    support = _evidence_for(run, best.get("key"), +1)
    against = _evidence_for(run, best.get("key"), -1)
    lines = [
        f"Confidence {p.get('confidence', 0):.2f} ({p.get('status')}); the candidate is "
        f"{best.get('status', 'open')}.",
        f"It rests on {len(support)} supporting and {len(against)} contradicting finding(s), "
        f"{p.get('tool_calls', 0)} tool call(s) ({p.get('tool_errors', 0)} failed) in "
        f"{p.get('rounds', 0)} round(s); the model's own confidence was "
        f"{best.get('prior', 0):.2f}.",
    ]
    if p.get("tool_errors"):
        lines.append(
            "Failed tool calls lowered it: an answer that could not be checked is less sure."
        )
    if not p.get("calibrated"):
        lines.append(
            "The number maps evidence scores to a probability; it is not calibrated on an "
            "evaluation yet, so read it as a ranking, not a frequency."
        )
    return "\n".join(lines)
