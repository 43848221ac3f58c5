"""exif.gps on JPEGs written here with Pillow (GPS IFD, Exif IFD, Make/Model)."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational
from typer.testing import CliRunner

from gre_agent.core.settings import Settings
from gre_agent.tools import registry
from gre_agent.tools.exif import GpsTool

GPS = ExifTags.GPS


def write_jpeg(path: Path, gps: dict[int, object] | None = None, **base: object) -> Path:
    """A small noisy JPEG (so the scan data is long) with the given EXIF."""
    rng = random.Random(7)
    img = Image.frombytes("RGB", (48, 48), bytes(rng.randrange(256) for _ in range(48 * 48 * 3)))
    exif = Image.Exif()
    for key in ("Make", "Model"):
        if key in base:
            exif[ExifTags.Base[key]] = base[key]
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    if "taken" in base:
        sub[ExifTags.Base.DateTimeOriginal] = base["taken"]
    if "offset" in base:
        sub[ExifTags.Base.OffsetTimeOriginal] = base["offset"]
    if gps:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(gps)
    img.save(path, "JPEG", exif=exif if (gps or base) else b"")
    return path


def dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return IFDRational(degrees), IFDRational(minutes), IFDRational(round(seconds * 10000), 10000)


async def call(settings: Settings, image: Path | str):
    return await GpsTool(settings).run({"image": str(image)})


async def test_southern_western_position_below_sea_level(settings: Settings, tmp_path: Path):
    # Santiago de Chile's coordinates with a Dead-Sea-like altitude, to exercise every sign.
    path = write_jpeg(
        tmp_path / "santiago.jpg",
        {
            GPS.GPSLatitudeRef: "S",
            GPS.GPSLatitude: dms(33.4489),
            GPS.GPSLongitudeRef: "W",
            GPS.GPSLongitude: dms(70.6693),
            GPS.GPSAltitudeRef: b"\x01",
            GPS.GPSAltitude: IFDRational(4305, 10),
            GPS.GPSDateStamp: "2021:06:01",
            GPS.GPSTimeStamp: (IFDRational(12), IFDRational(30), IFDRational(155, 10)),
        },
        Make="Canon",
        Model="EOS 5D Mark IV",
        taken="2021:06:01 08:30:15",
        offset="-04:00",
    )
    outcome = await call(settings, path)
    assert outcome.ok, outcome.error
    r = outcome.result
    assert r.lat == pytest.approx(-33.4489, abs=1e-6)
    assert r.lon == pytest.approx(-70.6693, abs=1e-6)
    assert r.altitude_m == pytest.approx(-430.5)
    assert r.datetime_original == "2021-06-01T08:30:15-04:00"
    assert r.gps_datetime == "2021-06-01T12:30:15.500000+00:00"
    assert (r.make, r.model) == ("Canon", "EOS 5D Mark IV")
    assert r.has_exif is True
    assert outcome.backend == "offline"


async def test_northern_eastern_position_above_sea_level(settings: Settings, tmp_path: Path):
    path = write_jpeg(
        tmp_path / "helsinki.jpg",
        {
            GPS.GPSLatitudeRef: "N",
            GPS.GPSLatitude: dms(60.1699),
            GPS.GPSLongitudeRef: "E",
            GPS.GPSLongitude: dms(24.9384),
            GPS.GPSAltitudeRef: 0,
            GPS.GPSAltitude: IFDRational(12),
        },
    )
    r = (await call(settings, path)).result
    assert r.lat == pytest.approx(60.1699, abs=1e-6)
    assert r.lon == pytest.approx(24.9384, abs=1e-6)
    assert r.altitude_m == 12.0
    assert r.datetime_original is None and r.make is None


async def test_exif_without_gps_gives_null_position(settings: Settings, tmp_path: Path):
    path = write_jpeg(tmp_path / "camera.jpg", Make="NIKON", taken="2019:12:24 18:00:00")
    outcome = await call(settings, path)
    assert outcome.ok
    r = outcome.result
    assert (r.lat, r.lon, r.altitude_m) == (None, None, None)
    assert r.make == "NIKON" and r.datetime_original == "2019-12-24T18:00:00"


async def test_image_without_any_exif(settings: Settings, tmp_path: Path):
    path = write_jpeg(tmp_path / "plain.jpg")
    r = (await call(settings, path)).result
    assert r.has_exif is False and r.lat is None and r.lon is None


async def test_zero_denominator_rational_is_no_position(settings: Settings, tmp_path: Path):
    path = write_jpeg(
        tmp_path / "nofix.jpg",
        {
            GPS.GPSLatitudeRef: "N",
            GPS.GPSLatitude: (IFDRational(0, 0), IFDRational(0, 0), IFDRational(0, 0)),
            GPS.GPSLongitudeRef: "E",
            GPS.GPSLongitude: dms(10.0),
        },
    )
    r = (await call(settings, path)).result
    assert r.lat is None and r.lon is None


async def test_missing_file_is_not_found(settings: Settings, tmp_path: Path):
    outcome = await call(settings, tmp_path / "nope.jpg")
    assert outcome.error is not None and outcome.error.kind == "not_found"


async def test_text_file_named_jpg_is_invalid(settings: Settings, tmp_path: Path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a JPEG\n")
    outcome = await call(settings, path)
    assert outcome.error is not None and outcome.error.kind == "invalid_args"
    assert "not an image" in outcome.error.message


async def test_truncated_header_is_invalid(settings: Settings, tmp_path: Path):
    whole = write_jpeg(tmp_path / "whole.jpg", {GPS.GPSLatitudeRef: "N"}, Make="Canon")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[:60])  # inside the EXIF segment
    outcome = await call(settings, cut)
    assert outcome.error is not None and outcome.error.kind == "invalid_args"
    assert "damaged" in outcome.error.message


async def test_truncated_pixel_data_still_gives_metadata(settings: Settings, tmp_path: Path):
    # Only the metadata is read: a file cut off in its scan data keeps its EXIF.
    whole = write_jpeg(
        tmp_path / "whole.jpg",
        {
            GPS.GPSLatitudeRef: "S",
            GPS.GPSLatitude: dms(1.5),
            GPS.GPSLongitudeRef: "E",
            GPS.GPSLongitude: dms(2.5),
        },
    )
    data = whole.read_bytes()
    assert data.index(b"\xff\xda") < len(data) // 2  # the cut lands inside the scan
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError), Image.open(cut) as img:  # the pixels really are broken
        img.load()
    r = (await call(settings, cut)).result
    assert r.lat == pytest.approx(-1.5) and r.lon == pytest.approx(2.5)


async def test_damaged_exif_block_is_invalid(settings: Settings, tmp_path: Path):
    whole = write_jpeg(
        tmp_path / "whole.jpg", {GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: dms(45.0)}, Make="X"
    )
    data = bytearray(whole.read_bytes())
    start = data.index(b"Exif\x00\x00") + 6
    data[start + 8 : start + 40] = b"\xff" * 32  # overwrite the first IFD's entries
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(bytes(data))
    outcome = await call(settings, bad)
    # Pillow only warns and skips the tags; the tool turns that into a clear error.
    assert outcome.error is not None and outcome.error.kind == "invalid_args"
    assert "damaged EXIF" in outcome.error.message


async def test_directory_is_invalid(settings: Settings, tmp_path: Path):
    outcome = await call(settings, tmp_path)
    assert outcome.error is not None and outcome.error.kind == "invalid_args"


async def test_disabled_switch_refuses_without_reading(tmp_path: Path):
    settings = Settings(home=tmp_path / "home", exif={"enabled": False})
    # A missing file proves nothing was read: enabled, this would be not_found.
    outcome = await call(settings, tmp_path / "missing.jpg")
    assert outcome.error is not None and outcome.error.kind == "unavailable"
    assert "disabled" in outcome.error.message and "leakage" in outcome.error.message


def test_disabled_switch_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("GRE_EXIF__ENABLED", "false")
    tool = GpsTool()
    assert tool.settings.exif.enabled is False


async def test_png_with_exif(settings: Settings, tmp_path: Path):
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Fujifilm"  # Pillow's PNG writer skips an EXIF with no base tags
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: dms(10.0), GPS.GPSLongitude: dms(20.0)}
    )
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "PNG", exif=exif)
    path = tmp_path / "x.png"
    path.write_bytes(buf.getvalue())
    r = (await call(settings, path)).result
    # No LongitudeRef: the value is taken as east (positive).
    assert r.lat == pytest.approx(10.0) and r.lon == pytest.approx(20.0)


def test_cli_call(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from gre_agent.cli.main import app

    # Load only this family's tools so the test does not depend on the other families.
    monkeypatch.setattr(registry, "BUILTIN", ("gre_agent.tools.exif:GpsTool",))
    path = write_jpeg(
        tmp_path / "a.jpg",
        {
            GPS.GPSLatitudeRef: "N",
            GPS.GPSLatitude: dms(60.5),
            GPS.GPSLongitudeRef: "W",
            GPS.GPSLongitude: dms(3.25),
        },
    )
    result = CliRunner().invoke(
        app, ["tools", "call", "exif.gps", "--args", json.dumps({"image": str(path)})]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["lat"] == pytest.approx(60.5) and payload["lon"] == pytest.approx(-3.25)
