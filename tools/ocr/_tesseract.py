"""Tesseract for the scripts rapidocr cannot read, on the text lines rapidocr found.

Tesseract is made for documents: on a whole street photo it reads almost nothing, but on
one upright, dark-on-light line crop (`--psm 7`) it reads Cyrillic, Greek, Hangul, kana,
Thai or Arabic well. All crops of a photo go to one `tesseract` process (a list file).
Needs Debian's `tesseract-ocr` and one `tesseract-ocr-<lang>` package per language.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import tempfile
from collections import defaultdict
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from gre_agent.core.errors import ErrorKind, ToolFailure

TIMEOUT_S = 120.0
MIN_CROP_HEIGHT = 40  # Tesseract reads small letters better scaled up
SPACE_GAP = 0.3  # a gap wider than this share of the line height is a word space


@cache
def installed_langs() -> frozenset[str]:
    exe = shutil.which("tesseract")
    if exe is None:
        raise ToolFailure(
            ErrorKind.unavailable,
            "reading these languages needs Tesseract: install the Debian package tesseract-ocr",
        )
    out = subprocess.run(
        [exe, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
    )
    return frozenset(line.strip() for line in out.stdout.splitlines()[1:] if line.strip())


def check_langs(langs: tuple[str, ...]) -> None:
    """Raise `unavailable` naming the Debian packages of the missing language data."""
    missing = [lang for lang in langs if lang not in installed_langs()]
    if missing:
        packages = " ".join(f"tesseract-ocr-{lang.replace('_', '-')}" for lang in missing)
        raise ToolFailure(
            ErrorKind.unavailable, f"no Tesseract data for {', '.join(missing)}: install {packages}"
        )


def line_crop(rgb: np.ndarray, box: np.ndarray) -> Image.Image:
    """The line under `box`, warped upright, grey, dark letters on light, padded."""
    import cv2

    width = int(max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3])))
    height = int(max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2])))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    warp = cv2.getPerspectiveTransform(box.astype(np.float32), target)
    crop = cv2.warpPerspective(rgb, warp, (max(width, 1), max(height, 1)))
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    if height >= 1.5 * width:  # a vertical line: turn it as rapidocr does
        grey = np.rot90(grey)
    if grey.mean() < 128:  # light letters on a dark plate
        grey = 255 - grey
    if grey.shape[0] < MIN_CROP_HEIGHT:
        scale = MIN_CROP_HEIGHT / grey.shape[0]
        size = (round(grey.shape[1] * scale), MIN_CROP_HEIGHT)
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_CUBIC)
    pad = grey.shape[0] // 4 + 4
    grey = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return Image.fromarray(grey)


def read_lines(
    image: Image.Image, boxes: list[np.ndarray], langs: tuple[str, ...]
) -> list[tuple[str, float]]:
    """(text, confidence 0..1) of each box, read by Tesseract with `langs` (plus English)."""
    check_langs(langs)
    if not boxes:
        return []
    rgb = np.asarray(image.convert("RGB"))
    # English too, so Latin lines come out Latin and are left to rapidocr's reading
    wanted = "+".join((*langs, "eng") if "eng" in installed_langs() else langs)
    with tempfile.TemporaryDirectory(prefix="gre-ocr-") as tmp:
        listing = Path(tmp) / "crops.txt"
        paths = []
        for i, box in enumerate(boxes):
            path = Path(tmp) / f"{i:04d}.png"
            line_crop(rgb, box).save(path)
            paths.append(str(path))
        listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
        try:
            done = subprocess.run(
                ["tesseract", str(listing), "-", "-l", wanted, "--psm", "7", "tsv"],
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
                env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin:/usr/local/bin"},
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ToolFailure(ErrorKind.timeout, f"tesseract took over {TIMEOUT_S:.0f} s") from exc
    if done.returncode != 0:
        raise ToolFailure(ErrorKind.bad_response, f"tesseract failed: {done.stderr.strip()[-300:]}")
    return _lines_from_tsv(done.stdout, len(boxes))


def _lines_from_tsv(tsv: str, count: int) -> list[tuple[str, float]]:
    # level page block par line word left top width height conf text
    words: dict[int, list[tuple[int, int, int, float, str]]] = defaultdict(list)
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) != 12 or cols[0] != "5" or not cols[11].strip():
            continue
        left, width, height = int(cols[6]), int(cols[8]), int(cols[9])
        words[int(cols[1])].append((left, width, height, float(cols[10]), cols[11].strip()))
    lines = []
    for page in range(1, count + 1):
        parts = words.get(page, [])  # in Tesseract's reading order (right to left in Arabic)
        if not parts:
            lines.append(("", 0.0))
            continue
        line_height = max(h for _, _, h, _, _ in parts)
        text = parts[0][4]
        for (left0, width0, *_), (left, width, _, _, word) in itertools.pairwise(parts):
            # Tesseract splits CJK, Hangul and Thai into one "word" per letter: join those
            gap = max(left0, left) - min(left0 + width0, left + width)
            text += (" " if gap > SPACE_GAP * line_height else "") + word
        confidence = sum(c for *_, c, _ in parts) / len(parts) / 100
        lines.append((text, max(0.0, min(1.0, confidence))))
    return lines
