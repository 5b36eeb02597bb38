"""Evaluate the topic classifier on the gold test set, side by side with TF-IDF baselines.

    python -m training.evaluate_classifier [--model models/topic-classifier] [--config configs/classifier.yaml]
    python -m training.evaluate_classifier --model build/runs/RUN_NAME   # a run, before promoting it

A run is evaluated where training wrote it (``build/runs/RUN_NAME``); ``python -m training.promote
RUN_NAME`` then copies it with these files into ``models/topic-classifier``.

The gold test set is the ``test`` split: June-2025 articles read twice by careful readers and
adjudicated (docs/annotation.md); articles read as ``other`` (no topic fits) are counted and left
out. In one run it scores: this model; TF-IDF + logistic regression trained on the same careful
labels; TF-IDF + logistic regression trained on publisher sections; and the publisher labels
themselves (rows that have one). Writes ``eval.json``, ``confusion_matrix.png`` and the model card.
Every evaluation is also broken down per source and year (``per_source_tables``: the development
test, the careful-read validation rows with the out-of-period slice, publisher-labelled validation rows).
Every choice is made on validation or calibration, never here; the set may be scored again after a
round, and every scoring is appended to ``scorings.jsonl`` next to the model (the card shows the log).
It runs the model on the serving default backend (``--backend`` picks another).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from service.models.topics.classifier import TopicClassifier
from service.models.topics.probabilities import softmax
from training.baselines import tfidf_logreg
from training.calibration import expected_calibration_error
from training.config import load_config, project_path
from training.model_card import classifier_eval_tables, write_classifier_card
from training.provenance import overlap, trained_hashes
from training.resampling import bootstrap_macro_f1, interval
from training.scorings import log_scoring
from training.train_classifier import article_text, load_rows

logger = logging.getLogger(__name__)

RESAMPLES = 1000  # bootstrap draws of the test rows behind the model's macro-F1 interval


def scores(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict:
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=range(len(labels)), zero_division=0
    )
    return {
        "rows": int(len(y_true)),
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "macro_f1": round(float(f1_score(y_true, y_pred, labels=range(len(labels)), average="macro")), 4),
        "per_label": {
            label: {
                "precision": round(float(p), 4),
                "recall": round(float(r), 4),
                "f1": round(float(f), 4),
                "support": int(s),
            }
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=range(len(labels))).tolist(),
    }


def set_f1(predicted: list[set[int]], gold: list[set[int]]) -> float:
    """Mean per-article F1 between a predicted topic set and the gold set (main + second label)."""
    return float(np.mean([2 * len(p & g) / (len(p) + len(g)) for p, g in zip(predicted, gold, strict=True)]))


def probability_scores(
    y_true: np.ndarray, probs: np.ndarray, gold_sets: list[set[int]], threshold: float | None
) -> dict:
    """Top-2 recall, example-F1 of the topic set (top label + those ≥ threshold) and ECE."""
    order = np.argsort(-probs, axis=1)
    chosen = [
        {int(order[i, 0])} | ({int(j) for j in np.flatnonzero(probs[i] >= threshold)} if threshold else set())
        for i in range(len(probs))
    ]
    return {
        "top2_recall": round(float(np.mean([y in order[i, :2] for i, y in enumerate(y_true)])), 4),
        "example_f1_topics": round(set_f1(chosen, gold_sets), 4),
        "ece": round(expected_calibration_error(probs, y_true), 4),
    }


def tfidf_probabilities(rows: list[dict], label_key: str, texts: list[str], labels: list[str], seed: int) -> np.ndarray:
    """TF-IDF + LR fitted on ``rows`` labelled by ``label_key``; probabilities for ``texts`` in ``labels`` order."""
    fit = [r for r in rows if r.get(label_key)]
    model = tfidf_logreg(seed=seed).fit([article_text(r) for r in fit], [r[label_key] for r in fit])
    probs = np.zeros((len(texts), len(labels)))
    probs[:, [labels.index(c) for c in model.classes_]] = model.predict_proba(texts)
    logger.info("TF-IDF on %s: %d rows", label_key, len(fit))
    return probs


def plot_confusion(matrix: list[list[int]], labels: list[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.array(matrix, dtype=float)
    normalised = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(8, 7))
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if counts[i, j]:
                colour = "white" if normalised[i, j] > 0.5 else "black"
                ax.text(j, i, int(counts[i, j]), ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of true label")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def measure_speed(classifier: TopicClassifier, texts: list[str], batch_size: int = 32) -> dict:
    started = time.perf_counter()
    classifier.predict(texts, batch_size=batch_size)
    seconds = time.perf_counter() - started
    return {
        "articles": len(texts),
        "batch_size": batch_size,
        "seconds": round(seconds, 2),
        "articles_per_second": round(len(texts) / seconds, 2),
    }


def breakdown(
    classifier: TopicClassifier, rows: list[dict], label_key: str, predicted: np.ndarray | None = None
) -> dict:
    """Accuracy and macro-F1 per ``source year`` (and over all ``rows``) against ``label_key``.

    ``predicted``: label indices already computed for ``rows`` (the test set is predicted once)."""
    labels = classifier.config.labels
    index = {label: i for i, label in enumerate(labels)}
    keep = [i for i, r in enumerate(rows) if r.get(label_key) in index]
    rows = [rows[i] for i in keep]
    if not rows:
        return {}
    if predicted is None:
        predicted = classifier.probabilities(classifier.text_logits([article_text(r) for r in rows])).argmax(1)
    else:
        predicted = np.asarray(predicted)[keep]
    truth = np.array([index[r[label_key]] for r in rows])
    groups: dict[str, list[int]] = {"all": list(range(len(rows)))}
    for i, row in enumerate(rows):
        groups.setdefault(f"{row['source']} {row['year']}", []).append(i)

    def macro(members: list[int]) -> float:  # over the labels this group's rows carry
        present = sorted(set(truth[members].tolist()))
        return round(float(f1_score(truth[members], predicted[members], labels=present, average="macro")), 4)

    return {
        name: {
            "rows": len(members),
            "labels": len(set(truth[members].tolist())),
            "accuracy": round(float(accuracy_score(truth[members], predicted[members])), 4),
            "macro_f1": macro(members),
        }
        for name, members in sorted(groups.items(), key=lambda kv: (kv[0] != "all", kv[0]))
    }


def seen_rows(model_dir: Path, scored: dict[str, list[dict]]) -> dict:
    """How many rows of each scored set the model trained on (``training.provenance``); logged when any."""
    trained = trained_hashes(model_dir)
    counts = {name: overlap(trained, [r["id"] for r in rows]) for name, rows in scored.items()}
    for name, count in counts.items():
        if count:
            logger.warning(
                "%s: %d scored rows are among the model's training rows; its figures are optimistic", name, count
            )
    return {"trained_articles": None if trained is None else len(trained), "scored_rows_trained_on": counts}


def per_source_tables(
    classifier: TopicClassifier, model_dir: Path, corpus, test_rows: list[dict], test_predicted: np.ndarray
) -> dict:
    """Every evaluation per source and year: the development test; the careful-read validation rows
    (the out-of-period ``transfer`` slice among them); the validation rows labelled by their publisher
    section, scored against that label (a check that publisher-labelled sets do not get worse)."""
    validation = corpus["validation"].to_list() if "validation" in corpus else []
    labels = set(classifier.config.labels)
    read = [r for r in validation if r["label_method"] == "read" and r["label"] in labels]
    publisher = [r for r in validation if r["label_method"] == "section" and r["publisher_label"] in labels]
    return {
        "provenance": seen_rows(model_dir, {"development test": test_rows, "validation": read + publisher}),
        "development_test": breakdown(classifier, test_rows, "label", test_predicted),
        "validation_read": breakdown(classifier, read, "label"),
        "validation_publisher_labels": breakdown(classifier, publisher, "publisher_label"),
    }


def load_for_scoring(model_dir: Path, backend: str | None) -> tuple[TopicClassifier, str]:
    """The classifier in ``model_dir`` as the service runs it (``backend``, default the serving default; each
    article batched alone, as the CLI, the app and Ray serve it) and that backend's name."""
    from service.analyzer import Analyzer

    analyzer = Analyzer.load(classifier_dir=model_dir, backend=backend, independent_batches=True)
    return analyzer.classifier, analyzer.backend


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/topic-classifier")
    parser.add_argument("--config", default="configs/classifier.yaml", help="training config (data, seed)")
    parser.add_argument("--speed-sample", type=int, default=256, help="test articles timed for throughput")
    parser.add_argument(
        "--backend", choices=["auto", "onnx", "torch"], default=None,
        help="engine that runs the model (default: the serving default, configs/service.yaml)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_config(project_path(args.config))
    model_dir = project_path(args.model)
    classifier, backend = load_for_scoring(model_dir, args.backend)
    labels = classifier.config.labels
    index = {label: i for i, label in enumerate(labels)}
    data_dir, seed = project_path(config["data_dir"]), config["seed"]
    from datasets import load_from_disk

    corpus = load_from_disk(str(data_dir))
    gold_all = [r for r in corpus["test"] if r["label_method"] == "read"] if "test" in corpus else []
    test_rows = [r for r in gold_all if r["label"]]
    if not test_rows:
        raise SystemExit("error: the test split has no careful-read (gold) articles; read and rebuild first")
    texts = [article_text(r) for r in test_rows]
    y = np.array([index[r["label"]] for r in test_rows])
    gold_sets = [{index[r["label"]]} | ({index[r["second_label"]]} if r["second_label"] else set()) for r in test_rows]

    # Baselines on the full train split: the careful labels (read rows) and the publisher sections.
    train_rows = load_rows(data_dir, "train", None, seed)
    careful_rows = [r for r in train_rows if r["label_method"] == "read" and not r["is_aux"]]
    publisher_rows = [r for r in train_rows if not r["is_aux"]]
    baselines = {
        "tfidf_careful_labels": tfidf_probabilities(careful_rows, "label", texts, labels, seed),
        "tfidf_publisher_labels": tfidf_probabilities(publisher_rows, "publisher_label", texts, labels, seed),
    }

    logger.info("model: %d gold test articles", len(test_rows))
    neural = classifier.neural_logits(texts, batch_size=32)
    logits = classifier.combine(texts, neural)
    probs_raw, probs = softmax(logits), classifier.probabilities(logits)
    pred = probs.argmax(1)
    result: dict = {
        "test_set": "gold: June-2025 articles read twice and adjudicated (docs/annotation.md)",
        "gold_articles": len(gold_all),
        "left_out_other": len(gold_all) - len(test_rows),
        "model": scores(y, pred, labels)
        | probability_scores(y, probs, gold_sets, classifier.config.threshold)
        | {"ece_before_temperature": round(expected_calibration_error(probs_raw, y), 4)},
    }
    draws = bootstrap_macro_f1(y, [pred], RESAMPLES, seed, labels=list(range(len(labels))))
    result["model"]["macro_f1_interval"] = interval(draws[:, 0])
    result["model"]["bootstrap_resamples"] = RESAMPLES
    for name, baseline_probs in baselines.items():
        result[name] = scores(y, baseline_probs.argmax(1), labels) | probability_scores(
            y, baseline_probs, gold_sets, None
        )
    has_publisher = np.array([bool(r["publisher_label"]) for r in test_rows])
    publisher_pred = np.array([index.get(r["publisher_label"] or "", -1) for r in test_rows])
    result["publisher_labels"] = scores(y[has_publisher], publisher_pred[has_publisher], labels) | {
        "example_f1_topics": round(
            set_f1(
                [{p} for p in publisher_pred[has_publisher]],
                [g for g, h in zip(gold_sets, has_publisher, strict=True) if h],
            ),
            4,
        ),
    }
    result["components_macro_f1"] = {
        "encoder_only": round(float(f1_score(y, neural.argmax(1), labels=range(len(labels)), average="macro")), 4)
    }
    if classifier.lexical is not None:
        lexical = classifier.lexical.log_probabilities(texts).argmax(1)
        result["components_macro_f1"]["lexical_only"] = round(
            float(f1_score(y, lexical, labels=range(len(labels)), average="macro")), 4
        )
    result |= {
        "long_text_strategy": classifier.config.long_text,
        "lexical_weight": classifier.config.lexical_weight,
        "threshold": classifier.config.threshold,
        "backend": backend,
        "speed_batch_32": measure_speed(classifier, texts[: args.speed_sample]) | {"backend": backend},
        "macro_f1_gain_over_tfidf_careful": round(
            result["model"]["macro_f1"] - result["tfidf_careful_labels"]["macro_f1"], 4
        ),
    }
    result["per_source_year"] = per_source_tables(classifier, model_dir, corpus, test_rows, pred)
    (model_dir / "eval.json").write_text(json.dumps(result, indent=2))
    log_scoring(
        model_dir, "training.evaluate_classifier", backend, len(test_rows), result["model"]["macro_f1"],
        accuracy=result["model"]["accuracy"],
    )  # fmt: skip
    plot_confusion(
        result["model"]["confusion_matrix"],
        labels,
        model_dir / "confusion_matrix.png",
        f"Topic classifier, gold test (macro-F1 {result['model']['macro_f1']:.3f})",
    )
    write_classifier_card(model_dir)
    print(classifier_eval_tables(result))


if __name__ == "__main__":
    main()
