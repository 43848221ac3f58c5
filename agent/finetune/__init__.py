"""Fine-tuning on the agent's trajectories: traces -> datasets -> TRL/PEFT training.

    from gre_agent.agent.finetune import DataOptions, GroundTruth, build_dataset, save_dataset
    opts = DataOptions(kind="agent")
    ds, report = build_dataset(["runs/traces"], opts, gt=GroundTruth.read("gt.csv"))
    save_dataset(ds, "data/agent", report, opts)

    from gre_agent.agent.finetune import SFTConfig, load_config, train
    train(load_config(SFTConfig, "agent/finetune/recipes/gre_sft.yaml", ["--max_steps=100"]))

Kinds of data: `sft` (GRE30K CoT records + chat messages), `agent` (multi-turn trajectories
with tool calls, loss on assistant turns), `dpo` (better / worse run of one image), `grpo`
(prompts with ground truth). Rewards in `rewards` are plain functions. Recipes (GRE,
GeoReasoner, accelerate / DeepSpeed launch files) are in `recipes/` beside this file.
Names are imported lazily: the data side needs no torch, training needs the `train` extra.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

RECIPES = Path(__file__).parent / "recipes"

_LAZY = {
    "Trajectory": "traces",
    "load_trajectories": "traces",
    "GroundTruth": "groundtruth",
    "Exclusions": "groundtruth",
    "GroundTruthError": "groundtruth",
    "FilterReport": "filters",
    "split_by_image": "filters",
    "DataOptions": "data",
    "KINDS": "data",
    "build_dataset": "data",
    "build_records": "data",
    "save_dataset": "data",
    "load_split": "data",
    "ChatCollator": "collate",
    "SFTConfig": "config",
    "DPOConfig": "config",
    "GRPOConfig": "config",
    "ConfigError": "config",
    "load_config": "config",
    "config_template": "config",
    "coordinate_reward": "rewards",
    "make_coordinate_reward": "rewards",
    "format_reward": "rewards",
    "judge_reward": "rewards",
    "make_judge_reward": "rewards",
    "openai_judge": "rewards",
    "TrainResult": "train",
    "train": "train",
    "load_model": "train",
}

__all__ = ["RECIPES", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
