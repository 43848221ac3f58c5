"""Image loading, Qwen-style resizing to a pixel budget, and base64 data URLs."""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import Any

from PIL import Image

from gre_agent.core.errors import ErrorKind
from gre_agent.core.images import normalize_image

from ._errors import ModelError

FACTOR = 28  # Qwen2.5-VL: 14-pixel patches merged 2x2
MIN_PIXELS = 4 * FACTOR * FACTOR


def load_image(image: Any) -> Image.Image:
    """A PIL RGB image from a path, encoded bytes, a data URL or a PIL image, as it was
    taken (`core.images.normalize_image`: upright, tones scaled, transparency on white)."""
    try:
        if isinstance(image, Image.Image):
            img = image
        elif isinstance(image, bytes | bytearray):
            img = Image.open(io.BytesIO(image))
        elif isinstance(image, str) and image.startswith("data:"):
            img = Image.open(io.BytesIO(base64.b64decode(image.split(",", 1)[1])))
        elif isinstance(image, str | Path):
            img = Image.open(Path(image))
        else:
            raise TypeError(f"not an image: {type(image).__name__}")
        img.load()
    except (OSError, TypeError, ValueError) as exc:
        raise ModelError(ErrorKind.invalid_args, f"cannot read image: {exc}") from exc
    return normalize_image(img)


def smart_size(
    height: int, width: int, max_pixels: int, min_pixels: int = MIN_PIXELS, factor: int = FACTOR
) -> tuple[int, int]:
    """(height, width): multiples of `factor`, aspect ratio kept, pixels within the budget.

    The same rule as Qwen2-VL's processor (`smart_resize`), so the server does not resize again.

    >>> smart_size(480, 640, max_pixels=1024 * 28 * 28)
    (476, 644)
    >>> smart_size(3000, 4000, max_pixels=256 * 28 * 28)
    (392, 532)
    """
    max_pixels = max(max_pixels, factor * factor)
    min_pixels = min(min_pixels, max_pixels)
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


def fit_image(image: Any, max_pixels: int) -> Image.Image:
    """Load and resize an image to Qwen-friendly dimensions within `max_pixels`."""
    img = load_image(image)
    h, w = smart_size(img.height, img.width, max_pixels)
    if (h, w) != (img.height, img.width):
        img = img.resize((w, h), Image.Resampling.BICUBIC)
    return img


def to_data_url(img: Image.Image, fmt: str = "JPEG", quality: int = 90) -> str:
    buf = io.BytesIO()
    if fmt.upper() == "JPEG":
        img.save(buf, format="JPEG", quality=quality)
        mime = "image/jpeg"
    else:
        img.save(buf, format="PNG")
        mime = "image/png"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode()}"
