"""`ocr.read`: the text lines of a photo, with boxes, confidence and script.

rapidocr finds the lines and reads Latin and Chinese; when `langs` names languages in
other scripts, Tesseract re-reads every line and its reading replaces rapidocr's where it
is in one of those scripts (see _tesseract). The photo is turned upright first (EXIF
orientation), and boxes are in that upright image's pixels.

Results are cached in-process per photo version (path, mtime, size) and Tesseract
languages; `min_confidence` filters the cached lines, so it needs no OCR of its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image
from pydantic import BaseModel

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.core.images import ImageError, check_image, file_version, normalize_image
from gre_agent.core.scripts import scripts_in
from gre_agent.tools.base import Backend, Tool
from gre_agent.tools.ocr import _engine, _tesseract
from gre_agent.tools.ocr._langs import KNOWN, tesseract_langs
from gre_agent.tools.ocr._models import OcrText, ReadArgs, ReadResult

CACHE_SIZE = 64

_cache: OrderedDict[tuple[object, ...], ReadResult] = OrderedDict()
_cache_lock = threading.Lock()


def load_upright(path: Path) -> Image.Image:
    """The photo as RGB, turned as its EXIF orientation says; ToolFailure if unusable."""
    try:
        check_image(path)
    except ImageError as exc:
        kind = ErrorKind.not_found if not path.exists() else ErrorKind.invalid_args
        raise ToolFailure(kind, str(exc)) from exc
    with Image.open(path) as img:
        img.load()
        upright = normalize_image(img)  # the same picture the model gets
        return upright.copy() if upright is img else upright  # `with` closes img


def script_of(text: str) -> str | None:
    found = scripts_in(text)
    if found:
        return found[0]
    return "Latin" if any(ch.isalpha() for ch in text) else None


def read_image(image: Image.Image, langs: tuple[str, ...] = (), threads: int = 0) -> ReadResult:
    """Every line of `image`, unfiltered; `langs` are Tesseract languages to read too."""
    lines = _engine.detect_and_read(image, threads)
    rereads = _tesseract.read_lines(image, [box for box, _, _ in lines], langs) if langs else []
    texts = []
    for i, (box, text, score) in enumerate(lines):
        engine = "rapidocr"
        if rereads and rereads[i][0] and scripts_in(rereads[i][0]):
            (text, score), engine = rereads[i], "tesseract"
        text = text.strip()
        if not text:
            continue
        corners = [(round(float(x)), round(float(y))) for x, y in np.asarray(box)]
        texts.append(
            OcrText(
                text=text,
                confidence=round(max(0.0, min(1.0, score)), 4),
                box=corners,
                script=script_of(text),
                engine=engine,
            )
        )
    return ReadResult(width=image.width, height=image.height, texts=texts)


def cached_read(path: Path, langs: tuple[str, ...]) -> ReadResult:
    if langs:
        _tesseract.check_langs(langs)  # a missing package fails fast, before any OCR
    version = file_version(path)
    key = (version, langs)
    if version is not None:
        with _cache_lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
    result = read_image(load_upright(path), langs)
    if version is not None:
        with _cache_lock:
            _cache[key] = result
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return result


class ReadTool(Tool):
    name: ClassVar[str] = "ocr.read"
    description: ClassVar[str] = (
        "Read the text in a photo (street signs, shop names, plates) with an OCR model: "
        "each text line with its box, confidence and script. Latin letters, digits and "
        "Chinese are always read; list other languages in `langs` (e.g. ['ru'], ['ko'], "
        "['ja'], ['el'], ['th'], ['ar']) to read their scripts. Offline."
    )
    Args: ClassVar[type[BaseModel]] = ReadArgs
    Result: ClassVar[type[BaseModel]] = ReadResult
    backends: ClassVar[tuple[Backend, ...]] = ("offline",)  # a local model on a local file

    def offline(self, args: ReadArgs) -> ReadResult:
        unknown = [code for code in args.langs or () if code not in KNOWN]
        if unknown:
            raise ToolFailure(
                ErrorKind.invalid_args,
                f"unknown language code(s) {', '.join(unknown)}; use ISO 639-1 codes such as "
                f"{', '.join(sorted(KNOWN)[:12])}, ...",
            )
        path = Path(args.image).expanduser()
        if path.exists() and not path.is_file():
            raise ToolFailure(ErrorKind.invalid_args, f"not a regular file: {path}")
        found = cached_read(path, tesseract_langs(args.langs))
        kept = [t for t in found.texts if t.confidence >= args.min_confidence]
        return found.model_copy(update={"texts": kept})
