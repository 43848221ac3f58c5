"""Check a photo before any work is spent on it (a clear error instead of a crash later),
and turn it into the upright 8-bit RGB picture every reader sees (model, processor, OCR)."""

from __future__ import annotations

import errno
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gre_agent.core.errors import GreError

MAX_PIXELS = 64_000_000  # larger than any camera photo; beyond it, a decompression bomb
FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"}


class ImageError(GreError):
    """A file that cannot be used as a photo: missing, not an image, corrupt, or too large."""


@dataclass(frozen=True)
class ImageInfo:
    path: Path
    format: str
    width: int
    height: int


def check_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> ImageInfo:
    """Open, verify and fully decode the image; raise ImageError with the reason."""
    p = Path(path)
    try:  # stat, not exists(): exists() reads a symlink loop or a denied folder as missing
        st = p.stat()
    except FileNotFoundError:
        raise ImageError(f"{p}: no such file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageError(f"{p}: symlink loop (too many levels of symbolic links)") from None
        raise ImageError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ImageError(f"{p}: not a file")
    if st.st_size == 0:
        raise ImageError(f"{p}: empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as img:
                fmt, (w, h) = img.format or "?", img.size
                if w * h > max_pixels:
                    raise ImageError(f"{p}: {w}x{h} pixels is over the limit of {max_pixels:,}")
                if fmt not in FORMATS:
                    raise ImageError(f"{p}: unsupported image format {fmt}")
                img.verify()
            with Image.open(p) as img:  # verify() does not decode the pixels; load() does
                img.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{p}: too many pixels (possible decompression bomb): {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageError(f"{p}: not an image file") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{p}: corrupt or truncated image ({exc})") from exc
    return ImageInfo(path=p, format=fmt, width=w, height=h)


def file_version(image: Any) -> tuple[str, int, int] | None:
    """(resolved path, mtime_ns, size) of an image given as a file path, as a cache key;
    None for other inputs and missing files (their readers report those)."""
    if not isinstance(image, str | Path) or str(image).startswith(("http://", "https://", "data:")):
        return None
    try:
        st = Path(image).stat()
    except OSError:
        return None
    return str(Path(image).resolve()), st.st_mtime_ns, st.st_size


_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}


def normalize_image(img: Image.Image) -> Image.Image:
    """The photo as it was taken, as 8-bit RGB: turned by its EXIF orientation; 16- and
    32-bit integer and float (HDR) pixels scaled to 0..255 instead of clipped; transparent
    pixels (RGBA, LA, palette with transparency) composited on white. A plain upright RGB
    image comes back as it is."""
    if img.getexif().get(0x0112, 1) != 1:
        img = ImageOps.exif_transpose(img)
    if img.mode == "RGB":
        return img
    if img.mode.startswith("I") or img.mode == "F":
        return _scaled(img).convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in _ALPHA_MODES:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")  # L, 1, P, CMYK, YCbCr, ...: Pillow's conversion is right


def _scaled(img: Image.Image) -> Image.Image:
    """An 8-bit greyscale image from 16/32-bit integer or float pixels.

    16-bit data (I;16*, or I holding 0..65535 as Pillow reads 16-bit PNGs) scales by 257;
    floats within 0..1 by 255; anything else (HDR beyond 1, signed data) by its own range."""
    a = np.asarray(img, dtype=np.float64)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if img.mode == "F" and lo >= 0 and hi <= 1:
        scale_lo, scale_hi = 0.0, 1.0
    elif img.mode != "F" and lo >= 0 and (hi <= 65535 or img.mode.startswith("I;16")):
        scale_lo, scale_hi = 0.0, 65535.0 if hi > 255 or img.mode.startswith("I;16") else 255.0
    else:
        scale_lo, scale_hi = lo, hi if hi > lo else lo + 1
    a = np.clip((a - scale_lo) / (scale_hi - scale_lo) * 255 + 0.5, 0, 255)
    return Image.fromarray(a.astype(np.uint8))
