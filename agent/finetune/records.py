"""Trajectories as training records, one builder per method.

- `sft_record`: GRE30K's CoT record (`image`, `conversations` [human, gpt], `gt_lat`,
  `gt_lon`) plus the same exchange as chat `messages` with its `images`. An agent run
  becomes a single-shot answer: the stages' reasoning in `<think>`, the verified
  coordinates in `<answer>` (the agent's verified answer distilled into GRE's format).
- `agent_record`: the whole multi-turn conversation (stages, tool calls, tool results) as
  Qwen2.5-VL chat `messages`, with `tools` (JSON) when the model was offered tools.
- `dpo_records`: per image, the best and the worst run by final error, as `prompt`,
  `chosen`, `rejected` (single-shot form, so both answer the same prompt).
- `grpo_record`: the single-shot prompt with `gt_lat`, `gt_lon` for the rewards.

Messages are stored in one Arrow-friendly shape: `content` is always a list of parts
`{"type": "text" | "image", "text"}`; tool-call arguments are JSON strings; images are in
`images`, in the order of their placeholders (TRL's convention).
"""

from __future__ import annotations

import json
from typing import Any

from gre_agent.agent._answer import gre_answer_text
from gre_agent.agent.finetune.traces import Trajectory
from gre_agent.agent.parsing import think_text
from gre_agent.agent.prompts import render

__all__ = [
    "agent_record",
    "chat_message",
    "cot_answer",
    "dpo_records",
    "grpo_record",
    "sft_record",
    "single_prompt",
]

REASONING_STAGES = ("scene", "detail", "semantic")


def single_prompt() -> str:
    """GRE's single-shot question (the prompt the GRE model was trained on)."""
    return render("gre").strip()


def chat_message(message: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A trace message in the stored shape, and the image paths it holds."""
    content = message.get("content")
    images: list[str] = []
    parts: list[dict[str, Any]] = []
    if isinstance(content, str):
        parts = [{"type": "text", "text": content}] if content else []
    else:
        for p in content or []:
            if p.get("type") == "image":
                if not p.get("image"):
                    raise ValueError("an image part without a path (not replayable)")
                images.append(str(p["image"]))
                parts.append({"type": "image", "text": None})
            else:
                parts.append({"type": "text", "text": p.get("text", "")})
    calls = [
        {
            "type": "function",
            "function": {
                "name": c.get("name", ""),
                "arguments": json.dumps(c.get("arguments") or {}, ensure_ascii=False),
            },
        }
        for c in message.get("tool_calls") or []
    ]
    out = {
        "role": message["role"],
        "content": parts,
        "tool_calls": calls,
        "tool_call_id": message.get("tool_call_id"),
        "name": message.get("name"),
    }
    return out, images


def _user(text: str) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [{"type": "image", "text": None}, {"type": "text", "text": text}],
        "tool_calls": [],
        "tool_call_id": None,
        "name": None,
    }


def _assistant(text: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": [{"type": "text", "text": text}],
        "tool_calls": [],
        "tool_call_id": None,
        "name": None,
    }


def cot_answer(t: Trajectory) -> str | None:
    """The run's answer in GRE's CoT format, or None when it committed to nothing."""
    point = t.point
    if point is None:
        return None
    if t.mode == "single":
        text = (t.prediction.answer_text if t.prediction else "") or t.stage_texts.get("single", "")
        if "<answer>" in text:
            return text.strip()
    parts = [think_text(t.stage_texts[s]).strip() for s in REASONING_STAGES if t.stage_texts.get(s)]
    place = t.prediction.place if t.prediction else None
    if place:
        parts.append(f"Conclusion: the clues point to {place}.")
    return gre_answer_text(point[0], point[1], " ".join(p for p in parts if p))


def _meta(t: Trajectory) -> dict[str, Any]:
    return {
        "image_id": t.image_id,
        "trace": str(t.path),
        "error_km": t.error_km,
        "gt_lat": t.gt[0] if t.gt else None,
        "gt_lon": t.gt[1] if t.gt else None,
    }


def sft_record(t: Trajectory) -> dict[str, Any] | None:
    answer = cot_answer(t)
    if answer is None:
        return None
    prompt = single_prompt()
    return {
        "image": t.image,
        "conversations": [
            {"from": "human", "value": f"<image>\n{prompt}"},
            {"from": "gpt", "value": answer},
        ],
        "messages": [_user(prompt), _assistant(answer)],
        "images": [t.image],
        **_meta(t),
    }


def agent_record(t: Trajectory) -> dict[str, Any] | None:
    """The run's longest conversation (there is one per run unless a stage restarted it)."""
    if not t.conversations:
        return None
    conv = max(t.conversations, key=len)
    messages, images = [], []
    for m in conv:
        msg, imgs = chat_message(m)
        messages.append(msg)
        images += imgs
    if not any(m["role"] == "assistant" for m in messages):
        return None
    return {
        "messages": messages,
        "images": images,
        "tools": json.dumps(t.tools, ensure_ascii=False) if t.tools else "",
        **_meta(t),
    }


def dpo_records(
    trajs: list[Trajectory], min_margin_km: float = 0.0, pairs: str = "extremes"
) -> list[dict[str, Any]]:
    """Preference pairs for one image: chosen has a smaller final error than rejected.

    pairs="extremes": best vs worst (one pair); "all": best vs every run worse by the margin.
    """
    ranked = sorted(
        (t for t in trajs if t.error_km is not None and cot_answer(t) is not None),
        key=lambda t: t.error_km,
    )
    if len(ranked) < 2:
        return []
    best = ranked[0]
    worse = ranked[1:] if pairs == "all" else [ranked[-1]]
    out = []
    prompt = single_prompt()
    for w in worse:
        if w.error_km - best.error_km <= min_margin_km or cot_answer(w) == cot_answer(best):
            continue
        out.append(
            {
                "prompt": [_user(prompt)],
                "chosen": [_assistant(cot_answer(best))],
                "rejected": [_assistant(cot_answer(w))],
                "images": [best.image],
                "image_id": best.image_id,
                "chosen_error_km": best.error_km,
                "rejected_error_km": w.error_km,
                "chosen_trace": str(best.path),
                "rejected_trace": str(w.path),
                "gt_lat": best.gt[0] if best.gt else None,
                "gt_lon": best.gt[1] if best.gt else None,
            }
        )
    return out


def grpo_record(t: Trajectory) -> dict[str, Any] | None:
    if t.gt is None:
        return None
    return {
        "prompt": [_user(single_prompt())],
        "images": [t.image],
        "image_id": t.image_id,
        "gt_lat": t.gt[0],
        "gt_lon": t.gt[1],
    }
