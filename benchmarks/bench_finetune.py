"""Fine-tuning speed and memory on the CPU: the tiny random Qwen2.5-VL (the test fixture's
model, ~680,000 parameters) trained on single-shot CoT records from real graph runs.

    python benchmarks/bench_finetune.py [--steps 30] [--threads 1] [--json]

Reports, per method (SFT full, SFT LoRA, DPO LoRA, GRPO LoRA): optimizer steps per second
(the trainer's own train_runtime, model loading excluded), and the peak resident memory
of the process after each run (ru_maxrss: a high-water mark, so it only grows). The tiny
model measures the pipeline's overhead (collation, image processing, TRL bookkeeping),
not a 7B model's arithmetic.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for the trace builders of the tests (scripted model)

import torch  # noqa: E402
import transformers  # noqa: E402

from gre_agent.agent.finetune import (  # noqa: E402
    DataOptions,
    GroundTruth,
    build_dataset,
    load_config,
    save_dataset,
    train,
)
from gre_agent.agent.finetune.config import DPOConfig, GRPOConfig, SFTConfig  # noqa: E402
from gre_agent.agent.testing import build_tiny_qwen25vl  # noqa: E402
from tests.test_finetune_data import make_single_traces  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    import datasets

    datasets.disable_progress_bars()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = build_tiny_qwen25vl(root / "tiny")
        traces, gt_file = make_single_traces(root / "runs")
        gt = GroundTruth.read(gt_file)
        data = {}
        for kind in ("sft", "dpo", "grpo"):
            t0 = time.perf_counter()
            opts = DataOptions(kind=kind, val_fraction=0.0, max_error_km=None)
            ds, report = build_dataset([traces], opts, gt=gt)
            data[kind] = save_dataset(ds, root / f"ds-{kind}", report, opts)
            rows.append(
                {
                    "what": f"data {kind}",
                    "records": ds["train"].num_rows,
                    "seconds": round(time.perf_counter() - t0, 3),
                }
            )
        common = {
            "model": str(model),
            "use_cpu": True,
            "gradient_checkpointing": False,
            "gradient_accumulation_steps": 1,
            "logging_steps": 10_000,
            "save_steps": 10_000,
            "eval_split": None,
            "chat_template": "gre",
        }
        runs = [
            ("sft full", SFTConfig, "sft", {"lora": False, "per_device_train_batch_size": 2}),
            ("sft lora r16", SFTConfig, "sft", {"per_device_train_batch_size": 2}),
            ("dpo lora r16", DPOConfig, "dpo", {"per_device_train_batch_size": 2}),
            (
                "grpo lora r16 (2 x 32 tokens)",
                GRPOConfig,
                "grpo",
                {
                    "per_device_train_batch_size": 2,
                    "num_generations": 2,
                    "max_completion_length": 32,
                },
            ),
        ]
        for name, cls, kind, extra in runs:
            steps = max(2, args.steps // 5) if kind == "grpo" else args.steps
            cfg = load_config(
                cls,
                None,
                {
                    **common,
                    **extra,
                    "dataset": str(data[kind]),
                    "output_dir": str(root / name.split()[0] / name.split()[1]),
                    "max_steps": steps,
                    "trl": {"disable_tqdm": True},
                },
            )
            result = train(cfg)
            rows.append(
                {
                    "what": name,
                    "steps": result.steps,
                    "steps_per_s": round(result.steps / result.runtime_s, 2),
                    "train_runtime_s": round(result.runtime_s, 2),
                    "peak_rss_mb": round(peak_mb()),
                }
            )
    if args.json:
        print(json.dumps({"threads": args.threads, "rows": rows}))
        return
    print(f"fine-tuning on CPU, tiny Qwen2.5-VL, torch threads = {args.threads}")
    for r in rows:
        print("  " + ", ".join(f"{k}={v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
