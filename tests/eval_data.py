"""Synthetic evaluation data for the runner and report tests (and the runner benchmark).

Image i is one flat colour that encodes i (it survives resizing and JPEG re-encoding),
so a model, scripted or behind a fake OpenAI server, can give each image its own answer
without knowing file names: `ColourServer` decodes the colour and answers from a table.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pyproj import Geod

from tests.fake_openai import FakeOpenAIServer

SIDE = 32  # colours per channel step: 32 * 32 images at most


def colour(i: int) -> tuple[int, int, int]:
    return (8 * (i % SIDE) + 4, 8 * (i // SIDE) + 4, 128)


def index_of(rgb: tuple[float, float, float]) -> int:
    return round((rgb[0] - 4) / 8) + SIDE * round((rgb[1] - 4) / 8)


def answer_text(lat: float, lon: float) -> str:
    return (
        "<think> 1. Street-level analysis: synthetic. </think> "
        f'<answer> "Latitude": "{lat:.6f}", "Longitude": "{lon:.6f}" </answer>'
    )


def make_dataset(folder: Path, n: int, seed: int = 0, unanswered: tuple[int, ...] = ()) -> dict:
    """CSV (`id,image_path,lat,lon,scene`) + PNGs; answers at errors from 0.1 to 10,000 km.

    Returns {"csv", "images", "answers": {index: (lat, lon) or None}, "gt": {id: (lat, lon)}}.
    Indices in `unanswered` get no coordinates from the model (a failure row)."""
    if n > SIDE * SIDE:
        raise ValueError(f"at most {SIDE * SIDE} images")
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    images = folder / "images"
    images.mkdir(exist_ok=True)
    gt_lat = np.degrees(np.arcsin(rng.uniform(-0.9, 0.9, n)))
    gt_lon = rng.uniform(-179, 179, n)
    err_m = 10 ** rng.uniform(-1, 4, n) * 1000.0
    lon, lat, _ = Geod(ellps="WGS84").fwd(gt_lon, gt_lat, rng.uniform(0, 360, n), err_m)
    answers: dict[int, Any] = {}
    gt: dict[str, tuple[float, float]] = {}
    path = folder / "bench.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "image_path", "lat", "lon", "scene"])
        for i in range(n):
            name = f"img{i:04d}.png"
            Image.new("RGB", (56, 56), colour(i)).save(images / name)
            sid = f"s{i:04d}"
            w.writerow(
                [
                    sid,
                    name,
                    repr(float(gt_lat[i])),
                    repr(float(gt_lon[i])),
                    "urban" if i % 2 else "natural",
                ]
            )
            gt[sid] = (float(gt_lat[i]), float(gt_lon[i]))
            answers[i] = None if i in unanswered else (float(lat[i]), float(lon[i]))
    return {"csv": path, "images": images, "answers": answers, "gt": gt}


def image_index(image: Any) -> int:
    """Index of a synthetic image (a path, bytes or PIL image)."""
    if isinstance(image, bytes):
        image = Image.open(io.BytesIO(image))
    elif not isinstance(image, Image.Image):
        image = Image.open(image)
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64).reshape(-1, 3).mean(axis=0)
    return index_of(tuple(rgb))


def scripted_answer(answers: dict[int, Any]):
    """A ScriptedBackend answer for the single-shot prompt, per image."""

    def answer(messages) -> str:
        image = next(img for m in messages for img in m.images)
        image = getattr(image, "image", image)  # an ImagePart or its content
        point = answers.get(image_index(image))
        return "I cannot tell." if point is None else answer_text(*point)

    return answer


class ColourServer(FakeOpenAIServer):
    """An OpenAI-compatible server that answers GRE's prompt for the synthetic images,
    after `delay_s` (0: at once)."""

    def __init__(self, answers: dict[int, Any], delay_s: float = 0.0):
        super().__init__(default="ok", delay_s=delay_s, name="colour-model")
        # http.server listens with a backlog of 5: dozens of clients connecting at once
        # would wait for SYN retries (1 s and more), which is the server's limit, not ours
        self._httpd.socket.listen(1024)
        self.answers = answers
        self.keep_requests = False

    def answer(self, body: dict[str, Any], mode: str) -> tuple[int, bytes]:
        if mode != "ok":
            return super().answer(body, mode)
        if self.delay_s:
            time.sleep(self.delay_s)
        return 200, json.dumps(colour_completion(body, self.answers, self.name)).encode()


def colour_completion(body: dict[str, Any], answers: dict[int, Any], model: str) -> dict:
    """The chat completion a ColourServer gives for a request body."""
    index = None
    for m in body.get("messages", []):
        if isinstance(m.get("content"), list):
            for part in m["content"]:
                if part.get("type") == "image_url":
                    data = base64.b64decode(part["image_url"]["url"].split(",", 1)[1])
                    index = image_index(data)
    point = answers.get(index) if index is not None else None
    text = "I cannot tell." if point is None else answer_text(*point)
    message = {"role": "assistant", "content": text}
    return {
        "id": "chatcmpl-colour",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split()), "total_tokens": 0},
    }
