"""GRPO rewards: plain functions `(completions, **dataset_columns) -> list[float]`.

TRL's GRPOTrainer calls each with `prompts`, `completions` (strings, or for chat data
lists of messages whose last `content` is the text) and every dataset column as a list
(`gt_lat`, `gt_lon`, ...). They work the same on plain strings, which is how the
doctests call them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from gre_agent.agent.parsing import try_parse_answer
from gre_agent.core.geo import geodesic_km

__all__ = [
    "DEFAULT_TAU_KM",
    "JudgeFn",
    "completion_text",
    "coordinate_reward",
    "format_reward",
    "judge_reward",
    "make_coordinate_reward",
    "make_judge_reward",
    "openai_judge",
]

DEFAULT_TAU_KM = 500.0
"""GRE's temperature of the coordinate reward: at d = tau the reward is 2 / (1 + e) = 0.54."""

_FORMAT = re.compile(r"^\s*<think>.+?</think>\s*<answer>.+?</answer>\s*$", re.S)


def completion_text(completion: Any) -> str:
    """The text of one completion: a string, a message dict, or a list of messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        content = completion.get("content", "")
        if isinstance(content, list):
            return "".join(p.get("text") or "" for p in content if isinstance(p, dict))
        return str(content or "")
    if isinstance(completion, Sequence) and completion:
        return completion_text(completion[-1])
    return ""


def coordinate_reward(
    completions: Sequence[Any],
    gt_lat: Sequence[float],
    gt_lon: Sequence[float],
    tau_km: float = DEFAULT_TAU_KM,
    **_: Any,
) -> list[float]:
    """GRE's coordinate reward `2 / (1 + exp(d_km / tau))`: 1 at the spot, towards 0 far away;
    0 when no coordinates can be read.

    >>> coordinate_reward(['<answer> 60.1699, 24.9384 </answer>'], [60.1699], [24.9384])
    [1.0]
    >>> r = coordinate_reward(['<answer> 0.0, 0.0 </answer>', 'no idea'], [0.0, 0.0], [4.4916, 0.0])
    >>> [round(x, 4) for x in r]  # 500 km (geodesic) away: 2 / (1 + e)
    [0.5379, 0.0]
    """
    out = []
    for c, lat, lon in zip(completions, gt_lat, gt_lon, strict=True):
        point = try_parse_answer(completion_text(c))
        if point is None or lat is None or lon is None:
            out.append(0.0)
            continue
        d = geodesic_km(point.lat, point.lon, float(lat), float(lon))
        out.append(2.0 / (1.0 + math.exp(min(d / tau_km, 700.0))))
    return out


def make_coordinate_reward(tau_km: float = DEFAULT_TAU_KM) -> Callable[..., list[float]]:
    """`coordinate_reward` with another tau (GRE anneals it; a smaller tau is stricter).

    >>> strict = make_coordinate_reward(25.0)
    >>> round(strict(['<answer> 0.0, 0.0 </answer>'], [0.0], [4.4916])[0], 6)
    0.0
    """
    if not tau_km > 0:
        raise ValueError("tau_km must be > 0")

    def reward(completions: Sequence[Any], gt_lat, gt_lon, **kw: Any) -> list[float]:
        return coordinate_reward(completions, gt_lat, gt_lon, tau_km=tau_km)

    reward.__name__ = f"coordinate_reward_tau{tau_km:g}"
    return reward


def format_reward(completions: Sequence[Any], **_: Any) -> list[float]:
    """1.0 for `<think>...</think><answer>...</answer>` whose answer parses to coordinates,
    0.5 for the right tags with an unreadable answer, 0.0 otherwise.

    >>> format_reward([
    ...     '<think> Finnish signs. </think> <answer> 60.17, 24.94 </answer>',
    ...     '<think> hmm </think><answer> somewhere nice </answer>',
    ...     '60.17, 24.94',
    ... ])
    [1.0, 0.5, 0.0]
    """
    out = []
    for c in completions:
        text = completion_text(c)
        if not _FORMAT.match(text):
            out.append(0.0)
            continue
        answer = text[text.rindex("<answer>") :]
        out.append(1.0 if try_parse_answer(answer) is not None else 0.5)
    return out


JudgeFn = Callable[[str, dict[str, Any]], bool | float | None]
"""A judge: (completion text, that row's dataset columns) -> yes/no (or a score in [0, 1])."""


def judge_reward(
    completions: Sequence[Any], judge: JudgeFn | None = None, **columns: Any
) -> list[float]:
    """GRE's judge stage: 1.0 when the judge says yes, 0.0 for no (None: no verdict, 0.0).

    >>> judge_reward(['<think>Helsinki</think>', '<think>Oslo</think>'],
    ...              judge=lambda text, row: 'Helsinki' in text, city=['Helsinki', 'Helsinki'])
    [1.0, 0.0]
    """
    if judge is None:
        raise ValueError("judge_reward needs a judge (see make_judge_reward / openai_judge)")
    n = len(completions)
    rows = [
        {k: v[i] for k, v in columns.items() if isinstance(v, list) and len(v) == n}
        for i in range(n)
    ]
    out = []
    for c, row in zip(completions, rows, strict=True):
        verdict = judge(completion_text(c), row)
        out.append(0.0 if verdict is None else max(0.0, min(1.0, float(verdict))))
    return out


def make_judge_reward(judge: JudgeFn) -> Callable[..., list[float]]:
    """A reward function for GRPOTrainer that asks `judge` about each completion."""

    def reward(completions: Sequence[Any], **columns: Any) -> list[float]:
        return judge_reward(completions, judge=judge, **columns)

    reward.__name__ = "judge_reward"
    return reward


JUDGE_PROMPT = (
    "You grade the reasoning of an image geolocation model. The photo was taken at latitude "
    "{gt_lat}, longitude {gt_lon}. Here is the model's answer:\n\n{completion}\n\n"
    "Is the reasoning sound and consistent with that location? Answer only yes or no."
)


def openai_judge(
    base_url: str, model: str, *, api_key: str = "EMPTY", timeout_s: float = 60.0
) -> JudgeFn:
    """A yes/no judge behind an OpenAI-compatible chat endpoint (vLLM, a hosted model)."""
    import httpx

    client = httpx.Client(
        base_url=base_url.rstrip("/"),
        timeout=timeout_s,
        headers={"Authorization": f"Bearer {api_key}"},
    )

    def judge(text: str, row: dict[str, Any]) -> bool | None:
        prompt = JUDGE_PROMPT.format(
            gt_lat=row.get("gt_lat"), gt_lon=row.get("gt_lon"), completion=text
        )
        try:
            r = client.post(
                "/chat/completions",
                json={
                    "model": model,
                    "messages": [{"role": "user", "content": prompt}],
                    "max_tokens": 3,
                    "temperature": 0,
                },
            )
            r.raise_for_status()
            said = r.json()["choices"][0]["message"]["content"] or ""
        except (httpx.HTTPError, KeyError, IndexError, ValueError):
            return None  # a judge outage costs this completion its judge reward, not the run
        word = said.strip().lower()
        return True if word.startswith("yes") else False if word.startswith("no") else None

    judge.close = client.close  # type: ignore[attr-defined]
    return judge
