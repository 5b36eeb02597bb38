"""Parity gate: each inference backend against PyTorch fp32 on the same articles.

    python -m training.evaluate_backends [--backends onnx-int8 openvino-bf16 ...] [--summaries 300]

For every backend, on the validation split and on the gold test set (``build/data/topics``):
top-1 topic agreement with fp32, the largest and mean difference of any topic probability,
macro-F1 against the labels for both, and on ``--summaries`` validation articles the share whose
summary has exactly the same sentences. An engine passes when it agrees on top-1 for at least
99 % of the validation articles and its macro-F1 is within 0.5 points of fp32; the command exits
with status 1 when one fails. The file records the models' version and each engine's gate: ``auto``
never picks an engine that failed it for those models (``service.engines.measure``). Results go to
``--out`` (JSON) with the CPU's model and flags; the gold-test
macro-F1 of every backend is a scoring of the development test and is appended to the served
classifier's ``scorings.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import numpy as np
from sklearn.metrics import f1_score

from service.engines.backend import ENGINES, candidates
from training.config import cpu_description, load_config, project_path
from training.scorings import log_scoring

logger = logging.getLogger(__name__)
REFERENCE = "torch-fp32"
MIN_TOP1_AGREEMENT = 0.99
MAX_MACRO_F1_DROP = 0.005


def load_analyzer(name: str):
    from service.analyzer import Analyzer

    backend, precision = name.split("-")
    analyzer = Analyzer.load(backend=backend, precision=precision)
    if analyzer.backend != name:
        raise SystemExit(f"error: asked for backend {name}, got {analyzer.backend}")
    return analyzer


def topic_probabilities(analyzer, items: list[dict], labels: list[str]) -> np.ndarray:
    """(articles, labels) calibrated probabilities as the API returns them (rounded to 4 places)."""
    results = analyzer.classify(items)
    index = {label: i for i, label in enumerate(labels)}
    probs = np.zeros((len(items), len(labels)), dtype=np.float32)
    for row, result in enumerate(results):
        if result.error:
            raise SystemExit(f"error: article {result.id}: {result.error}")
        for score in result.topics:
            probs[row, index[score.label]] = score.score
    return probs


def summary_choices(analyzer, items: list[dict]) -> list[list[int]]:
    return [[s.index for s in r.summary_sentences] for r in analyzer.analyze(items)]


def compare(probs: np.ndarray, reference: np.ndarray, y: np.ndarray) -> dict:
    def macro(p: np.ndarray) -> float:
        return float(f1_score(y, p.argmax(1), labels=range(p.shape[1]), average="macro"))

    difference = np.abs(probs - reference)
    return {
        "articles": len(y),
        "top1_agreement": round(float((probs.argmax(1) == reference.argmax(1)).mean()), 4),
        "max_probability_difference": round(float(difference.max()), 4),
        "mean_max_probability_difference": round(float(difference.max(1).mean()), 4),
        "macro_f1": round(macro(probs), 4),
        "macro_f1_reference": round(macro(reference), 4),
        "macro_f1_difference": round(macro(probs) - macro(reference), 4),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=ENGINES,
        help="engines compared with torch-fp32 (default: all auto may pick)",
    )
    parser.add_argument("--config", default="configs/classifier.yaml", help="training config (data_dir)")
    parser.add_argument("--summaries", type=int, default=300, help="validation articles compared on summaries")
    parser.add_argument("--out", default="models/backend-parity.json")
    parser.add_argument(
        "--model", default="models/topic-classifier", help="where the scoring log is (the served model)"
    )
    args = parser.parse_args(argv)
    args.backends = args.backends or [e for e in candidates() if e != REFERENCE]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from datasets import load_from_disk

    corpus = load_from_disk(str(project_path(load_config(project_path(args.config))["data_dir"])))
    sets = {
        "validation": [r for r in corpus["validation"] if r["label"] and not r["is_aux"]],
        "gold_test": [r for r in corpus["test"] if r["label"] and r["label_method"] == "read"],
    }
    report = {"cpu": cpu_description(), "reference": REFERENCE, "sets": {}}
    analyzers = {name: load_analyzer(name) for name in dict.fromkeys([REFERENCE, *args.backends])}
    labels = analyzers[REFERENCE].classifier.config.labels
    for set_name, rows in sets.items():
        if not rows:
            continue
        items = [{"id": r["id"], "title": r["title"], "text": r["text"]} for r in rows]
        y = np.array([labels.index(r["label"]) for r in rows])
        probs = {}
        for name, analyzer in analyzers.items():
            started = time.perf_counter()
            probs[name] = topic_probabilities(analyzer, items, labels)
            logger.info("%s, %s: %d articles in %.0f s", set_name, name, len(items), time.perf_counter() - started)
        report["sets"][set_name] = {
            name: compare(probs[name], probs[REFERENCE], y) for name in args.backends if name != REFERENCE
        }
        if set_name == "gold_test":  # a scoring of the development test: logged next to the classifier
            for name in analyzers:
                macro_f1 = f1_score(y, probs[name].argmax(1), labels=range(len(labels)), average="macro")
                log_scoring(project_path(args.model), "training.evaluate_backends", name, len(rows), macro_f1)
    sample = [{"title": r["title"], "text": r["text"]} for r in sets["validation"][: args.summaries]]
    chosen = {name: summary_choices(analyzer, sample) for name, analyzer in analyzers.items()}
    for name in args.backends:
        if name != REFERENCE:
            same = sum(a == b for a, b in zip(chosen[name], chosen[REFERENCE], strict=True))
            report["sets"]["validation"][name]["summaries_compared"] = len(sample)
            report["sets"]["validation"][name]["identical_summaries"] = round(same / max(len(sample), 1), 4)
    validation = report["sets"]["validation"]
    engines = {
        name: validation[name]["top1_agreement"] >= MIN_TOP1_AGREEMENT
        and abs(validation[name]["macro_f1_difference"]) <= MAX_MACRO_F1_DROP
        for name in args.backends
        if name != REFERENCE
    }
    report["models"] = analyzers[REFERENCE].version  # auto leaves out an engine that failed for these models
    report["gate"] = {
        "rule": f"on validation: top-1 agreement >= {MIN_TOP1_AGREEMENT}, macro-F1 within {MAX_MACRO_F1_DROP} "
        f"of {REFERENCE}",
        "engines": {REFERENCE: True, **engines},
        "passed": all(engines.values()),
    }
    out = project_path(args.out)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    if not report["gate"]["passed"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
