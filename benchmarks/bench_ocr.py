"""OCR speed and memory: engine load, seconds per 1024x768 photo, peak RSS.

    python benchmarks/bench_ocr.py [--photos 8]

Target (issue 14): at most 1.5 s per 1024x768 photo on one core after load. onnxruntime
is pinned to one thread (and Tesseract to one OpenMP thread) for the measurement. The
photos are street scenes drawn here: facade blocks and a few street-name plates.
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from gre_agent.tools.ocr import _engine, _tesseract
from gre_agent.tools.ocr._tool import read_image

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
NAMES = ["Mannerheimintie", "Aleksanterinkatu 52", "Unioninkatu", "Kaivokatu 8", "Bulevardi"]
CYRILLIC = "Невский проспект"


def scene(seed: int, names: list[str]) -> Image.Image:
    rnd = random.Random(seed)
    img = Image.new("RGB", (1024, 768), (120, 130, 125))
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x, y = rnd.randrange(1024), rnd.randrange(768)
        fill = tuple(rnd.randrange(60, 200) for _ in range(3))
        draw.rectangle([x, y, x + rnd.randrange(20, 200), y + rnd.randrange(20, 150)], fill=fill)
    for i, name in enumerate(names):
        size = rnd.choice([22, 30, 40])
        font = (
            ImageFont.truetype(str(FONT), size)
            if FONT.is_file()
            else ImageFont.load_default(size=size)
        )
        left, top, right, bottom = font.getbbox(name)
        x, y = 60 + 180 * i, 120 + 220 * i
        draw.rectangle([x, y, x + right - left + 30, y + bottom - top + 20], fill=(20, 60, 150))
        draw.text((x + 15 - left, y + 10 - top), name, font=font, fill=(250, 250, 250))
    return img


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=8)
    args = parser.parse_args()

    rss_before = peak_rss_mb()
    started = time.perf_counter()
    _engine.rapid_engine(threads=1)
    print(f"{'rapidocr load (1 thread)':<46} {time.perf_counter() - started:8.2f} s")

    photos = [scene(i, random.Random(i).sample(NAMES, 3)) for i in range(args.photos)]
    read_image(photos[0], threads=1)  # warm-up: first-run allocations
    times, lines = [], 0
    for photo in photos:
        started = time.perf_counter()
        lines += len(read_image(photo, threads=1).texts)
        times.append(time.perf_counter() - started)
    print(f"{'OCR per 1024x768 photo, Latin (mean)':<46} {sum(times) / len(times):8.2f} s")
    print(f"{'OCR per 1024x768 photo, Latin (max)':<46} {max(times):8.2f} s")
    print(f"{'  lines read per photo (3 plates drawn)':<46} {lines / len(photos):8.1f}")

    try:
        _tesseract.check_langs(("rus",))
    except Exception as exc:  # no Tesseract here: report and go on
        print(f"{'OCR with langs=[ru] (Tesseract)':<46} skipped: {exc}")
    else:
        photos = [scene(i, [CYRILLIC, *random.Random(i).sample(NAMES, 2)]) for i in range(4)]
        times = []
        for photo in photos:
            started = time.perf_counter()
            read_image(photo, ("rus",), threads=1)
            times.append(time.perf_counter() - started)
        print(f"{'OCR per photo with langs=[ru] (mean)':<46} {sum(times) / len(times):8.2f} s")
    print(f"{'peak RSS (process)':<46} {peak_rss_mb():8.0f} MB")
    print(f"{'peak RSS before the engine loaded':<46} {rss_before:8.0f} MB")


if __name__ == "__main__":
    main()
