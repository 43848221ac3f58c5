"""Im2GPS3k / YFCC4k: the latitude column is found from the values, not the header."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gre_agent.evals.datasets import (
    DatasetFormatError,
    detect_lat_column,
    load_im2gps3k,
    load_yfcc4k,
)

# (image, author, latitude, longitude, S3 label) as in im2gps3k_places365.csv
ROWS = [
    ("1000269685_e60e9cdfb4_1125_78841376@N00.jpg", "78841376@N00", 32.325436, -64.764404, 2),
    ("1005977048_5ccf8b05d3_1201_91728102@N00.jpg", "91728102@N00", 29.976052, 122.390356, 2),
    ("1008804117_ce4e6fef8a_1349_97522422@N00.jpg", "97522422@N00", 46.478536, 30.758714, 0),
    ("101220879_0a1be45b79_33_24311489@N00.jpg", "24311489@N00", 42.249915, -87.82711, 1),
    ("1021054395_ca7cfe55b3_1061_7132415@N03.jpg", "7132415@N03", -0.400997, -90.704498, 1),
    ("104132709_97b998c989_41_19355699@N00.jpg", "19355699@N00", -33.861328, 151.209039, 2),
    ("1056311007_52319e8695_1127_9729483@N02.jpg", "9729483@N02", 19.633291, -155.98991, 2),
    ("103442236_09c8d53dbc_37_73293249@N00.jpg", "73293249@N00", 51.501821, -0.140655, 2),
]
# European photos only: every value is within +-90, so the range test cannot decide
EUROPE = [
    ("p1.jpg", 48.858842, 2.329101),
    ("p2.jpg", 51.508168, -0.076035),
    ("p3.jpg", 52.506442, 13.337682),
    ("p4.jpg", 43.345154, 11.293945),
    ("p5.jpg", 50.252912, 19.025573),
    ("p6.jpg", 46.21488, 7.049309),
    ("p7.jpg", 60.389391, 5.330429),
    ("p8.jpg", 43.510308, 16.440095),
]


def jpeg(path: Path, shade: int = 90) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (shade, 120, 200)).save(path, "JPEG")


def write_csv(path: Path, header: str, rows: list[tuple], lat_first: bool = True) -> Path:
    lines = [header]
    for name, author, lat, lon, s3 in rows:
        a, b = (lat, lon) if lat_first else (lon, lat)
        lines.append(f"{name},{author},{a},{b},{s3},12,353,0.27,0.04,0.68")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


HEAD_SWAPPED = (
    "IMG_ID,AUTHOR,LON,LAT,S3_Label,S16_Label,S365_Label,Prob_indoor,Prob_natural,Prob_urban"
)
HEAD_RIGHT = (
    "IMG_ID,AUTHOR,LAT,LON,S3_Label,S16_Label,S365_Label,Prob_indoor,Prob_natural,Prob_urban"
)


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "im2gps3k"
    for name, *_ in ROWS:
        jpeg(folder / name)
    return folder


def test_mislabelled_header_is_detected_by_range(tmp_path: Path, images: Path):
    csv = write_csv(tmp_path / "im2gps3k_places365.csv", HEAD_SWAPPED, ROWS)
    ds = load_im2gps3k(csv, images)
    assert len(ds) == len(ROWS) and ds.report.problems == []
    first = ds.samples[0]
    assert (first.gt_lat, first.gt_lon) == (32.325436, -64.764404)  # Bermuda, not Antarctica
    assert first.metadata.scene == "urban" and first.metadata.extra["AUTHOR"] == "78841376@N00"
    assert [s.metadata.scene for s in ds.samples[2:4]] == ["indoor", "natural"]
    (decision,) = ds.report.decisions
    assert "latitudes read from column 'LON'" in decision
    assert "by range; the header's labels are swapped" in decision
    assert "rows_90_to_180_LAT=4" in decision and "rows_90_to_180_LON=0" in decision


def test_right_header_reads_the_same_samples_and_fingerprint(tmp_path: Path, images: Path):
    swapped = load_im2gps3k(write_csv(tmp_path / "a.csv", HEAD_SWAPPED, ROWS), images)
    right = load_im2gps3k(write_csv(tmp_path / "b.csv", HEAD_RIGHT, ROWS), images)
    assert [s.model_dump() for s in right] == [s.model_dump() for s in swapped]
    assert right.fingerprint() == swapped.fingerprint()
    assert "header's labels are swapped" not in right.report.decisions[0]


def test_explicit_order_overrides_detection(tmp_path: Path, images: Path):
    csv = write_csv(tmp_path / "a.csv", HEAD_SWAPPED, ROWS)
    trusted = load_im2gps3k(csv, images, order="header")
    # trusting the header reads latitudes of 122 (etc.): those rows are refused, reported
    assert trusted.report.counts == {"bad_coordinates": 4}
    assert {p.id for p in trusted.report.problems} >= {ROWS[1][0], ROWS[5][0]}
    forced = load_im2gps3k(csv, images, order="lat_lon")
    assert forced.samples[0].gt_lat == 32.325436 and "by override" in forced.report.decisions[0]
    assert load_im2gps3k(csv, images, order="lon_lat").report.counts == {"bad_coordinates": 4}


def test_plausibility_decides_when_range_cannot(tmp_path: Path):
    folder = tmp_path / "img"
    for name, *_ in EUROPE:
        jpeg(folder / name)
    rows = [(n, "a", lat, lon, 2) for n, lat, lon in EUROPE]
    swapped = load_im2gps3k(write_csv(tmp_path / "s.csv", HEAD_SWAPPED, rows), folder)
    right = load_im2gps3k(write_csv(tmp_path / "r.csv", HEAD_RIGHT, rows), folder)
    assert [s.gt_lat for s in swapped] == [r[1] for r in EUROPE]
    assert [s.gt_lat for s in right] == [r[1] for r in EUROPE]
    assert "by plausibility; the header's labels are swapped" in swapped.report.decisions[0]
    assert "median_km_to_town" in swapped.report.decisions[0]


def test_inconclusive_values_fall_back_to_the_header():
    def equally_plausible(lats, lons):
        return np.full(len(lats), 5.0)

    d = detect_lat_column(
        ["10", "20", "30", "40", "50"],
        ["11", "21", "31", "41", "51"],
        names=("LON", "LAT"),
        header_lat="LAT",
        nearest_km=equally_plausible,
    )
    assert (d.lat_column, d.method, d.header_swapped) == ("LAT", "header", False)
    assert d.evidence["note"] == "values inconclusive; header trusted"
    few = detect_lat_column(["10"], ["20"], names=("LAT", "LON"), header_lat="LAT")
    assert few.method == "header" and few.lat_column == "LAT"  # too few rows to judge


def test_stray_bad_values_do_not_outvote_the_longitude_column():
    lats = [str(r[2]) for r in ROWS] * 3 + ["120.0"]  # one bad latitude cell
    lons = [str(r[3]) for r in ROWS] * 3 + ["10.0"]
    d = detect_lat_column(lats, lons, names=("LAT", "LON"), header_lat="LON")
    assert d.method == "range" and d.lat_column == "LAT" and d.header_swapped


def test_bad_rows_are_reported_not_dropped(tmp_path: Path, images: Path):
    (images / ROWS[0][0]).unlink()  # missing image
    (images / ROWS[1][0]).write_bytes(b"this is not a jpeg")  # corrupt image
    csv = write_csv(tmp_path / "a.csv", HEAD_SWAPPED, ROWS)
    text = csv.read_text().splitlines()
    text[3] = text[3].replace("46.478536", "nan")
    text[4] = text[4].replace("42.249915", "forty-two")
    text.append("extra.jpg,x,10.0")  # short row
    text.append(f"{ROWS[6][0]},dup,19.6,-155.9,2,1,1,0,0,1")  # duplicate id
    csv.write_text("\n".join(text) + "\n")
    ds = load_im2gps3k(csv, images)
    assert ds.report.rows == len(ROWS) + 2
    assert ds.report.loaded == len(ds) == len(ROWS) - 4
    by_id = {p.id: p for p in ds.report.problems}
    assert by_id[ROWS[0][0]].kind == "missing_image"
    assert by_id[ROWS[1][0]].kind == "corrupt_image"
    assert by_id[ROWS[2][0]].kind == "bad_coordinates" and "nan" in by_id[ROWS[2][0]].reason
    assert by_id[ROWS[3][0]].kind == "bad_coordinates" and "forty-two" in by_id[ROWS[3][0]].reason
    assert by_id["extra.jpg"].kind == "bad_coordinates"  # its longitude cell is absent
    assert by_id[ROWS[6][0]].kind == "duplicate_id" and by_id[ROWS[6][0]].row == len(ROWS) + 2
    assert ds.report.counts == {
        "missing_image": 1,
        "corrupt_image": 1,
        "bad_coordinates": 3,
        "duplicate_id": 1,
    }
    assert "6/10 rows loaded" not in ds.report.summary()
    assert f"{len(ROWS) - 4}/{len(ROWS) + 2} rows loaded" in ds.report.summary()


def test_image_check_depths(tmp_path: Path, images: Path):
    whole = (images / ROWS[0][0]).read_bytes()
    big = tmp_path / "big.jpg"
    Image.effect_noise((256, 256), 60).convert("RGB").save(big, "JPEG", quality=95)
    data = big.read_bytes()
    (images / ROWS[0][0]).write_bytes(data[: len(data) // 2])  # truncated: header intact
    (images / ROWS[1][0]).write_bytes(b"")  # empty
    csv = write_csv(tmp_path / "a.csv", HEAD_RIGHT, ROWS)
    header = load_im2gps3k(csv, images)
    assert header.report.counts == {"corrupt_image": 1}  # only the empty file
    decoded = load_im2gps3k(csv, images, check_images="decode")
    assert decoded.report.counts == {"corrupt_image": 2}
    assert "truncated" in " ".join(p.reason for p in decoded.report.problems).lower()
    exists = load_im2gps3k(csv, images, check_images="exists")
    assert exists.report.counts == {"corrupt_image": 1}
    assert whole  # the fixture wrote a real image first


def test_fingerprint_tracks_coordinates_and_file_sizes(tmp_path: Path, images: Path):
    csv = write_csv(tmp_path / "a.csv", HEAD_RIGHT, ROWS)
    base = load_im2gps3k(csv, images).fingerprint()
    assert base.startswith("sha256:") and base == load_im2gps3k(csv, images).fingerprint()
    csv.write_text(csv.read_text().replace("32.325436", "32.325437"))
    moved = load_im2gps3k(csv, images).fingerprint()
    assert moved != base
    jpeg(images / ROWS[3][0], shade=10)
    Image.effect_noise((64, 64), 50).convert("RGB").save(images / ROWS[3][0], "JPEG")
    assert load_im2gps3k(csv, images).fingerprint() != moved


def test_yfcc4k_three_columns_and_sharded_images(tmp_path: Path):
    rows = [
        ("a1.jpg", 35.6762, 139.6503),
        ("b2.jpg", -22.9068, -43.1729),
        ("c3.jpg", 64.1466, -21.9426),
    ]
    for i, (name, *_) in enumerate(rows):
        jpeg(tmp_path / "yfcc4k" / f"{i:02d}" / name)
    csv = tmp_path / "yfcc4k.csv"
    csv.write_text("IMG_ID,LAT,LON\n" + "".join(f"{n},{a},{b}\n" for n, a, b in rows))
    ds = load_yfcc4k(csv, tmp_path / "yfcc4k")
    assert [(s.gt_lat, s.gt_lon) for s in ds] == [(a, b) for _, a, b in rows]
    assert ds.samples[1].image_path == tmp_path / "yfcc4k" / "01" / "b2.jpg"
    assert ds.name == "yfcc4k" and "by range" in ds.report.decisions[0]


def test_a_file_without_coordinate_columns_is_a_format_error(tmp_path: Path):
    csv = tmp_path / "x.csv"
    csv.write_text("IMG_ID,AUTHOR\na.jpg,me\n")
    with pytest.raises(DatasetFormatError, match="expected IMG_ID, LAT and LON"):
        load_im2gps3k(csv)
