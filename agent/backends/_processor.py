"""A Qwen2.5-VL processor that needs no torchvision (images only, no video).

The stock `Qwen2_5_VLProcessor` builds a video processor, which in transformers 5 needs
torchvision; PyPI's torchvision is a CUDA build that cannot load beside a CPU-only torch.
This subclass passes `video_processor=None`. GPU users with torchvision installed get the
stock processor; the transformers backend falls back to this one when the stock one fails.
"""

from __future__ import annotations

from typing import Any

from transformers import AutoProcessor, Qwen2_5_VLConfig, Qwen2_5_VLProcessor


class ImageOnlyQwen2_5_VLProcessor(Qwen2_5_VLProcessor):
    """`Qwen2_5_VLProcessor` without a video processor."""

    # transformers derives a processor's parts from its __init__ signature: leaving
    # `video_processor` out of it is what keeps the video processor (and torchvision) away.
    def __init__(
        self,
        image_processor: Any = None,
        tokenizer: Any = None,
        chat_template: str | None = None,
        **kwargs: Any,
    ):
        kwargs.pop("video_processor", None)
        super().__init__(
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=None,
            chat_template=chat_template,
            **kwargs,
        )

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, **kwargs: Any):  # type: ignore[override]
        from transformers import AutoImageProcessor, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(pretrained_model_name_or_path, **kwargs)
        try:  # transformers 5: pick the PIL implementation (the other one needs torchvision)
            image_processor = AutoImageProcessor.from_pretrained(
                pretrained_model_name_or_path, backend="pil", **kwargs
            )
        except TypeError:  # transformers 4: no backends
            image_processor = AutoImageProcessor.from_pretrained(
                pretrained_model_name_or_path, **kwargs
            )
        return cls(
            image_processor=image_processor,
            tokenizer=tokenizer,
            chat_template=getattr(tokenizer, "chat_template", None),
        )


def register_image_only_processor() -> None:
    """Let `AutoProcessor` build the image-only processor for Qwen2.5-VL configs."""
    try:
        AutoProcessor.register(Qwen2_5_VLConfig, ImageOnlyQwen2_5_VLProcessor, exist_ok=True)
    except TypeError:  # older transformers without exist_ok
        AutoProcessor.register(Qwen2_5_VLConfig, ImageOnlyQwen2_5_VLProcessor)
