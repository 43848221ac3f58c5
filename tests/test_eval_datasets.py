"""Loaders for OSV-5M, GREval-Bench, GRE30K, generic tables and HF datasets on disk."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from gre_agent.evals.datasets import (
    Columns,
    DatasetFormatError,
    Sample,
    load_dataset,
    load_gre30k,
    load_greval,
    load_hf_disk,
    load_osv5m,
    load_table,
)


def jpeg(path: Path, shade: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (shade, 120, 200)).save(path, "JPEG")
    return path


def jsonl(path: Path, records: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


OSV_HEADER = (
    "id,latitude,longitude,thumb_original_url,country,sequence,captured_at,lon_bin,lat_bin,"
    "cell,land_cover,road_index,drive_side,climate,soil,dist_sea,region,sub-region,city"
)


def test_osv5m_labels_and_images_by_id(tmp_path: Path):
    root = tmp_path / "osv5m"
    jpeg(root / "images" / "test" / "101.jpg")
    jpeg(root / "images" / "test" / "02" / "102.jpg")  # sharded copy
    rows = [
        "101,48.8566,2.3522,http://x,FR,s1,2019,1,2,3,4,5,1,7,8,0.1,Ile-de-France,Paris,Paris",
        "102,-33.87,151.21,http://x,AU,s2,2020,1,2,3,4,5,0,7,8,0.2,New South Wales,,Sydney",
        "103,10.0,10.0,http://x,NG,s3,2020,1,2,3,4,5,1,7,8,0.3,,,",  # image missing
        "104,100.0,10.0,http://x,NG,s3,2020,1,2,3,4,5,1,7,8,0.3,,,",  # latitude out of range
    ]
    (root / "test.csv").write_text(OSV_HEADER + "\n" + "\n".join(rows) + "\n")
    ds = load_osv5m(root / "test.csv")
    assert [s.id for s in ds] == ["101", "102"]
    paris, sydney = ds.samples
    assert (paris.metadata.country, paris.metadata.region) == ("FR", "Ile-de-France")
    assert (paris.metadata.sub_region, paris.metadata.city) == ("Paris", "Paris")
    assert sydney.metadata.sub_region is None and sydney.metadata.city == "Sydney"
    assert sydney.image_path == root / "images" / "test" / "02" / "102.jpg"
    assert paris.metadata.extra["drive_side"] == "1" and "latitude" not in paris.metadata.extra
    assert ds.report.counts == {"missing_image": 1, "bad_coordinates": 1}
    with pytest.raises(DatasetFormatError, match="latitude"):
        (tmp_path / "bad.csv").write_text("id,lat,lon\n1,2,3\n")
        load_osv5m(tmp_path / "bad.csv")


def test_greval_scenes_from_fields_file_names_and_folders(tmp_path: Path):
    bench = tmp_path / "greval"
    for sub in ("urban/u1.jpg", "natural/n1.jpg", "natural/n2.jpg", "l1.jpg", "x1.jpg"):
        jpeg(bench / "images" / sub)
    jsonl(
        bench / "urban.jsonl",
        [
            {
                "sample_id": "u1",
                "image_path": "images/urban/u1.jpg",
                "gt_cot": "tram lines",
                "gt_lat": 52.37,
                "gt_lon": 4.89,
            },
            "{not json",
            {"sample_id": "u2", "image_path": "images/urban/missing.jpg", "gt_lat": 1, "gt_lon": 1},
        ],
    )
    (bench / "mixed.json").write_text(
        json.dumps(
            {
                "data": [
                    {
                        "sample_id": "n1",
                        "image_path": "images/natural/n1.jpg",
                        "gt_lat": -41.3,
                        "gt_lon": 174.8,
                    },
                    {
                        "sample_id": "l1",
                        "image_path": "images/l1.jpg",
                        "scene": "Landmark",
                        "gt_lat": 27.17,
                        "gt_lon": 78.04,
                    },
                    {
                        "sample_id": "n2",
                        "image_path": "images/natural/n2.jpg",
                        "gt_lat": "-41.3",
                        "gt_lon": 200,
                    },
                    {"sample_id": "x1", "gt_lat": 0, "gt_lon": 0},
                    {"sample_id": "n1", "image_path": "images/x1.jpg", "gt_lat": 0, "gt_lon": 0},
                ]
            }
        )
    )
    ds = load_greval(bench)
    assert {s.id: s.metadata.scene for s in ds} == {
        "n1": "natural",
        "l1": "landmark",
        "u1": "urban",
    }
    u1 = ds.by_id()["u1"]
    assert u1.metadata.gt_cot == "tram lines" and u1.metadata.extra["file"] == "urban.jsonl"
    problems = {(p.file, p.row): p.kind for p in ds.report.problems}
    assert problems == {
        ("urban.jsonl", 2): "bad_row",
        ("urban.jsonl", 3): "missing_image",
        ("mixed.json", 3): "bad_coordinates",
        ("mixed.json", 4): "bad_row",
        ("mixed.json", 5): "duplicate_id",
    }
    assert ds.report.rows == 8 and ds.report.loaded == 3
    assert "field scene (1 rows)" in ds.report.decisions[0]
    assert "image folder" in ds.report.decisions[0] and "file name" in ds.report.decisions[0]
    urban = load_greval(bench, split="urban")
    assert [s.id for s in urban] == ["u1"] and urban.name == "greval:urban"
    with pytest.raises(ValueError, match="split must be one of"):
        load_greval(bench, split="indoor")


GPT = (
    "<think> 1. Street-level analysis: left-hand traffic. 2. Textual clues: none. </think>"
    ' <answer> "Latitude": "-31.28°", "Longitude": "149.28°" </answer>'
)


def test_gre30k_cot_judge_and_seed_records(tmp_path: Path):
    jpeg(tmp_path / "imgs" / "a.jpg")
    jpeg(tmp_path / "imgs" / "b.jpg")
    cot = {
        "image": "imgs/a.jpg",
        "conversations": [
            {"from": "human", "value": "<image>\nWhere was this photo taken?"},
            {"from": "gpt", "value": GPT},
        ],
        "gt_lat": -31.28,
        "gt_lon": 149.28,
    }
    judge = {**cot, "predicted_cot": "Looks like Texas.", "predicted_answer": "31.0, -100.0"}
    seed = {
        "image": "imgs/b.jpg",
        "instructions": "Describe the vegetation.",
        "gt_lat": 1.5,
        "gt_lon": 2.5,
    }
    other = {"image": "imgs/b.jpg", "gt_lat": 1.0, "gt_lon": 1.0}
    no_gpt = {**cot, "conversations": [{"from": "human", "value": "hi"}]}
    path = tmp_path / "gre30k.json"
    path.write_text(json.dumps([cot, judge, judge, seed, other, no_gpt]))
    ds = load_gre30k(path)
    ids = [s.id for s in ds]
    assert ids == ["imgs/a.jpg", "imgs/a.jpg#2", "imgs/a.jpg#3", "imgs/b.jpg"]
    a, j, _, b = ds.samples
    assert (
        a.metadata.gt_cot.startswith("1. Street-level analysis")
        and "<think>" not in a.metadata.gt_cot
    )
    assert a.metadata.extra["prompt"] == "Where was this photo taken?"
    assert a.metadata.extra["answer"] == '"Latitude": "-31.28°", "Longitude": "149.28°"'
    assert a.metadata.extra["kind"] == "cot"
    assert (
        j.metadata.extra["kind"] == "judge"
        and j.metadata.extra["predicted_answer"] == "31.0, -100.0"
    )
    assert b.metadata.extra == {"kind": "seed", "instructions": "Describe the vegetation."}
    reasons = {p.row: p.reason for p in ds.report.problems}
    assert set(reasons) == {5, 6}
    assert "not a GRE30K record" in reasons[5] and "no gpt turn" in reasons[6]
    assert ds.report.decisions == ["record kinds: cot 1, judge 2, seed 1"]


def test_generic_csv_with_configured_columns(tmp_path: Path):
    jpeg(tmp_path / "pics" / "one.png")
    jpeg(tmp_path / "pics" / "two.png")
    path = tmp_path / "mine.csv"
    path.write_text(
        "name,file,y,x,kind\nfirst,pics/one.png,10.5,20.5,urban\nsecond,pics/two.png,,20,x\n"
    )
    cols = Columns(id="name", image="file", lat="y", lon="x", scene="kind")
    ds = load_table(path, cols)
    assert [(s.id, s.gt_lat, s.gt_lon, s.metadata.scene) for s in ds] == [
        ("first", 10.5, 20.5, "urban")
    ]
    assert ds.report.problems[0].kind == "bad_coordinates" and ds.report.problems[0].id == "second"
    with pytest.raises(DatasetFormatError, match="not in header"):
        load_table(path, Columns(id="name", image="file", lat="lat", lon="x"))


def test_generic_jsonl_detects_columns_and_tsv_uses_a_template(tmp_path: Path):
    jpeg(tmp_path / "7.jpg")
    jpeg(tmp_path / "img" / "8.jpg")
    path = jsonl(tmp_path / "t.jsonl", [{"id": 7, "latitude": 1.0, "longitude": 2.0, "city": "X"}])
    ds = load_table(path)
    assert ds.samples[0].image_path == tmp_path / "7.jpg" and ds.samples[0].metadata.city == "X"
    tsv = tmp_path / "t.tsv"
    tsv.write_text("uid\tlat\tlon\n8\t3\t4\n")
    cols = Columns(id="uid", image=None, image_template="img/{id}.jpg")
    ds = load_table(tsv, cols)
    assert ds.samples[0].image_path == tmp_path / "img" / "8.jpg"
    with pytest.raises(DatasetFormatError, match="unknown table format"):
        (tmp_path / "t.xml").write_text("<x/>")
        load_table(tmp_path / "t.xml")
    with pytest.raises(DatasetFormatError, match="no column for"):
        load_table(jsonl(tmp_path / "u.jsonl", [{"id": 1, "where": "here"}]))


def test_hf_dataset_on_disk_with_paths_and_splits(tmp_path: Path):
    datasets = pytest.importorskip("datasets")
    jpeg(tmp_path / "imgs" / "a.jpg")
    jpeg(tmp_path / "imgs" / "b.jpg")
    data = {
        "id": ["a", "b", "c"],
        "image": ["imgs/a.jpg", "imgs/b.jpg", "imgs/a.jpg"],
        "latitude": [10.0, 20.0, float("nan")],
        "longitude": [30.0, 40.0, 50.0],
        "country": ["FR", None, "DE"],
    }
    whole = datasets.DatasetDict(
        {"test": datasets.Dataset.from_dict(data), "train": datasets.Dataset.from_dict(data)}
    )
    whole.save_to_disk(str(tmp_path / "hf"))
    ds = load_hf_disk(tmp_path / "hf", images_root=tmp_path)
    assert [(s.id, s.gt_lat, s.metadata.country) for s in ds] == [
        ("a", 10.0, "FR"),
        ("b", 20.0, None),
    ]
    assert ds.report.counts == {"bad_coordinates": 1} and "split: test" in ds.report.decisions[0]
    assert len(load_hf_disk(tmp_path / "hf", split="train", images_root=tmp_path)) == 2
    with pytest.raises(DatasetFormatError, match="not a dataset saved"):
        load_hf_disk(tmp_path / "imgs")


def test_hf_dataset_with_embedded_images_extracts_files(tmp_path: Path):
    datasets = pytest.importorskip("datasets")
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, "PNG")
    png = buf.getvalue()
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "image": datasets.Image(),
            "lat": datasets.Value("float64"),
            "lon": datasets.Value("float64"),
        }
    )
    ds = datasets.Dataset.from_dict(
        {
            "id": ["p", "q"],
            "image": [{"bytes": png, "path": None}, {"bytes": b"garbage", "path": None}],
            "lat": [1.0, 2.0],
            "lon": [3.0, 4.0],
        },
        features=features,
    )
    ds.save_to_disk(str(tmp_path / "emb"))
    loaded = load_hf_disk(tmp_path / "emb")
    (p,) = loaded.samples
    assert p.image_path.parent == tmp_path / "emb.images" and p.image_path.suffix == ".png"
    assert p.image_path.read_bytes() == png
    assert loaded.report.counts == {"corrupt_image": 1}
    again = load_hf_disk(tmp_path / "emb")  # files are reused, not rewritten
    assert again.fingerprint() == loaded.fingerprint()


def test_load_dataset_dispatch(tmp_path: Path):
    jpeg(tmp_path / "a.jpg")
    path = jsonl(
        tmp_path / "g.jsonl", [{"sample_id": "a", "image_path": "a.jpg", "gt_lat": 1, "gt_lon": 2}]
    )
    ds = load_dataset("greval", path)
    assert isinstance(ds.samples[0], Sample) and ds.samples[0].gt_lon == 2.0
    with pytest.raises(DatasetFormatError, match="unknown dataset kind"):
        load_dataset("imagenet", path)


def test_sample_model_validates_coordinates(tmp_path: Path):
    with pytest.raises(ValueError, match="latitude"):
        Sample(id="x", image_path=tmp_path, gt_lat=90.5, gt_lon=0.0)
    with pytest.raises(ValueError, match="longitude"):
        Sample(id="x", image_path=tmp_path, gt_lat=0.0, gt_lon=float("nan"))
    ok = Sample(id="x", image_path=tmp_path, gt_lat=-90.0, gt_lon=180.0)
    assert ok.metadata.scene is None
