"""The tiny random Qwen2.5-VL fixture and what only the transformers backend does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from gre_agent.agent.backends import Message, TransformersBackend, pick_device_and_dtype
from gre_agent.agent.testing import load_processor
from gre_agent.core.settings import ModelSettings


@pytest.fixture(scope="module")
def tiny(tiny_qwen_dir: Path) -> TransformersBackend:
    backend = TransformersBackend(
        ModelSettings(model=str(tiny_qwen_dir), device="cpu", dtype="float32", max_pixels=3136)
    )
    backend.load()
    return backend


def test_fixture_is_a_real_qwen25vl_directory(tiny_qwen_dir: Path):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(tiny_qwen_dir)
    assert config.model_type == "qwen2_5_vl"
    assert config.architectures == ["Qwen2_5_VLForConditionalGeneration"]
    text = config.text_config
    head_dim = text.hidden_size // text.num_attention_heads
    assert head_dim >= 32  # vLLM's CPU attention kernels
    assert sum(text.rope_parameters["mrope_section"]) == head_dim // 2
    saved = json.loads((tiny_qwen_dir / "processor_config.json").read_text())
    assert saved["processor_class"] == "Qwen2_5_VLProcessor"
    assert (tiny_qwen_dir / "video_preprocessor_config.json").exists()
    size = sum(p.stat().st_size for p in tiny_qwen_dir.iterdir())
    assert size < 5_000_000


def test_chat_template_marks_assistant_turns_for_loss_masking(tiny_qwen_dir: Path):
    proc = load_processor(tiny_qwen_dir)
    conv = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Where?"}]},
        {"role": "assistant", "content": "<answer> 40.742, -73.985 </answer>"},
    ]
    text_only = [{"role": "user", "content": "Where?"}, conv[1]]
    out = proc.apply_chat_template(
        text_only, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = out["input_ids"][0], out["assistant_masks"][0]
    masked = proc.tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m])
    assert masked == "<answer> 40.742, -73.985 </answer><|im_end|>"
    text = proc.apply_chat_template(conv, tokenize=False)
    assert "<|vision_start|><|image_pad|><|vision_end|>Where?" in text


def test_processor_turns_an_image_into_qwen_tokens(tiny_qwen_dir: Path):
    proc = load_processor(tiny_qwen_dir)
    text = proc.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "x"}]}],
        tokenize=False,
        add_generation_prompt=True,
    )
    batch = proc(text=[text], images=[Image.new("RGB", (64, 64))], return_tensors="pt")
    assert batch["image_grid_thw"].tolist() == [[1, 4, 4]]  # 56x56: 16 patches
    assert (batch["input_ids"] == proc.image_token_id).sum().item() == 4  # 2x2 merged


async def test_tools_reach_the_chat_template(tiny: TransformersBackend):
    tools = [{"name": "geocode", "description": "Find a place.", "parameters": {}}]
    plain = await tiny.complete("Find Oslo", max_tokens=2, temperature=0)
    with_tools = await tiny.complete("Find Oslo", tools=tools, max_tokens=2, temperature=0)
    assert with_tools.usage.prompt_tokens > plain.usage.prompt_tokens + 20


async def test_tool_results_render(tiny: TransformersBackend):
    from gre_agent.agent.backends import ToolCall

    call = ToolCall(id="c1", name="geocode", arguments={"query": "Oslo"})
    conv = [
        Message.user("Find Oslo"),
        Message.assistant("", [call]),
        Message.tool("c1", '{"lat": 59.9}'),
    ]
    c = await tiny.complete(conv, max_tokens=2, temperature=0)
    assert c.usage.prompt_tokens > 30


async def test_sampling_with_a_seed_is_reproducible(tiny: TransformersBackend):
    a = await tiny.complete("Where?", max_tokens=6, temperature=1.0, seed=7)
    b = await tiny.complete("Where?", max_tokens=6, temperature=1.0, seed=7)
    assert a.text == b.text


async def test_extra_generate_arguments(tiny: TransformersBackend):
    c = await tiny.complete("Where?", max_tokens=5, temperature=0, extra_body={"min_new_tokens": 5})
    assert c.usage.completion_tokens == 5 and c.finish_reason == "length"


def test_device_and_dtype_choice():
    import torch

    device, dtype = pick_device_and_dtype("auto", "auto")
    if torch.cuda.is_available():
        assert device == "cuda" and dtype in (torch.bfloat16, torch.float16)
    else:
        assert (device, dtype) == ("cpu", torch.float32)
    assert pick_device_and_dtype("cpu", "bfloat16") == ("cpu", torch.bfloat16)


def test_missing_model_is_unavailable(tmp_path: Path):
    from gre_agent.agent.backends import ModelError

    backend = TransformersBackend(ModelSettings(model=str(tmp_path / "nothing"), device="cpu"))
    with pytest.raises(ModelError) as err:
        backend.load()
    assert err.value.kind == "unavailable"


async def test_on_text_streams_the_generated_text(tiny: TransformersBackend):
    pieces: list[str] = []
    conv = [Message.user("Where?", Image.new("RGB", (56, 56), (90, 140, 60)))]
    plain = await tiny.complete(conv, max_tokens=6, temperature=0)
    streamed = await tiny.complete(conv, max_tokens=6, temperature=0, on_text=pieces.append)
    assert streamed.text == plain.text and streamed.usage == plain.usage
    assert "".join(pieces).strip() == plain.text.strip()
