"""Fine-tune the topic classifier: the backbone's top layers + a linear head.

    python -m training.train_classifier --config configs/classifier.yaml

The lower (frozen) layers run once over every training text and their outputs are cached, so
each epoch only pays for the top layers: that is what makes the default fit a 2-core CPU.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score
from tqdm import tqdm

from service.backbone.resolve import load_backbone
from service.config import load_labels
from service.engines.backend import inference_precision
from service.engines.encoder import pad_batch, pad_states, text_windows
from service.engines.pytorch import encoder_layers, lower_states, tensors
from service.models.topics.classifier import ClassifierConfig, TopicClassifier
from service.models.topics.head import new_head
from service.models.topics.probabilities import mix_log_probabilities, softmax
from service.text import title_and_body
from training.baselines import lexical_model, tfidf_logreg
from training.calibration import choose_threshold, expected_calibration_error, fit_temperature
from training.config import config_from_args, project_path, write_training_outputs

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def article_text(row: dict) -> str:
    """What the classifier reads: title and body as the service joins them (auxiliary rows are a
    title or sentence only)."""
    return row["text"] if row["is_aux"] else title_and_body(row["title"], row["text"])[0]


def load_rows(data_dir: Path, split: str, cap_per_label: int | None, seed: int) -> list[dict]:
    from datasets import load_from_disk

    rows = [r for r in load_from_disk(str(data_dir))[split] if r["label"]]
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
    (headlines, sentences) come with ``aux_weight`` unless ``use_aux`` is false.
    """
    rows = load_rows(project_path(config["data_dir"]), "train", config.get("max_train_per_label"), config["seed"])
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


def attach_lexical(
    classifier: TopicClassifier,
    config: dict,
    train_rows: list[dict],
    fit_texts: list[str],
    y_fit: np.ndarray,
    fit_neural: np.ndarray,
) -> dict:
    """Fit the lexical half (TF-IDF + logistic regression) on train, its mixing weight on ``fit_texts``.

    The weight is the one with the best macro-F1 there on a grid (ties go to the smaller weight);
    a weight of 0 leaves the encoder alone and the lexical model out of the artifact.
    """
    settings = config.get("lexical") or {}
    classifier.lexical, classifier.config.lexical_weight = None, 0.0
    if not settings.get("max_features"):
        return {}
    started = time.perf_counter()
    labels = classifier.config.labels
    pipeline = tfidf_logreg(c=settings.get("c", 4.0), max_features=settings["max_features"], seed=config["seed"])
    pipeline.fit([article_text(r) for r in train_rows], [r["label"] for r in train_rows])
    lexical = lexical_model(pipeline, labels)
    fit_lexical = lexical.log_probabilities(fit_texts)
    neural_temperature = fit_temperature(fit_neural, y_fit)
    grid = settings.get("weights", [round(0.1 * i, 1) for i in range(11)])

    def macro_f1(weight: float) -> float:
        mixed = mix_log_probabilities(fit_neural, fit_lexical, weight, neural_temperature)
        return float(f1_score(y_fit, mixed.argmax(1), average="macro"))

    scores = {w: macro_f1(w) for w in grid}
    weight = max(grid, key=lambda w: (round(scores[w], 4), -w))
    logger.info("lexical: %d terms; macro-F1 by weight %s; chosen %s", len(lexical.terms), scores, weight)
    classifier.lexical = lexical if weight > 0 else None
    classifier.config.lexical_weight, classifier.config.neural_temperature = weight, neural_temperature
    return {
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


def refit_lexical(config: dict) -> dict:
    """``stage: lexical``: keep the trained encoder layers in ``output_dir``, refit what ``finish`` fits."""
    started = time.perf_counter()
    seed_everything(config["seed"])
    out_dir = project_path(config["output_dir"])
    classifier = TopicClassifier.load(out_dir)
    train_rows = load_train_rows(config)
    fit_split, fit_rows = calibration_rows(config)
    fit_neural = classifier.neural_logits([article_text(r) for r in fit_rows], config["encode_batch_size"])
    calibration = finish(classifier, config, train_rows, fit_split, fit_rows, fit_neural)
    classifier.save_pretrained(out_dir)
    previous = json.loads((out_dir / "train_metrics.json").read_text())
    metrics = previous | calibration | {"lexical_refit_seconds": round(time.perf_counter() - started, 1)}
    return write_training_outputs(out_dir, config, metrics, rss_key="lexical_refit_peak_rss_mb")


def train(config: dict) -> dict:
    started = time.perf_counter()
    seed_everything(config["seed"])
    labels = [label.key for label in load_labels()]
    label_index = {key: i for i, key in enumerate(labels)}
    model, tokenizer, resolved = load_backbone(config["backbone"])
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    device = torch.device(config.get("device", "cpu"))
    model.to(device)
    bf16 = use_bf16(config, device)
    if not bf16 and config.get("fp32_overrides"):
        # Without native bf16 (AVX2-only CPUs) the run would not fit its time budget: apply the
        # configured reductions; the saved training_config.yaml shows the values actually used.
        config = config | config["fp32_overrides"] | {"fp32_overrides_applied": True}
    logger.info("bf16 autocast: %s", bf16)
    n_layers = len(encoder_layers(model))
    trainable = min(config["trainable_layers"], n_layers)
    n_lower = n_layers - trainable
    max_length = config["max_length"]

    train_rows = load_train_rows(config)
    val_rows = selection_rows(config, "validation")
    logger.info(
        "train %d rows (%d auxiliary), validation %d",
        len(train_rows),
        sum(r["is_aux"] for r in train_rows),
        len(val_rows),
    )

    def windows_of(row: dict) -> list[list[int]]:
        return text_windows(tokenizer, article_text(row), max_length, resolved.passage_prefix)

    # `train_windows`: 1 reads the first window (title + lead); N > 1 also the next windows of long
    # articles, each a training item with the article's label and 1/n of its weight.
    per_article = max(1, int(config.get("train_windows", 1)))
    train_windows, train_items = [], []
    for index, row in enumerate(tqdm(train_rows, desc="tokenise train", unit="row")):
        chosen = windows_of(row)[:per_article]
        train_windows += chosen
        train_items += [(index, 1.0 / len(chosen))] * len(chosen)
    val_windows = [windows_of(r)[0] for r in val_rows]
    y_train = np.array([label_index[train_rows[i]["label"]] for i, _ in train_items])
    y_val = np.array([label_index[r["label"]] for r in val_rows])
    sample_weight = torch.tensor([train_rows[i]["weight"] * share for i, share in train_items])

    pad_id, batch_size = tokenizer.pad_token_id, config["batch_size"]
    cache = config.get("cache_lower_layers", True)
    if cache:
        train_states = cache_lower(
            model, train_windows, n_lower, pad_id, config["encode_batch_size"], "cache train", bf16
        )
        val_states = cache_lower(model, val_windows, n_lower, pad_id, config["encode_batch_size"], "cache val", bf16)
    cached_at = time.perf_counter()

    head = new_head(model, len(labels), trainable, config.get("dropout", 0.1)).to(device)
    for parameter in head.parameters():
        parameter.requires_grad_(True)
    layer_params = [p for n, p in head.named_parameters() if n.startswith("layers.")]
    head_params = [p for n, p in head.named_parameters() if not n.startswith("layers.")]
    optimizer = torch.optim.AdamW(
        [{"params": layer_params, "lr": config["lr_layers"]}, {"params": head_params, "lr": config["lr_head"]}],
        weight_decay=config.get("weight_decay", 0.01),
    )
    rng = random.Random(config["seed"])
    lengths = [len(w) for w in train_windows]
    steps_per_epoch = (len(lengths) + batch_size - 1) // batch_size
    total_steps = steps_per_epoch * config["epochs"]
    if config.get("max_steps"):
        total_steps = min(total_steps, config["max_steps"])
    warmup = int(total_steps * config.get("warmup_ratio", 0.06))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / max(warmup, 1), max(0.0, (total_steps - step) / max(total_steps - warmup, 1))),
    )
    weights = class_weights(y_train, len(labels), config.get("class_weight_power", 0.5)).to(device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)

    def inputs(indices: list[int], states, windows) -> tuple[torch.Tensor, torch.Tensor]:
        if cache:
            hidden, mask = tensors(*pad_states([states[i] for i in indices]))
            return hidden.to(device), mask.to(device)
        ids, mask = tensors(*pad_batch([windows[i] for i in indices], pad_id))
        ids, mask = ids.to(device), mask.to(device)
        with torch.no_grad():
            return lower_states(model, ids, mask, n_lower), mask

    @torch.no_grad()
    def validation_logits() -> np.ndarray:
        head.eval()
        out = np.zeros((len(val_windows), len(labels)), dtype=np.float32)
        for chosen in batches([len(w) for w in val_windows], config["encode_batch_size"], random.Random(0)):
            hidden, mask = inputs(chosen, val_states if cache else None, val_windows)
            with autocast:
                out[chosen] = head(hidden, mask, model.config).float().cpu().numpy()
        head.train()
        return out

    best = {"macro_f1": -1.0}
    history, step = [], 0
    head.train()
    for epoch in range(config["epochs"]):
        progress = tqdm(batches(lengths, batch_size, rng), desc=f"epoch {epoch + 1}", unit="batch")
        for chosen in progress:
            if step >= total_steps:
                break
            hidden, mask = inputs(chosen, train_states if cache else None, train_windows)
            target = torch.as_tensor(y_train[chosen], device=device)
            with autocast:
                logits = head(hidden, mask, model.config)
            loss = torch.nn.functional.cross_entropy(logits.float(), target, weight=weights, reduction="none")
            loss = (loss * sample_weight[chosen].to(device)).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(head.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            progress.set_postfix(loss=f"{loss.item():.3f}")
        val_logits = validation_logits()
        macro = f1_score(y_val, val_logits.argmax(1), average="macro")
        history.append({"epoch": epoch + 1, "step": step, "val_macro_f1_head_window": round(float(macro), 4)})
        logger.info("epoch %d: validation macro-F1 %.4f", epoch + 1, macro)
        if macro > best["macro_f1"]:
            best = {
                "macro_f1": float(macro),
                "epoch": epoch + 1,
                "state": {k: v.clone() for k, v in head.state_dict().items()},
            }
    head.load_state_dict(best["state"])
    trained_at = time.perf_counter()

    classifier = TopicClassifier.from_torch(
        model,
        tokenizer,
        head.to("cpu").float(),
        ClassifierConfig(
            labels=labels,
            backbone=config["backbone"],
            backbone_fingerprint=resolved.fingerprint,
            trainable_layers=trainable,
            max_length=max_length,
            prefix=resolved.passage_prefix,
        ),
    )
    model.to("cpu")
    # Long articles: first window only vs token-weighted mean over all windows, on validation.
    val_texts = [article_text(r) for r in val_rows]
    logits_by_strategy = {
        s: classifier.neural_logits(val_texts, config["encode_batch_size"], s) for s in ("head", "chunk_mean")
    }
    strategy_f1 = {s: float(f1_score(y_val, lg.argmax(1), average="macro")) for s, lg in logits_by_strategy.items()}
    strategy = max(strategy_f1, key=strategy_f1.get) if config.get("long_text") == "auto" else config["long_text"]
    classifier.config.long_text = strategy
    fit_split, fit_rows = calibration_rows(config, val_rows)
    fit_neural = (
        logits_by_strategy[strategy]
        if fit_split == "validation"
        else classifier.neural_logits([article_text(r) for r in fit_rows], config["encode_batch_size"])
    )
    calibration = finish(classifier, config, train_rows, fit_split, fit_rows, fit_neural)
    out_dir = project_path(config["output_dir"])
    if out_dir.exists():
        shutil.rmtree(out_dir)
    classifier.save_pretrained(out_dir)
    metrics = {
        "label_source": config.get("label_source", "all"),
        "bf16": bf16,
        "train_rows": len(train_rows),
        "train_rows_read": int(sum(r["label_method"] == "read" for r in train_rows)),
        "train_auxiliary_rows": int(sum(r["is_aux"] for r in train_rows)),
        "train_windows": len(train_windows),
        "validation_rows": len(val_rows),
        "trainable_layers": trainable,
        "max_length": max_length,
        "epochs": config["epochs"],
        "best_epoch": best["epoch"],
        "history": history,
        "validation_macro_f1": {
            "head": round(strategy_f1["head"], 4),
            "chunk_mean": round(strategy_f1["chunk_mean"], 4),
        },
        "long_text_strategy": strategy,
        **calibration,
        "seconds": {
            "cache_lower_layers": round(cached_at - started, 1),
            "train": round(trained_at - cached_at, 1),
            "total": round(time.perf_counter() - started, 1),
        },
    }
    return write_training_outputs(out_dir, config, metrics)


def main(argv: list[str] | None = None) -> None:
    config = config_from_args(__doc__, "configs/classifier.yaml", argv)
    torch.set_num_threads(config.get("threads") or torch.get_num_threads())
    stage = config.get("stage", "all")
    if stage not in ("all", "lexical"):
        raise SystemExit(f"stage must be 'all' or 'lexical', not {stage!r}")
    print(json.dumps(train(config) if stage == "all" else refit_lexical(config), indent=2))


if __name__ == "__main__":
    main()
