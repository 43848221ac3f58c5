"""GeoReasoner's locatability scorer: how much geographic evidence an image holds.

The network is a CLIP vision encoder (transformers' `CLIPVisionModelWithProjection`, or
`CLIPVisionModel` for checkpoints without a projection) followed by a small regression
head: L2-normalised image embedding -> Linear -> GELU -> Dropout -> Linear -> sigmoid, a
score in [0, 1]. GeoReasoner uses such a score to keep only highly locatable street
views for training; here it also sets the agent's effort (`effort_for`).

Training (`LocatabilityScorer.fit`) takes (image, score) pairs with scores in [0, 1]. By
default only the head learns: embeddings are computed once under `no_grad`, then the
head is trained with AdamW on binary cross-entropy with soft targets, with early
stopping on a held-out validation split (the best head is restored). `train_encoder=True`
fine-tunes the encoder too (at its own, smaller learning rate).

A saved scorer is a directory:

    locatability.json         format, encoder id or path, embedding kind, head shape,
                              training summary
    head.safetensors          the head's weights
    preprocessor_config.json  the CLIP image preprocessing (CLIPImageProcessor)
    encoder/                  only when the encoder was fine-tuned (save_pretrained)

Loading reads the encoder from the recorded id or path (`encoder=` overrides it, e.g. a
local mirror of `openai/clip-vit-large-patch14`).

Errors: `LocatabilityError` (a `GreError`) for unusable checkpoints and data;
`ImageLoadError` (a `LocatabilityError`) for an image file that cannot be read. Batch
scoring with `score_many` reports unreadable images per item and scores the rest.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

from gre_agent.agent._locatability_base import (
    Effort,
    EffortLevel,
    EffortPolicy,
    FilterResult,
    ImageLoadError,
    LocatabilityError,
    Scored,
    effort_for,
    filter_locatable,
)
from gre_agent.agent._locatability_data import (
    Collate,
    ImageInput,
    Images,
    describe,
    load_image,
    read_pairs,
)

__all__ = [
    "DEFAULT_ENCODER",
    "Effort",
    "EffortLevel",
    "EffortPolicy",
    "FilterResult",
    "ImageLoadError",
    "LocatabilityError",
    "LocatabilityHead",
    "LocatabilityScorer",
    "ScoreResult",
    "Scored",
    "TrainConfig",
    "TrainReport",
    "default_model_dir",
    "effort_for",
    "filter_locatable",
    "load_image",
    "read_pairs",
]

DEFAULT_ENCODER = "openai/clip-vit-large-patch14"
FORMAT = "gre-locatability/1"
CONFIG_NAME = "locatability.json"
HEAD_NAME = "head.safetensors"
ENCODER_DIR = "encoder"

Embedding = Literal["auto", "projected", "pooled"]
EmbeddingKind = Literal["projected", "pooled"]  # what "auto" resolves to


# --- the network --------------------------------------------------------------------------


class LocatabilityHead(nn.Module):
    """MLP from an image embedding to one logit (sigmoid of it is the score)."""

    def __init__(self, in_dim: int, hidden: int = 256, dropout: float = 0.1):
        super().__init__()
        self.in_dim, self.hidden, self.dropout = in_dim, hidden, dropout
        self.net = nn.Sequential(
            nn.LayerNorm(in_dim),
            nn.Linear(in_dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.net(embeddings).squeeze(-1)


def _device(device: str | torch.device) -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    value = getattr(torch, dtype, None)
    if not isinstance(value, torch.dtype):
        raise LocatabilityError(f"unknown dtype {dtype!r}")
    return value


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports (a CLIPModel checkpoint has unused text weights)."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _processor_class() -> Any:
    """CLIPImageProcessor; its PIL twin where torchvision is absent (the same numbers)."""
    from transformers.utils import is_torchvision_available

    if not is_torchvision_available():
        try:  # transformers >= 5; in 4.x CLIPImageProcessor itself is the PIL one
            from transformers import CLIPImageProcessorPil

            return CLIPImageProcessorPil
        except ImportError:
            pass
    from transformers import CLIPImageProcessor

    return CLIPImageProcessor


def _load_processor(source: str) -> Any:
    with _quiet_transformers():
        try:
            return _processor_class().from_pretrained(source)
        except (OSError, ValueError) as exc:
            raise LocatabilityError(f"no CLIP image preprocessing config in {source!r}") from exc


def _load_encoder(
    source: str, embedding: Embedding, dtype: torch.dtype
) -> tuple[nn.Module, EmbeddingKind]:
    """The CLIP vision tower of `source` (a CLIPModel or a vision-only checkpoint)."""
    from transformers import AutoConfig, CLIPVisionModel, CLIPVisionModelWithProjection

    with _quiet_transformers():
        try:
            config = AutoConfig.from_pretrained(source)
        except (OSError, ValueError) as exc:
            raise LocatabilityError(f"cannot load a CLIP config from {source!r}: {exc}") from exc
        if config.model_type == "clip":
            # The vision config inside a CLIPModel config keeps its own default
            # projection_dim; the real one is the top-level value.
            vision_config = config.vision_config
            vision_config.projection_dim = config.projection_dim
            has_projection = True
        elif config.model_type == "clip_vision_model":
            vision_config = config
            has_projection = "CLIPVisionModelWithProjection" in (config.architectures or [])
        else:
            raise LocatabilityError(f"{source!r} is a {config.model_type!r} model, not CLIP")
        kind: EmbeddingKind = (
            ("projected" if has_projection else "pooled") if embedding == "auto" else embedding
        )
        if kind == "projected" and not has_projection:
            raise LocatabilityError(f"{source!r} has no visual projection; use embedding='pooled'")
        cls = CLIPVisionModelWithProjection if kind == "projected" else CLIPVisionModel
        # with output_loading_info the model comes with a report (typed as the model alone)
        loaded: Any = cls.from_pretrained(
            source, config=vision_config, dtype=dtype, output_loading_info=True
        )
        model, info = loaded
    if info["missing_keys"]:
        missing = ", ".join(sorted(info["missing_keys"])[:5])
        raise LocatabilityError(f"{source!r} lacks encoder weights: {missing}")
    return model, kind


def _embed_dim(model: nn.Module, embedding: str) -> int:
    config: Any = model.config
    return config.projection_dim if embedding == "projected" else config.hidden_size


# --- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreResult:
    """One image's score, or why it has none."""

    source: str
    score: float | None
    error: str | None = None


@dataclass(kw_only=True)
class TrainConfig:
    """How `LocatabilityScorer.fit` trains."""

    epochs: int = field(default=100, metadata={"help": "Most passes over the training split."})
    batch_size: int = field(default=32, metadata={"help": "Pairs per optimisation step."})
    lr: float = field(default=1e-3, metadata={"help": "Head learning rate (AdamW)."})
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay."})
    val_fraction: float = field(
        default=0.2, metadata={"help": "Share of pairs held out for early stopping (0: none)."}
    )
    patience: int = field(
        default=8, metadata={"help": "Epochs without validation improvement before stopping."}
    )
    min_delta: float = field(default=1e-4, metadata={"help": "Smallest improvement that counts."})
    seed: int = field(default=0, metadata={"help": "Seed of the split, shuffling and init."})
    train_encoder: bool = field(
        default=False, metadata={"help": "Fine-tune the CLIP encoder as well as the head."}
    )
    encoder_lr: float = field(default=1e-5, metadata={"help": "Encoder learning rate."})
    skip_unreadable: bool = field(
        default=True, metadata={"help": "Skip unreadable images (listed in the report)."}
    )
    num_workers: int = field(default=0, metadata={"help": "DataLoader worker processes."})


@dataclass
class TrainReport:
    """What `fit` did: per-epoch losses (BCE with soft targets), the best epoch, skips."""

    n_train: int
    n_val: int
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float | None = None
    val_mae: float | None = None
    stopped_early: bool = False
    seconds: float = 0.0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def epochs_run(self) -> int:
        return len(self.train_loss)


# --- the scorer ---------------------------------------------------------------------------


class LocatabilityScorer:
    """CLIP vision encoder + regression head; `score`, `score_many`, `fit`, `save`, `load`."""

    def __init__(
        self,
        encoder: nn.Module,
        processor: Any,
        head: LocatabilityHead,
        *,
        encoder_source: str,
        embedding: Literal["projected", "pooled"],
        device: torch.device,
        encoder_finetuned: bool = False,
    ):
        self.encoder: Any = encoder.to(device).eval()  # a transformers model (save_pretrained)
        self.encoder.requires_grad_(False)
        self.processor = processor
        self.head = head.to(device).eval()
        self.encoder_source = encoder_source
        self.embedding = embedding
        self.device = device
        self.encoder_finetuned = encoder_finetuned
        self.last_report: TrainReport | None = None

    @classmethod
    def from_encoder(
        cls,
        encoder: str = DEFAULT_ENCODER,
        *,
        hidden: int = 256,
        dropout: float = 0.1,
        embedding: Embedding = "auto",
        device: str | torch.device = "auto",
        dtype: str | torch.dtype = "auto",
        seed: int | None = None,
    ) -> LocatabilityScorer:
        """A scorer with an untrained head on the CLIP encoder `encoder` (id or path)."""
        dev = _device(device)
        model, kind = _load_encoder(str(encoder), embedding, _dtype(dtype, dev))
        processor = _load_processor(str(encoder))
        in_dim = _embed_dim(model, kind)
        with torch.random.fork_rng(devices=[]):  # seeds the head's init only
            if seed is not None:
                torch.manual_seed(seed)
            head = LocatabilityHead(in_dim, hidden, dropout)
        return cls(model, processor, head, encoder_source=str(encoder), embedding=kind, device=dev)

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str],
        *,
        encoder: str | None = None,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype = "auto",
    ) -> LocatabilityScorer:
        """A scorer saved by `save`; `encoder` overrides the recorded encoder id or path."""
        root = Path(directory)
        try:
            config = json.loads((root / CONFIG_NAME).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise LocatabilityError(f"{root} holds no locatability model ({CONFIG_NAME})") from exc
        except json.JSONDecodeError as exc:
            raise LocatabilityError(f"{root / CONFIG_NAME} is not valid JSON: {exc}") from exc
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            found = config.get("format") if isinstance(config, dict) else None
            raise LocatabilityError(f"{root}: unknown format {found!r}")
        try:
            head_cfg = config["head"]
            head = LocatabilityHead(head_cfg["in_dim"], head_cfg["hidden"], head_cfg["dropout"])
            embedding = config["embedding"]
            recorded = config["encoder"]
        except (KeyError, TypeError) as exc:
            raise LocatabilityError(f"{root / CONFIG_NAME} lacks a field: {exc}") from exc
        source = encoder
        if source is None:
            finetuned = config.get("encoder_finetuned") and (root / ENCODER_DIR).is_dir()
            source = str(root / ENCODER_DIR) if finetuned else recorded
        dev = _device(device)
        model, kind = _load_encoder(source, embedding, _dtype(dtype, dev))
        processor = _load_processor(str(root))
        try:
            head.load_state_dict(load_file(root / HEAD_NAME))
        except (OSError, RuntimeError, SafetensorError) as exc:
            raise LocatabilityError(f"{root / HEAD_NAME}: cannot load the head: {exc}") from exc
        expected = _embed_dim(model, kind)
        if expected != head.in_dim:
            raise LocatabilityError(
                f"encoder {source!r} gives {expected}-d embeddings; the head expects {head.in_dim}"
            )
        scorer = cls(
            model,
            processor,
            head,
            encoder_source=recorded,
            embedding=kind,
            device=dev,
            encoder_finetuned=bool(config.get("encoder_finetuned")),
        )
        return scorer

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Writes the head, the preprocessing and the config (and a fine-tuned encoder)."""
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()}
        save_file(state, root / HEAD_NAME, metadata={"format": FORMAT})
        self.processor.save_pretrained(root)
        if self.encoder_finetuned:
            self.encoder.save_pretrained(root / ENCODER_DIR)
        config: dict[str, Any] = {
            "format": FORMAT,
            "encoder": self.encoder_source,
            "encoder_finetuned": self.encoder_finetuned,
            "embedding": self.embedding,
            "head": {
                "in_dim": self.head.in_dim,
                "hidden": self.head.hidden,
                "dropout": self.head.dropout,
            },
        }
        if self.last_report is not None:
            summary = asdict(self.last_report)
            summary["skipped"] = len(self.last_report.skipped)
            config["training"] = summary
        (root / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        return root

    # -- embeddings and scores --

    def _embed_pixels(self, pixel_values: torch.Tensor) -> torch.Tensor:
        dtype = next(self.encoder.parameters()).dtype
        out = self.encoder(pixel_values=pixel_values.to(self.device, dtype))
        emb = out.image_embeds if self.embedding == "projected" else out.pooler_output
        return F.normalize(emb.float(), dim=-1)

    def _batches(
        self, sources: Sequence[ImageInput], batch_size: int, num_workers: int = 0
    ) -> DataLoader:
        return DataLoader(
            Images(sources),
            batch_size=batch_size,
            shuffle=False,
            num_workers=num_workers,
            collate_fn=Collate(self.processor),
        )

    @torch.no_grad()
    def _embed_all(
        self, sources: Sequence[ImageInput], batch_size: int, num_workers: int = 0
    ) -> tuple[list[int], torch.Tensor | None, dict[int, ImageLoadError]]:
        self.encoder.eval()
        indices: list[int] = []
        chunks: list[torch.Tensor] = []
        errors: dict[int, ImageLoadError] = {}
        for batch in self._batches(sources, batch_size, num_workers):
            errors.update(batch.errors)
            if batch.pixel_values is not None:
                indices += batch.indices
                chunks.append(self._embed_pixels(batch.pixel_values).cpu())
        return indices, (torch.cat(chunks) if chunks else None), errors

    def embed(self, images: Sequence[ImageInput], *, batch_size: int = 32) -> torch.Tensor:
        """Normalised CLIP embeddings (N x D, float32, CPU); raises on an unreadable image."""
        _, emb, errors = self._embed_all(images, batch_size)
        if errors:
            raise errors[min(errors)]
        if emb is None:
            return torch.empty(0, self.head.in_dim)
        return emb

    @torch.no_grad()
    def _head_scores(self, embeddings: torch.Tensor) -> list[float]:
        self.head.eval()
        return torch.sigmoid(self.head(embeddings.to(self.device))).cpu().tolist()

    def score(self, images: Sequence[ImageInput], *, batch_size: int = 32) -> list[float]:
        """Scores in [0, 1] in input order; raises `ImageLoadError` on an unreadable image."""
        if not images:
            return []
        return self._head_scores(self.embed(images, batch_size=batch_size))

    def score_one(self, image: ImageInput) -> float:
        return self.score([image])[0]

    def score_many(
        self, images: Sequence[ImageInput], *, batch_size: int = 32, num_workers: int = 0
    ) -> list[ScoreResult]:
        """One result per input, in order; unreadable images get an error, the rest a score."""
        indices, emb, errors = self._embed_all(images, batch_size, num_workers)
        scores = dict(zip(indices, self._head_scores(emb) if emb is not None else [], strict=True))
        results = []
        for i, source in enumerate(images):
            if i in errors:
                results.append(ScoreResult(describe(source), None, errors[i].reason))
            else:
                results.append(ScoreResult(describe(source), scores[i]))
        return results

    # -- training --

    def fit(
        self,
        images: Sequence[ImageInput],
        scores: Sequence[float],
        config: TrainConfig | None = None,
        *,
        on_epoch: Callable[[int, float, float | None], None] | None = None,
    ) -> TrainReport:
        """Trains on (image, score) pairs; restores the best head (by validation loss)."""
        cfg = config or TrainConfig()
        if len(images) != len(scores):
            raise LocatabilityError(f"{len(images)} images but {len(scores)} scores")
        targets = [float(s) for s in scores]
        for i, s in enumerate(targets):
            if not (math.isfinite(s) and 0.0 <= s <= 1.0):
                raise LocatabilityError(f"score {s!r} of pair {i} is outside [0, 1]")
        if not 0.0 <= cfg.val_fraction < 1.0:
            raise LocatabilityError("val_fraction must be in [0, 1)")
        start = time.perf_counter()
        torch.manual_seed(cfg.seed)
        # Frozen encoder: embed every image once. Otherwise check decodability up front.
        if cfg.train_encoder:
            good, skipped = [], []
            for i, src in enumerate(images):
                try:
                    load_image(src)
                    good.append(i)
                except ImageLoadError as exc:
                    skipped.append((i, exc))
            features: torch.Tensor | None = None
        else:
            good, features, errors = self._embed_all(images, cfg.batch_size, cfg.num_workers)
            skipped = sorted(errors.items())
        if skipped and not cfg.skip_unreadable:
            raise skipped[0][1]
        if len(good) < 2:
            raise LocatabilityError(f"need at least 2 readable images to train, got {len(good)}")
        order = list(range(len(good)))
        random.Random(cfg.seed).shuffle(order)
        n_val = round(len(order) * cfg.val_fraction) if cfg.val_fraction > 0 else 0
        n_val = min(max(n_val, 1 if cfg.val_fraction > 0 else 0), len(order) - 1)
        val_pos, train_pos = order[:n_val], order[n_val:]
        report = TrainReport(
            n_train=len(train_pos),
            n_val=len(val_pos),
            skipped=[(describe(images[i]), exc.reason) for i, exc in skipped],
        )
        y = torch.tensor([targets[i] for i in good])

        params: list[dict[str, Any]] = [
            {"params": self.head.parameters(), "lr": cfg.lr, "weight_decay": cfg.weight_decay}
        ]
        if cfg.train_encoder:
            self.encoder.float().requires_grad_(True)
            params.append({"params": self.encoder.parameters(), "lr": cfg.encoder_lr})
        optimizer = torch.optim.AdamW(params)
        shuffler = torch.Generator().manual_seed(cfg.seed)

        def batches(positions: list[int], train: bool) -> Iterator[tuple[torch.Tensor, Any]]:
            """(positions into `good`, embeddings or pixel values) per batch."""
            pos = torch.tensor(positions, dtype=torch.long)
            if train:
                pos = pos[torch.randperm(len(pos), generator=shuffler)]
            if features is not None:
                for chunk in pos.split(cfg.batch_size):
                    yield chunk, features[chunk]
                return
            sources = [images[good[p]] for p in pos.tolist()]
            for batch in self._batches(sources, cfg.batch_size, cfg.num_workers):
                if batch.errors:  # readable a moment ago: the file changed under us
                    raise next(iter(batch.errors.values()))
                yield pos[batch.indices], batch.pixel_values

        def run(positions: list[int], train: bool) -> tuple[float, torch.Tensor]:
            """Mean loss over `positions` and the predicted scores (in `positions` order
            when not training)."""
            self.head.train(train)
            if cfg.train_encoder:
                self.encoder.train(train)
            total, preds = 0.0, []
            for chunk, inputs in batches(positions, train):
                target = y[chunk].to(self.device)
                with torch.set_grad_enabled(train):
                    if features is not None:
                        emb = inputs.to(self.device)
                    else:
                        emb = self._embed_pixels(inputs)
                    logits = self.head(emb)
                    loss = F.binary_cross_entropy_with_logits(logits, target)
                if train:
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                total += loss.item() * len(chunk)
                preds.append(torch.sigmoid(logits.detach()).cpu())
            return total / max(len(positions), 1), torch.cat(preds) if preds else torch.empty(0)

        best_loss, best_state, since_best = math.inf, None, 0
        for epoch in range(1, cfg.epochs + 1):
            train_loss, _ = run(train_pos, train=True)
            report.train_loss.append(train_loss)
            val_loss = None
            if val_pos:
                val_loss, preds = run(val_pos, train=False)
                report.val_loss.append(val_loss)
            if on_epoch is not None:
                on_epoch(epoch, train_loss, val_loss)
            monitored = val_loss if val_loss is not None else train_loss
            if monitored < best_loss - cfg.min_delta:
                best_loss, since_best, report.best_epoch = monitored, 0, epoch
                best_state = self._snapshot(cfg.train_encoder)
                if val_pos:
                    report.val_mae = float((preds - y[val_pos]).abs().mean())
            else:
                since_best += 1
                if val_pos and since_best >= cfg.patience:
                    report.stopped_early = True
                    break
        if best_state is not None:
            self._restore(best_state)
        report.best_val_loss = best_loss if val_pos else None
        self.head.eval()
        self.encoder.eval().requires_grad_(False)
        self.encoder_finetuned = self.encoder_finetuned or cfg.train_encoder
        report.seconds = time.perf_counter() - start
        self.last_report = report
        return report

    def _snapshot(self, with_encoder: bool) -> dict[str, Any]:
        state: dict[str, Any] = {"head": copy.deepcopy(self.head.state_dict())}
        if with_encoder:
            state["encoder"] = {
                k: v.detach().cpu().clone() for k, v in self.encoder.state_dict().items()
            }
        return state

    def _restore(self, state: dict[str, Any]) -> None:
        self.head.load_state_dict(state["head"])
        if "encoder" in state:
            self.encoder.load_state_dict(state["encoder"])


def default_model_dir(home: str | os.PathLike[str] | None = None) -> Path:
    """Where `gre locatability train` saves and scoring looks by default."""
    if home is None:
        from gre_agent.core.settings import load_settings

        home = load_settings().home
    return Path(home) / "models" / "locatability"
