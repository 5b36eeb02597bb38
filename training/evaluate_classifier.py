"""Evaluate the topic classifier on the test split, side by side with a TF-IDF baseline.

    python -m training.evaluate_classifier [--model models/topic-classifier] [--config configs/classifier.yaml]

Both models are trained on the same train split; the baseline is fitted in this run. Writes
``eval.json``, ``confusion_matrix.png`` and the model card ``README.md`` into the model directory.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from service.classifier import TopicClassifier
from service.encoder import inference_precision
from service.probabilities import softmax
from training.baselines import tfidf_logreg
from training.calibration import expected_calibration_error
from training.config import load_yaml, project_path
from training.gold_sample import read_gold_labels
from training.model_card import write_classifier_card
from training.train_classifier import article_text, load_rows, load_train_rows

logger = logging.getLogger(__name__)


def scores(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict:
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=range(len(labels)), zero_division=0
    )
    return {
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


def gold_subset(
    path: Path, test_ids: list[str], model_pred: np.ndarray, baseline_pred: np.ndarray, labels: list[str]
) -> dict:
    """Both models (and the publisher labels themselves) against hand-checked labels.

    Rows whose gold label is ``other`` (no topic of the taxonomy fits: accidents, disasters) are
    left out; a sampled id missing from the test split means the corpus changed, which is an error.
    """
    gold = read_gold_labels(path)
    if not gold:
        return {}
    position = {row_id: i for i, row_id in enumerate(test_ids)}
    missing = [row_id for row_id in gold if row_id not in position]
    if missing:
        raise ValueError(f"{len(missing)} ids of {path} are not in the test split (e.g. {missing[0]}); rebuild data")
    index = {label: i for i, label in enumerate(labels)}
    kept = [(row_id, pub, g) for row_id, (pub, g) in gold.items() if g in index]
    rows = np.array([position[row_id] for row_id, _, _ in kept])
    y_gold = np.array([index[g] for _, _, g in kept])
    publisher = np.array([index[p] for _, p, _ in kept])
    return {
        "rows": len(kept),
        "left_out_other": len(gold) - len(kept),
        "publisher_labels": scores(y_gold, publisher, labels),
        "model": scores(y_gold, model_pred[rows], labels),
        "baseline_tfidf_logreg": scores(y_gold, baseline_pred[rows], labels),
    }


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
        "precision": inference_precision(),
        "seconds": round(seconds, 2),
        "articles_per_second": round(len(texts) / seconds, 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/topic-classifier")
    parser.add_argument("--config", default="configs/classifier.yaml", help="training config (data, seed)")
    parser.add_argument("--speed-sample", type=int, default=256, help="test articles timed for throughput")
    parser.add_argument(
        "--gold", default="docs/test_gold_labels.tsv", help="hand-checked labels for a sample of the test split"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_yaml(project_path(args.config))
    model_dir = project_path(args.model)
    classifier = TopicClassifier.load(model_dir)
    labels = classifier.config.labels
    index = {label: i for i, label in enumerate(labels)}
    data_dir = project_path(config["data_dir"])
    train_rows = load_train_rows(config)
    test_rows = load_rows(data_dir, "test", None, config["seed"])
    test_texts = [article_text(r) for r in test_rows]
    y_test = np.array([index[r["label"]] for r in test_rows])
    from_sections = np.array([r["label_method"] == "section" for r in test_rows])

    logger.info("baseline: TF-IDF + logistic regression on %d train rows", len(train_rows))
    baseline = tfidf_logreg(seed=config["seed"])
    baseline.fit([article_text(r) for r in train_rows], [r["label"] for r in train_rows])
    baseline_pred = np.array([index[p] for p in baseline.predict(test_texts)])

    logger.info("model: %d test articles", len(test_rows))
    neural = classifier.neural_logits(test_texts, batch_size=32)
    logits = classifier.combine(test_texts, neural)
    model_pred = logits.argmax(axis=1)
    probs_raw, probs = softmax(logits), classifier.probabilities(logits)
    ablation = {"encoder_only": neural.argmax(axis=1)}
    if classifier.lexical is not None:
        ablation["lexical_only"] = classifier.lexical.log_probabilities(test_texts).argmax(axis=1)

    result = {
        "test_rows": len(test_rows),
        "test_rows_section_labelled": int(from_sections.sum()),
        "model": scores(y_test, model_pred, labels),
        "baseline_tfidf_logreg": scores(y_test, baseline_pred, labels),
        "section_labelled_only": {
            "model_macro_f1": round(
                float(f1_score(y_test[from_sections], model_pred[from_sections], average="macro")), 4
            ),
            "baseline_macro_f1": round(
                float(f1_score(y_test[from_sections], baseline_pred[from_sections], average="macro")), 4
            ),
        },
        "ece_test": {
            "before": round(expected_calibration_error(probs_raw, y_test), 4),
            "after": round(expected_calibration_error(probs, y_test), 4),
        },
        "components_macro_f1": {
            name: round(float(f1_score(y_test, pred, labels=range(len(labels)), average="macro")), 4)
            for name, pred in ablation.items()
        },
        "gold_subset": gold_subset(
            project_path(args.gold), [r["id"] for r in test_rows], model_pred, baseline_pred, labels
        ),
        "long_text_strategy": classifier.config.long_text,
        "lexical_weight": classifier.config.lexical_weight,
        "speed_batch_32": measure_speed(classifier, test_texts[: args.speed_sample]),
    }
    result["macro_f1_gain_over_baseline"] = round(
        result["model"]["macro_f1"] - result["baseline_tfidf_logreg"]["macro_f1"], 4
    )
    (model_dir / "eval.json").write_text(json.dumps(result, indent=2))
    plot_confusion(
        result["model"]["confusion_matrix"],
        labels,
        model_dir / "confusion_matrix.png",
        f"Topic classifier, test (macro-F1 {result['model']['macro_f1']:.3f})",
    )
    write_classifier_card(model_dir)
    print(
        json.dumps(
            {k: v for k, v in result.items() if k not in ("model", "baseline_tfidf_logreg", "gold_subset")}, indent=2
        )
    )
    model, base = result["model"], result["baseline_tfidf_logreg"]
    print(f"model macro-F1 {model['macro_f1']}, accuracy {model['accuracy']}; ")
    print(f"baseline macro-F1 {base['macro_f1']}, accuracy {base['accuracy']}")
    if result["gold_subset"]:
        gold = result["gold_subset"]
        print(
            f"hand-checked sample ({gold['rows']} articles): model macro-F1 {gold['model']['macro_f1']}, "
            f"baseline {gold['baseline_tfidf_logreg']['macro_f1']}, "
            f"publisher labels {gold['publisher_labels']['macro_f1']}"
        )


if __name__ == "__main__":
    main()
