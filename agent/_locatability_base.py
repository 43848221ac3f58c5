"""The torch-free parts of the locatability scorer: errors, dataset filtering, effort.

Importable without the `model` extra, so that the graph can map stored scores to an
effort and evaluations can filter by stored scores; `gre_agent.agent.locatability`
re-exports all of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from gre_agent.core.errors import GreError

if TYPE_CHECKING:
    from gre_agent.agent.locatability import LocatabilityScorer

T = TypeVar("T")


class LocatabilityError(GreError):
    """A locatability checkpoint, pairs file or training set is unusable."""


class ImageLoadError(LocatabilityError):
    """An image file is missing, corrupt or in an unsupported format."""

    def __init__(self, source: object, reason: str):
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")


# --- uses: filtering datasets, setting the agent's effort ---------------------------------


@dataclass(frozen=True)
class Scored(Generic[T]):
    """An item with its locatability score (None, with the reason, if it has none)."""

    item: T
    score: float | None
    error: str | None = None


@dataclass
class FilterResult(Generic[T]):
    """`kept`: score >= threshold; `dropped`: below it; `failed`: no score (unreadable)."""

    threshold: float
    kept: list[Scored[T]] = field(default_factory=list)
    dropped: list[Scored[T]] = field(default_factory=list)
    failed: list[Scored[T]] = field(default_factory=list)


def filter_locatable(
    items: Sequence[T],
    scorer: LocatabilityScorer | None = None,
    *,
    scores: Sequence[float | None] | None = None,
    threshold: float = 0.5,
    image: Callable[[T], Any] | None = None,
    batch_size: int = 32,
) -> FilterResult[T]:
    """Splits `items` into kept (score >= threshold) and dropped, GeoReasoner-style.

    Give a `scorer` (items are images: paths or PIL images, or `image(item)` picks each
    item's image) or
    precomputed `scores` (one per item, None for an unscorable item). Order is kept.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError("threshold must be in [0, 1]")
    if (scorer is None) == (scores is None):
        raise ValueError("give exactly one of scorer and scores")
    if scores is not None:
        if len(scores) != len(items):
            raise ValueError(f"{len(items)} items but {len(scores)} scores")
        found = [(s, None if s is not None else "no score") for s in scores]
    else:
        assert scorer is not None
        sources: list[Any] = [image(it) if image else it for it in items]
        found = [(r.score, r.error) for r in scorer.score_many(sources, batch_size=batch_size)]
    result: FilterResult[T] = FilterResult(threshold)
    for item, (score, error) in zip(items, found, strict=True):
        entry = Scored(item, score, error)
        if score is None:
            result.failed.append(entry)
        elif score >= threshold:
            result.kept.append(entry)
        else:
            result.dropped.append(entry)
    return result


class EffortLevel(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


@dataclass(frozen=True)
class Effort:
    """How hard the agent works on an image: verification rounds and tool-call budget."""

    level: EffortLevel
    verify_rounds: int
    max_tool_calls: int
    score: float | None = None


@dataclass(frozen=True, kw_only=True)
class EffortPolicy:
    """Thresholds and budgets of `effort_for` (defaults below; the graph may pass its own)."""

    medium_from: float = 0.35
    high_from: float = 0.7
    budgets: dict[EffortLevel, tuple[int, int]] = field(
        default_factory=lambda: {
            EffortLevel.low: (1, 4),
            EffortLevel.medium: (2, 8),
            EffortLevel.high: (3, 16),
        }
    )
    unknown: EffortLevel = EffortLevel.medium

    def __post_init__(self) -> None:
        if not 0.0 <= self.medium_from <= self.high_from <= 1.0:
            raise ValueError("need 0 <= medium_from <= high_from <= 1")


def effort_for(score: float | None, policy: EffortPolicy | None = None) -> Effort:
    """The agent's effort for an image of locatability `score` (None: not scored).

    Default mapping (budgets are (verification rounds, tool calls)):

        score < 0.35          low     (1, 4)    little evidence to check
        0.35 <= score < 0.7   medium  (2, 8)
        score >= 0.7          high    (3, 16)   many checkable clues
        None                  medium  (2, 8)    unknown: the ordinary budget

    Effort grows with locatability because verification checks evidence: an image with
    signs, text and shop fronts yields many claims worth a tool call, while a flat field
    yields few, and extra rounds there mostly make the model invent claims to check.
    >>> effort_for(0.9).level, effort_for(0.1).verify_rounds
    (<EffortLevel.high: 'high'>, 1)
    """
    pol = policy or EffortPolicy()
    if score is None:
        level = pol.unknown
    else:
        if not (math.isfinite(score) and 0.0 <= score <= 1.0):
            raise ValueError(f"locatability score {score!r} is outside [0, 1]")
        if score >= pol.high_from:
            level = EffortLevel.high
        elif score >= pol.medium_from:
            level = EffortLevel.medium
        else:
            level = EffortLevel.low
    rounds, calls = pol.budgets[level]
    return Effort(level, rounds, calls, score)
