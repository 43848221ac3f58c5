"""Agent statistics from per-image records: tool use, cache hits, model calls and tokens
per image, and what verification did to the answers (error before versus after, share of
answers it changed)."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from gre_agent.evals._predictions import PredictionRow
from gre_agent.evals.metrics import DistanceMethod, DistanceSummary, distance_km, summarize

# Verification "changed" an answer when it moved it by more than this (1 m): below it
# the difference is float formatting, not a decision.
CHANGED_KM = 1e-3


class VerificationStats(BaseModel):
    n: int  # rows that record the answer before verification
    changed_share: float
    before: DistanceSummary
    after: DistanceSummary


class CostStats(BaseModel):
    """Mean model calls and tokens per image, over the rows that record them."""

    n: int
    model_calls: float
    prompt_tokens: float
    cached_tokens: float
    completion_tokens: float


def cost_stats(rows: list[PredictionRow]) -> CostStats | None:
    costed = [r for r in rows if r.model_calls is not None]
    if not costed:
        return None

    def mean(values: list[int | None]) -> float:
        return float(np.mean([v or 0 for v in values]))

    return CostStats(
        n=len(costed),
        model_calls=mean([r.model_calls for r in costed]),
        prompt_tokens=mean([r.prompt_tokens for r in costed]),
        cached_tokens=mean([r.cached_tokens for r in costed]),
        completion_tokens=mean([r.completion_tokens for r in costed]),
    )


class AgentStats(BaseModel):
    n_with_tool_calls: int
    tool_calls_total: int
    tool_calls_per_image: float | None
    n_with_cache_hits: int
    cache_hits_total: int
    cache_hit_rate: float | None  # hits / tool calls, over rows recording both
    verification: VerificationStats | None
    cost: CostStats | None = None


def agent_stats(
    rows: list[PredictionRow], method: DistanceMethod = "geodesic"
) -> AgentStats | None:
    """Statistics over the rows that carry agent fields; None when none do."""
    calls = [r.tool_call_count for r in rows if r.tool_call_count is not None]
    hits = [r.cache_hits for r in rows if r.cache_hits is not None]
    both = [r for r in rows if r.cache_hits is not None and r.tool_call_count is not None]
    pre = [r for r in rows if r.pre_verify_lat is not None and r.pre_verify_lon is not None]
    cost = cost_stats(rows)
    if not (calls or hits or pre or cost):
        return None
    both_calls = sum(r.tool_call_count or 0 for r in both)
    verification = None
    if pre:
        pre_lat = np.array([r.pre_verify_lat for r in pre])
        pre_lon = np.array([r.pre_verify_lon for r in pre])
        lat = np.array([r.pred_lat for r in pre])
        lon = np.array([r.pred_lon for r in pre])
        gt_lat = np.array([r.gt_lat for r in pre])
        gt_lon = np.array([r.gt_lon for r in pre])
        moved = distance_km(pre_lat, pre_lon, lat, lon, method)
        verification = VerificationStats(
            n=len(pre),
            changed_share=float(np.count_nonzero(moved > CHANGED_KM)) / len(pre),
            before=summarize(distance_km(pre_lat, pre_lon, gt_lat, gt_lon, method)),
            after=summarize(distance_km(lat, lon, gt_lat, gt_lon, method)),
        )
    return AgentStats(
        n_with_tool_calls=len(calls),
        tool_calls_total=int(sum(calls)),
        tool_calls_per_image=float(np.mean(calls)) if calls else None,
        n_with_cache_hits=len(hits),
        cache_hits_total=int(sum(hits)),
        cache_hit_rate=(sum(r.cache_hits or 0 for r in both) / both_calls) if both_calls else None,
        verification=verification,
        cost=cost,
    )
