"""A tiny random Qwen2.5-VL, built locally, for tests, demos and benchmarks.

`build_tiny_qwen25vl(directory)` writes a complete model directory with the same classes as
the real GRE model (Qwen2.5-VL-7B): `Qwen2_5_VLForConditionalGeneration` with random
weights, a byte-level BPE tokenizer trained on a few strings (with the Qwen special tokens
and a chat template), the Qwen2-VL image processor with a small pixel budget, and the
processor files. Nothing is downloaded. The model is about 680,000 parameters (2.8 MB); it
loads in a fraction of a second and generates noise, which is all tests need.

Sizes are chosen so that vLLM's CPU attention accepts the model too (head_dim 32; the
CPU kernels support head sizes 32, 64, 80, ... only) and `mrope_section` sums to
head_dim / 2, as Qwen2.5-VL's multimodal rotary embedding requires.

The chat template marks assistant turns with `{% generation %}`, so fine-tuning can mask the
loss to them (`return_assistant_tokens_mask=True`); it renders tool definitions, assistant
tool calls as `<tool_call>{json}</tool_call>` and tool results as `<tool_response>` blocks,
like Qwen2.5's own template, so vLLM's `hermes` tool parser works with it.

Reload the processor with `load_processor(directory)` (or call
`register_image_only_processor()` first, then `AutoProcessor.from_pretrained`): the stock
processor needs torchvision, which cannot load beside a CPU-only torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Qwen's special tokens, in Qwen2.5's order; the first is the end-of-text / pad token.
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
# Added but not special: they survive `skip_special_tokens` (vLLM's hermes parser needs them).
ADDED_TOKENS = ["<tool_call>", "</tool_call>", "<think>", "</think>", "<answer>", "</answer>"]

_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}"
    "{% if tools %}"
    "<|im_start|>system\n"
    "{% if messages[0]['role'] == 'system' %}"
    "{% if messages[0]['content'] is string %}{{ messages[0]['content'] }}"
    "{% else %}{% for c in messages[0]['content'] %}{{ c['text'] }}{% endfor %}{% endif %}"
    "{% else %}You are a helpful assistant.{% endif %}"
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
    "{% for tool in tools %}\n{{ tool | tojson }}{% endfor %}\n</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, '
    '"arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
    "{% elif messages[0]['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' and (loop.first and tools) %}"
    "{% elif message['role'] == 'assistant' %}"
    "<|im_start|>assistant\n"
    "{% generation %}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% elif message['content'] %}"
    "{% for c in message['content'] %}{% if 'text' in c %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{% if message.get('tool_calls') %}"
    "{% for tc in message['tool_calls'] %}"
    "{% set f = tc['function'] if tc.get('function') else tc %}"
    '\n<tool_call>\n{"name": "{{ f[\'name\'] }}", "arguments": '
    "{% if f['arguments'] is string %}{{ f['arguments'] }}"
    "{% else %}{{ f['arguments'] | tojson }}{% endif %}"
    "}\n</tool_call>"
    "{% endfor %}"
    "{% endif %}"
    "<|im_end|>"
    "{% endgeneration %}\n"
    "{% elif message['role'] == 'tool' %}"
    "<|im_start|>user\n<tool_response>\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}{{ c['text'] }}{% endfor %}{% endif %}"
    "\n</tool_response><|im_end|>\n"
    "{% else %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' or 'image' in c or 'image_url' in c %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif 'text' in c %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# transformers renders templates with trim_blocks: a newline right after a block tag would be
# eaten, so those newlines are written as expressions.
CHAT_TEMPLATE = _TEMPLATE.replace("%}\n", "%}{{ '\\n' }}")

_CORPUS = [
    "<think> 1. Street-level analysis: a narrow cobbled street with tram lines.",
    "2. Textual clues: a sign reads 'Rue de la Paix' and a shop called Boulangerie.",
    "3. Vegetation/biome: plane trees, temperate climate. 4. Terrain: flat river valley.",
    "5. Transport context: cars drive on the right; white dashed road markings. </think>",
    '<answer> "Latitude": "48.8686°", "Longitude": "2.3320°" </answer>',
    "<answer> 40.742, -73.985 </answer> [35.6762, 139.6503] 33.87 S 151.21 E",
    '{"name": "gazetteer.geocode", "arguments": {"query": "Oslo", "limit": 3}}',
    "The quick brown fox jumps over the lazy dog. Hello, world! 0123456789",
    "Where was this photo taken? Describe the scene, the details and the clues.",
]

# Sizes: text head_dim = 128 / 4 = 32; mrope_section sums to 16 = head_dim / 2.
TEXT_CONFIG: dict[str, Any] = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 16384,  # the staged conversation runs to several thousand tokens
    "max_window_layers": 2,
    "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [4, 6, 6]},
}
VISION_CONFIG: dict[str, Any] = {
    "depth": 2,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_heads": 2,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 56,
    "out_hidden_size": 128,
    "fullatt_block_indexes": [1],
}
# A 64x64 image becomes 56x56: 16 patches, 4 image tokens; the largest, 224x224: 64 tokens.
MIN_PIXELS = 28 * 28
MAX_PIXELS = 224 * 224


def build_tokenizer(vocab_target: int = 512) -> Any:
    """A byte-level BPE fast tokenizer with Qwen's special tokens and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_target - len(SPECIAL_TOKENS) - len(ADDED_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        additional_special_tokens=SPECIAL_TOKENS[1:],
        clean_up_tokenization_spaces=False,
        model_max_length=TEXT_CONFIG["max_position_embeddings"],
    )
    fast.add_tokens(ADDED_TOKENS)
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "left"
    return fast


def build_tiny_qwen25vl(directory: str | Path, *, seed: int = 0) -> Path:
    """Write a tiny random Qwen2.5-VL (model, tokenizer, processor) to `directory`."""
    import torch
    from transformers import (
        GenerationConfig,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2VLImageProcessorPil,
    )

    from gre_agent.agent.backends._processor import ImageOnlyQwen2_5_VLProcessor

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    vocab_size = len(tokenizer)
    config = Qwen2_5_VLConfig(
        text_config={
            **TEXT_CONFIG,
            "vocab_size": vocab_size,
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config=VISION_CONFIG,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    config.vocab_size = vocab_size  # read at the top level by some loaders (vLLM)
    config.bos_token_id = ids["<|endoftext|>"]
    config.eos_token_id = ids["<|im_end|>"]
    config.pad_token_id = ids["<|endoftext|>"]
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
        do_sample=False,
    )
    model.save_pretrained(directory)
    image_processor = Qwen2VLImageProcessorPil(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    processor = ImageOnlyQwen2_5_VLProcessor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE
    )
    processor.save_pretrained(directory)
    # Name the stock class, as the real model does: environments with torchvision (vLLM,
    # GPU machines) load the stock processor; `load_processor` loads the image-only one.
    processor_config = directory / "processor_config.json"
    saved = json.loads(processor_config.read_text())
    saved["processor_class"] = "Qwen2_5_VLProcessor"
    processor_config.write_text(json.dumps(saved, indent=2))
    # The stock processor also loads a video processor; give it one (same pixel budget).
    video = {
        k: v for k, v in saved["image_processor"].items() if k not in ("image_processor_type",)
    }
    video.update(
        video_processor_type="Qwen2VLVideoProcessor",
        do_sample_frames=False,
        min_frames=4,
        max_frames=768,
    )
    (directory / "video_preprocessor_config.json").write_text(json.dumps(video, indent=2))
    tokenizer.save_pretrained(directory)
    # The real models ship the template as chat_template.json too; vLLM reads either.
    (directory / "chat_template.json").write_text(json.dumps({"chat_template": CHAT_TEMPLATE}))
    return directory


def load_processor(directory: str | Path) -> Any:
    """The processor of a tiny model directory, without torchvision."""
    from gre_agent.agent.backends._processor import ImageOnlyQwen2_5_VLProcessor

    return ImageOnlyQwen2_5_VLProcessor.from_pretrained(str(directory))
