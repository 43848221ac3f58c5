"""Text grounding: the texts the model quotes, against the photo's own OCR (`ocr.read`).

A vision-language model can misread a sign or invent one; the OCR reads the pixels. Each
text the model quotes gets a verdict (`GroundedText`):

- seen_by_both: the OCR read it too (fuzzy, accent- and case-insensitive): the findings
  it made count more (`Finding.TEXT_SEEN_BY_BOTH` on each candidate it supports);
- not_seen: the OCR read legible text in the photo, but not this one: the findings it
  made count less (`Finding.TEXT_NOT_SEEN`);
- unverified: the photo has no legible text for the OCR (night, blur, small print) or
  the quote is too short to match; nothing changes.

Legible OCR texts the model did not mention become claims of their own (from_ocr,
`Finding.TEXT_FROM_OCR`): the checks and the search weigh them like the model's texts.

The OCR runs once per run, in the first round of graph-driven verification, through the
run's registry (traced as a tool call, cached per photo version by the tool). Whether it
runs is `Context.ocr` (see `wanted`).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Literal, cast

from pydantic import BaseModel, Field
from rapidfuzz import fuzz

from gre_agent.agent.schemas import Details
from gre_agent.core.evidence import EvidenceItem
from gre_agent.core.trace import StageEvent, ToolCallEvent
from gre_agent.graphs.gre.claims import address_of, clean, is_checkable
from gre_agent.graphs.gre.context import Context
from gre_agent.graphs.gre.evidence import Candidate, Finding
from gre_agent.tools import Registry
from gre_agent.tools.ocr import OcrText, ReadResult

TOOL = "ocr.read"
MATCH = 85.0  # rapidfuzz score (0-100) at which two normalized texts are the same text
LEGIBLE = 0.8  # OCR confidence of a line that makes the photo legible
MIN_CHARS = 4  # normalized letters and digits a quote needs to be matched at all
MIN_OCR_CONFIDENCE = 0.5  # lines read with less are ignored entirely
MAX_FROM_OCR = 8  # new claims from OCR texts per photo (the search checks each one)
# Backends whose texts come from a model that looked at the photo itself. The replay
# backend reproduces a recorded run (grounding would change it), the OCR baseline's texts
# are the OCR's own, and test doubles answer from scripts: none of them by default.
MODEL_BACKENDS = ("openai", "transformers")

Verdict = Literal["seen_by_both", "not_seen", "unverified", "from_ocr"]


class GroundedText(BaseModel):
    text: str = Field(description="As the claims hold it (the model's quote, cleaned).")
    verdict: Verdict
    ocr_text: str | None = Field(None, description="The OCR line that matched, or was read.")
    confidence: float | None = Field(None, description="The OCR's confidence in that line.")
    score: float | None = Field(None, description="Fuzzy match, 0 to 100.")


class Grounding(BaseModel):
    """What the OCR said about the model's texts; kept in the state for every round."""

    legible: bool = False
    texts: list[GroundedText] = Field(default_factory=list)

    def from_ocr(self) -> list[str]:
        return [t.text for t in self.texts if t.verdict == "from_ocr"]


def wanted(ctx: Context, registry: Registry, backend_name: str | None) -> bool:
    """`Context.ocr`, with None (auto) resolved: on for model backends when the registry
    has the OCR tool."""
    if TOOL not in registry:
        return False
    if ctx.ocr is not None:
        return ctx.ocr
    return backend_name in MODEL_BACKENDS


def norm(text: str) -> str:
    """Casefolded letters and digits, accents dropped (OCR often loses the dots of ä)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def similarity(quote: str, line: str) -> float:
    """How well a quote matches an OCR line: whole, or as a part of it (a sign read as one
    line with its house number), or it as a part of the quote (a quote spanning lines)."""
    a, b = norm(quote), norm(line)
    if not a or not b:
        return 0.0
    score = fuzz.ratio(a, b)
    short, long_ = sorted((a, b), key=len)
    if len(short) >= MIN_CHARS and len(short) >= 0.4 * len(long_):
        score = max(score, fuzz.partial_ratio(short, long_))
    return float(score)


def quotes(details: Details) -> list[str]:
    """The texts the model quotes, as claims hold them (one per sign line)."""
    out: list[str] = []
    for raw in details.texts:
        for piece in re.split(r"\s*[\n;/|]\s*", raw):
            text = clean(piece)
            if is_checkable(text) and text.casefold() not in {t.casefold() for t in out}:
                out.append(text)
    return out


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def ground(details: Details, result: ReadResult) -> Grounding:
    """Verdicts for the model's quotes against the OCR's lines, and the OCR's own texts."""
    lines = [t for t in result.texts if t.confidence >= MIN_OCR_CONFIDENCE]
    legible = [t for t in lines if t.confidence >= LEGIBLE and _letters(t.text) >= 3]
    joined = " ".join(t.text for t in lines)
    out = Grounding(legible=bool(legible))
    mentioned: set[int] = set()
    for quote in quotes(details):
        score, line = 0.0, cast(OcrText | None, None)
        for i, candidate in enumerate(lines):
            s = similarity(quote, candidate.text)
            if s >= MATCH:
                mentioned.add(i)
            if s > score:
                score, line = s, candidate
        if score < MATCH and joined:  # a quote the OCR split over several lines
            score = max(score, similarity(quote, joined) if len(lines) > 1 else 0.0)
        if len(norm(quote)) < MIN_CHARS:
            verdict: Verdict = "unverified"
        elif score >= MATCH:
            verdict = "seen_by_both"
        elif legible:
            verdict = "not_seen"
        else:
            verdict = "unverified"
        seen = line if verdict == "seen_by_both" else None
        out.texts.append(
            GroundedText(
                text=quote,
                verdict=verdict,
                ocr_text=seen.text if seen else None,
                confidence=seen.confidence if seen else None,
                score=round(score, 1),
            )
        )
    known = {norm(t.text) for t in out.texts}
    added = 0
    for i, ocr in enumerate(lines if legible else []):
        text = clean(ocr.text)
        if (
            i in mentioned
            or ocr.confidence < LEGIBLE
            or _letters(text) < 3
            or not is_checkable(text)
            or norm(text) in known
            or added >= MAX_FROM_OCR
        ):
            continue
        known.add(norm(text))
        added += 1
        out.texts.append(
            GroundedText(
                text=text, verdict="from_ocr", ocr_text=ocr.text, confidence=ocr.confidence
            )
        )
    return out


async def read(
    registry: Registry, image: str, details: Details, number: int
) -> tuple[Grounding | None, list[dict[str, Any]], list[EvidenceItem], bool]:
    """Run the OCR on the photo and ground the model's texts. Returns (grounding or None
    when the OCR failed, trace events, evidence, whether the call failed)."""
    outcome = await registry.get(TOOL).run({"image": image})
    events = [ToolCallEvent.of(number, "the photo's own text", outcome).model_dump(mode="json")]
    if outcome.error is not None:
        failed = Finding.CHECK_FAILED.record(
            None,
            claim="the photo's own text",
            tool=TOOL,
            args=outcome.args,
            error=f"{outcome.error.kind}: {outcome.error.message}",
            summary=f"check failed ({outcome.error.kind})",
            round=number,
        )
        return None, events, [failed], True
    grounding = ground(details, outcome.value(ReadResult))
    parsed = grounding.model_dump(mode="json")
    events.append(StageEvent(stage="grounding", parsed=parsed).model_dump(mode="json"))
    evidence = [_text_row(t, None, number, outcome.args) for t in grounding.texts]
    return grounding, events, [e for e in evidence if e is not None], False


_FINDINGS = {
    "seen_by_both": Finding.TEXT_SEEN_BY_BOTH,
    "not_seen": Finding.TEXT_NOT_SEEN,
    "from_ocr": Finding.TEXT_FROM_OCR,
}


def _text_row(
    t: GroundedText,
    c: Candidate | None,
    number: int,
    args: dict[str, Any] | None = None,
    because: str = "",
) -> EvidenceItem | None:
    finding = _FINDINGS.get(t.verdict)
    if finding is None:
        return None
    if t.verdict == "seen_by_both":
        summary = f"the OCR read it too ('{t.ocr_text}', {t.confidence:.2f})"
    elif t.verdict == "not_seen":
        summary = "the OCR read legible text in the photo, but not this"
    else:
        summary = f"read by the OCR ({t.confidence:.2f}), not mentioned by the model"
    if because:
        summary += f"; {because}"
    return finding.record(
        c, claim=f"text '{t.text}'", summary=summary, tool=TOOL, args=args, round=number
    )


def _forms(text: str) -> set[str]:
    """How a text appears inside the claims of the findings it made."""
    forms = {text}
    if address := address_of(text):
        forms.add(address[0])
    return {f"'{f}'" for f in forms}


def weigh(
    grounding: Grounding,
    evidence: list[EvidenceItem],
    candidates: list[Candidate],
    checked: set[str],
    number: int,
) -> list[EvidenceItem]:
    """Raise or lower what the model's texts did: for each finding of this round that a
    grounded text made for a candidate (positive weight), one grounding finding on that
    candidate, once per text and candidate."""
    by_key = {c.key: c for c in candidates}
    out: list[EvidenceItem] = []
    for t in grounding.texts:
        if t.verdict not in ("seen_by_both", "not_seen"):
            continue
        forms = _forms(t.text)
        for e in evidence:
            c = by_key.get(e.candidate_key or "")
            if c is None or e.weight <= 0 or e.kind == "text":
                continue
            if not any(f in e.claim for f in forms):
                continue
            key = f"ground:{t.text}:{c.key}"
            if key in checked:
                continue
            checked.add(key)
            row = _text_row(t, c, number, because=f"behind {e.claim}")
            if row is not None:
                out.append(row)
    return out
