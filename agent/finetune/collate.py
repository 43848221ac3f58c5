"""Batches of chat records for SFT, with the loss on the assistant's turns only.

The chat template marks assistant turns with `{% generation %}` ... `{% endgeneration %}`
(the end-of-turn token inside, so the model learns to stop); the processor turns that
into `assistant_masks`, and every other token (system, user turns, image tokens, tool
results, padding) gets the label -100. Tool definitions (`tools`, JSON) are rendered into
the system turn as at inference time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["ChatCollator", "clean_messages"]


def clean_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored messages without the empty fields Arrow adds (None keys, empty tool calls)."""
    out = []
    for m in messages:
        msg: dict[str, Any] = {"role": m["role"]}
        content = m.get("content")
        if isinstance(content, list):
            msg["content"] = [{k: v for k, v in p.items() if v is not None} for p in content]
        else:
            msg["content"] = content or ""
        for key in ("tool_calls", "tool_call_id", "name"):
            if m.get(key):
                msg[key] = m[key]
        out.append(msg)
    return out


@dataclass
class ChatCollator:
    processor: Any
    max_length: int | None = None
    assistant_only_loss: bool = True
    chat_template: str | None = None

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        from trl.data_utils import prepare_multimodal_messages

        convs = [
            prepare_multimodal_messages(
                clean_messages(e["messages"]), images=list(e.get("images") or [])
            )
            for e in examples
        ]
        tools = [json.loads(e["tools"]) if e.get("tools") else None for e in examples]
        if any(t != tools[0] for t in tools):
            raise ValueError("a batch mixes records with different tools: use batch size 1")
        out = self.processor.apply_chat_template(
            convs,
            tools=tools[0],
            chat_template=self.chat_template,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
            return_assistant_tokens_mask=self.assistant_only_loss,
            processor_kwargs={
                "padding": True,
                "padding_side": "right",
                "truncation": self.max_length is not None,
                "max_length": self.max_length,
                "add_special_tokens": False,
            },
        )
        out.pop("token_type_ids", None)
        labels = out["input_ids"].clone()
        labels[out["attention_mask"] == 0] = -100
        if self.assistant_only_loss:
            mask = out.pop("assistant_masks")
            if not bool(mask.any()):
                raise ValueError(
                    "no assistant tokens in this batch: the chat template needs {% generation %} "
                    "markers (set chat_template: gre) or the records have no assistant turn"
                )
            labels[mask == 0] = -100
        out["labels"] = labels
        return dict(out)
