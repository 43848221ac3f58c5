"""Training on TRL's trainers (SFTTrainer, DPOTrainer, GRPOTrainer) with PEFT LoRA or full
fine-tuning, for Qwen2.5-VL; then the adapter is merged (a full model directory with the
processor files, ready for `gre locate --backend transformers --model DIR` and `gre serve`)
or kept as an adapter.

    result = train(load_config(SFTConfig, "recipes/gre_sft.yaml"))
"""

from __future__ import annotations

import importlib
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gre_agent.agent.finetune.collate import ChatCollator
from gre_agent.agent.finetune.config import DPOConfig, GRPOConfig, SFTConfig, TrainConfigBase
from gre_agent.agent.finetune.data import load_split
from gre_agent.agent.finetune.rewards import (
    format_reward,
    make_coordinate_reward,
    make_judge_reward,
    openai_judge,
)

__all__ = ["TrainResult", "build_rewards", "load_model", "save_model", "train"]

RESULT_FILE = "gre_finetune.json"
LANGUAGE_MODEL = r".*language_model.*\.({})$"


@dataclass
class TrainResult:
    method: str
    output_dir: Path
    merged: bool
    steps: int
    train_loss: float | None
    runtime_s: float
    log_history: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["output_dir"] = str(self.output_dir)
        return d


def _chat_template(spec: str | None) -> str | None:
    if spec is None:
        return None
    if spec == "gre":
        from gre_agent.agent.testing import CHAT_TEMPLATE

        return CHAT_TEMPLATE
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"chat_template: no file at {path} (or use 'gre')")
    return path.read_text(encoding="utf-8")


def load_model(cfg: TrainConfigBase) -> tuple[Any, Any]:
    """(model, processor) of the base model, with the configured template and pixel budget."""
    from transformers import AutoModelForImageTextToText

    from gre_agent.agent.backends._transformers import load_processor, pick_device_and_dtype

    _device, dtype = pick_device_and_dtype("cpu" if cfg.use_cpu else "auto", cfg.dtype)
    processor = load_processor(cfg.model)
    template = _chat_template(cfg.chat_template)
    if template is not None:
        processor.chat_template = template
        processor.tokenizer.chat_template = template
    size = getattr(processor.image_processor, "size", None)
    if cfg.max_pixels and size is not None and getattr(size, "longest_edge", None):
        size.longest_edge = min(size.longest_edge, cfg.max_pixels)
    model = AutoModelForImageTextToText.from_pretrained(cfg.model, dtype=dtype)
    if not cfg.lora and cfg.freeze_vision:
        for name, param in model.named_parameters():
            if ".visual." in f".{name}":
                param.requires_grad_(False)
    return model, processor


def lora_config(cfg: TrainConfigBase) -> Any:
    if not cfg.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=LANGUAGE_MODEL.format("|".join(cfg.lora_target_modules)),
        task_type="CAUSAL_LM",
    )


def _checkpointing_key() -> str:
    # transformers 5.2x renamed gradient_checkpointing (the old name warns)
    import dataclasses

    from transformers import TrainingArguments

    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    return (
        "activation_checkpointing"
        if "activation_checkpointing" in names
        else "gradient_checkpointing"
    )


def _common_args(cfg: TrainConfigBase, out: Path) -> dict[str, Any]:
    import torch

    gpu = torch.cuda.is_available() and not cfg.use_cpu
    bf16 = gpu and torch.cuda.is_bf16_supported() and cfg.dtype in ("auto", "bfloat16")
    return {
        "output_dir": str(out / "checkpoints"),
        "learning_rate": cfg.learning_rate,
        "num_train_epochs": cfg.num_train_epochs,
        "max_steps": cfg.max_steps,
        "per_device_train_batch_size": cfg.per_device_train_batch_size,
        "per_device_eval_batch_size": cfg.per_device_train_batch_size,
        "gradient_accumulation_steps": cfg.gradient_accumulation_steps,
        _checkpointing_key(): cfg.gradient_checkpointing,
        "warmup_steps": cfg.warmup_ratio,  # a float < 1 is a ratio of the steps
        "lr_scheduler_type": cfg.lr_scheduler_type,
        "weight_decay": cfg.weight_decay,
        "seed": cfg.seed,
        "logging_steps": cfg.logging_steps,
        "save_steps": cfg.save_steps,
        "save_total_limit": cfg.save_total_limit,
        "report_to": cfg.report_to,
        "deepspeed": cfg.deepspeed,
        "use_cpu": cfg.use_cpu,
        "bf16": bf16,
        "remove_unused_columns": False,
        "dataloader_num_workers": 0,
        **cfg.trl,
    }


def _splits(cfg: TrainConfigBase) -> tuple[Any, Any]:
    train = load_split(cfg.dataset, cfg.train_split)
    val = None
    if cfg.eval_split:
        try:
            val = load_split(cfg.dataset, cfg.eval_split)
        except KeyError:
            val = None
    return train, val


def _require(ds: Any, columns: tuple[str, ...], method: str) -> None:
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise ValueError(
            f"{method} needs columns {list(columns)}; this dataset lacks {missing} (write it "
            f"with `gre finetune data --kind {'sft|agent' if method == 'sft' else method}`)"
        )


def _sft_trainer(cfg: SFTConfig, model: Any, processor: Any, out: Path) -> Any:
    from trl import SFTConfig as TRLSFTConfig
    from trl import SFTTrainer

    train, val = _splits(cfg)
    _require(train, ("messages", "images"), "sft")
    args = TRLSFTConfig(
        **_common_args(cfg, out),
        max_length=cfg.max_length,
        dataset_kwargs={"skip_prepare_dataset": True},
        eval_strategy="steps" if val is not None else "no",
        eval_steps=cfg.save_steps,
    )
    collator = ChatCollator(
        processor,
        max_length=cfg.max_length,
        assistant_only_loss=cfg.assistant_only_loss,
        chat_template=processor.chat_template,
    )
    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=val,
        processing_class=processor,
        data_collator=collator,
        peft_config=lora_config(cfg),
    )


def _dpo_trainer(cfg: DPOConfig, model: Any, processor: Any, out: Path) -> Any:
    from trl import DPOConfig as TRLDPOConfig
    from trl import DPOTrainer

    train, val = _splits(cfg)
    _require(train, ("prompt", "chosen", "rejected", "images"), "dpo")
    args = TRLDPOConfig(
        **_common_args(cfg, out),
        beta=cfg.beta,
        loss_type=[cfg.loss_type],  # TRL takes a list of losses (and wraps a lone name)
        max_length=cfg.max_length,
        eval_strategy="steps" if val is not None else "no",
        eval_steps=cfg.save_steps,
    )
    return DPOTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=val,
        processing_class=processor,
        peft_config=lora_config(cfg),
    )


def _import(spec: str) -> Callable[..., list[float]]:
    module, _, name = spec.partition(":")
    if not name:
        raise ValueError(f"reward {spec!r}: use coordinate, format, judge or module:function")
    return getattr(importlib.import_module(module), name)


def build_rewards(cfg: GRPOConfig) -> list[Callable[..., list[float]]]:
    """The configured reward functions; `module:function` names a reward of your own."""
    out = []
    for name in cfg.rewards:
        if name == "coordinate":
            out.append(make_coordinate_reward(cfg.tau_km))
        elif name == "format":
            out.append(format_reward)
        elif name == "judge":
            if not (cfg.judge_url and cfg.judge_model):
                raise ValueError("the judge reward needs judge_url and judge_model")
            out.append(make_judge_reward(openai_judge(cfg.judge_url, cfg.judge_model)))
        else:
            out.append(_import(name))
    if cfg.reward_weights is not None and len(cfg.reward_weights) != len(out):
        raise ValueError(f"{len(cfg.reward_weights)} reward_weights for {len(out)} rewards")
    return out


def _grpo_trainer(
    cfg: GRPOConfig, model: Any, processor: Any, out: Path, extra: list[Callable] | None
) -> Any:
    from trl import GRPOConfig as TRLGRPOConfig
    from trl import GRPOTrainer

    train, _val = _splits(cfg)
    _require(train, ("prompt", "images", "gt_lat", "gt_lon"), "grpo")
    rewards = build_rewards(cfg) + list(extra or [])
    weights = cfg.reward_weights
    if weights is not None and extra:
        weights = [*weights, *([1.0] * len(extra))]
    args = TRLGRPOConfig(
        **_common_args(cfg, out),
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        beta=cfg.beta,
        reward_weights=weights,
    )
    return GRPOTrainer(
        model=model,
        reward_funcs=rewards,
        args=args,
        train_dataset=train,
        processing_class=processor,
        peft_config=lora_config(cfg),
    )


def save_processor(processor: Any, out: Path, base: str) -> None:
    """Processor files that both transformers (without torchvision) and vLLM load."""
    fast = getattr(processor.tokenizer, "_tokenizer", None)
    if fast is not None:  # training left truncation on; tokenizer.json would keep it
        fast.no_truncation()
        fast.no_padding()
    processor.save_pretrained(str(out))
    config = out / "processor_config.json"
    if config.exists():  # name the stock class, as the released model does
        saved = json.loads(config.read_text())
        if str(saved.get("processor_class", "")).startswith("ImageOnly"):
            saved["processor_class"] = saved["processor_class"].removeprefix("ImageOnly")
            config.write_text(json.dumps(saved, indent=2))
    tok_config = out / "tokenizer_config.json"
    if tok_config.exists():
        saved = json.loads(tok_config.read_text())
        if str(saved.get("processor_class", "")).startswith("ImageOnly"):
            saved["processor_class"] = saved["processor_class"].removeprefix("ImageOnly")
            tok_config.write_text(json.dumps(saved, indent=2))
    video = Path(base) / "video_preprocessor_config.json"
    if video.is_file() and not (out / video.name).exists():
        shutil.copy(video, out / video.name)
    if processor.chat_template:
        (out / "chat_template.json").write_text(
            json.dumps({"chat_template": processor.chat_template})
        )


def save_model(trainer: Any, processor: Any, cfg: TrainConfigBase, out: Path) -> bool:
    """Merge the adapter (or not) and write the model with its processor; True if merged."""
    model = trainer.model
    model = getattr(trainer.accelerator, "unwrap_model", lambda m: m)(model)
    merged = False
    if hasattr(model, "merge_and_unload") and cfg.merge:
        model = model.merge_and_unload()
        merged = True
    elif not hasattr(model, "merge_and_unload"):
        merged = True  # full fine-tuning: already a whole model
    model.save_pretrained(str(out))
    save_processor(processor, out, cfg.model)
    return merged


def train(cfg: TrainConfigBase, *, reward_funcs: list[Callable] | None = None) -> TrainResult:
    """Run one method end to end; writes the model (or adapter) and `gre_finetune.json`."""
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model, processor = load_model(cfg)
    if isinstance(cfg, SFTConfig):
        trainer = _sft_trainer(cfg, model, processor, out)
    elif isinstance(cfg, DPOConfig):
        trainer = _dpo_trainer(cfg, model, processor, out)
    elif isinstance(cfg, GRPOConfig):
        trainer = _grpo_trainer(cfg, model, processor, out, reward_funcs)
    else:
        raise TypeError(f"not a training config: {type(cfg).__name__}")
    output = trainer.train()
    merged = save_model(trainer, processor, cfg, out)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    result = TrainResult(
        method=cfg.method,
        output_dir=out,
        merged=merged,
        steps=trainer.state.global_step,
        train_loss=losses[-1] if losses else output.training_loss,
        runtime_s=float(output.metrics.get("train_runtime", 0.0)),
        log_history=list(trainer.state.log_history),
    )
    record = {"config": asdict(cfg), "method": cfg.method, "result": result.as_dict()}
    (out / RESULT_FILE).write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    return result
