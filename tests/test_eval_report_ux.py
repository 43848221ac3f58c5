"""The eval report a new user reads (issue 15.7): titled by who answered (a replay of
hand-written answers is no evaluation of the model it names), counts that add up, the
selection in words, no empty header row, no empty error curve, failed images on the map."""

from __future__ import annotations

from gre_agent.evals._manifest import read_manifest, write_manifest
from gre_agent.evals.report import write_report
from tests.test_eval_report import ERRORS, make_run


def replayed(run):
    manifest = read_manifest(run)
    manifest["config"].update(
        backend="replay", model="Anonymous0515/GRE", replay_path="/x/demo.trace.jsonl"
    )
    manifest["selection"] = {"limit": 3, "shard": None, "ids": ["i000", "i001"]}
    write_manifest(run, manifest)
    return run


def test_a_replay_report_names_its_answers_and_counts_add_up(tmp_path):
    run = replayed(make_run(tmp_path / "run", [5.0, None, None]))
    files = write_report(run, bootstrap=0)
    md = files.markdown.read_text()
    title = md.splitlines()[0]
    assert "answers replayed from demo.trace.jsonl" in title and "Anonymous0515/GRE" not in title
    assert "3 images: 1 answered, 2 failed (error 2)" in md
    assert "limit 3; ids i000, i001" in md and "{" not in md.split("selection", 1)[1][:80]
    assert "|  |  |" not in md and "<th></th><th></th>" not in files.html.read_text()
    # one answered image: no error curve, and the report says why
    assert files.cdf_plot is None and not (files.markdown.parent / "error_cdf.png").exists()
    assert "No error CDF: 1 image(s) answered" in md
    # the two failed images are on the map, with their cause
    page = files.map.read_text()
    assert "failed images (ground truth)" in page
    assert page.count("ModelError: boom") == 2


def test_a_model_report_keeps_its_curve(tmp_path):
    files = write_report(make_run(tmp_path / "run", ERRORS), bootstrap=0)
    assert files.cdf_plot is not None and files.cdf_plot.is_file()
    assert "model-agent via openai" in files.markdown.read_text().splitlines()[0]
