"""`exif.gps`: the GPS position, capture time and camera stored in an image's EXIF.

Reads metadata only (Pillow's `getexif`), never the pixels: an image cut off after its
metadata still answers. Errors:
- the switch `settings.exif.enabled = false` -> `unavailable`, without opening the file
  (evaluations use it: EXIF GPS would leak the answer);
- no such file -> `not_found`;
- a file Pillow cannot parse as an image (text, truncated header, broken EXIF block)
  -> `invalid_args`: the argument names something that is not a readable image.
An image without GPS tags is not an error: lat/lon come back null.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from PIL import ExifTags, Image, UnidentifiedImageError
from pydantic import BaseModel, Field

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.core.geo import is_latitude, is_longitude
from gre_agent.tools.base import Backend, Tool

_GPS = ExifTags.GPS
_BASE = ExifTags.Base


class GpsArgs(BaseModel):
    image: str = Field(min_length=1, description="Path of a local image file (JPEG, TIFF, PNG).")


class GpsResult(BaseModel):
    lat: float | None = Field(None, description="Latitude in degrees, south negative.")
    lon: float | None = Field(None, description="Longitude in degrees, west negative.")
    altitude_m: float | None = Field(None, description="Metres above sea level (below: negative).")
    datetime_original: str | None = Field(
        None, description="DateTimeOriginal as ISO 8601 (camera clock; offset if recorded)."
    )
    gps_datetime: str | None = Field(None, description="GPS date and time stamp, UTC, ISO 8601.")
    make: str | None = None
    model: str | None = None
    has_exif: bool = Field(description="The image carries any EXIF at all.")


class GpsTool(Tool):
    name: ClassVar[str] = "exif.gps"
    description: ClassVar[str] = (
        "Read the GPS coordinates, altitude, capture time and camera make/model from an "
        "image file's EXIF metadata. lat/lon are null when the image has no GPS tags."
    )
    Args: ClassVar[type[BaseModel]] = GpsArgs
    Result: ClassVar[type[BaseModel]] = GpsResult
    backends: ClassVar[tuple[Backend, ...]] = ("offline",)  # reads a local file

    def offline(self, args: GpsArgs) -> GpsResult:
        if not self.settings.exif.enabled:
            raise ToolFailure(
                ErrorKind.unavailable,
                "EXIF reading is disabled (settings.exif.enabled = false) to prevent answer "
                "leakage during evaluation",
            )
        return read_gps(Path(args.image).expanduser())


def read_gps(path: Path) -> GpsResult:
    """Parse the EXIF of `path` into a GpsResult (raises ToolFailure on bad input)."""
    if not path.exists():
        raise ToolFailure(ErrorKind.not_found, f"no such file: {path}")
    if not path.is_file():
        raise ToolFailure(ErrorKind.invalid_args, f"not a regular file: {path}")
    try:
        # Pillow warns, and skips the tag, when EXIF data is damaged; we report that as
        # an error. (catch_warnings is process-wide; recording only hides another
        # thread's warnings for the few milliseconds of parsing, it never raises there.)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with Image.open(path) as img:
                exif = img.getexif()
                gps = dict(exif.get_ifd(ExifTags.IFD.GPSInfo))
                sub = dict(exif.get_ifd(ExifTags.IFD.Exif))
                base = dict(exif)
    except UnidentifiedImageError as exc:
        raise ToolFailure(
            ErrorKind.invalid_args, f"{path} is not an image Pillow can read"
        ) from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ToolFailure(
            ErrorKind.invalid_args, f"{path} is a damaged or unreadable image: {exc}"
        ) from exc
    damage = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if damage:
        raise ToolFailure(ErrorKind.invalid_args, f"{path} has damaged EXIF: {damage[0]}")

    lat = _coordinate(gps.get(_GPS.GPSLatitude), gps.get(_GPS.GPSLatitudeRef), "S", is_latitude)
    lon = _coordinate(gps.get(_GPS.GPSLongitude), gps.get(_GPS.GPSLongitudeRef), "W", is_longitude)
    if lat is None or lon is None:  # half a position is no position
        lat = lon = None
    return GpsResult(
        lat=lat,
        lon=lon,
        altitude_m=_altitude(gps.get(_GPS.GPSAltitude), gps.get(_GPS.GPSAltitudeRef)),
        datetime_original=_exif_datetime(
            sub.get(_BASE.DateTimeOriginal), sub.get(_BASE.OffsetTimeOriginal)
        ),
        gps_datetime=_gps_datetime(gps.get(_GPS.GPSDateStamp), gps.get(_GPS.GPSTimeStamp)),
        make=_text(base.get(_BASE.Make)),
        model=_text(base.get(_BASE.Model)),
        has_exif=bool(base or gps or sub),
    )


def _number(value: Any) -> float | None:
    """A rational (IFDRational, tuple pair) or number as a finite float."""
    try:
        if isinstance(value, tuple) and len(value) == 2:  # raw (numerator, denominator)
            number = float(value[0]) / float(value[1])
        else:
            number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None  # x/0 rationals read as nan


def _coordinate(
    value: Any, ref: Any, negative_ref: str, valid: Callable[[float], bool]
) -> float | None:
    """Degrees from EXIF (degrees, minutes, seconds) and an N/S or E/W reference."""
    if value is None:
        return None
    parts = value if isinstance(value, tuple | list) else (value,)
    numbers = [_number(p) for p in parts[:3]]
    if not numbers or any(n is None or n < 0 for n in numbers):
        return None
    degrees = sum(n / 60**i for i, n in enumerate(numbers) if n is not None)
    if (_text(ref) or "").upper().startswith(negative_ref):
        degrees = -degrees
    return round(degrees, 7) if valid(degrees) else None


def _altitude(value: Any, ref: Any) -> float | None:
    metres = _number(value)
    if metres is None:
        return None
    # AltitudeRef 1 means below sea level; writers store it as a byte, bytes or an int.
    below = ref in (1, b"\x01", "\x01", "1")
    return round(-abs(metres) if below else metres, 3)


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.strip("\x00 ").strip()
    return value or None


_OFFSET = re.compile(r"^[+-]\d\d:\d\d$")


def _exif_datetime(value: Any, offset: Any) -> str | None:
    """'2021:06:01 14:30:15' (+ OffsetTimeOriginal '+02:00') -> ISO 8601."""
    text = _text(value)
    if text is None:
        return None
    try:
        stamp = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:  # '0000:00:00 00:00:00' and other placeholders
        return None
    iso = stamp.isoformat()
    offset_text = _text(offset)
    return iso + offset_text if offset_text and _OFFSET.match(offset_text) else iso


def _gps_datetime(date: Any, time: Any) -> str | None:
    """GPSDateStamp '2021:06:01' + GPSTimeStamp (h, m, s) -> ISO 8601 in UTC."""
    text = _text(date)
    if text is None:
        return None
    try:
        day = datetime.strptime(text[:10], "%Y:%m:%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    hms = [_number(p) for p in time] if isinstance(time, tuple | list) else []
    if len(hms) != 3 or None in hms:
        return day.date().isoformat()
    hours, minutes, seconds = (float(n or 0) for n in hms)
    if not (0 <= hours < 24 and 0 <= minutes < 60 and 0 <= seconds < 61):
        return day.date().isoformat()
    micro = round(seconds * 1e6)
    stamp = day.replace(hour=int(hours), minute=int(minutes)) + timedelta(microseconds=micro)
    return stamp.isoformat()
