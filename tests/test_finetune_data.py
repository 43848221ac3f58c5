"""Fine-tuning data: traces of real graph runs (scripted model, offline tools) -> datasets,
filters (success, leakage, duplicates, locatability), ground truth, the assistant-only mask
token by token, configs, recipes and the `gre finetune data` / `config` commands."""

from __future__ import annotations

import asyncio
import csv
import json
import shutil
from pathlib import Path

import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from gre_agent.agent.backends import Completion, ToolCall
from gre_agent.agent.finetune import (
    RECIPES,
    ConfigError,
    DataOptions,
    Exclusions,
    GroundTruth,
    build_records,
    load_config,
)
from gre_agent.agent.finetune.config import CONFIGS, DPOConfig, GRPOConfig, SFTConfig
from gre_agent.cli.main import app
from gre_agent.core.settings import Settings
from gre_agent.graphs.gre import Context, locate
from gre_agent.tools import Registry
from tests.scripted import ScriptedBackend
from tests.test_graph_agent import DETAIL_HELSINKI, SCENE, SEMANTIC, espoo_guess

# Four places; each image gets a close run and one 5 degrees of latitude off (~556 km).
PLACES = [(60.1699, 24.9384), (48.8566, 2.3522), (40.742, -73.985), (35.6762, 139.6503)]
OFFSETS = (0.0, 5.0)


def gre_answer(i: int, lat: float, lon: float) -> str:
    return (
        f"<think> 1. Street-level analysis: city number {i}. </think> "
        f'<answer> "Latitude": "{lat:.4f}°", "Longitude": "{lon:.4f}°" </answer>'
    )


def make_single_traces(root: Path) -> tuple[Path, Path]:
    """Real single-shot graph runs: (traces folder, ground-truth JSONL)."""
    registry = Registry(Settings(home=root / "home", offline=True), include_plugins=False)
    rows = []
    for i, (lat, lon) in enumerate(PLACES):
        image = root / "images" / f"img{i}.png"
        image.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 64), (60 * i, 90, 160)).save(image)
        rows.append({"id": image.stem, "gt_lat": lat, "gt_lon": lon})
        for j, off in enumerate(OFFSETS):
            backend = ScriptedBackend({"gre": gre_answer(i, lat + off, lon)})
            result = asyncio.run(
                locate(
                    image,
                    Context(backend_obj=backend, registry=registry, mode="single"),
                    trace_path=root / "traces" / f"img{i}-{j}.jsonl",
                )
            )
            assert result.error is None
    gt = root / "gt.jsonl"
    gt.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root / "traces", gt


TOOL_ANSWER = (
    '{"hypotheses": [{"place": "Aleksanterinkatu, Helsinki", "country_code": "FI", '
    '"lat": 60.1685, "lon": 24.9490, "radius_km": 0.5, "confidence": 0.9}], '
    '"decision": "commit"}'
)


def make_agent_trace(root: Path, osm_db: Path) -> Path:
    """A model-driven run: stages, a tool call, its result, the final answer."""
    image = root / "street.png"
    Image.new("RGB", (64, 48), (120, 130, 140)).save(image)
    call = Completion(
        text="Checking the street.",
        tool_calls=[
            ToolCall(
                id="c1",
                name="osm__find_named",
                arguments={
                    "name": "Aleksanterinkatu",
                    "around": {"lat": 60.17, "lon": 24.94, "radius_m": 3000},
                },
            )
        ],
    )
    backend = ScriptedBackend(
        {
            "scene": SCENE,
            "detail": DETAIL_HELSINKI,
            "semantic": SEMANTIC,
            "hypotheses": espoo_guess,
            "verification": [call, TOOL_ANSWER],
        }
    )
    settings = Settings(home=root / "home", offline=True, osm={"data_path": str(osm_db)})
    registry = Registry(settings, include_plugins=False)
    result = asyncio.run(
        locate(
            image,
            Context(backend_obj=backend, registry=registry, verify="model", max_rounds=1),
            trace_path=root / "agent-traces" / "street.jsonl",
        )
    )
    assert result.error is None and result.prediction.status == "ok"
    (root / "agent-gt.csv").write_text(f"image_path,lat,lon\n{image},60.1685,24.9490\n")
    return result.trace_path


@pytest.fixture(scope="module")
def single_runs(tmp_path_factory):
    return make_single_traces(tmp_path_factory.mktemp("ft-single"))


@pytest.fixture(scope="module")
def agent_run(tmp_path_factory, helsinki_osm_db):
    root = tmp_path_factory.mktemp("ft-agent")
    return make_agent_trace(root, helsinki_osm_db), root / "agent-gt.csv"


# --- datasets -------------------------------------------------------------------------------


def test_sft_records_are_gre30k_cot_records_of_the_successful_runs(single_runs):
    traces, gt = single_runs
    split, report = build_records(
        [traces], DataOptions(kind="sft", val_fraction=0.25), gt=GroundTruth.read(gt)
    )
    records = split["train"] + split["validation"]
    assert report.read == 8 and report.dropped == {"error > 25 km": 4}
    assert len(records) == 4 and all(r["error_km"] < 0.01 for r in records)
    r = records[0]
    human, gpt = r["conversations"]
    assert human["from"] == "human" and human["value"].startswith("<image>\nWhere was this photo")
    assert (
        gpt["from"] == "gpt" and gpt["value"].startswith("<think>") and "<answer>" in gpt["value"]
    )
    assert (r["gt_lat"], r["gt_lon"]) in PLACES
    assert r["messages"][1]["content"][0]["text"] == gpt["value"]
    assert r["images"] == [r["image"]]
    # split by image: no photo on both sides
    train_ids = {x["image_id"] for x in split["train"]}
    val_ids = {x["image_id"] for x in split["validation"]}
    assert len(val_ids) == 1 and train_ids.isdisjoint(val_ids)


def test_dpo_pairs_prefer_the_closer_run_of_the_same_image(single_runs):
    traces, gt = single_runs
    split, _ = build_records(
        [traces], DataOptions(kind="dpo", val_fraction=0.0), gt=GroundTruth.read(gt)
    )
    pairs = split["train"]
    assert len(pairs) == 4
    for p in pairs:
        assert p["chosen_error_km"] < 0.01 < 500 < p["rejected_error_km"]
        assert Path(p["chosen_trace"]).name[:4] == Path(p["rejected_trace"]).name[:4]
        assert p["chosen"][0]["content"][0]["text"] != p["rejected"][0]["content"][0]["text"]
    # a margin larger than the gap leaves no pair
    split, _ = build_records(
        [traces],
        DataOptions(kind="dpo", val_fraction=0.0, min_margin_km=1000),
        gt=GroundTruth.read(gt),
    )
    assert split["train"] == []


def test_grpo_prompts_carry_ground_truth_once_per_image(single_runs):
    traces, gt = single_runs
    split, _ = build_records(
        [traces], DataOptions(kind="grpo", val_fraction=0.0), gt=GroundTruth.read(gt)
    )
    rows = split["train"]
    assert len(rows) == 4 and len({r["image_id"] for r in rows}) == 4
    assert {(r["gt_lat"], r["gt_lon"]) for r in rows} == set(PLACES)
    assert rows[0]["prompt"][0]["content"][0]["type"] == "image"


def test_leakage_duplicates_and_locatability_are_filtered(single_runs, tmp_path):
    traces, gt = single_runs
    # an evaluation folder holding img0's photo under another name: excluded by its hash
    evals = tmp_path / "eval-images"
    evals.mkdir()
    shutil.copy(traces.parent / "images" / "img0.png", evals / "bench-0001.png")
    ids = tmp_path / "eval-ids.txt"
    ids.write_text("# evaluation ids\nimg1\n")
    exclusions = Exclusions()
    exclusions.add(evals)
    exclusions.add(ids)
    # a copied trace is a duplicate
    copies = tmp_path / "copies"
    copies.mkdir()
    shutil.copy(traces / "img2-0.jsonl", copies / "again.jsonl")
    scores = {"img2": 0.9, "img3": 0.2}
    split, report = build_records(
        [traces, copies],
        DataOptions(kind="sft", val_fraction=0.0, min_locatability=0.5),
        gt=GroundTruth.read(gt),
        exclusions=exclusions,
        locatability=lambda images: [scores[Path(i).stem] for i in images],
    )
    assert report.dropped["evaluation image (leakage)"] == 4
    assert report.dropped["duplicate trajectory"] == 1
    assert report.dropped["locatability < 0.5"] == 1
    assert [Path(r["image"]).stem for r in split["train"]] == ["img2"]
    with pytest.raises(ValueError, match="needs a scorer"):
        build_records([traces], DataOptions(min_locatability=0.5), gt=GroundTruth.read(gt))


def test_bad_traces_are_reported_and_missing_ground_truth_is_a_clear_error(single_runs, tmp_path):
    traces, gt = single_runs
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "not-a-trace.jsonl").write_text('{"hello": 1}\n')
    old = [json.loads(x) for x in (traces / "img0-0.jsonl").read_text().splitlines()]
    for e in old:
        e.pop("messages", None)
    (bad / "old.jsonl").write_text("\n".join(json.dumps(e) for e in old))
    split, report = build_records(
        [traces, bad], DataOptions(kind="sft", max_error_km=None), gt=GroundTruth.read(gt)
    )
    assert report.dropped["unreadable trace"] == 2
    assert any("do not store their requests" in p for p in report.problems)
    assert len(split["train"]) + len(split["validation"]) == 8
    with pytest.raises(ValueError, match="needs ground truth"):
        build_records([traces], DataOptions(kind="grpo"))
    with pytest.raises(FileNotFoundError):
        build_records([tmp_path / "nothing"], DataOptions(kind="sft", max_error_km=None))


def test_ground_truth_matches_by_path_id_hash_and_run_folder(tmp_path):
    image = tmp_path / "a" / "photo-7.jpg"
    image.parent.mkdir()
    Image.new("RGB", (8, 8)).save(image)
    table = tmp_path / "gt.csv"
    with table.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image_path", "latitude", "longitude"])
        w.writerow([str(image), "10.5", "-20.25"])
        w.writerow(["x.jpg", "95", "0"])  # out of range: skipped, reported
    gt = GroundTruth.read(table)
    assert gt.lookup(str(image)) == (10.5, -20.25) and len(gt) == 1
    assert gt.skipped and "out of range" in gt.skipped[0]
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.jsonl").write_text(
        json.dumps({"id": "photo-7", "pred_lat": 0, "pred_lon": 0, "gt_lat": 1.0, "gt_lon": 2.0})
    )
    by_id = GroundTruth.read(run)
    assert by_id.lookup("/elsewhere/photo-7.jpg") == (1.0, 2.0)  # the loaders' id is the stem
    sha = tmp_path / "sha.jsonl"
    sha.write_text(json.dumps({"sha256": "AB" * 32, "lat": 3, "lon": 4}))
    assert GroundTruth.read(sha).lookup("/any/name.png", "ab" * 32) == (3.0, 4.0)
    with pytest.raises(ValueError, match=r"no results\.jsonl"):
        GroundTruth.read(tmp_path / "a")


# --- multi-turn trajectories and the assistant-only mask -----------------------------------


def test_agent_trajectory_keeps_stages_tool_calls_and_results(agent_run):
    trace, gt = agent_run
    split, _report = build_records(
        [trace], DataOptions(kind="agent", val_fraction=0.0), gt=GroundTruth.read(gt)
    )
    (record,) = split["train"]
    roles = [m["role"] for m in record["messages"]]
    assert roles[:3] == ["system", "user", "assistant"]
    assert roles.count("tool") == 1 and roles[-1] == "assistant"
    call = next(m for m in record["messages"] if m["tool_calls"])
    assert call["tool_calls"][0]["function"]["name"] == "osm__find_named"
    assert json.loads(call["tool_calls"][0]["function"]["arguments"])["name"] == "Aleksanterinkatu"
    tool = next(m for m in record["messages"] if m["role"] == "tool")
    assert "Aleksanterinkatu" in tool["content"][0]["text"] and tool["tool_call_id"] == "c1"
    assert json.loads(record["tools"]) and len(record["images"]) == 1


def _expected_mask(ids: list[int], tok) -> list[bool]:
    """Independently of the template: tokens of an assistant turn after its header, up to and
    including <|im_end|>, are trained; everything else is not."""
    start, end = tok.convert_tokens_to_ids("<|im_start|>"), tok.convert_tokens_to_ids("<|im_end|>")
    out, role, in_header, header = [], None, False, ""
    for t in ids:
        if t == start:
            in_header, header, role = True, "", None
            out.append(False)
            continue
        if in_header:
            header += tok.decode([t])
            out.append(False)
            if "\n" in header:
                assert header.endswith("\n"), f"header token runs into the body: {header!r}"
                role, in_header = header.split("\n")[0], False
            continue
        out.append(role == "assistant")
        if t == end:
            role = None
    return out


def test_assistant_only_mask_token_by_token(agent_run, tiny_qwen_dir):
    from datasets import Dataset

    from gre_agent.agent.finetune import ChatCollator
    from gre_agent.agent.finetune.data import _features
    from gre_agent.agent.testing import load_processor

    trace, gt = agent_run
    split, _ = build_records(
        [trace], DataOptions(kind="agent", val_fraction=0.0), gt=GroundTruth.read(gt)
    )
    ds: Dataset = _features(split["train"], embed=True)
    processor = load_processor(tiny_qwen_dir)
    batch = ChatCollator(processor, chat_template=processor.chat_template)([ds[0]])
    ids = batch["input_ids"][0].tolist()
    labels = batch["labels"][0].tolist()
    tok = processor.tokenizer
    expected = _expected_mask(ids, tok)
    assert [lab != -100 for lab in labels] == expected
    assert all(lab == i for lab, i in zip(labels, ids, strict=True) if lab != -100)
    trained = tok.decode([i for i, keep in zip(ids, expected, strict=True) if keep])
    assert '"name": "osm__find_named"' in trained  # the tool call is learned
    assert "<tool_response>" not in trained and "Stage 1 of 6" not in trained
    assert "image_pad" not in trained and "# Tools" not in trained
    assert trained.count("<|im_end|>") == sum(
        m["role"] == "assistant" for m in split["train"][0]["messages"]
    )
    assert batch["pixel_values"].shape[0] > 0 and "image_grid_thw" in batch


# --- configs, recipes, CLI -----------------------------------------------------------------


def test_config_yaml_and_overrides_through_one_parser(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("method: grpo\nmodel: m\ndataset: d\noutput_dir: o\nrewards: [coordinate]\n")
    cfg = load_config(GRPOConfig, path, ["--tau-km=25", "num_generations=4", "--beta=0"])
    assert (cfg.tau_km, cfg.num_generations, cfg.beta, cfg.rewards) == (
        25.0,
        4,
        0.0,
        ["coordinate"],
    )
    with pytest.raises(ConfigError, match="is a 'grpo' config"):
        load_config(SFTConfig, path)
    with pytest.raises(ConfigError, match="unknown grpo setting"):
        load_config(GRPOConfig, path, ["--learning-rte=1"])
    with pytest.raises(ConfigError, match="num_generations: expected an integer"):
        load_config(GRPOConfig, path, ["num_generations=many"])
    with pytest.raises(ConfigError, match="needs dataset"):
        load_config(DPOConfig, None, {"model": "m", "output_dir": "o"})


def test_every_recipe_is_a_valid_config_and_the_launch_files_parse():
    methods = {}
    for recipe in sorted(RECIPES.glob("*.yaml")):
        data = yaml.safe_load(recipe.read_text())
        if "method" in data:
            methods[recipe.stem] = load_config(CONFIGS[data["method"]], recipe).method
        else:
            assert data["num_processes"] >= 1  # an accelerate launch file
            ds = data.get("deepspeed_config", {}).get("deepspeed_config_file")
            if ds:
                assert json.loads((RECIPES / Path(ds).name).read_text())["zero_optimization"]
    assert methods["gre_sft"] == "sft" and methods["gre_grpo"] == "grpo"
    assert methods["georeasoner_reasoning"] == methods["georeasoner_location"] == "sft"


def test_cli_data_writes_a_dataset_and_rejects_bad_input(single_runs, tmp_path):
    from datasets import load_from_disk

    traces, gt = single_runs
    runner = CliRunner()
    out = tmp_path / "ds"
    res = runner.invoke(
        app, ["finetune", "data", str(traces), "--gt", str(gt), "--kind", "grpo", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    ds = load_from_disk(str(out))
    assert ds["train"].num_rows + ds["validation"].num_rows == 4
    assert ds["train"][0]["images"][0].size == (64, 64)  # embedded, decodes to PIL
    assert json.loads((out / "gre_finetune_data.json").read_text())["options"]["kind"] == "grpo"
    for args in (
        ["--kind", "ppo"],
        ["--gt", str(tmp_path / "missing.csv")],
        ["--max-error-km", "far"],
    ):
        res = runner.invoke(
            app, ["finetune", "data", str(traces), "--out", str(tmp_path / "x"), *args]
        )
        assert res.exit_code == 2, res.output
    res = runner.invoke(app, ["finetune", "config", "grpo"])
    assert res.exit_code == 0
    template = yaml.safe_load(res.stdout)
    assert template["method"] == "grpo" and template["tau_km"] == 500.0
