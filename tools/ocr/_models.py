"""Arguments and result of `ocr.read`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Point = tuple[int, int]


class ReadArgs(BaseModel):
    image: str = Field(min_length=1, description="Path of a local image file (JPEG, PNG, ...).")
    min_confidence: float = Field(
        0.5, ge=0.0, le=1.0, description="Drop texts read with a lower confidence (0 to 1)."
    )
    langs: list[str] | None = Field(
        None,
        description="ISO 639-1 codes of the languages expected on the signs ('fi', 'ru', "
        "'ko'). Latin-script languages and Chinese need none; others (Cyrillic, Greek, "
        "Korean, Japanese, Thai, Arabic, ...) are read only when listed.",
    )


class OcrText(BaseModel):
    text: str
    confidence: float = Field(ge=0.0, le=1.0)
    box: list[Point] = Field(
        description="The text line's 4 corners (top-left, top-right, bottom-right, "
        "bottom-left) as (x, y) pixels of the upright image."
    )
    script: str | None = Field(
        None,
        description="Writing system of its letters: 'Latin', or a distinctive script "
        "('Cyrillic', 'Hangul', 'Han', ...); null for digits and symbols only.",
    )
    engine: Literal["rapidocr", "tesseract"]


class ReadResult(BaseModel):
    width: int = Field(description="Width of the upright image (EXIF orientation applied).")
    height: int
    texts: list[OcrText] = Field(
        default_factory=list, description="Text lines, top to bottom, then left to right."
    )
