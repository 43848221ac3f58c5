"""Check a photo before any work is spent on it: a clear error instead of a crash later."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

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
    if not p.exists():
        raise ImageError(f"{p}: no such file")
    if not p.is_file():
        raise ImageError(f"{p}: not a file")
    if p.stat().st_size == 0:
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
