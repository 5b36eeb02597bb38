"""Fine-tune the topic classifier: the backbone's top layers + a linear head.

    python -m training.train_classifier --config configs/classifier.yaml [--set KEY=VALUE ...]

Writes a fresh run directory, ``build/runs/RUN_NAME`` (``training.runs``; never ``models/``). Evaluate
it there (``training.evaluate_classifier --model build/runs/RUN_NAME``), then ship it with
``python -m training.promote RUN_NAME``. ``--set overwrite=true`` replaces an earlier run of the same name.

The lower (frozen) layers run once over every training text and their outputs are cached, so
each epoch only pays for the top layers: that is what makes the default fit a 2-core CPU.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import f1_score
from tqdm import tqdm

from service.backbone.resolve import ResolvedBackbone, load_backbone
from service.config import load_labels
from service.engines.backend import inference_precision
from service.engines.encoder import pad_batch, pad_states, text_windows
from service.engines.pytorch import encoder_layers, lower_states, tensors
from service.models.topics.classifier import ClassifierConfig, TopicClassifier
from service.models.topics.head import new_head, with_low_rank_delta
from service.models.topics.probabilities import mix_log_probabilities, softmax
from service.text import title_and_body
from training.baselines import lexical_model, tfidf_logreg
from training.calibration import choose_threshold, expected_calibration_error, fit_temperature
from training.config import (
    config_from_args,
    lexical_rows_setting,
    lexical_weights,
    load_yaml,
    project_path,
    write_training_outputs,
)
from training.provenance import record_trained_ids, refuse_trained_on, trained_hashes
from training.runs import RunDirError, existing_run_dir, prepare_run_dir, shown

logger = logging.getLogger(__name__)

KIND = "topic-classifier"  # default run names: topic-classifier-YYYYMMDD-HHMMSS


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def article_text(row: dict) -> str:
    """What the classifier reads: title and body as the service joins them (auxiliary rows are a
    title or sentence only)."""
    return row["text"] if row["is_aux"] else title_and_body(row["title"], row["text"])[0]


def load_rows(
    data_dir: Path, split: str, cap_per_label: int | None, seed: int, exclude: frozenset[str] = frozenset()
) -> list[dict]:
    from datasets import load_from_disk

    rows = [r for r in load_from_disk(str(data_dir))[split] if r["label"]]
    if exclude:
        kept = [r for r in rows if r["id"] not in exclude]
        logger.info("left out of %s: %d rows of %d ids listed", split, len(rows) - len(kept), len(exclude))
        if len(rows) - len(kept) < len(exclude):
            logger.warning("%d listed ids are not labelled %s rows", len(exclude) - len(rows) + len(kept), split)
        rows = kept
    if cap_per_label:
        rng = random.Random(seed)
        rng.shuffle(rows)
        kept, seen = [], {}
        for row in rows:
            key = (row["label"], row["is_aux"])
            if seen.get(key, 0) < cap_per_label:
                kept.append(row)
                seen[key] = seen.get(key, 0) + 1
        rows = kept
    return rows


LABEL_SOURCES = ("read", "read+sections", "read+agreeing_sections", "all")


def agreeing_sections(rows: list[dict], min_reads: int, min_agreement: float) -> dict[tuple[str, str], float]:
    """(source, section) pairs whose publisher label agrees with careful readers often enough.

    Measured on the read training rows of each section; sections read fewer than ``min_reads``
    times are not trusted.
    """
    seen: dict[tuple[str, str], list[bool]] = {}
    for row in rows:
        if row["label_method"] == "read" and row["publisher_label"]:
            seen.setdefault((row["source"], row["section"]), []).append(row["publisher_label"] == row["label"])
    return {
        key: sum(hits) / len(hits)
        for key, hits in seen.items()
        if len(hits) >= min_reads and sum(hits) / len(hits) >= min_agreement
    }


def load_train_rows(config: dict) -> list[dict]:
    """The training rows a config trains on, each with a ``weight``.

    ``label_source``: ``read`` — careful-reading labels only; ``read+sections`` — plus articles
    labelled by their publisher section at ``publisher_weight``; ``read+agreeing_sections`` — the
    same, but only sections whose labels agree with the readers (``section_agreement``); ``all`` —
    every label, rule-made ones included (the corpus before careful reading). Auxiliary rows
    (headlines, sentences) come with ``aux_weight`` unless ``use_aux`` is false. ``exclude_ids``: a file of
    article ids (one per line) never trained on.
    """
    left_out = frozenset()
    if config.get("exclude_ids"):
        left_out = frozenset(project_path(config["exclude_ids"]).read_text(encoding="utf-8-sig").split())
    data_dir = project_path(config["data_dir"])
    rows = load_rows(data_dir, "train", config.get("max_train_per_label"), config["seed"], left_out)
    source = config.get("label_source", "all")
    if source not in LABEL_SOURCES:
        raise ValueError(f"label_source must be one of {LABEL_SOURCES}, not {source!r}")
    trusted: dict | None = None
    if source == "read+agreeing_sections":
        settings = config.get("section_agreement", {})
        trusted = agreeing_sections(rows, settings.get("min_reads", 10), settings.get("min_agreement", 0.85))
        logger.info("sections agreeing with readers: %d %s", len(trusted), sorted(trusted))
    kept = []
    for row in rows:
        if row["is_aux"]:
            weight = config.get("aux_weight", 1.0) if config.get("use_aux", True) else 0.0
        elif row["label_method"] == "read" or source == "all":
            weight = 1.0
        else:
            usable = source != "read" and row["label_method"] == "section"
            if trusted is not None:
                usable = usable and (row["source"], row["section"]) in trusted
            weight = config.get("publisher_weight", 1.0) if usable else 0.0
        if weight > 0:
            kept.append(row | {"weight": weight})
    return kept


def selection_rows(config: dict, split: str) -> list[dict]:
    """Rows a choice is made on: the careful-read rows of ``split`` when it has any, else all its rows."""
    rows = load_rows(project_path(config["data_dir"]), split, None, config["seed"])
    read = [r for r in rows if r["label_method"] == "read"]
    return read or rows


def use_bf16(config: dict, device: torch.device) -> bool:
    """``bf16: auto`` — on CPU, what inference uses here (native bf16 or ``WARTA_PRECISION``); on GPU, yes."""
    setting = config.get("bf16", False)
    if setting == "auto":
        return device.type != "cpu" or inference_precision() == "bf16"
    return bool(setting)


@torch.no_grad()
def cache_lower(
    model, windows: list[list[int]], n_lower: int, pad_id: int, batch_size: int, desc: str, bf16: bool = False
):
    """Lower-layer outputs per window, fp16, unpadded (a list of (len, hidden) tensors)."""
    out: list[torch.Tensor | None] = [None] * len(windows)
    order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
    device = next(model.parameters()).device
    for start in tqdm(range(0, len(order), batch_size), desc=desc, unit="batch"):
        chosen = order[start : start + batch_size]
        ids, mask = tensors(*pad_batch([windows[i] for i in chosen], pad_id))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            hidden = lower_states(model, ids.to(device), mask.to(device), n_lower).to("cpu", torch.float16)
        for row, index in enumerate(chosen):
            out[index] = hidden[row, : len(windows[index])].clone()
    return out


def batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length (little padding), in shuffled order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(chunks)
    return chunks


def class_weights(labels: np.ndarray, num_labels: int, power: float) -> torch.Tensor:
    counts = np.bincount(labels, minlength=num_labels).astype(np.float64)
    weights = (counts.sum() / np.maximum(counts, 1) / num_labels) ** power
    return torch.as_tensor(weights / weights.mean(), dtype=torch.float32)


LEXICAL_ROWS = ("read", "train")


def lexical_rows(train_rows: list[dict], which: str) -> list[dict]:
    """The rows the lexical half learns from (``lexical.rows``, see ``attach_lexical``)."""
    if which not in LEXICAL_ROWS:
        raise ValueError(f"lexical.rows must be one of {LEXICAL_ROWS}, not {which!r}")
    if which == "train":
        return train_rows
    read = [r for r in train_rows if r["label_method"] == "read" and not r["is_aux"]]
    if not read:
        raise ValueError("lexical.rows is 'read' but no training row is a careful read (label_method 'read')")
    return read


def choose_lexical_weight(
    neural: np.ndarray, lexical_log_probs: np.ndarray, y: np.ndarray, grid: list[float]
) -> tuple[float, float, dict[float, float]]:
    """The encoder's temperature (fitted alone on these rows) and the mixing weight of the grid with the best
    macro-F1 on them (ties to the smaller weight); also every weight's macro-F1."""
    neural_temperature = fit_temperature(neural, y)

    def macro_f1(weight: float) -> float:
        mixed = mix_log_probabilities(neural, lexical_log_probs, weight, neural_temperature)
        return float(f1_score(y, mixed.argmax(1), average="macro"))

    scores = {w: macro_f1(w) for w in grid}
    return max(grid, key=lambda w: (round(scores[w], 4), -w)), neural_temperature, scores


def attach_lexical(
    classifier: TopicClassifier,
    config: dict,
    train_rows: list[dict],
    fit_texts: list[str],
    y_fit: np.ndarray,
    fit_neural: np.ndarray,
) -> dict:
    """Fit the lexical half (TF-IDF + logistic regression) on train, its mixing weight on ``fit_texts``.

    ``lexical.rows``: ``read`` — the careful-read training articles only; ``train`` — every row the
    encoder trains on, each counted once whatever its weight (section labels and headlines included).
    The weight is the one with the best macro-F1 there on a grid (ties go to the smaller weight);
    a weight of 0 leaves the encoder alone and the lexical model out of the artifact.
    """
    settings = config.get("lexical") or {}
    classifier.lexical, classifier.config.lexical_weight = None, 0.0
    if not settings.get("max_features"):
        return {}
    started = time.perf_counter()
    labels = classifier.config.labels
    rows = lexical_rows(train_rows, lexical_rows_setting(config))
    pipeline = tfidf_logreg(
        c=settings.get("c", 4.0),
        max_features=settings["max_features"],
        seed=config["seed"],
        ngram_max=settings.get("ngram_max", 2),
    )
    pipeline.fit([article_text(r) for r in rows], [r["label"] for r in rows])
    lexical = lexical_model(pipeline, labels)
    fit_lexical = lexical.log_probabilities(fit_texts)
    weight, neural_temperature, scores = choose_lexical_weight(fit_neural, fit_lexical, y_fit, lexical_weights(config))
    logger.info("lexical: %d terms; macro-F1 by weight %s; chosen %s", len(lexical.terms), scores, weight)
    classifier.lexical = lexical if weight > 0 else None
    classifier.config.lexical_weight, classifier.config.neural_temperature = weight, neural_temperature
    return {
        "lexical_rows": len(rows),
        "lexical_terms": len(lexical.terms),
        "lexical_weight": weight,
        "calibration_macro_f1_by_lexical_weight": {str(w): round(f, 4) for w, f in scores.items()},
        "lexical_seconds": round(time.perf_counter() - started, 1),
    }


def calibration_rows(config: dict, val_rows: list[dict] | None = None) -> tuple[str, list[dict]]:
    """The split the final numbers are fitted on: ``calibration_split`` if the corpus has it, else validation."""
    from datasets import load_from_disk

    data_dir, name = project_path(config["data_dir"]), config.get("calibration_split")
    if name and name in load_from_disk(str(data_dir)):
        return name, selection_rows(config, name)
    return "validation", val_rows if val_rows is not None else selection_rows(config, "validation")


def finish(
    classifier: TopicClassifier,
    config: dict,
    train_rows: list[dict],
    fit_split: str,
    fit_rows: list[dict],
    fit_neural: np.ndarray,
) -> dict:
    """Everything after the encoder layers: lexical half, temperature and topic threshold.

    All three are fitted on ``fit_rows`` (the calibration split: the test period, disjoint from test).
    """
    index = {label: i for i, label in enumerate(classifier.config.labels)}
    texts, y = [article_text(r) for r in fit_rows], np.array([index[r["label"]] for r in fit_rows])
    metrics = attach_lexical(classifier, config, train_rows, texts, y, fit_neural)
    logits = classifier.combine(texts, fit_neural)
    temperature = fit_temperature(logits, y)
    threshold, example_f1 = choose_threshold(softmax(logits, temperature), y)
    classifier.config.temperature, classifier.config.threshold = temperature, threshold
    return metrics | {
        "calibration_split": fit_split,
        "calibration_rows": len(fit_rows),
        "calibration_macro_f1": {
            "encoder": round(float(f1_score(y, fit_neural.argmax(1), average="macro")), 4),
            "final": round(float(f1_score(y, logits.argmax(1), average="macro")), 4),
        },
        "temperature": round(temperature, 4),
        "ece_calibration_split": {
            "before": round(expected_calibration_error(softmax(logits), y), 4),
            "after": round(expected_calibration_error(softmax(logits, temperature), y), 4),
        },
        "threshold": threshold,
        "example_f1_at_threshold": round(example_f1, 4),
    }


def record_ids(out_dir: Path, rows: list[dict]) -> None:
    """Record the rows the run learns from (``training.provenance``; a corpus without ids: no record)."""
    if rows and "id" in rows[0]:
        count = record_trained_ids(out_dir, [r["id"] for r in rows])
        logger.info("trained rows recorded: %d", count)


# What a lexical refit takes from the config it is given; the rest comes from the run's own saved config.
REFIT_KEYS = ("run_name", "stage", "data_dir", "lexical", "calibration_split", "delta_rank", "encode_batch_size")


def refit_lexical(config: dict) -> dict:
    """``stage: lexical``: keep the trained encoder layers of an existing run, refit what ``finish`` fits there.

    The run's saved ``training_config.yaml`` keeps describing how its encoder was trained (label
    source, epochs, a soup's ingredients): only ``REFIT_KEYS`` (the lexical half's settings among them)
    are taken from ``config``. Refused when the encoder trained on rows it would now be calibrated on
    (a corpus rebuilt since).
    """
    out_dir = existing_run_dir(config, KIND)
    for name in ("training_config.yaml", "train_metrics.json"):
        if not (out_dir / name).exists():
            raise RunDirError(f"{shown(out_dir)} has no {name}: not a finished training run")
    own = load_yaml(out_dir / "training_config.yaml")
    config = own | {k: config[k] for k in REFIT_KEYS if k in config} | {"output_dir": shown(out_dir)}
    started = time.perf_counter()
    seed_everything(config["seed"])
    fit_split, fit_rows = calibration_rows(config)
    refuse_trained_on(trained_hashes(out_dir), {fit_split: fit_rows}, config["data_dir"], shown(out_dir), RunDirError)
    classifier = TopicClassifier.load(out_dir)
    rank = config.get("delta_rank")
    if rank and classifier.config.delta_rank != rank:
        classifier = compressed(classifier, rank)
    train_rows = load_train_rows(config)
    record_ids(out_dir, train_rows)  # the lexical half learns from today's rows
    fit_neural = classifier.neural_logits([article_text(r) for r in fit_rows], config["encode_batch_size"])
    calibration = finish(classifier, config, train_rows, fit_split, fit_rows, fit_neural)
    classifier.save_pretrained(out_dir)
    previous = json.loads((out_dir / "train_metrics.json").read_text())
    metrics = previous | calibration | {"lexical_refit_seconds": round(time.perf_counter() - started, 1)}
    return write_training_outputs(out_dir, config, metrics, stage="lexical_refit_")


@dataclass
class FrozenBackbone:
    """The backbone as training uses it: frozen, on its device, split into lower and trainable layers."""

    model: torch.nn.Module
    tokenizer: Any
    resolved: ResolvedBackbone
    device: torch.device
    bf16: bool
    trainable: int
    n_lower: int

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)


@dataclass
class TrainData:
    """Training and validation rows as windows of token ids, with targets, weights and cached lower states."""

    labels: list[str]
    train_rows: list[dict]
    val_rows: list[dict]
    train_windows: list[list[int]]
    val_windows: list[list[int]]
    y_train: np.ndarray
    y_val: np.ndarray
    sample_weight: torch.Tensor
    train_states: list[torch.Tensor] | None = None
    val_states: list[torch.Tensor] | None = None


@dataclass
class Optimisation:
    """What a training step needs besides the batch: optimizer, schedule, class weights and step budget."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    class_weights: torch.Tensor
    total_steps: int
    step: int = 0


@dataclass
class HeadFit:
    """The trained upper layers + head (best epoch's weights) and the per-epoch validation history."""

    head: torch.nn.Module
    best_epoch: int
    history: list[dict]


def load_frozen_backbone(config: dict) -> tuple[dict, FrozenBackbone]:
    """Load the backbone frozen on its device; return the config as run (``fp32_overrides`` applied without bf16)."""
    model, tokenizer, resolved = load_backbone(config["backbone"])
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    device = torch.device(config.get("device", "cpu"))
    model.to(device)
    if config.get("attn_implementation"):
        # On 2 CPU cores the eager attention trains faster than SDPA's flash kernel, whose backward dominated
        # a step (32 x 128 tokens, 12 layers, bf16: 1.17 s eager vs 1.86 s SDPA per step). Serving keeps SDPA.
        model.config._attn_implementation = config["attn_implementation"]
    bf16 = use_bf16(config, device)
    if not bf16 and config.get("fp32_overrides"):
        # Without native bf16 (AVX2-only CPUs) the run would not fit its time budget: apply the
        # configured reductions; the saved training_config.yaml shows the values actually used.
        config = config | config["fp32_overrides"] | {"fp32_overrides_applied": True}
    logger.info("bf16 autocast: %s", bf16)
    n_layers = len(encoder_layers(model))
    trainable = min(config["trainable_layers"], n_layers)
    return config, FrozenBackbone(model, tokenizer, resolved, device, bf16, trainable, n_layers - trainable)


def article_windows(backbone: FrozenBackbone, row: dict, max_length: int) -> list[list[int]]:
    """The token-id windows of one row's article text."""
    return text_windows(backbone.tokenizer, article_text(row), max_length, backbone.resolved.passage_prefix)


def tokenise_train(
    backbone: FrozenBackbone, rows: list[dict], max_length: int, per_article: int
) -> tuple[list[list[int]], list[tuple[int, float]]]:
    """Up to ``per_article`` windows per row, and per window its (row index, share of the row's weight)."""
    windows, items = [], []
    for index, row in enumerate(tqdm(rows, desc="tokenise train", unit="row")):
        chosen = article_windows(backbone, row, max_length)[:per_article]
        windows += chosen
        items += [(index, 1.0 / len(chosen))] * len(chosen)
    return windows, items


def load_data(config: dict, backbone: FrozenBackbone, labels: list[str]) -> TrainData:
    """Load the training and validation rows and tokenise them into windows with targets and sample weights."""
    train_rows = load_train_rows(config)
    val_rows = selection_rows(config, "validation")
    logger.info(
        "train %d rows (%d auxiliary), validation %d",
        len(train_rows),
        sum(r["is_aux"] for r in train_rows),
        len(val_rows),
    )
    # `train_windows`: 1 reads the first window (title + lead); N > 1 also the next windows of long
    # articles, each a training item with the article's label and 1/n of its weight.
    per_article = max(1, int(config.get("train_windows", 1)))
    train_windows, train_items = tokenise_train(backbone, train_rows, config["max_length"], per_article)
    val_windows = [article_windows(backbone, r, config["max_length"])[0] for r in val_rows]
    label_index = {key: i for i, key in enumerate(labels)}
    return TrainData(
        labels=labels,
        train_rows=train_rows,
        val_rows=val_rows,
        train_windows=train_windows,
        val_windows=val_windows,
        y_train=np.array([label_index[train_rows[i]["label"]] for i, _ in train_items]),
        y_val=np.array([label_index[r["label"]] for r in val_rows]),
        sample_weight=torch.tensor([train_rows[i]["weight"] * share for i, share in train_items]),
    )


def cache_lower_states(config: dict, backbone: FrozenBackbone, data: TrainData) -> None:
    """With ``cache_lower_layers`` (the default), run the frozen layers once over every window and keep the output."""
    if not config.get("cache_lower_layers", True):
        return
    model, n_lower, pad_id, bf16 = backbone.model, backbone.n_lower, backbone.pad_id, backbone.bf16
    batch_size = config["encode_batch_size"]
    data.train_states = cache_lower(model, data.train_windows, n_lower, pad_id, batch_size, "cache train", bf16)
    data.val_states = cache_lower(model, data.val_windows, n_lower, pad_id, batch_size, "cache val", bf16)


def head_inputs(
    backbone: FrozenBackbone, indices: list[int], states: list[torch.Tensor] | None, windows: list[list[int]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower-layer states and mask of a batch: from the cache when there is one, else computed now."""
    if states is not None:
        hidden, mask = tensors(*pad_states([states[i] for i in indices]))
        return hidden.to(backbone.device), mask.to(backbone.device)
    ids, mask = tensors(*pad_batch([windows[i] for i in indices], backbone.pad_id))
    ids, mask = ids.to(backbone.device), mask.to(backbone.device)
    with torch.no_grad():
        return lower_states(backbone.model, ids, mask, backbone.n_lower), mask


def new_trainable_head(config: dict, backbone: FrozenBackbone, num_labels: int) -> torch.nn.Module:
    """A copy of the backbone's top layers + a fresh linear head, on the device, all trainable."""
    head = new_head(backbone.model, num_labels, backbone.trainable, config.get("dropout", 0.1)).to(backbone.device)
    for parameter in head.parameters():
        parameter.requires_grad_(True)
    if config.get("attention_dropout") is not None:
        set_attention_dropout(head, config["attention_dropout"])
    return head


def set_attention_dropout(module: torch.nn.Module, probability: float) -> int:
    """Set the dropout on attention probabilities of every self-attention block in ``module``; returns
    how many were set. On a CPU, drawing that mask (batch x heads x tokens x tokens per layer) costs more
    than the rest of the step: 2.14 s vs 0.46 s per step of 16 x 256 tokens through 12 layers (bf16, 2 cores)."""
    count = 0
    for block in module.modules():
        if type(block).__name__.endswith("SelfAttention"):
            if isinstance(getattr(block, "dropout", None), torch.nn.Dropout):
                block.dropout.p = probability
            if hasattr(block, "dropout_prob"):
                block.dropout_prob = probability
            count += 1
    return count


def warmup_then_decay(
    optimizer: torch.optim.Optimizer, warmup: int, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup over ``warmup`` steps, then linear decay to 0 at ``total_steps``."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / max(warmup, 1), max(0.0, (total_steps - step) / max(total_steps - warmup, 1))),
    )


def parameter_groups(config: dict, head: torch.nn.Module) -> list[dict]:
    """AdamW groups: each encoder layer at ``lr_layers * layer_decay ** depth`` (depth 0 = the top layer),
    the linear head at ``lr_head``. ``layer_decay`` 1.0 (the default) is one rate for every layer."""
    decay = config.get("layer_decay", 1.0)
    layers = head.layers
    groups = [
        {"params": list(layer.parameters()), "lr": config["lr_layers"] * decay ** (len(layers) - 1 - index)}
        for index, layer in enumerate(layers)
    ]
    head_params = [p for n, p in head.named_parameters() if not n.startswith("layers.")]
    return [*groups, {"params": head_params, "lr": config["lr_head"]}]


def new_optimisation(config: dict, head: torch.nn.Module, data: TrainData, device: torch.device) -> Optimisation:
    """AdamW (layer-wise learning rates, ``parameter_groups``), its schedule, class weights and step budget."""
    optimizer = torch.optim.AdamW(parameter_groups(config, head), weight_decay=config.get("weight_decay", 0.01))
    batch_size = config["batch_size"]
    steps_per_epoch = (len(data.train_windows) + batch_size - 1) // batch_size
    total_steps = steps_per_epoch * config["epochs"]
    if config.get("max_steps"):
        total_steps = min(total_steps, config["max_steps"])
    warmup = int(total_steps * config.get("warmup_ratio", 0.06))
    weights = class_weights(data.y_train, len(data.labels), config.get("class_weight_power", 0.5)).to(device)
    return Optimisation(optimizer, warmup_then_decay(optimizer, warmup, total_steps), weights, total_steps)


def train_epoch(
    backbone: FrozenBackbone,
    head: torch.nn.Module,
    data: TrainData,
    opt: Optimisation,
    order: list[list[int]],
    epoch: int,
    checkpoint: Callable[[], bool] | None = None,
    every: int = 0,
) -> bool:
    """One pass over the training batches in ``order``, stopping at the step budget. Every ``every``
    steps (0: never) ``checkpoint()`` runs (validation); it returns True to stop training early."""
    progress = tqdm(order, desc=f"epoch {epoch + 1}", unit="batch")
    for chosen in progress:
        if opt.step >= opt.total_steps:
            break
        hidden, mask = head_inputs(backbone, chosen, data.train_states, data.train_windows)
        target = torch.as_tensor(data.y_train[chosen], device=backbone.device)
        with backbone.autocast():
            logits = head(hidden, mask, backbone.model.config)
        loss = torch.nn.functional.cross_entropy(logits.float(), target, weight=opt.class_weights, reduction="none")
        loss = (loss * data.sample_weight[chosen].to(backbone.device)).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(head.parameters(), 1.0)
        opt.optimizer.step()
        opt.scheduler.step()
        opt.optimizer.zero_grad()
        opt.step += 1
        progress.set_postfix(loss=f"{loss.item():.3f}")
        if checkpoint is not None and every and opt.step % every == 0 and checkpoint():
            return True
    return False


@torch.no_grad()
def validation_logits(backbone: FrozenBackbone, head: torch.nn.Module, data: TrainData, batch_size: int) -> np.ndarray:
    """The head's logits for the first window of every validation row (the head is left in train mode)."""
    head.eval()
    out = np.zeros((len(data.val_windows), len(data.labels)), dtype=np.float32)
    for chosen in batches([len(w) for w in data.val_windows], batch_size, random.Random(0)):
        hidden, mask = head_inputs(backbone, chosen, data.val_states, data.val_windows)
        with backbone.autocast():
            out[chosen] = head(hidden, mask, backbone.model.config).float().cpu().numpy()
    head.train()
    return out


def fit_head(config: dict, backbone: FrozenBackbone, data: TrainData) -> HeadFit:
    """Train the top layers + head, keeping the weights with the best validation macro-F1.

    Validation runs after every epoch and, with ``eval_every`` (a share of an epoch, e.g. 0.25), also
    within epochs; ``patience`` validations in a row without a better macro-F1 stop training early
    (null: never), and so does the first validation after ``max_train_minutes`` (null: no budget)."""
    head = new_trainable_head(config, backbone, len(data.labels))
    opt = new_optimisation(config, head, data, backbone.device)
    rng = random.Random(config["seed"])
    lengths = [len(w) for w in data.train_windows]
    steps_per_epoch = (len(lengths) + config["batch_size"] - 1) // config["batch_size"]
    every = int(steps_per_epoch * config["eval_every"]) if config.get("eval_every") else 0
    patience, budget = config.get("patience"), config.get("max_train_minutes")
    best: dict = {"macro_f1": -1.0, "since": 0}
    history: list[dict] = []
    started = time.perf_counter()

    def checkpoint() -> bool:
        val_logits = validation_logits(backbone, head, data, config["encode_batch_size"])
        macro = float(f1_score(data.y_val, val_logits.argmax(1), average="macro"))
        epoch = round(opt.step / steps_per_epoch, 2)
        minutes = round((time.perf_counter() - started) / 60, 1)
        history.append(
            {"epoch": epoch, "step": opt.step, "minutes": minutes, "val_macro_f1_head_window": round(macro, 4)}
        )
        logger.info("step %d (epoch %.2f, %.1f min): validation macro-F1 %.4f", opt.step, epoch, minutes, macro)
        if macro > best["macro_f1"]:
            state = {k: v.clone() for k, v in head.state_dict().items()}
            best.update(macro_f1=macro, epoch=epoch, since=0, state=state)
        else:
            best["since"] += 1
        over_budget = budget is not None and minutes >= budget
        if over_budget:
            logger.info("time budget of %s min reached: training stops", budget)
        return over_budget or (patience is not None and best["since"] >= patience)

    head.train()
    for epoch in range(config["epochs"]):
        order = batches(lengths, config["batch_size"], rng)
        if train_epoch(backbone, head, data, opt, order, epoch, checkpoint, every):
            break
        if (not history or history[-1]["step"] != opt.step) and checkpoint():
            break
        if opt.step >= opt.total_steps:
            break
    head.load_state_dict(best["state"])
    return HeadFit(head, best["epoch"], history)


def build_classifier(
    config: dict, backbone: FrozenBackbone, head: torch.nn.Module, labels: list[str]
) -> TopicClassifier:
    """The classifier from the backbone and the trained head (on the CPU, in fp32)."""
    classifier = TopicClassifier.from_torch(
        backbone.model,
        backbone.tokenizer,
        head.to("cpu").float(),
        ClassifierConfig(
            labels=labels,
            backbone=config["backbone"],
            backbone_fingerprint=backbone.resolved.fingerprint,
            trainable_layers=backbone.trainable,
            max_length=config["max_length"],
            prefix=backbone.resolved.passage_prefix,
        ),
    )
    backbone.model.to("cpu")
    return classifier


def compressed(classifier: TopicClassifier, rank: int | None) -> TopicClassifier:
    """A topic encoder trained whole as it loads once stored as the backbone + a rank-``rank`` change per matrix
    (``delta_rank``), so what is calibrated and evaluated is what ships. Unchanged: a head over frozen lower
    layers (already small), or ``rank`` None."""
    if not rank or classifier.n_lower:
        return classifier
    head = with_low_rank_delta(classifier.head, classifier.backbone, rank)
    config = replace(classifier.config, delta_rank=rank)
    return TopicClassifier.from_torch(
        classifier.backbone, classifier.tokenizer, head, config, classifier.resolved, classifier.lexical
    )


def choose_long_text(
    config: dict, classifier: TopicClassifier, val_rows: list[dict]
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Set the long-article strategy; return validation macro-F1 and logits of each.

    The strategies: first window only (``head``) vs token-weighted mean over all windows (``chunk_mean``).
    """
    val_texts = [article_text(r) for r in val_rows]
    index = {label: i for i, label in enumerate(classifier.config.labels)}
    y_val = np.array([index[r["label"]] for r in val_rows])
    logits_by_strategy = {
        s: classifier.neural_logits(val_texts, config["encode_batch_size"], s) for s in ("head", "chunk_mean")
    }
    strategy_f1 = {s: float(f1_score(y_val, lg.argmax(1), average="macro")) for s, lg in logits_by_strategy.items()}
    strategy = max(strategy_f1, key=strategy_f1.get) if config.get("long_text") == "auto" else config["long_text"]
    classifier.config.long_text = strategy
    return strategy_f1, logits_by_strategy


def calibrate(
    config: dict,
    classifier: TopicClassifier,
    train_rows: list[dict],
    val_rows: list[dict],
    logits_by_strategy: dict[str, np.ndarray],
) -> dict:
    """Fit what ``finish`` fits on the calibration split (reusing the validation logits when that is the split)."""
    fit_split, fit_rows = calibration_rows(config, val_rows)
    fit_neural = (
        logits_by_strategy[classifier.config.long_text]
        if fit_split == "validation"
        else classifier.neural_logits([article_text(r) for r in fit_rows], config["encode_batch_size"])
    )
    return finish(classifier, config, train_rows, fit_split, fit_rows, fit_neural)


def run_metrics(
    config: dict, backbone: FrozenBackbone, data: TrainData, fit: HeadFit, strategy_f1: dict[str, float], strategy: str
) -> dict:
    """The run's metrics up to calibration: data sizes, the fit and validation macro-F1 per long-text strategy."""
    return {
        "label_source": config.get("label_source", "all"),
        "bf16": backbone.bf16,
        "train_rows": len(data.train_rows),
        "train_rows_read": int(sum(r["label_method"] == "read" for r in data.train_rows)),
        "train_auxiliary_rows": int(sum(r["is_aux"] for r in data.train_rows)),
        "train_windows": len(data.train_windows),
        "validation_rows": len(data.val_rows),
        "trainable_layers": backbone.trainable,
        "backbone_layers": backbone.trainable + backbone.n_lower,
        "max_length": config["max_length"],
        "epochs": config["epochs"],
        "best_epoch": fit.best_epoch,
        "history": fit.history,
        "validation_macro_f1": {
            "head": round(strategy_f1["head"], 4),
            "chunk_mean": round(strategy_f1["chunk_mean"], 4),
        },
        "long_text_strategy": strategy,
    }


def train(config: dict) -> dict:
    """Fine-tune, choose long-text pooling, calibrate and save the classifier; return the training metrics."""
    out_dir = prepare_run_dir(config, KIND)  # first: a refused directory costs no training
    config = config | {"output_dir": shown(out_dir)}
    started = time.perf_counter()
    seed_everything(config["seed"])
    labels = [label.key for label in load_labels()]
    config, backbone = load_frozen_backbone(config)
    data = load_data(config, backbone, labels)
    record_ids(out_dir, data.train_rows)
    cache_lower_states(config, backbone, data)
    cached_at = time.perf_counter()
    fit = fit_head(config, backbone, data)
    trained_at = time.perf_counter()
    classifier = build_classifier(config, backbone, fit.head, labels)
    classifier = compressed(classifier, config.get("delta_rank"))
    strategy_f1, logits_by_strategy = choose_long_text(config, classifier, data.val_rows)
    calibration = calibrate(config, classifier, data.train_rows, data.val_rows, logits_by_strategy)
    classifier.save_pretrained(out_dir)
    metrics = run_metrics(config, backbone, data, fit, strategy_f1, classifier.config.long_text) | calibration
    metrics["seconds"] = {
        "cache_lower_layers": round(cached_at - started, 1),
        "train": round(trained_at - cached_at, 1),
        "total": round(time.perf_counter() - started, 1),
    }
    return write_training_outputs(out_dir, config, metrics)


def main(argv: list[str] | None = None) -> None:
    config = config_from_args(__doc__, "configs/classifier.yaml", argv)
    torch.set_num_threads(config.get("threads") or torch.get_num_threads())
    stage = config.get("stage", "all")
    if stage not in ("all", "lexical"):
        raise SystemExit(f"stage must be 'all' or 'lexical', not {stage!r}")
    try:
        print(json.dumps(train(config) if stage == "all" else refit_lexical(config), indent=2))
    except RunDirError as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
