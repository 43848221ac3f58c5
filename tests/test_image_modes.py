"""Issue 16 (5, 6): photos reach the model as they were taken: upright by their EXIF
orientation, and 16-bit, CMYK, palette-with-transparency, LA/RGBA and float images with
their real tones (not clipped white, not black where transparent).

Each case checks what the model receives: the pixels of the data URL the OpenAI backend
sends (decoded again), and the image the transformers backend hands its processor
(`fit_image`), not only that nothing crashed.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gre_agent.agent.backends import fit_image, load_image, to_data_url
from gre_agent.agent.backends._openai import OpenAIBackend
from gre_agent.core.images import check_image, normalize_image
from gre_agent.core.settings import ModelSettings

BIG = 1024 * 28 * 28  # no resizing: every test image has sides in multiples of 28, >= 4 patches


def sent_pixels(path: Path) -> np.ndarray:
    """The RGB pixels of the photo as the OpenAI backend sends it (PNG: lossless)."""
    backend = OpenAIBackend(
        ModelSettings(model="m", max_pixels=BIG), base_urls=["http://x/v1"], image_format="PNG"
    )
    url = backend._data_url(str(path))
    data = base64.b64decode(url.split(",", 1)[1])
    with Image.open(io.BytesIO(data)) as img:
        assert img.mode == "RGB"
        return np.asarray(img).astype(int)


def processor_pixels(path: Path) -> np.ndarray:
    """What the transformers backend gives its processor."""
    img = fit_image(str(path), BIG)
    assert img.mode == "RGB"
    return np.asarray(img).astype(int)


def both(path: Path) -> list[np.ndarray]:
    return [sent_pixels(path), processor_pixels(path)]


def oriented_photo(path: Path, orientation: int) -> Path:
    """A 112x56 photo stored sideways: red top-left quarter once turned upright."""
    upright = Image.new("RGB", (112, 56), (0, 0, 255))
    upright.paste((255, 0, 0), (0, 0, 56, 28))
    # what a camera held sideways writes: the sensor's pixels plus the tag that turns them
    stored = {6: upright.transpose(Image.Transpose.ROTATE_90), 3: upright.rotate(180)}[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, "JPEG", quality=95, exif=exif)
    return path


@pytest.mark.parametrize("orientation", [3, 6])
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int):
    path = oriented_photo(tmp_path / f"o{orientation}.jpg", orientation)
    for px in both(path):
        assert px.shape == (56, 112, 3)  # landscape again
        top_left, bottom_right = px[5:20, 5:50].mean((0, 1)), px[35:50, 60:105].mean((0, 1))
        assert top_left[0] > 200 and top_left[2] < 60, top_left  # red where it was taken
        assert bottom_right[2] > 200 and bottom_right[0] < 60, bottom_right


def test_ocr_sees_the_same_upright_photo(tmp_path: Path):
    from gre_agent.tools.ocr._tool import load_upright

    path = oriented_photo(tmp_path / "o6.jpg", 6)
    assert np.array_equal(np.asarray(load_upright(path)), processor_pixels(path))


def gradient16(path: Path) -> Path:
    """A 16-bit greyscale PNG: a ramp from 0 to 65535 left to right."""
    ramp = np.tile(np.linspace(0, 65535, 112).astype(np.uint16), (28, 1))
    Image.fromarray(ramp).save(path)
    with Image.open(path) as img:
        assert img.mode in ("I;16", "I")  # the mode Pillow reads it as
    return path


def test_16_bit_png_keeps_its_tones(tmp_path: Path):
    path = gradient16(tmp_path / "g16.png")
    for px in both(path):
        row = px[8, :, 0]
        assert row[0] < 5 and row[-1] > 250  # black to white, not all white
        assert abs(row[56] - 56 * 255 / 111) < 4  # the middle stays mid-grey
        assert (px == 255).mean() < 0.1
        assert np.all(np.diff(row) >= 0)


def test_32_bit_integer_and_float_images_are_scaled(tmp_path: Path):
    ramp = np.tile(np.linspace(0, 65535, 64), (16, 1))  # no resizing here: no backend
    as_int = Image.fromarray(ramp.astype(np.int32))
    as_float = Image.fromarray((ramp / 65535).astype(np.float32))  # HDR-like, 0..1
    for img in (as_int, as_float):
        px = np.asarray(normalize_image(img)).astype(int)
        assert px[0, 0, 0] < 5 and px[0, -1, 0] > 250 and abs(px[0, 32, 0] - 130) < 6
    hdr = Image.fromarray((ramp / 6553.5).astype(np.float32))  # 0..10: beyond 1
    px = np.asarray(normalize_image(hdr)).astype(int)
    assert px[0, 0, 0] < 5 and px[0, -1, 0] > 250 and np.all(np.diff(px[0, :, 0]) >= 0)


def test_cmyk_colours(tmp_path: Path):
    path = tmp_path / "cmyk.jpg"
    img = Image.new("CMYK", (112, 28), (255, 0, 0, 0))  # pure cyan
    img.paste((0, 0, 0, 255), (56, 0, 112, 28))  # pure black
    img.save(path, "JPEG", quality=95)
    for px in both(path):
        cyan, black = px[14, 20], px[14, 90]
        assert cyan[0] < 40 and cyan[1] > 215 and cyan[2] > 215, cyan
        assert black.max() < 40, black


def test_transparency_is_composited_on_white(tmp_path: Path):
    rgba = Image.new("RGBA", (112, 28), (255, 0, 0, 255))
    rgba.paste((0, 0, 0, 0), (56, 0, 112, 28))  # transparent black: must show as white
    rgba.save(tmp_path / "rgba.png")
    la = Image.new("LA", (112, 28), (0, 255))
    la.paste((0, 0), (56, 0, 112, 28))
    la.save(tmp_path / "la.png")
    pal = Image.new("P", (112, 28), 1)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.paste(0, (56, 0, 112, 28))
    pal.info["transparency"] = 0  # palette index 0 (black) is transparent
    pal.save(tmp_path / "p.png", transparency=0)
    half = Image.new("RGBA", (112, 28), (0, 0, 0, 128))  # half-transparent black: mid-grey
    half.save(tmp_path / "half.png")
    for name, left in (("rgba", (255, 0, 0)), ("la", (0, 0, 0)), ("p", (255, 0, 0))):
        for px in both(tmp_path / f"{name}.png"):
            assert np.abs(px[14, 20] - left).max() < 3, (name, px[14, 20])
            assert px[14, 90].min() > 252, (name, px[14, 90])  # white, not black
    for px in both(tmp_path / "half.png"):
        assert abs(px[14, 20].mean() - 127) < 3


def test_plain_rgb_is_unchanged(tmp_path: Path):
    img = Image.effect_noise((112, 28), 50).convert("RGB")
    assert normalize_image(img) is img or np.array_equal(np.asarray(normalize_image(img)), img)
    path = tmp_path / "rgb.png"
    img.save(path)
    assert np.array_equal(sent_pixels(path), np.asarray(img).astype(int))
    url = to_data_url(load_image(str(path)), "PNG")
    assert url.startswith("data:image/png;base64,")


def test_every_mode_passes_the_check(tmp_path: Path):
    for name in ("g16.png",):
        check_image(gradient16(tmp_path / name))
