"""One checked claim and what it did to a candidate: the evidence record every layer shares.

The graph writes these (tool checks, the model's own rejections), the prompts show them to
the model with `EvidenceItem.line()`, and traces store them as `model_dump(mode="json")`.
How much a finding weighs lives with the scoring (`graphs/gre/evidence.Finding`); this
module only holds the record, so it imports nothing from the other packages.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Effect = Literal["confirm", "support", "against", "reject", "move", "neutral", "error"]
"""What a finding did: confirm/support raise a candidate's score, against/reject lower it,
move places a (new) candidate, neutral records without scoring, error is a failed check."""


class EvidenceItem(BaseModel):
    """One checked claim and what it did to a candidate."""

    claim: str
    kind: str = Field(description="street, intersection, name, place, landmark, land, ...")
    tool: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    ok: bool = True
    error: str | None = None
    summary: str = ""
    effect: Effect = "neutral"
    weight: float = 0.0
    candidate: str | None = Field(None, description="The candidate's label when checked.")
    candidate_key: str | None = Field(None, description="Candidate.key of that candidate.")
    round: int = 0

    @property
    def supports(self) -> bool | None:
        if self.weight > 0:
            return True
        if self.weight < 0:
            return False
        return None

    def line(self) -> str:
        """How the evidence is shown to the model and to people."""
        verdict = {True: "supports", False: "contradicts", None: "neutral"}[self.supports]
        target = f" [{self.candidate}]" if self.candidate else ""
        source = self.tool or "reasoning"
        return f"- {self.claim}{target} | {source} | {self.summary} | {verdict}"
