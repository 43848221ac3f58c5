"""Training configurations: one dataclass per method, every field with `help` metadata.

YAML and command-line overrides go through one parser, `load_config`:

    cfg = load_config(SFTConfig, "recipes/gre_sft.yaml", ["--learning_rate=5e-5", "max_steps=10"])

An override is `key=value` (with or without leading dashes; `-` and `_` alike); values
are read as YAML (`true`, `1e-4`, `[q_proj, v_proj]`, `null`). Unknown keys and values of
the wrong type are errors that name the field and list the valid ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from gre_agent.core.errors import ConfigError  # re-exported: the one ConfigError

__all__ = [
    "CONFIGS",
    "ConfigError",
    "DPOConfig",
    "GRPOConfig",
    "SFTConfig",
    "TrainConfigBase",
    "config_template",
    "load_config",
]


def _f(default: Any, help: str, **kw: Any) -> Any:
    if isinstance(default, list | dict):
        copy = functools.partial(type(default), default)  # each instance gets its own copy
        return field(default_factory=copy, metadata={"help": help}, **kw)
    return field(default=default, metadata={"help": help}, **kw)


@dataclass(kw_only=True)
class TrainConfigBase:
    model: str = _f("", "Base model: a local directory or a hub id (Qwen2.5-VL).")
    dataset: str = _f("", "Dataset folder written by `gre finetune data`.")
    output_dir: str = _f("", "Where the result goes: the merged model, or the adapter.")
    train_split: str = _f("train", "Split to train on.")
    eval_split: str | None = _f(
        "validation", "Split to evaluate on (skipped if absent); null: none."
    )
    lora: bool = _f(True, "Train a LoRA adapter (false: full fine-tuning).")
    lora_r: int = _f(16, "LoRA rank.")
    lora_alpha: int = _f(32, "LoRA alpha (scaling = alpha / r).")
    lora_dropout: float = _f(0.05, "LoRA dropout.")
    lora_target_modules: list[str] = _f(  # noqa: RUF009 (_f returns a dataclasses.field)
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        "Module names that get LoRA (matched in the language model only).",
    )
    freeze_vision: bool = _f(True, "Keep the vision tower frozen (full fine-tuning only).")
    merge: bool = _f(True, "Merge the adapter into a full model in output_dir (else keep it).")
    learning_rate: float = _f(1e-4, "Peak learning rate.")
    num_train_epochs: float = _f(1.0, "Epochs (ignored when max_steps > 0).")
    max_steps: int = _f(-1, "Optimizer steps; -1: run num_train_epochs.")
    per_device_train_batch_size: int = _f(1, "Batch size per device.")
    gradient_accumulation_steps: int = _f(8, "Micro-batches per optimizer step.")
    gradient_checkpointing: bool = _f(True, "Trade compute for memory (real models).")
    warmup_ratio: float = _f(0.03, "Share of steps spent warming up the learning rate (< 1).")
    lr_scheduler_type: str = _f("cosine", "Learning-rate schedule (transformers names).")
    weight_decay: float = _f(0.0, "AdamW weight decay.")
    max_length: int | None = _f(4096, "Truncate sequences to this many tokens; null: never.")
    max_pixels: int | None = _f(
        1003520, "Image pixel budget for the processor (Qwen default is far larger); null: keep."
    )
    chat_template: str | None = _f(
        None,
        "null: the processor's own; 'gre': Qwen2.5's tool-calling template with {% generation %}"
        " markers; or a .jinja file. The trained model keeps the template it was trained with.",
    )
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = _f(
        "auto", "Weights dtype: auto = bfloat16 on a GPU that has it, else float32."
    )
    use_cpu: bool = _f(False, "Train on the CPU even when a GPU is present.")
    seed: int = _f(42, "Random seed.")
    logging_steps: int = _f(10, "Log every this many steps.")
    save_steps: int = _f(500, "Checkpoint every this many steps.")
    save_total_limit: int = _f(2, "Checkpoints kept.")
    report_to: str = _f("none", "none | tensorboard | wandb ...")
    deepspeed: str | None = _f(None, "A DeepSpeed config JSON (ZeRO); see recipes/.")
    trl: dict[str, Any] = _f({}, "Extra keyword arguments for the TRL config, passed as is.")  # noqa: RUF009 (_f returns a dataclasses.field)

    method: typing.ClassVar[str] = ""


@dataclass(kw_only=True)
class SFTConfig(TrainConfigBase):
    """Supervised fine-tuning: single-shot CoT records or whole agent trajectories."""

    assistant_only_loss: bool = _f(
        True, "Loss on the assistant's turns only (user turns, tool results masked)."
    )
    method: typing.ClassVar[str] = "sft"


@dataclass(kw_only=True)
class DPOConfig(TrainConfigBase):
    """Direct preference optimisation on better / worse runs of the same image."""

    beta: float = _f(0.1, "DPO beta: how far the policy may move from the reference.")
    loss_type: str = _f("sigmoid", "DPO loss (sigmoid, ipo, ...).")
    learning_rate: float = _f(5e-6, "Peak learning rate.")
    method: typing.ClassVar[str] = "dpo"


@dataclass(kw_only=True)
class GRPOConfig(TrainConfigBase):
    """GRPO with GRE's rewards on prompts with ground truth."""

    rewards: list[str] = _f(  # noqa: RUF009 (_f returns a dataclasses.field)
        ["coordinate", "format"], "Reward functions: coordinate, format, judge."
    )
    reward_weights: list[float] | None = _f(None, "One weight per reward; null: all 1.")  # noqa: RUF009 (_f returns a dataclasses.field)
    tau_km: float = _f(500.0, "Temperature of the coordinate reward 2 / (1 + exp(d / tau)).")
    num_generations: int = _f(8, "Completions sampled per prompt (the group).")
    max_completion_length: int = _f(1024, "Tokens per sampled completion.")
    temperature: float = _f(1.0, "Sampling temperature of the rollouts.")
    beta: float = _f(0.04, "KL coefficient against the reference model (0: none).")
    learning_rate: float = _f(1e-6, "Peak learning rate.")
    judge_url: str | None = _f(None, "OpenAI-compatible endpoint of the judge (reward 'judge').")
    judge_model: str | None = _f(None, "Model name the judge endpoint serves.")
    method: typing.ClassVar[str] = "grpo"


CONFIGS: dict[str, type[TrainConfigBase]] = {"sft": SFTConfig, "dpo": DPOConfig, "grpo": GRPOConfig}


def _check(name: str, value: Any, tp: Any) -> Any:
    """`value` as type `tp`, or ConfigError."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _check(name, value, a)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{name}: bad value {value!r}")
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{name}: {value!r} is not one of {list(typing.get_args(tp))}")
        return value
    if origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{name}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp)
        return [_check(name, v, item) for v in value]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a mapping, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name}: expected true or false, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 5e-5 (no dot) as text
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{name}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name}: expected an integer, got {value!r}")
        return value
    if tp is str:
        if isinstance(value, bool | dict | list) or value is None:
            raise ConfigError(f"{name}: expected text, got {value!r}")
        return str(value)
    return value


def _parse_override(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise ConfigError(f"override {item!r}: expected key=value (e.g. --learning_rate=1e-5)")
    key, raw = item.split("=", 1)
    key = key.lstrip("-").replace("-", "_").strip()
    return key, yaml.safe_load(raw) if raw.strip() else ""


def load_config(
    cls: type[TrainConfigBase],
    path: str | Path | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
) -> TrainConfigBase:
    """A config from a YAML file (optional) and overrides (later wins)."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"no config file at {path}")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of settings")
        if loaded.get("method", cls.method) != cls.method:
            raise ConfigError(f"{path} is a {loaded['method']!r} config, not {cls.method!r}")
        loaded.pop("method", None)
        values.update(loaded)
    if isinstance(overrides, dict):
        values.update(overrides)
    else:
        values.update(_parse_override(o) for o in overrides or [])
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown {cls.method} setting(s) {unknown}; valid: {', '.join(sorted(known))}"
        )
    checked = {k: _check(k, v, hints[k]) for k, v in values.items()}
    cfg = cls(**checked)
    missing = [k for k in ("model", "dataset", "output_dir") if not getattr(cfg, k)]
    if missing:
        raise ConfigError(f"{cls.method} config needs {', '.join(missing)}")
    if cfg.lora and cfg.lora_r <= 0:
        raise ConfigError("lora_r must be > 0")
    return cfg


def config_template(cls: type[TrainConfigBase]) -> str:
    """Every setting with its default and its help, as a commented YAML file."""
    lines = [f"# gre finetune {cls.method}: {(cls.__doc__ or '').strip()}", f"method: {cls.method}"]
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        dumped = yaml.safe_dump({f.name: default}, default_flow_style=True, width=200).strip()
        lines.append(f"# {f.metadata.get('help', '')}")
        lines.append(dumped[1:-1] if dumped.startswith("{") else dumped)
    return "\n".join(lines) + "\n"
