"""The evaluation runner: in-process with a scripted model, through `gre eval run` against
an OpenAI-compatible server, resumption (also after SIGKILL), failures, shards and merge."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gre_agent.cli.main import app
from gre_agent.core.settings import Settings
from gre_agent.core.trace import read_trace
from gre_agent.evals import (
    ManifestError,
    RunConfig,
    load_results,
    merge_runs,
    run_eval,
    score_results,
)
from gre_agent.evals.datasets import load_table
from gre_agent.evals.metrics import distance_km
from gre_agent.evals.runner import parse_shard, shard_of, trace_file
from gre_agent.tools import Registry
from tests.eval_data import ColourServer, make_dataset, scripted_answer
from tests.scripted import ScriptedBackend

REPO = Path(__file__).resolve().parents[1]
VOLATILE = ("elapsed_s", "finished")


@pytest.fixture
def bench(tmp_path):
    return make_dataset(tmp_path / "bench", 24, seed=1, unanswered=(5,))


@pytest.fixture
def registry(tmp_path):
    return Registry(Settings(home=tmp_path / "home", offline=True), include_plugins=False)


def scripted(bench) -> ScriptedBackend:
    return ScriptedBackend({"gre": scripted_answer(bench["answers"]), "gre_repair": "no idea"})


def run(bench, out, registry, backend=None, **config):
    ds = load_table(bench["csv"])
    cfg = RunConfig(**{"mode": "single", "concurrency": 4, **config})
    return asyncio.run(
        run_eval(
            ds,
            out,
            cfg,
            backend_obj=backend or scripted(bench),
            registry=registry,
            progress=False,
        )
    )


def expected_accuracy(bench, ids=None) -> dict[str, float]:
    """Accuracy computed straight from the answers the model was scripted with."""
    d = []
    for i, (sid, (lat, lon)) in enumerate(sorted(bench["gt"].items())):
        if ids is not None and sid not in ids:
            continue
        point = bench["answers"][i]
        if point is None:
            d.append(np.inf)
        else:
            d.append(float(distance_km([point[0]], [point[1]], [lat], [lon])[0]))
    d = np.array(d)
    return {f"{t:g}": float(np.mean(d <= t)) for t in (1, 25, 200, 750, 2500)}


def stable(rows):
    return sorted(({k: v for k, v in r.items() if k not in VOLATILE} for r in rows), key=str)


def test_scripted_run_writes_rows_traces_and_manifest(tmp_path, bench, registry):
    out = tmp_path / "run"
    summary = run(bench, out, registry)
    assert (summary.selected, summary.ran, summary.failed) == (24, 24, 1)
    rows = load_results(out)
    assert sorted(r["id"] for r in rows) == sorted(bench["gt"])
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 24
    failed = [r for r in rows if r["pred_lat"] is None]
    assert [r["id"] for r in failed] == ["s0005"]
    assert failed[0]["status"] == "no_answer" and "no coordinates" in failed[0]["error"]
    ok = next(r for r in rows if r["id"] == "s0003")
    lat, lon = bench["answers"][3]
    assert ok["pred_lat"] == pytest.approx(lat, abs=1e-6)
    assert ok["pred_lon"] == pytest.approx(lon, abs=1e-6)
    assert ok["model_calls"] == 1 and ok["status"] == "ok" and ok["scene"] == "urban"
    # one trace per image, named by id, readable
    for r in rows:
        head, events = read_trace(out / r["trace"])
        assert head["image"] == r["image"]
        assert any(e["type"] == "model_call" for e in events)
    score = score_results(rows, bootstrap=0)
    assert score.n_failed == 1
    assert score.acc_km == pytest.approx(expected_accuracy(bench))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dataset"]["fingerprint"].startswith("sha256:")
    assert manifest["config"]["mode"] == "single" and manifest["config"]["use_exif"] is False
    assert manifest["versions"]["gre-agent"] and manifest["versions"]["python"]
    assert "git" in manifest and manifest["sessions"][0]["complete"] is True


def test_rerun_skips_done_images_and_repairs_a_torn_last_line(tmp_path, bench, registry):
    out = tmp_path / "run"
    first = run(bench, out, registry, limit=10)
    assert first.ran == 10
    results = out / "results.jsonl"
    with results.open("ab") as fh:  # a crash in the middle of a line
        fh.write(b'{"id": "s0011", "pred_lat": 12.3, "pred_')
    backend = scripted(bench)
    second = run(bench, out, registry, backend=backend)
    assert second.done_before == 10 and second.ran == 14 and second.torn_bytes > 0
    assert len(backend.calls) == 14  # one call per image not done before (s0005 was)
    assert (out / "results.jsonl.torn").read_bytes().startswith(b'{"id": "s0011"')
    lines = results.read_text().splitlines()
    ids = [json.loads(line)["id"] for line in lines]
    assert sorted(ids) == sorted(bench["gt"])  # none lost, none twice
    third = run(bench, out, registry)
    assert third.ran == 0 and third.done_before == 24
    assert len(json.loads((out / "manifest.json").read_text())["sessions"]) == 3


def test_retry_failed_runs_failures_again(tmp_path, bench, registry):
    out = tmp_path / "run"
    run(bench, out, registry)
    fixed = dict(bench["answers"])
    fixed[5] = (10.0, 20.0)
    backend = ScriptedBackend({"gre": scripted_answer(fixed)})
    summary = run(bench, out, registry, backend=backend, retry_failed=True)
    assert summary.ran == 1 and summary.failed == 0
    rows = {r["id"]: r for r in load_results(out)}
    assert rows["s0005"]["pred_lat"] == pytest.approx(10.0)
    assert len((out / "results.jsonl").read_text().splitlines()) == 24


def test_a_folder_of_another_run_is_refused(tmp_path, bench, registry):
    out = tmp_path / "run"
    run(bench, out, registry, limit=3)
    with pytest.raises(ManifestError, match=r"configurations differ.*max_rounds"):
        run(bench, out, registry, max_rounds=5)
    other = make_dataset(tmp_path / "other", 5, seed=9)
    with pytest.raises(ManifestError, match="dataset fingerprints differ"):
        run(other, out, registry)
    with pytest.raises(ManifestError, match="shards differ"):
        run(bench, out, registry, shard=(1, 2))
    assert len(load_results(out)) == 3  # nothing lost


class SlowOn(ScriptedBackend):
    """Never answers for one image (a hung model call)."""

    def __init__(self, script, stuck: int):
        super().__init__(script)
        self.stuck = stuck

    async def complete(self, messages, **kwargs):
        from tests.eval_data import image_index

        image = next(img for m in messages for img in m.images)
        if image_index(getattr(image, "image", image)) == self.stuck:
            await asyncio.sleep(60)
        return await super().complete(messages, **kwargs)


def test_timeouts_and_unreadable_images_are_failure_rows(tmp_path, bench, registry):
    # image 7 passes the loader's header check but cannot be decoded
    data = (bench["images"] / "img0007.png").read_bytes()
    (bench["images"] / "img0007.png").write_bytes(data[:60])
    backend = SlowOn({"gre": scripted_answer(bench["answers"])}, stuck=2)
    out = tmp_path / "run"
    summary = run(bench, out, registry, backend=backend, timeout_s=1.0)
    rows = {r["id"]: r for r in load_results(out)}
    assert len(rows) == summary.selected
    timed_out = rows["s0002"]
    assert timed_out["status"] == "timeout" and "1 s" in timed_out["error"]
    _, events = read_trace(out / timed_out["trace"])
    assert events[-1]["kind"] == "timeout"
    if "s0007" in rows:  # the loader may already refuse it; then it is a load problem
        assert rows["s0007"]["status"] == "error" and rows["s0007"]["pred_lat"] is None
    else:
        manifest = json.loads((out / "manifest.json").read_text())
        assert any(p["id"] == "s0007" for p in manifest["dataset"]["problems"])
    score = score_results(list(rows.values()), bootstrap=0)
    assert score.failures.get("timeout") == 1


def test_shards_merge_to_the_single_run(tmp_path, bench, registry):
    single = tmp_path / "single"
    run(bench, single, registry)
    shards = []
    for k in (1, 2, 3):
        shards.append(tmp_path / f"shard{k}")
        run(bench, shards[-1], registry, shard=(k, 3))
    sizes = [len(load_results(s)) for s in shards]
    assert sum(sizes) == 24 and all(sizes)
    merged = tmp_path / "merged"
    summary = merge_runs(shards, merged)
    assert summary.rows == 24 and summary.missing_shards == [] and summary.traces_missing == 0
    assert stable(load_results(merged)) == stable(load_results(single))
    a = score_results(load_results(merged), bootstrap=200)
    b = score_results(load_results(single), bootstrap=200)
    assert a == b
    # the CLI: duplicates dropped, a missing shard named
    result = CliRunner().invoke(
        app, ["eval", "merge", str(shards[0]), str(single), "--out", str(tmp_path / "m2")]
    )
    assert result.exit_code == 0, result.output
    assert len(load_results(tmp_path / "m2")) == 24
    partial = merge_runs(shards[:2], tmp_path / "m3")
    assert partial.missing_shards == ["3/3"]


def test_merge_refuses_incompatible_runs(tmp_path, bench, registry):
    run(bench, tmp_path / "a", registry, limit=2)
    run(bench, tmp_path / "b", registry, limit=2, max_tool_calls=3)
    result = CliRunner().invoke(
        app,
        ["eval", "merge", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "m")],
    )
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "configurations differ" in text and "max_tool_calls" in text
    with pytest.raises(ManifestError, match="no manifest"):
        merge_runs([tmp_path / "a", tmp_path / "nothing"], tmp_path / "m")


def test_shard_assignment_and_trace_names():
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "x", "1-2"):
        with pytest.raises(ValueError):
            parse_shard(bad)
    assert {shard_of(f"id{i}", 4) for i in range(200)} == {1, 2, 3, 4}
    assert trace_file("s0001") == "traces/s0001.jsonl"
    a, b = trace_file("a/b c"), trace_file("a_b_c")
    assert a != b and a.startswith("traces/a_b_c-") and "/" not in a[len("traces/") :]


def test_leakage_guard_settings():
    from gre_agent.evals.runner import make_registry

    reg = make_registry(RunConfig(exclude_domains=["flickr"]))
    assert reg.settings.exif.enabled is False
    assert reg.settings.wikipedia.exclude_domains == ["flickr"]
    assert make_registry(RunConfig(use_exif=True)).settings.exif.enabled is True


# -- through the CLI, against an OpenAI-compatible server -------------------------------------


@pytest.fixture
def server(bench):
    srv = ColourServer(bench["answers"]).start()
    yield srv
    srv.stop()


def cli_args(bench, out, server, *extra):
    return [
        "eval",
        "run",
        str(bench["csv"]),
        "--out",
        str(out),
        "--mode",
        "single",
        "--backend",
        "openai",
        "--base-url",
        server.url,
        "--model",
        "colour-model",
        "--concurrency",
        "4",
        "--quiet",
        *extra,
    ]


def test_cli_run_against_an_openai_server(tmp_path, bench, server, monkeypatch):
    monkeypatch.setenv("GRE_HOME", str(tmp_path / "home"))
    out = tmp_path / "run"
    result = CliRunner().invoke(app, cli_args(bench, out, server, "--exclude", "flickr"))
    assert result.exit_code == 0, result.output
    assert "24 images selected" in result.output and "1 failed" in result.output
    rows = load_results(out)
    assert len(rows) == 24
    assert score_results(rows, bootstrap=0).acc_km == pytest.approx(expected_accuracy(bench))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["model"] == "colour-model"
    assert manifest["config"]["exclude_domains"] == ["flickr"]
    assert manifest["runtime"]["base_urls"] == [server.url]
    bad = CliRunner().invoke(app, cli_args(bench, out, server, "--shard", "3/2"))
    assert bad.exit_code == 2 and "K must be between 1 and N" in " ".join(bad.output.split())
    other = CliRunner().invoke(app, cli_args(bench, out, server, "--max-rounds", "7"))
    assert other.exit_code == 2 and "holds another run" in " ".join(other.output.split())


def size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path, monkeypatch):
    """Kill `gre eval run` with SIGKILL again and again (and tear its last line twice, as a
    power loss would); rerunning the same command ends with exactly one row per image and
    the same metrics as an uninterrupted run.

    Every third kill lands at a random moment of start-up (loading, manifest, repair); the
    others at a random moment after the run has written a new row (mid-run: requests in
    flight, rows queued for the disk)."""
    bench = make_dataset(tmp_path / "bench", 200, seed=3, unanswered=(7, 99))
    srv = ColourServer(bench["answers"], delay_s=0.1).start()
    monkeypatch.setenv("GRE_HOME", str(tmp_path / "home"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rng = random.Random(7)
    out = tmp_path / "killed"
    results = out / "results.jsonl"
    command = [sys.executable, "-m", "gre_agent.cli.main", *cli_args(bench, out, srv)]
    kills, mid_run, rows_seen = 0, 0, []
    try:
        while kills < 15:
            before = size(results)
            proc = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if kills % 3 == 0:
                deadline = time.monotonic() + rng.uniform(0.2, 1.5)
            else:
                deadline = time.monotonic() + 30
            while time.monotonic() < deadline and proc.poll() is None:
                if kills % 3 and size(results) > before:  # running: kill soon, at random
                    deadline = time.monotonic() + rng.uniform(0.0, 0.4)
                    before = float("inf")
                    mid_run += 1
                time.sleep(0.01)
            if proc.poll() is not None:
                break  # it finished on its own
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            rows_seen.append(len(results.read_bytes().splitlines()) if results.exists() else 0)
            if kills in (5, 11) and results.exists():  # a torn write, as on power loss
                with results.open("ab") as fh:
                    fh.write(b'{"id": "s01')
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stderr[-2000:]
        # the uninterrupted run, in-process, wider: answers depend on the image only
        clean = tmp_path / "clean"
        config = RunConfig(
            mode="single",
            backend="openai",
            base_urls=[srv.url],
            model="colour-model",
            concurrency=40,
        )
        asyncio.run(run_eval(load_table(bench["csv"]), clean, config, progress=False))
    finally:
        srv.stop()
    assert kills == 15 and mid_run >= 8, (kills, mid_run, rows_seen)
    assert rows_seen[-1] < 200, "the last kill should still have left work to do"
    lines = results.read_text().splitlines()
    ids = [json.loads(line)["id"] for line in lines]
    assert len(ids) == len(set(ids)) == 200
    assert stable(load_results(out)) == stable(load_results(clean))
    assert score_results(load_results(out)) == score_results(load_results(clean))
    sessions = json.loads((out / "manifest.json").read_text())["sessions"]
    assert len(sessions) >= 2 and sessions[-1]["complete"]


def test_rows_and_comparison_show_model_calls_and_tokens(tmp_path, bench, registry):
    from gre_agent.evals import compare_runs
    from gre_agent.evals.compare import comparison_markdown

    single, agent = tmp_path / "single", tmp_path / "agent"
    run(bench, single, registry)
    run(bench, agent, registry, mode="agent", stages="single-pass", max_rounds=1)
    for out in (single, agent):
        rows = load_results(out)
        answered = [r for r in rows if r.get("pred_lat") is not None]
        assert answered and all(r["prompt_tokens"] > 0 for r in answered)
        assert all(r["completion_tokens"] > 0 and "cached_tokens" in r for r in answered)
    single_calls = [r["model_calls"] for r in load_results(single) if r.get("pred_lat")]
    agent_rows = [r for r in load_results(agent) if r.get("pred_lat")]
    assert set(single_calls) == {1}
    # single-pass: the one generation, plus a revision only where the evidence objected
    assert all(1 <= r["model_calls"] <= 2 for r in agent_rows)
    c = compare_runs(single, agent, bootstrap=50)
    cost_a, cost_b = c.score_a.answered.agent.cost, c.score_b.answered.agent.cost
    assert cost_a.model_calls == 1.0 and 1.0 <= cost_b.model_calls <= 2.0
    text = comparison_markdown(c)
    assert "model calls / image" in text and f"{cost_b.model_calls:.2f}" in text


def test_replaying_a_run_folder_is_deterministic_and_misses_are_cache_miss_rows(
    tmp_path, bench, registry
):
    """Replay keyed by request (photo pixels included): any concurrency gives each image
    its own recorded answer; an image with no record fails with cache_miss as its cause."""
    from gre_agent.agent.backends import ReplayBackend

    recorded = tmp_path / "recorded"
    run(bench, recorded, registry, mode="agent", stages="single-pass", max_rounds=1)
    traces = recorded / "traces"
    first = load_results(recorded)
    dropped = sorted(traces.glob("*.jsonl"))[0]
    dropped_id = next(r["id"] for r in first if r["trace"].endswith(dropped.name))
    dropped.unlink()
    outs = []
    for concurrency in (1, 8):
        out = tmp_path / f"replayed-{concurrency}"
        backend = ReplayBackend(traces)
        run(
            bench, out, registry, backend=backend, mode="agent", stages="single-pass",
            max_rounds=1, concurrency=concurrency,
        )  # fmt: skip
        outs.append({r["id"]: r for r in load_results(out)})
    before = {r["id"]: r for r in first}
    for rows in outs:
        for sid, row in rows.items():
            if sid == dropped_id:
                assert row["status"] == "error" and row["error"].startswith("cache_miss: ")
            else:
                keep = ("status", "pred_lat", "pred_lon")
                assert {k: row.get(k) for k in keep} == {k: before[sid].get(k) for k in keep}


def test_a_run_whose_tool_was_unreachable_is_an_error_row_not_no_answer(tmp_path):
    """No answer because a tool could not be reached is an outage (`error` with the typed
    cause); no answer with every tool answering stays a hard image (`no_answer`)."""
    from gre_agent.core.prediction import Prediction
    from gre_agent.core.trace import ToolCallEvent, ToolErrorRecord
    from gre_agent.evals.datasets import Sample
    from gre_agent.evals.runner import result_row
    from gre_agent.graphs.gre.runner import LocateResult

    sample = Sample(id="x", image_path=tmp_path / "x.jpg", gt_lat=60.0, gt_lon=25.0)
    failed = Prediction(status="failed", reasoning="No candidate place could be read.")
    down = ToolCallEvent(
        tool="osm.find_named",
        error=ToolErrorRecord(kind="unavailable", message="Overpass unreachable"),
    )
    answered = ToolCallEvent(tool="osm.find_named", result={"matches": []})

    def row(*events):
        state = {"trace": [e.model_dump(mode="json") for e in events]}
        return result_row(sample, LocateResult("x.jpg", failed, state), "agent", "t", 0.1)

    outage = row(answered, down)
    assert outage["status"] == "error"
    assert outage["error"] == "unavailable: osm.find_named: Overpass unreachable"
    hard = row(answered)
    assert hard["status"] == "no_answer" and hard["error"].startswith("no coordinates")
