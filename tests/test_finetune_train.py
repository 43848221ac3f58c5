"""Training on the tiny random Qwen2.5-VL: an SFT overfit check, DPO and GRPO steps, the
reward functions, and train -> merge -> load -> run the GRE graph with offline tools."""

from __future__ import annotations

import asyncio
import doctest
import json
import math

import pytest
import torch
from typer.testing import CliRunner

from gre_agent.agent.backends import Message, TransformersBackend
from gre_agent.agent.finetune import (
    DataOptions,
    GroundTruth,
    build_dataset,
    load_config,
    rewards,
    save_dataset,
    train,
)
from gre_agent.agent.finetune.config import DPOConfig, GRPOConfig, SFTConfig
from gre_agent.agent.finetune.records import single_prompt
from gre_agent.cli.main import app
from gre_agent.core.settings import ModelSettings, Settings
from gre_agent.core.trace import read_trace
from gre_agent.graphs.gre import Context, locate
from gre_agent.tools import Registry
from tests.test_finetune_data import make_agent_trace, make_single_traces

torch.set_num_threads(1)

FAST = {
    "use_cpu": True,
    "gradient_checkpointing": False,
    "gradient_accumulation_steps": 1,
    "warmup_ratio": 0.0,
    "lr_scheduler_type": "constant",
    "logging_steps": 1,
    "save_steps": 10_000,
    "eval_split": None,
    "chat_template": "gre",
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ft-train")
    traces, gt = make_single_traces(root)
    return root, traces, GroundTruth.read(gt)


def dataset(root, traces, gt, kind, name, **opts):
    ds, report = build_dataset([traces], DataOptions(kind=kind, val_fraction=0.0, **opts), gt=gt)
    return save_dataset(ds, root / name, report, DataOptions(kind=kind))


def backend(model_dir, max_tokens=120):
    return TransformersBackend(
        ModelSettings(
            backend="transformers",
            model=str(model_dir),
            max_tokens=max_tokens,
            device="cpu",
            dtype="float32",
            temperature=0.0,
        )
    )


def answer(model_dir, image) -> str:
    return asyncio.run(backend(model_dir).complete([Message.user(single_prompt(), image)])).text


def test_sft_overfits_one_trajectory_and_then_reproduces_its_answer(runs, tiny_qwen_dir):
    root, traces, gt = runs
    data = dataset(root, traces / "img0-0.jsonl", gt, "sft", "sft-one")
    from datasets import load_from_disk

    target = load_from_disk(str(data))["train"][0]["conversations"][1]["value"]
    image = root / "images" / "img0.png"
    assert answer(tiny_qwen_dir, image) != target  # the random model does not know it
    cfg = load_config(
        SFTConfig,
        None,
        {
            **FAST,
            "model": str(tiny_qwen_dir),
            "dataset": str(data),
            "output_dir": str(root / "sft-full"),
            "lora": False,
            "learning_rate": 5e-3,
            "max_steps": 80,
        },
    )
    result = train(cfg)
    losses = [h["loss"] for h in result.log_history if "loss" in h]
    assert result.steps == 80 and result.merged
    assert losses[-1] < losses[0] / 4, losses
    assert answer(result.output_dir, image).strip() == target.strip()


def test_dpo_runs_a_few_steps(runs, tiny_qwen_dir):
    root, traces, gt = runs
    data = dataset(root, traces, gt, "dpo", "dpo")
    cfg = load_config(
        DPOConfig,
        None,
        {
            **FAST,
            "model": str(tiny_qwen_dir),
            "dataset": str(data),
            "output_dir": str(root / "dpo"),
            "max_steps": 3,
            "per_device_train_batch_size": 2,
            "lora_r": 4,
            "merge": False,
        },
    )
    result = train(cfg)
    logged = [h for h in result.log_history if "loss" in h]
    assert result.steps == 3 and len(logged) == 3
    assert all(math.isfinite(h["loss"]) for h in logged)
    assert "rewards/margins" in logged[0]
    assert (result.output_dir / "adapter_config.json").exists() and not result.merged


def test_grpo_runs_a_few_steps_with_gre_rewards(runs, tiny_qwen_dir):
    root, traces, gt = runs
    data = dataset(root, traces, gt, "grpo", "grpo")
    cfg = load_config(
        GRPOConfig,
        None,
        {
            **FAST,
            "model": str(tiny_qwen_dir),
            "dataset": str(data),
            "output_dir": str(root / "grpo"),
            "max_steps": 2,
            "per_device_train_batch_size": 2,
            "num_generations": 2,
            "max_completion_length": 8,
            "lora_r": 4,
        },
    )
    seen: list[tuple[float, float]] = []

    def spy(completions, gt_lat, gt_lon, **_):  # the hook for a reward of one's own
        seen.extend(zip(gt_lat, gt_lon, strict=True))
        return [0.0] * len(completions)

    result = train(cfg, reward_funcs=[spy])
    assert result.steps == 2
    keys = {k for h in result.log_history for k in h}
    assert "rewards/coordinate_reward_tau500/mean" in keys and "rewards/format_reward/mean" in keys
    assert seen and set(seen) <= {(g[0], g[1]) for g in [*map(tuple, _gt_points())]}


def _gt_points():
    from tests.test_finetune_data import PLACES

    return PLACES


def test_reward_functions_against_hand_computed_values():
    assert doctest.testmod(rewards).failed == 0
    # 100 km due north of the equator point is about 0.9043 degrees of latitude (WGS-84)
    got = rewards.coordinate_reward(
        [
            "<answer> 0.9043, 0 </answer>",
            [{"role": "assistant", "content": "<answer> 0, 0 </answer>"}],
        ],
        [0.0, 0.0],
        [0.0, 0.0],
        tau_km=100.0,
    )
    assert got[0] == pytest.approx(2 / (1 + math.e), abs=1e-3) and got[1] == 1.0
    assert rewards.format_reward(
        ["<answer> 1, 2 </answer>", "<think>a</think><answer>1, 2</answer>"]
    ) == [
        0.0,
        1.0,
    ]
    with pytest.raises(ValueError):
        rewards.judge_reward(["x"])
    with pytest.raises(ValueError):
        rewards.make_coordinate_reward(0)


def test_judge_reward_asks_an_openai_compatible_judge(httpserver):
    from werkzeug.wrappers import Response

    def chat(request):
        body = json.loads(request.data)
        prompt = body["messages"][0]["content"]
        if "Atlantis" in prompt:
            return Response("overloaded", status=503)
        said = "Yes." if "Helsinki" in prompt and "60.0" in prompt else "No"
        reply = {"choices": [{"message": {"role": "assistant", "content": said}}]}
        return Response(json.dumps(reply), content_type="application/json")

    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(chat)
    judge = rewards.openai_judge(httpserver.url_for("/v1"), "judge")
    try:
        reward = rewards.make_judge_reward(judge)
        got = reward(
            ["<think>Helsinki</think>", "<think>Oslo</think>", "<think>Atlantis</think>"],
            gt_lat=[60.0, 60.0, 60.0],
            gt_lon=[25.0, 25.0, 25.0],
        )
    finally:
        judge.close()
    assert got == [1.0, 0.0, 0.0]  # an unreachable judge costs the reward, not the run


def test_train_merge_load_and_run_the_graph(tmp_path, tiny_qwen_dir, helsinki_osm_db):
    trace = make_agent_trace(tmp_path, helsinki_osm_db)
    ds, report = build_dataset(
        [trace],
        DataOptions(kind="agent", val_fraction=0.0),
        gt=GroundTruth.read(tmp_path / "agent-gt.csv"),
    )
    data = save_dataset(ds, tmp_path / "agent-ds", report, DataOptions(kind="agent"))
    config = tmp_path / "sft.yaml"
    config.write_text(
        json.dumps({**FAST, "method": "sft", "model": str(tiny_qwen_dir), "dataset": str(data)})
    )
    out = tmp_path / "merged"
    res = CliRunner().invoke(
        app,
        [
            "finetune",
            "sft",
            str(config),
            f"--output_dir={out}",
            "--max_steps=3",
            "--lora_r=4",
            "--max_length=null",  # the tiny tokenizer spends many tokens on the tool schemas
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["merged"] and summary["steps"] == 3
    assert (out / "model.safetensors").exists() and not (out / "adapter_config.json").exists()
    saved = json.loads((out / "processor_config.json").read_text())
    assert saved["processor_class"] == "Qwen2_5_VLProcessor"  # what vLLM (`gre serve`) loads
    settings = Settings(
        home=tmp_path / "home", offline=True, osm={"data_path": str(helsinki_osm_db)}
    )
    result = asyncio.run(
        locate(
            tmp_path / "street.png",
            Context(
                backend_obj=backend(out, max_tokens=16),
                registry=Registry(settings, include_plugins=False),
                max_rounds=1,
            ),
            trace_dir=tmp_path / "after",
        )
    )
    assert result.error is None, result.error
    _head, events = read_trace(result.trace_path)
    calls = [e for e in events if e["type"] == "model_call"]
    assert calls and all(e["completion"]["backend"] == "transformers" for e in calls)
    assert calls[0]["completion"]["model"] == str(out)
    assert events[-1]["type"] == "prediction"
    # bad settings are clear errors, exit 2
    res = CliRunner().invoke(app, ["finetune", "sft", str(config), "--learning_rte=1"])
    assert res.exit_code == 2 and "unknown sft setting" in res.output
