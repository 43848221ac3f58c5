"""`ocr.read` on signs rendered here, on the bundled photo, through the CLI and LangChain."""

from __future__ import annotations

import asyncio
import json
import os
import unicodedata
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from rapidfuzz import fuzz
from typer.testing import CliRunner

from gre_agent.cli.main import app
from gre_agent.core.errors import ErrorKind
from gre_agent.tools import to_langchain
from gre_agent.tools.base import ToolOutcome
from gre_agent.tools.ocr import ReadResult, ReadTool, _engine, _tesseract, _tool

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "helsinki-street.jpg"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
NOTO = Path("/usr/share/fonts/truetype/noto")
CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


@pytest.fixture(autouse=True)
def _fresh_cache():
    _tool._cache.clear()
    yield
    _tool._cache.clear()


@pytest.fixture
def tool(settings) -> ReadTool:
    return ReadTool(settings)


def norm(text: str) -> str:
    """Casefolded, without accents or spaces: OCR may drop the dots of ä."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch) and not ch.isspace())


def seen(result: ReadResult, wanted: str, at_least: float = 85) -> bool:
    return any(fuzz.ratio(norm(t.text), norm(wanted)) >= at_least for t in result.texts)


def font(size: int, path: Path = DEJAVU, index: int = 0) -> ImageFont.FreeTypeFont:
    if path.is_file():
        return ImageFont.truetype(str(path), size, index=index)
    if path != DEJAVU:
        pytest.skip(f"font {path} not installed (make ocr-apt)")
    return ImageFont.load_default(size=size)


def sign(
    text: str,
    *,
    size: int = 36,
    fnt: ImageFont.FreeTypeFont | None = None,
    colours: tuple[tuple[int, int, int], tuple[int, int, int]] = ((20, 60, 150), (250, 250, 250)),
    rotate: float = 0.0,
    canvas: tuple[int, int] = (800, 600),
) -> Image.Image:
    """A street-name plate on a facade-grey background."""
    fnt = fnt or font(size)
    left, top, right, bottom = fnt.getbbox(text)
    plate = Image.new("RGBA", (right - left + 40, bottom - top + 24), colours[0] + (255,))
    ImageDraw.Draw(plate).text((20 - left, 12 - top), text, font=fnt, fill=colours[1])
    if rotate:
        plate = plate.rotate(rotate, expand=True, resample=Image.Resampling.BICUBIC)
    img = Image.new("RGB", canvas, (128, 132, 128))
    ImageDraw.Draw(img).rectangle([40, 40, 300, 200], fill=(170, 120, 90))  # a shop front
    img.paste(plate, (200, 250), plate)
    return img


def save(img: Image.Image, tmp_path: Path, name: str = "sign.jpg", **kw: object) -> str:
    path = tmp_path / name
    img.save(path, quality=92, **kw)
    return str(path)


def read(tool: ReadTool, **args: object) -> ToolOutcome:
    return asyncio.run(tool.run(args))


def needs_tesseract(*langs: str) -> None:
    try:
        _tesseract.check_langs(langs)
    except Exception as exc:  # ToolFailure: not installed here
        pytest.skip(f"{exc} (make ocr-apt)")


# -- Latin signs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "style"),
    [
        ("Mannerheimintie", {}),
        ("Aleksanterinkatu 52", {"size": 22}),
        ("00100 Helsinki", {}),
        ("Fabianinkatu", {"rotate": 25}),
        ("Mannerheimintie", {"colours": ((140, 140, 140), (172, 172, 172))}),  # low contrast
    ],
    ids=["plate", "small-digits", "postcode", "rotated", "low-contrast"],
)
def test_reads_latin_street_signs(tool, tmp_path, text, style):
    outcome = read(tool, image=save(sign(text, **style), tmp_path))
    assert outcome.ok, outcome.error
    result = outcome.value(ReadResult)
    assert seen(result, text), [t.text for t in result.texts]
    line = next(t for t in result.texts if fuzz.ratio(norm(t.text), norm(text)) >= 85)
    assert line.script == "Latin" and line.engine == "rapidocr" and line.confidence >= 0.5
    assert len(line.box) == 4
    assert all(0 <= x <= 800 and 0 <= y <= 600 for x, y in line.box)
    if not style.get("rotate"):  # the plate is pasted at (200, 250)
        assert 190 <= line.box[0][0] <= 260 and 250 <= line.box[0][1] <= 300


def test_digits_only_have_no_script(tool, tmp_path):
    result = read(tool, image=save(sign("2024"), tmp_path)).value(ReadResult)
    assert [t.script for t in result.texts if "2024" in t.text] == [None]


def test_reads_both_street_signs_of_the_example_photo(tool):
    result = read(tool, image=str(EXAMPLE)).value(ReadResult)
    with Image.open(EXAMPLE) as photo:
        assert (result.width, result.height) == photo.size
    assert seen(result, "Aleksanterinkatu") and seen(result, "Unioninkatu")
    by_name = {norm(t.text): t for t in result.texts}
    assert by_name["aleksanterinkatu"].box[0][0] < by_name["unioninkatu"].box[0][0]


def test_exif_orientation_is_applied_before_reading(tool, tmp_path):
    upright = sign("Mannerheimintie", canvas=(800, 400))
    sideways = upright.rotate(90, expand=True)  # stored turned; EXIF 6 says turn it back
    exif = Image.Exif()
    exif[0x0112] = 6
    result = read(tool, image=save(sideways, tmp_path, exif=exif)).value(ReadResult)
    assert (result.width, result.height) == (800, 400)
    assert seen(result, "Mannerheimintie")
    line = next(t for t in result.texts if norm(t.text) == "mannerheimintie")
    (x0, y0), (x1, y1) = line.box[0], line.box[1]
    assert x1 - x0 > 100 and abs(y1 - y0) < 10  # a horizontal line in the upright frame


def test_min_confidence_filters(tool):
    everything = read(tool, image=str(EXAMPLE), min_confidence=0.0).value(ReadResult)
    confident = read(tool, image=str(EXAMPLE), min_confidence=0.99).value(ReadResult)
    assert len(confident.texts) <= len(everything.texts)
    assert all(t.confidence >= 0.99 for t in confident.texts)


# -- other scripts through Tesseract ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "script", "font_file", "index"),
    [
        ("Невский проспект", "ru", "Cyrillic", DEJAVU, 0),
        ("Οδός Ερμού", "el", "Greek", DEJAVU, 0),
        ("세종대로", "ko", "Hangul", CJK, 1),
        ("しんじゅく駅", "ja", "Kana", CJK, 0),
        ("ถนนสุขุมวิท", "th", "Thai", NOTO / "NotoSansThai-Regular.ttf", 0),
        ("شارع الملك", "ar", "Arabic", NOTO / "NotoSansArabic-Regular.ttf", 0),
    ],
    ids=["cyrillic", "greek", "hangul", "kana", "thai", "arabic"],
)
def test_reads_other_scripts_named_in_langs(tool, tmp_path, text, lang, script, font_file, index):
    from gre_agent.tools.ocr._langs import TESSERACT

    needs_tesseract(TESSERACT[lang])
    if not font_file.is_file():
        pytest.skip(f"font {font_file} not installed (make ocr-apt)")
    image = save(sign(text, fnt=font(40, font_file, index)), tmp_path)
    result = read(tool, image=image, langs=[lang, "en"]).value(ReadResult)
    assert seen(result, text, at_least=80), [t.text for t in result.texts]
    assert script in {t.script for t in result.texts}
    assert "tesseract" in {t.engine for t in result.texts}


def test_latin_lines_stay_rapidocrs_when_other_langs_are_asked(tool):
    needs_tesseract("rus")
    result = read(tool, image=str(EXAMPLE), langs=["ru"]).value(ReadResult)
    assert seen(result, "Aleksanterinkatu") and seen(result, "Unioninkatu")
    assert {t.engine for t in result.texts if t.script == "Latin"} == {"rapidocr"}


# -- the cache ----------------------------------------------------------------------------


def test_a_second_call_on_the_same_file_does_not_rerun_ocr(tool, tmp_path, monkeypatch):
    calls: list[int] = []
    real = _engine.detect_and_read

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_engine, "detect_and_read", counting)
    image = save(sign("Kaivokatu"), tmp_path)
    first = read(tool, image=image).value(ReadResult)
    again = read(tool, image=image, min_confidence=0.9).value(ReadResult)
    assert len(calls) == 1
    assert seen(first, "Kaivokatu") and seen(again, "Kaivokatu")

    sign("Bulevardi").save(image, quality=92)  # a new version of the same path
    os.utime(image, ns=(1, 1))
    assert seen(read(tool, image=image).value(ReadResult), "Bulevardi")
    assert len(calls) == 2


# -- bad input ----------------------------------------------------------------------------


def test_bad_input_gives_typed_errors(tool, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    cut = tmp_path / "cut.jpg"
    sign("Kaivokatu").save(cut, quality=92)
    cut.write_bytes(cut.read_bytes()[:2000])
    cases = {
        str(tmp_path / "missing.jpg"): (ErrorKind.not_found, "no such file"),
        str(tmp_path): (ErrorKind.invalid_args, "not a regular file"),
        str(text): (ErrorKind.invalid_args, "not an image"),
        str(cut): (ErrorKind.invalid_args, "corrupt or truncated"),
    }
    for image, (kind, words) in cases.items():
        outcome = read(tool, image=image)
        assert outcome.error is not None, image
        assert outcome.error.kind == kind and words in outcome.error.message, outcome.error
    for args in ({"image": ""}, {"image": str(EXAMPLE), "min_confidence": 2}):
        assert read(tool, **args).error.kind == ErrorKind.invalid_args
    unknown = read(tool, image=str(EXAMPLE), langs=["xx"])
    assert unknown.error.kind == ErrorKind.invalid_args and "xx" in unknown.error.message


def test_missing_tesseract_is_unavailable_naming_the_package(tool, monkeypatch):
    _tesseract.installed_langs.cache_clear()
    monkeypatch.setattr(_tesseract.shutil, "which", lambda name: None)
    try:
        outcome = read(tool, image=str(EXAMPLE), langs=["ru"])
    finally:
        _tesseract.installed_langs.cache_clear()
    assert outcome.error.kind == ErrorKind.unavailable
    assert "tesseract-ocr" in outcome.error.message
    # Latin needs no Tesseract
    assert read(tool, image=str(EXAMPLE)).ok


def test_missing_language_data_names_its_package(tool, monkeypatch):
    monkeypatch.setattr(_tesseract, "installed_langs", lambda: frozenset({"eng", "osd"}))
    outcome = read(tool, image=str(EXAMPLE), langs=["ko"])
    assert outcome.error.kind == ErrorKind.unavailable
    assert "tesseract-ocr-kor" in outcome.error.message


# -- CLI and LangChain --------------------------------------------------------------------


def test_gre_tools_call_ocr_read():
    result = CliRunner().invoke(
        app, ["tools", "call", "ocr.read", "--args", json.dumps({"image": str(EXAMPLE)})]
    )
    assert result.exit_code == 0, result.output
    names = {norm(t["text"]) for t in json.loads(result.stdout)["texts"]}
    assert {"aleksanterinkatu", "unioninkatu"} <= names


def test_langchain_adapter_runs_ocr_read(tool):
    lc = to_langchain(tool)
    assert lc.name == "ocr__read"
    assert lc.args_schema.model_json_schema() == tool.Args.model_json_schema()
    out = asyncio.run(lc.ainvoke({"image": str(EXAMPLE)}))
    assert {norm(t["text"]) for t in out["result"]["texts"]} >= {"unioninkatu"}
    missing = asyncio.run(lc.ainvoke({"image": "/no/such/photo.jpg"}))
    assert missing["error"]["kind"] == "not_found"
