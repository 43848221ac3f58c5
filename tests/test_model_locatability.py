"""The locatability scorer on a tiny random CLIP built here (no downloads).

Synthetic data where locatability is learnable: high-contrast stripes (edges, text-like
texture; label 0.9) against flat colour fields with faint noise (label 0.1).
"""

from __future__ import annotations

import doctest
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import (
    BertConfig,
    CLIPConfig,
    CLIPModel,
    CLIPVisionConfig,
    CLIPVisionModel,
    CLIPVisionModelWithProjection,
)
from typer.testing import CliRunner

from gre_agent.agent import _locatability_base
from gre_agent.agent.locatability import (
    Effort,
    EffortLevel,
    EffortPolicy,
    ImageLoadError,
    LocatabilityError,
    LocatabilityScorer,
    TrainConfig,
    _processor_class,
    effort_for,
    filter_locatable,
    load_image,
    read_pairs,
)
from gre_agent.cli.main import app

SIZE = 64
VISION = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=2,
    image_size=SIZE,
    patch_size=16,
)
FAST = TrainConfig(epochs=60, lr=3e-3, patience=10, seed=0)


def _processor():
    return _processor_class()(
        size={"shortest_edge": SIZE}, crop_size={"height": SIZE, "width": SIZE}
    )


def _save_tiny(model: torch.nn.Module, path: Path) -> Path:
    model.save_pretrained(path)
    _processor().save_pretrained(path)
    return path


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Tiny models on a shared 2-core machine: 1 thread is ~10x faster than 2 under load."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random CLIPVisionModelWithProjection (hidden 32, 2 layers, 64 px, patch 16)."""
    torch.manual_seed(0)
    model = CLIPVisionModelWithProjection(CLIPVisionConfig(**VISION, projection_dim=16))
    return _save_tiny(model, tmp_path_factory.mktemp("tiny-clip"))


def _striped(rng: random.Random) -> Image.Image:
    side = 80
    period = rng.randint(3, 8)
    light = np.array([rng.randint(0, 255) for _ in range(3)], np.uint8)
    axis = np.arange(side) // period % 2 == 0
    mask = np.broadcast_to(axis[None, :] if rng.random() < 0.5 else axis[:, None], (side, side))
    pixels = np.empty((side, side, 3), np.uint8)
    pixels[mask], pixels[~mask] = light, 255 - light
    return Image.fromarray(pixels)


def _flat(rng: random.Random) -> Image.Image:
    colour = np.array([rng.randint(0, 255) for _ in range(3)], np.int16)
    noise = np.random.default_rng(rng.randint(0, 10**6)).integers(-6, 7, (80, 80, 3))
    return Image.fromarray(np.clip(colour + noise, 0, 255).astype(np.uint8))


def synthetic(n: int, seed: int) -> tuple[list[Image.Image], list[float]]:
    """n images alternating flat (0.1) and striped (0.9)."""
    rng = random.Random(seed)
    images, labels = [], []
    for i in range(n):
        striped = i % 2 == 1
        images.append(_striped(rng) if striped else _flat(rng))
        labels.append(0.9 if striped else 0.1)
    return images, labels


@pytest.fixture(scope="module")
def trained(tiny_clip: Path):
    images, labels = synthetic(128, seed=1)
    scorer = LocatabilityScorer.from_encoder(tiny_clip, device="cpu", seed=0)
    report = scorer.fit(images, labels, FAST)
    return scorer, report


def _auc(scores: list[float], labels: list[float]) -> float:
    pos = [s for s, y in zip(scores, labels, strict=True) if y > 0.5]
    neg = [s for s, y in zip(scores, labels, strict=True) if y <= 0.5]
    return float(np.mean([[1.0 if p > q else 0.5 if p == q else 0.0 for q in neg] for p in pos]))


def _write(images: list[Image.Image], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        img.save(folder / f"{i}.png")
        paths.append(folder / f"{i}.png")
    return paths


# --- training and scoring ---------------------------------------------------------------


def test_trained_scorer_ranks_held_out_images(trained):
    scorer, report = trained
    held_out, labels = synthetic(64, seed=99)
    scores = scorer.score(held_out)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert _auc(scores, labels) >= 0.9
    accuracy = np.mean([(s >= 0.5) == (y > 0.5) for s, y in zip(scores, labels, strict=True)])
    assert accuracy >= 0.8
    # The loss fell: BCE with soft targets 0.1/0.9 bottoms out at about 0.325.
    assert report.train_loss[-1] < 0.8 * report.train_loss[0]
    assert report.best_val_loss < report.val_loss[0]
    assert report.n_train == 102 and report.n_val == 26 and not report.skipped
    assert report.val_mae is not None and report.val_mae < 0.3


def test_untrained_head_does_not_rank(tiny_clip):
    """The same images through an untrained head: the ranking above comes from training."""
    scorer = LocatabilityScorer.from_encoder(tiny_clip, device="cpu", seed=0)
    held_out, labels = synthetic(64, seed=99)
    scores = scorer.score(held_out)
    assert max(scores) - min(scores) < 0.2 or _auc(scores, labels) < 0.9


def test_early_stopping_restores_the_best_head(tiny_clip):
    images, labels = synthetic(48, seed=3)
    scorer = LocatabilityScorer.from_encoder(tiny_clip, device="cpu", seed=0)
    seen = []
    report = scorer.fit(
        images,
        labels,
        TrainConfig(epochs=200, lr=5e-2, patience=2, seed=0),
        on_epoch=lambda epoch, train, val: seen.append((epoch, train, val)),
    )
    assert report.stopped_early and report.epochs_run < 200
    assert report.epochs_run == report.best_epoch + 2
    assert len(seen) == report.epochs_run
    assert report.best_val_loss == pytest.approx(min(report.val_loss))
    # The restored head reproduces the best epoch's validation loss.
    assert seen[report.best_epoch - 1][2] == pytest.approx(report.best_val_loss)


def test_batching_does_not_change_scores(trained):
    scorer, _ = trained
    images, _ = synthetic(10, seed=5)
    one_by_one = [scorer.score_one(img) for img in images]
    assert scorer.score(images, batch_size=3) == pytest.approx(one_by_one, abs=1e-5)
    assert scorer.score([]) == []


def test_save_load_round_trip(trained, tmp_path):
    scorer, _ = trained
    images, _ = synthetic(12, seed=7)
    before = scorer.score(images)
    out = scorer.save(tmp_path / "model")
    names = sorted(p.name for p in out.iterdir())
    assert names == ["head.safetensors", "locatability.json", "preprocessor_config.json"]
    config = json.loads((out / "locatability.json").read_text())
    assert config["format"] == "gre-locatability/1"
    assert config["embedding"] == "projected" and config["head"]["in_dim"] == 16
    assert config["training"]["best_epoch"] >= 1
    loaded = LocatabilityScorer.load(out, device="cpu")
    assert loaded.score(images) == before
    # The encoder can be pointed elsewhere (a local mirror of the recorded id).
    mirror = LocatabilityScorer.load(out, encoder=scorer.encoder_source, device="cpu")
    assert mirror.score(images) == before


def test_score_many_reports_unreadable_images_and_scores_the_rest(trained, tmp_path):
    scorer, _ = trained
    images, _ = synthetic(3, seed=11)
    good = _write(images, tmp_path / "ok")
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    noise = tmp_path / "noise.png"
    noise.write_bytes(bytes(range(256)))
    text = tmp_path / "notes.txt"
    text.write_text("no pixels here")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good[0].read_bytes()[:80])
    missing = tmp_path / "missing.png"
    sources = [good[0], corrupt, good[1], noise, text, truncated, missing, tmp_path, good[2]]
    results = scorer.score_many(sources, batch_size=3)
    assert [r.source for r in results] == [str(s) for s in sources]
    scored = [r.score for r in results if r.score is not None]
    assert scored == pytest.approx(scorer.score(images), abs=1e-5)
    errors = {Path(r.source).name: r.error for r in results if r.error}
    assert errors["corrupt.jpg"].startswith("corrupt image")
    assert errors["noise.png"] == "not an image or an unsupported format"
    assert errors["notes.txt"] == "not an image or an unsupported format"
    assert errors["truncated.png"].startswith("corrupt image")
    assert errors["missing.png"] == "no such file"
    assert errors[tmp_path.name] == "is a directory"
    with pytest.raises(ImageLoadError, match=r"corrupt\.jpg"):
        scorer.score([good[0], corrupt])


def test_load_image_accepts_pil_and_converts_to_rgb(tmp_path):
    grey = Image.new("L", (10, 10), 128)
    assert load_image(grey).mode == "RGB"
    grey.save(tmp_path / "g.png")
    assert load_image(tmp_path / "g.png").size == (10, 10)


def test_fit_skips_unreadable_images_or_refuses(tiny_clip, tmp_path):
    images, labels = synthetic(10, seed=13)
    paths = _write(images, tmp_path / "imgs")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"garbage")
    scorer = LocatabilityScorer.from_encoder(tiny_clip, device="cpu", seed=0)
    report = scorer.fit([*paths, bad], [*labels, 0.5], TrainConfig(epochs=2))
    assert report.skipped == [(str(bad), "not an image or an unsupported format")]
    assert report.n_train + report.n_val == 10
    with pytest.raises(ImageLoadError, match=r"bad\.png"):
        scorer.fit([*paths, bad], [*labels, 0.5], TrainConfig(epochs=2, skip_unreadable=False))


@pytest.mark.parametrize(
    ("scores", "message"),
    [([0.5, 1.5], "outside"), ([0.5, float("nan")], "outside"), ([0.5], "2 images but 1")],
)
def test_fit_rejects_bad_targets(tiny_clip, scores, message):
    images, _ = synthetic(2, seed=0)
    scorer = LocatabilityScorer.from_encoder(tiny_clip, device="cpu")
    with pytest.raises(LocatabilityError, match=message):
        scorer.fit(images, scores)


def test_fit_needs_two_readable_images(tiny_clip, tmp_path):
    images, _ = synthetic(1, seed=0)
    scorer = LocatabilityScorer.from_encoder(tiny_clip, device="cpu")
    with pytest.raises(LocatabilityError, match="at least 2"):
        scorer.fit([images[0], tmp_path / "nope.png"], [0.2, 0.4])


def test_fit_without_validation_trains_every_epoch(tiny_clip):
    images, labels = synthetic(8, seed=2)
    scorer = LocatabilityScorer.from_encoder(tiny_clip, device="cpu", seed=0)
    report = scorer.fit(images, labels, TrainConfig(epochs=4, val_fraction=0.0))
    assert report.n_val == 0 and report.epochs_run == 4 and report.val_loss == []
    assert report.best_val_loss is None and not report.stopped_early


def test_unfrozen_encoder_trains_saves_and_reloads(tiny_clip, tmp_path):
    images, labels = synthetic(16, seed=4)
    scorer = LocatabilityScorer.from_encoder(tiny_clip, device="cpu", seed=0)
    before = {k: v.clone() for k, v in scorer.encoder.state_dict().items()}
    report = scorer.fit(
        images, labels, TrainConfig(epochs=2, train_encoder=True, encoder_lr=1e-3, batch_size=8)
    )
    assert report.epochs_run == 2
    after = scorer.encoder.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert not any(p.requires_grad for p in scorer.encoder.parameters())
    out = scorer.save(tmp_path / "ft")
    assert (out / "encoder" / "config.json").is_file()
    config = json.loads((out / "locatability.json").read_text())
    assert config["encoder_finetuned"] and config["encoder"] == str(tiny_clip)
    probe, _ = synthetic(6, seed=8)
    assert LocatabilityScorer.load(out, device="cpu").score(probe) == scorer.score(probe)


# --- encoders ------------------------------------------------------------------------------


def test_full_clip_checkpoint_uses_its_visual_projection(tmp_path):
    """Real ids (openai/clip-vit-large-patch14, StreetCLIP) are CLIPModel checkpoints."""
    torch.manual_seed(1)
    text = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        vocab_size=64,
        max_position_embeddings=16,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    full = CLIPModel(CLIPConfig(text_config=text, vision_config=VISION, projection_dim=24))
    path = _save_tiny(full, tmp_path / "full")
    scorer = LocatabilityScorer.from_encoder(path, device="cpu")
    assert scorer.embedding == "projected" and scorer.head.in_dim == 24
    assert torch.equal(scorer.encoder.visual_projection.weight, full.visual_projection.weight)
    images, _ = synthetic(2, seed=0)
    with torch.no_grad():
        pixels = scorer.processor(images=images, return_tensors="pt")["pixel_values"]
        expected = full.get_image_features(pixel_values=pixels)
    expected = getattr(expected, "pooler_output", expected)
    expected = torch.nn.functional.normalize(expected, dim=-1)
    assert torch.allclose(scorer.embed(images), expected, atol=1e-5)


def test_vision_model_without_projection_uses_pooled_output(tmp_path):
    path = _save_tiny(CLIPVisionModel(CLIPVisionConfig(**VISION)), tmp_path / "plain")
    scorer = LocatabilityScorer.from_encoder(path, device="cpu")
    assert scorer.embedding == "pooled" and scorer.head.in_dim == 32
    images, _ = synthetic(3, seed=0)
    assert scorer.embed(images).shape == (3, 32)
    with pytest.raises(LocatabilityError, match="no visual projection"):
        LocatabilityScorer.from_encoder(path, embedding="projected", device="cpu")


def test_pooled_embedding_of_a_projection_checkpoint(tiny_clip):
    scorer = LocatabilityScorer.from_encoder(tiny_clip, embedding="pooled", device="cpu")
    assert scorer.embedding == "pooled" and scorer.head.in_dim == 32


def test_not_a_clip_model(tmp_path):
    BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1).save_pretrained(
        tmp_path / "bert"
    )
    with pytest.raises(LocatabilityError, match="not CLIP"):
        LocatabilityScorer.from_encoder(tmp_path / "bert", device="cpu")
    with pytest.raises(LocatabilityError, match="cannot load a CLIP config"):
        LocatabilityScorer.from_encoder(tmp_path / "nothing-here", device="cpu")


def test_encoder_without_preprocessing_config(tmp_path):
    CLIPVisionModel(CLIPVisionConfig(**VISION)).save_pretrained(tmp_path / "bare")
    with pytest.raises(LocatabilityError, match="no CLIP image preprocessing config"):
        LocatabilityScorer.from_encoder(tmp_path / "bare", device="cpu")


def test_load_rejects_what_is_not_a_saved_scorer(trained, tmp_path):
    with pytest.raises(LocatabilityError, match="holds no locatability model"):
        LocatabilityScorer.load(tmp_path)
    (tmp_path / "locatability.json").write_text("{not json")
    with pytest.raises(LocatabilityError, match="not valid JSON"):
        LocatabilityScorer.load(tmp_path)
    (tmp_path / "locatability.json").write_text('{"format": "something-else"}')
    with pytest.raises(LocatabilityError, match="unknown format"):
        LocatabilityScorer.load(tmp_path)
    (tmp_path / "locatability.json").write_text('["gre-locatability/1"]')
    with pytest.raises(LocatabilityError, match="unknown format"):
        LocatabilityScorer.load(tmp_path)
    (tmp_path / "locatability.json").write_text('{"format": "gre-locatability/1"}')
    with pytest.raises(LocatabilityError, match="lacks a field: 'head'"):
        LocatabilityScorer.load(tmp_path)
    scorer, _ = trained
    out = scorer.save(tmp_path / "m")
    (out / "head.safetensors").write_bytes(b"broken")
    with pytest.raises(LocatabilityError, match="cannot load the head"):
        LocatabilityScorer.load(out, device="cpu")


# --- pairs files -------------------------------------------------------------------------


def test_read_pairs_csv_and_jsonl(tmp_path):
    (tmp_path / "a.csv").write_text("image,score\nimgs/1.png,0.9\n/abs/2.png,0\n")
    assert read_pairs(tmp_path / "a.csv") == [
        (tmp_path / "imgs" / "1.png", 0.9),
        (Path("/abs/2.png"), 0.0),
    ]
    lines = [{"image_path": "x.jpg", "locatability": 1}, {"path": "y.jpg", "label": "0.25"}]
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n\n")
    assert read_pairs(tmp_path / "b.jsonl") == [
        (tmp_path / "x.jpg", 1.0),
        (tmp_path / "y.jpg", 0.25),
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("p.csv", "picture,quality\nx.png,0.5\n", "needs one of the fields image"),
        ("p.csv", "image\nx.png\n", "needs one of the fields score"),
        ("p.csv", "image,score\nx.png,high\n", "p.csv:2: the score is not a number"),
        ("p.csv", "image,score\nx.png,1.2\n", "outside"),
        ("p.csv", "image,score\n", "no pairs"),
        ("p.jsonl", '{"image": "x", "score": 0.1}\n[1, 2]\n', "p.jsonl:2: expected a JSON"),
        ("p.jsonl", "{oops\n", "not JSON"),
        ("p.txt", "x.png 0.5\n", "expected a .csv or .jsonl"),
    ],
)
def test_read_pairs_errors(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(LocatabilityError, match=message):
        read_pairs(tmp_path / name)


def test_read_pairs_missing_file(tmp_path):
    with pytest.raises(LocatabilityError, match="cannot read"):
        read_pairs(tmp_path / "none.csv")


# --- filtering and effort ------------------------------------------------------------------


def test_filter_with_scores():
    result = filter_locatable(["a", "b", "c", "d"], scores=[0.7, 0.69, None, 0.7], threshold=0.7)
    assert [s.item for s in result.kept] == ["a", "d"]
    assert [(s.item, s.score) for s in result.dropped] == [("b", 0.69)]
    assert [(s.item, s.error) for s in result.failed] == [("c", "no score")]
    assert result.threshold == 0.7


def test_filter_with_scorer_keeps_striped_images(trained, tmp_path):
    scorer, _ = trained
    images, labels = synthetic(20, seed=21)
    paths = _write(images, tmp_path / "set")
    records = [{"id": i, "image_path": p} for i, p in enumerate(paths)]
    records.append({"id": 99, "image_path": tmp_path / "gone.png"})
    result = filter_locatable(records, scorer, threshold=0.5, image=lambda r: r["image_path"])
    kept = {s.item["id"] for s in result.kept}
    striped = {i for i, y in enumerate(labels) if y > 0.5}
    assert len(kept & striped) >= 8 and len(kept - striped) <= 2
    assert [s.item["id"] for s in result.failed] == [99]
    assert len(result.kept) + len(result.dropped) == 20
    assert all(s.score >= 0.5 for s in result.kept)
    assert all(s.score < 0.5 for s in result.dropped)


def test_filter_argument_errors(trained):
    scorer, _ = trained
    with pytest.raises(ValueError, match="exactly one"):
        filter_locatable(["a"])
    with pytest.raises(ValueError, match="exactly one"):
        filter_locatable(["a"], scorer, scores=[0.1])
    with pytest.raises(ValueError, match="1 items but 2"):
        filter_locatable(["a"], scores=[0.1, 0.2])
    with pytest.raises(ValueError, match="threshold"):
        filter_locatable(["a"], scores=[0.1], threshold=1.5)


@pytest.mark.parametrize(
    ("score", "level", "rounds", "calls"),
    [
        (0.0, "low", 1, 4),
        (0.3499, "low", 1, 4),
        (0.35, "medium", 2, 8),
        (0.6999, "medium", 2, 8),
        (0.7, "high", 3, 16),
        (1.0, "high", 3, 16),
        (None, "medium", 2, 8),
    ],
)
def test_effort_mapping(score, level, rounds, calls):
    assert effort_for(score) == Effort(EffortLevel(level), rounds, calls, score)


def test_effort_custom_policy_and_errors():
    policy = EffortPolicy(
        medium_from=0.2,
        high_from=0.9,
        budgets={EffortLevel.low: (0, 0), EffortLevel.medium: (1, 2), EffortLevel.high: (5, 9)},
        unknown=EffortLevel.high,
    )
    assert effort_for(0.1, policy).verify_rounds == 0
    assert effort_for(0.5, policy).level == EffortLevel.medium
    assert effort_for(None, policy).max_tool_calls == 9
    for bad in (-0.1, 1.01, float("nan")):
        with pytest.raises(ValueError, match="outside"):
            effort_for(bad)
    with pytest.raises(ValueError, match="medium_from"):
        EffortPolicy(medium_from=0.8, high_from=0.5)


def test_filter_and_effort_do_not_need_torch():
    """The graph and the evals map stored scores without the `model` extra."""
    code = (
        "import sys; from gre_agent.agent import effort_for, filter_locatable;"
        "effort_for(0.5); filter_locatable([1], scores=[0.9]);"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_doctests():
    assert doctest.testmod(_locatability_base).failed == 0


# --- CLI ------------------------------------------------------------------------------------


def test_cli_train_then_score(tiny_clip, tmp_path):
    images, labels = synthetic(24, seed=31)
    paths = _write(images, tmp_path / "imgs")
    with (tmp_path / "pairs.csv").open("w") as f:
        f.write("image,score\n")
        for p, y in zip(paths, labels, strict=True):
            f.write(f"imgs/{p.name},{y}\n")
    out = tmp_path / "model"
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            *("locatability", "train", str(tmp_path / "pairs.csv"), "--out", str(out)),
            *("--encoder", str(tiny_clip), "--epochs", "3", "--device", "cpu"),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["n_train"] + summary["n_val"] == 24 and summary["epochs_run"] == 3
    assert (out / "head.safetensors").is_file()

    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n but then nothing")
    args = [str(paths[0]), str(corrupt), str(paths[1]), "--model", str(out)]
    result = runner.invoke(app, ["locatability", *args, "--json", "--threshold", "0.5"])
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(r["image"]).name for r in rows] == ["0.png", "corrupt.png", "1.png"]
    assert rows[1] == {"image": str(corrupt), "error": "not an image or an unsupported format"}
    expected = LocatabilityScorer.load(out, device="cpu").score([paths[0], paths[1]])
    for row, score in zip((rows[0], rows[2]), expected, strict=True):
        assert row["score"] == pytest.approx(score, abs=1e-4)
        assert row["effort"] == effort_for(score).level
        assert row["kept"] == (score >= 0.5)
    assert "corrupt.png: not an image" in result.stderr

    # `score` spelled out, the table output, and the model found via GRE_LOCATABILITY_MODEL.
    result = runner.invoke(
        app,
        ["locatability", "score", str(paths[0])],
        env={"GRE_LOCATABILITY_MODEL": str(out), "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "0.png" in result.stdout and f"{expected[0]:.3f}" in result.stdout


def test_cli_without_a_model(tmp_path):
    image = tmp_path / "x.png"
    Image.new("RGB", (8, 8)).save(image)
    result = CliRunner().invoke(app, ["locatability", str(image)])
    assert result.exit_code == 2
    assert "holds no locatability model" in result.stderr
    assert "gre locatability train" in result.stderr


def test_cli_train_bad_pairs(tmp_path):
    (tmp_path / "p.csv").write_text("image,score\nx.png,7\n")
    result = CliRunner().invoke(
        app, ["locatability", "train", str(tmp_path / "p.csv"), "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 2
    assert "outside [0, 1]" in result.stderr
    assert not (tmp_path / "m").exists()
