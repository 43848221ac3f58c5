"""GRE30K records, three kinds, told apart per record:

- CoT: `{image, conversations: [{from: human, value: "<image>\\n..."}, {from: gpt, value:
  "<think>..</think><answer>..</answer>"}], gt_lat, gt_lon}`
- judge: a CoT record plus `predicted_cot` and `predicted_answer`
- seed: `{image, instructions, gt_lat, gt_lon}`

Records carry no id of their own: the id is `id` when present, else the image path; a
judge record adds `#<row>`, since judge data holds several predictions per image.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from gre_agent.evals.datasets._model import LoadedDataset, SampleMeta
from gre_agent.evals.datasets._records import images_root as root_of
from gre_agent.evals.datasets._records import read_records, record_files, require
from gre_agent.evals.datasets._rows import ImageCheck, ImageResolver, SampleBuilder, clean_label

_THINK = re.compile(r"<think>(.*?)</think>", re.S)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)
_KNOWN = {"id", "image", "conversations", "gt_lat", "gt_lon", "instructions"}
_KNOWN |= {"predicted_cot", "predicted_answer"}


def record_kind(record: dict[str, Any]) -> str:
    if "predicted_cot" in record or "predicted_answer" in record:
        return "judge"
    if "conversations" in record:
        return "cot"
    if "instructions" in record:
        return "seed"
    raise ValueError("neither conversations nor instructions: not a GRE30K record")


def _turn(conversations: list[dict[str, Any]], speaker: str) -> str | None:
    for turn in conversations:
        if isinstance(turn, dict) and turn.get("from") == speaker:
            return str(turn.get("value", ""))
    return None


def _cot_fields(record: dict[str, Any]) -> dict[str, Any]:
    conversations = record.get("conversations")
    if not isinstance(conversations, list):
        raise ValueError("conversations is not a list")
    response = _turn(conversations, "gpt")
    if response is None:
        raise ValueError("conversations has no gpt turn")
    prompt = _turn(conversations, "human") or ""
    think, answer = _THINK.search(response), _ANSWER.search(response)
    return {
        "gt_cot": think.group(1).strip() if think else response.strip(),
        "prompt": prompt.replace("<image>", "").strip(),
        "answer": answer.group(1).strip() if answer else None,
    }


def load_gre30k(
    path: Path,
    images_root: Path | None = None,
    *,
    check_images: ImageCheck = "header",
) -> LoadedDataset:
    """Load GRE30K CoT, judge or seed records (any mix) from JSON / JSON lines."""
    files = record_files(Path(path))
    resolver = ImageResolver(root_of(path, images_root))
    builder = SampleBuilder("gre30k", str(path), "gre30k", check_images)
    kinds: Counter[str] = Counter()
    for file in files:
        builder.file = file.name if len(files) > 1 else None
        for number, record in read_records(file):

            def make(
                record: Any = record, number: int = number, file: Path = file
            ) -> tuple[str, Path, Any, Any, SampleMeta]:
                r = require(record)
                kind = record_kind(r)
                image = clean_label(r.get("image"))
                if image is None:
                    raise ValueError("image is missing")
                extra: dict[str, Any] = {"kind": kind}
                gt_cot = None
                if kind in ("cot", "judge"):
                    fields = _cot_fields(r)
                    gt_cot = fields.pop("gt_cot")
                    extra.update(fields)
                if kind == "judge":
                    extra["predicted_cot"] = r.get("predicted_cot")
                    extra["predicted_answer"] = r.get("predicted_answer")
                if kind == "seed":
                    extra["instructions"] = r.get("instructions")
                extra.update({k: v for k, v in r.items() if k not in _KNOWN})
                sample_id = clean_label(r.get("id")) or image
                if kind == "judge" and clean_label(r.get("id")) is None:
                    sample_id = (
                        f"{image}#{number}" if len(files) == 1 else f"{image}#{file.name}:{number}"
                    )
                kinds[kind] += 1
                meta = SampleMeta(gt_cot=gt_cot, extra=extra)
                return sample_id, resolver.by_path(image), r.get("gt_lat"), r.get("gt_lon"), meta

            builder.add(number, make)
    builder.decide("record kinds: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    return builder.finish()
