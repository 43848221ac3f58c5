"""rapidocr_onnxruntime: text-line detection for every script, recognition of Latin and Chinese.

Its PP-OCRv4 ONNX models ship inside the wheel, so nothing is downloaded. The engine loads
lazily, once per process and thread setting (about 0.2 to 0.6 s); calls are serialised by
a lock, since the engine keeps per-call thresholds on itself.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import numpy as np
from PIL import Image

from gre_agent.core.errors import ErrorKind, ToolFailure

_lock = threading.Lock()


@cache
def rapid_engine(threads: int = 0) -> Any:
    """The process's RapidOCR; `threads` > 0 pins onnxruntime to that many threads."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        raise ToolFailure(
            ErrorKind.unavailable,
            f"ocr.read needs the Python package rapidocr_onnxruntime ({exc})",
        ) from exc
    if threads > 0:
        return RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)
    return RapidOCR()


def detect_and_read(image: Image.Image, threads: int = 0) -> list[tuple[np.ndarray, str, float]]:
    """Every text line rapidocr finds: (4x2 corner array, text, score), none filtered out."""
    bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
    engine = rapid_engine(threads)
    with _lock:
        found, _ = engine(bgr, text_score=0.0)
    return [
        (np.asarray(box, dtype=np.float32), str(text), float(score))
        for box, text, score in found or []
    ]
