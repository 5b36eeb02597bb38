"""Compare training runs on validation/calibration (never test): the evidence behind a config choice.

    python -m training.compare_runs build/runs/exp-read build/runs/exp-sections ... [--out FILE.json]

Runs are training output directories (``build/runs/RUN_NAME``; train with ``--set run_name=exp-read``).
``--out build/runs/CHOSEN/run_selection.json`` puts the comparison into the chosen run, so that
``python -m training.promote CHOSEN`` ships it with the model and the card shows it.

Reads each run's ``train_metrics.json`` and ``training_config.yaml`` and prints one row per run:
label source, rows, the encoder's validation macro-F1 (careful-read rows) and the calibration
split's macro-F1 (encoder alone and final mix), wall time. Then it scores every run's *final*
model (encoder + lexical half, as shipped) on the careful-read rows of validation and calibration
together: ``selection_macro_f1``, the number a choice between runs is made on. Validation rows come
from each run's own ``data_dir`` (a run built on other data has another validation split).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

KNOBS = (
    "label_source",
    "publisher_weight",
    "trainable_layers",
    "delta_rank",
    "max_length",
    "train_windows",
    "epochs",
    "bf16",
)


def run_row(run_dir: Path) -> dict:
    metrics = json.loads((run_dir / "train_metrics.json").read_text())
    config = yaml.safe_load((run_dir / "training_config.yaml").read_text())
    validation = metrics["validation_macro_f1"]
    return {
        "run": run_dir.name,
        **{k: config.get(k) for k in KNOBS},
        "train_rows": metrics["train_rows"],
        "train_rows_read": metrics.get("train_rows_read"),
        "validation_rows": metrics["validation_rows"],
        "validation_macro_f1": max(validation.values()),
        "validation_macro_f1_by_pooling": validation,
        "calibration_macro_f1": metrics["calibration_macro_f1"],
        "seconds": metrics["seconds"]["total"],
        "peak_rss_mb": metrics.get("peak_rss_mb"),
        "cpu": metrics.get("cpu"),
    }


def selection_scores(run_dir: Path) -> dict:
    """Macro-F1 of the run's final model on careful-read validation + calibration rows."""
    import numpy as np
    from sklearn.metrics import f1_score

    from service.models.topics.classifier import TopicClassifier
    from training.train_classifier import article_text, selection_rows

    config = yaml.safe_load((run_dir / "training_config.yaml").read_text())
    classifier = TopicClassifier.load(run_dir)
    index = {label: i for i, label in enumerate(classifier.config.labels)}
    out, y_all, pred_all = {}, [], []
    for split in ("validation", "calibration"):
        rows = [r for r in selection_rows(config, split) if r["label_method"] == "read"]
        pred = classifier.text_logits([article_text(r) for r in rows], 32).argmax(1)
        y = np.array([index[r["label"]] for r in rows])
        out[f"{split}_final_macro_f1"] = round(float(f1_score(y, pred, average="macro")), 4)
        out[f"{split}_rows"] = len(rows)
        y_all.append(y)
        pred_all.append(pred)
    out["selection_macro_f1"] = round(
        float(f1_score(np.concatenate(y_all), np.concatenate(pred_all), average="macro")), 4
    )
    return out


def render(rows: list[dict]) -> str:
    header = (
        "| run | label source | weight | layers | window × per article | rows (read) | val macro-F1 (encoder) | "
        "calib. encoder / final | val final | selection (val + calib., final) | s |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        calibration = r["calibration_macro_f1"]
        lines.append(
            f"| {r['run']} | {r['label_source']} | {r['publisher_weight']} | {r['trainable_layers']} | "
            f"{r['max_length']} × {r.get('train_windows') or 1} | {r['train_rows']} ({r['train_rows_read']}) | "
            f"{r['validation_macro_f1']:.4f} | "
            f"{calibration['encoder']:.4f} / {calibration['final']:.4f} | {r['validation_final_macro_f1']:.4f} | "
            f"{r['selection_macro_f1']:.4f} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    rows = [run_row(d) | selection_scores(d) for d in args.runs]
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2) + "\n")
    print(render(rows))


if __name__ == "__main__":
    main()
