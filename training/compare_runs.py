"""Compare training runs on validation/calibration (never test): the evidence behind a config choice.

    python -m training.compare_runs build/runs/exp-read build/runs/exp-sections ... [--out FILE.json]

Runs are training output directories (``build/runs/RUN_NAME``; train with ``--set run_name=exp-read``).
``--out build/runs/CHOSEN/run_selection.json`` puts the comparison into the chosen run, so that
``python -m training.promote CHOSEN`` ships it with the model and the card shows it.

Reads each run's ``train_metrics.json`` and ``training_config.yaml`` and prints one row per run:
label source, rows, the encoder's validation macro-F1 (careful-read rows) and the calibration
split's macro-F1 (encoder alone and final mix), wall time. Then it scores every run's *final*
model (encoder + lexical half, as shipped) on the careful-read rows of validation and calibration
together: ``selection_macro_f1``, the number a choice between runs is made on; ``--slice`` adds the
out-of-period rows alone; ``publisher_validation_accuracy`` checks agreement with publisher sections on the
section-labelled validation rows. Validation rows come from each run's own ``data_dir``; ``trained_on``
counts the validation and calibration rows the run trained on (``training.provenance``: a run trained on
an earlier build may have; ``?``: the run has no record), which would make its figures optimistic.
``--earlier`` keeps the rows of an earlier comparison as they were measured (each row records the day,
``measured``): runs trained on an earlier build are best compared there, and on calibration, which is
the same rows in every build.
"""

from __future__ import annotations

import argparse
import json
import logging
from datetime import date
from pathlib import Path

import numpy as np
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

logger = logging.getLogger(__name__)


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


def selection_scores(
    run_dir: Path,
    slice_ids: set[str] | None = None,
    seen: set[str] | None = None,
    folds: int = 0,
    predictions: dict | None = None,
) -> dict:
    """Macro-F1 of the run's final model on careful-read validation + calibration rows; with ``slice_ids``, also
    on the careful-read validation rows among them (``slice``); its agreement with publisher sections on the
    section-labelled validation rows; and how many of the rows scored it trained on (``trained_on``).
    ``seen``: article ids left out of every score (``--clean``: rows some compared run trained on); ``folds``:
    also ``crossfit_macro_f1`` (``--crossfit``); ``predictions``: filled with the ids, labels and predictions
    behind the selection figure (``--bootstrap``)."""
    from datasets import load_from_disk
    from sklearn.metrics import f1_score

    from service.models.topics.classifier import TopicClassifier
    from training.config import lexical_weights, project_path
    from training.provenance import overlap, trained_hashes
    from training.train_classifier import article_text

    config = yaml.safe_load((run_dir / "training_config.yaml").read_text())
    classifier = TopicClassifier.load(run_dir)
    index = {label: i for i, label in enumerate(classifier.config.labels)}
    corpus = load_from_disk(str(project_path(config["data_dir"])))
    seen = seen or set()
    scored = {  # the careful-read rows with a topic ("other" has none)
        split: [r for r in corpus[split] if r["label"] and r["label_method"] == "read" and r["id"] not in seen]
        for split in ("validation", "calibration")
        if split in corpus
    }
    # A check, not the selection: agreement with publisher sections (the owners' publisher-labelled sets)
    scored["publisher"] = [
        r
        for r in corpus.get("validation", [])
        if r["label_method"] == "section" and r["publisher_label"] in index and r["id"] not in seen
    ]
    trained = trained_hashes(run_dir)
    trained_on = {k: overlap(trained, [r["id"] for r in v]) for k, v in scored.items()}
    out: dict = {"clean": bool(seen), "trained_on": trained_on}
    if any(out["trained_on"].values()):
        logger.warning("%s trained on some rows scored (%s): optimistic figures", run_dir, out["trained_on"])
    y_all, pred_all, ids_all, parts = [], [], [], []
    for split, rows in scored.items():
        if not rows:
            continue
        texts = [article_text(r) for r in rows]
        neural = classifier.neural_logits(texts, 32)
        pred = classifier.combine(texts, neural).argmax(1)
        if split == "publisher":
            truth = np.array([index[r["publisher_label"]] for r in rows])
            out["publisher_validation_accuracy"] = round(float((pred == truth).mean()), 4)
            out["publisher_validation_rows"] = len(rows)
            continue
        y = np.array([index[r["label"]] for r in rows])
        out[f"{split}_final_macro_f1"] = round(float(f1_score(y, pred, average="macro")), 4)
        out[f"{split}_rows"] = len(rows)
        keep = [i for i, r in enumerate(rows) if r["id"] in slice_ids] if split == "validation" and slice_ids else []
        if keep:
            out["slice_final_macro_f1"] = round(float(f1_score(y[keep], pred[keep], average="macro")), 4)
            out["slice_accuracy"] = round(float((y[keep] == pred[keep]).mean()), 4)
            out["slice_rows"] = len(keep)
        y_all.append(y)
        pred_all.append(pred)
        ids_all += [r["id"] for r in rows]
        if folds:
            lexical = classifier.lexical.log_probabilities(texts) if classifier.lexical else np.zeros_like(neural)
            parts.append((neural, lexical))
    y = np.concatenate(y_all)
    out["selection_macro_f1"] = round(float(f1_score(y, np.concatenate(pred_all), average="macro")), 4)
    if predictions is not None:
        predictions.update(ids=ids_all, y=y, pred=np.concatenate(pred_all), labels=classifier.config.labels)
    if folds:
        grid = lexical_weights(config) if classifier.lexical else [0.0]
        neural, lexical = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
        mean, spread = crossfit_macro_f1(neural, lexical, y, grid, folds)
        out["crossfit_macro_f1"], out["crossfit_spread"] = round(mean, 4), round(spread, 4)
    return out


def paired_bootstrap(reference: dict, other: dict, resamples: int, seed: int = 13) -> dict:
    """Selection macro-F1 of ``other`` minus ``reference`` on the rows both scored, with a 95 % interval from
    ``resamples`` paired bootstrap resamples of those rows (the same rows drawn for both runs): how far apart
    two runs must be before the difference is more than which articles happened to be drawn."""
    from sklearn.metrics import f1_score

    from training.resampling import bootstrap_macro_f1, interval

    if reference["labels"] != other["labels"]:
        raise ValueError("the two runs have different label lists: their predictions cannot be compared")
    position = {article: i for i, article in enumerate(other["ids"])}
    mine = [i for i, article in enumerate(reference["ids"]) if article in position]
    if not mine:
        raise ValueError("the two runs scored no article in common: compare runs of one corpus build")
    theirs = [position[reference["ids"][i]] for i in mine]
    y, a, b = reference["y"][mine], reference["pred"][mine], other["pred"][theirs]
    if not np.array_equal(y, other["y"][theirs]):
        raise ValueError("the two runs read different labels for the same articles: different corpus builds")
    labels = list(range(len(reference["labels"])))  # every label, in every resample and in the point figure
    draws = bootstrap_macro_f1(y, [a, b], resamples, seed, labels)
    difference = f1_score(y, b, labels=labels, average="macro") - f1_score(y, a, labels=labels, average="macro")
    spread = interval(draws[:, 1] - draws[:, 0])
    return {"rows": len(y), "difference": round(float(difference), 4), "interval": spread}


def crossfit_macro_f1(
    neural: np.ndarray, lexical: np.ndarray, y: np.ndarray, grid: list[float], folds: int, repeats: int = 5
) -> tuple[float, float]:
    """Macro-F1 of the run's encoder + lexical half with the mix *fitted anew* on rows it is then not scored on.

    The rows (validation + calibration) are split into ``folds`` stratified folds; each fold is scored with
    the encoder temperature and lexical weight that ``train_classifier`` would choose on the other folds. So
    the figure judges the run's two halves and the mixing rule, not one weight fitted on 485 calibration rows
    (the encoder's checkpoint was still chosen on validation: only the mix is held out here). Mean and standard
    deviation over ``repeats`` seeded splits: how much the split moves it, not which articles were drawn
    (``--bootstrap`` measures that)."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import KFold, StratifiedKFold

    from service.models.topics.probabilities import mix_log_probabilities
    from training.train_classifier import choose_lexical_weight

    counts = np.bincount(y)
    # Stratified when every label present can have a row in each fold; else (a tiny set) plain folds
    splitter = StratifiedKFold if counts[counts > 0].min() >= folds else KFold
    scores = []
    for seed in range(repeats):
        pred = np.zeros(len(y), dtype=int)
        for fit, held in splitter(folds, shuffle=True, random_state=seed).split(neural, y):
            weight, temperature, _ = choose_lexical_weight(neural[fit], lexical[fit], y[fit], grid)
            pred[held] = mix_log_probabilities(neural[held], lexical[held], weight, temperature).argmax(1)
        scores.append(float(f1_score(y, pred, average="macro")))
    return float(np.mean(scores)), float(np.std(scores))


def seen_by_any(runs: list[Path]) -> set[str]:
    """The validation and calibration ids, of any compared run's corpus, that any of ``runs`` trained on
    (``--clean`` leaves them out)."""
    from datasets import load_from_disk

    from training.config import project_path
    from training.provenance import trained_among

    candidates: set[str] = set()
    for run_dir in runs:
        config = yaml.safe_load((run_dir / "training_config.yaml").read_text())
        corpus = load_from_disk(str(project_path(config["data_dir"])))
        for split in ("validation", "calibration"):
            if split in corpus:
                candidates |= set(corpus[split]["id"])
    seen: set[str] = set()
    for run_dir in runs:
        among = trained_among(run_dir, candidates)
        if among is None:
            raise SystemExit(f"error: --clean: {run_dir} has no record of its training rows")
        seen |= among
    return seen


def _seen(row: dict) -> str:
    counts = row.get("trained_on") or {}
    return (
        " / ".join("?" if counts.get(k) is None else str(counts[k]) for k in ("validation", "calibration"))
        if counts
        else "?"
    )


def _measured(row: dict) -> str:
    if "measured" not in row:
        return "earlier"
    rows = f"{row.get('validation_rows', 0)} + {row.get('calibration_rows', 0)} rows"
    return f"{row['measured']}, {'clean, ' if row.get('clean') else ''}{rows}"


def _slice(row: dict) -> str:
    if "slice_final_macro_f1" not in row:
        return ""
    return f"{row['slice_final_macro_f1']:.4f} ({row['slice_rows']})"


def _crossfit(row: dict) -> str:
    if "crossfit_macro_f1" not in row:
        return ""
    return f"{row['crossfit_macro_f1']:.4f} ± {row['crossfit_spread']:.4f}"


def _versus(row: dict) -> str:
    versus = row.get("versus_first")
    if not versus:
        return ""
    if versus.get("reference"):
        return "reference"
    low, high = versus["interval"]
    return f"{versus['difference']:+.4f} [{low:+.4f}, {high:+.4f}]"


def render(rows: list[dict]) -> str:
    header = (
        "| run | label source | weight | layers | window × per article | rows (read) | val macro-F1 (encoder) | "
        "calib. encoder / final | val final | selection (val + calib., final) | vs reference (95 % interval) | "
        "cross-fitted mix | slice final | publisher acc. | trained on (val / calib.) | s | measured |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        calibration = r["calibration_macro_f1"]
        lines.append(
            f"| {r['run']} | {r['label_source']} | {r['publisher_weight']} | {r['trainable_layers']} | "
            f"{r['max_length']} × {r.get('train_windows') or 1} | {r['train_rows']} ({r['train_rows_read']}) | "
            f"{r['validation_macro_f1']:.4f} | "
            f"{calibration['encoder']:.4f} / {calibration['final']:.4f} | {r['validation_final_macro_f1']:.4f} | "
            f"{r['selection_macro_f1']:.4f} | {_versus(r)} | {_crossfit(r)} | {_slice(r)} | "
            f"{r.get('publisher_validation_accuracy', '')} | {_seen(r)} | {r['seconds']:.0f} | {_measured(r)} |"
        )
    return "\n".join(lines)


def folds(value: str) -> int:
    """``--crossfit``'s K: 0 (off) or at least 2 folds."""
    k = int(value)
    if k < 0 or k == 1:
        raise argparse.ArgumentTypeError("K must be 0 (off) or at least 2")
    return k


def merge_earlier(earlier: list[dict], rows: list[dict]) -> list[dict]:
    """An earlier comparison's rows kept as measured then (on the build of that day), except runs re-scored now:
    those take their earlier place in the table; runs new to it follow."""
    now = {r["run"]: r for r in rows}
    merged = [now.pop(r["run"], r) for r in earlier]
    return merged + [r for r in rows if r["run"] in now]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    parser.add_argument(
        "--slice", type=Path,
        help="a file of article ids (one per line, e.g. docs/annotations/draws/transfer.txt, the out-of-period "
        "draw build_data places in validation): also score the careful-read validation rows among them",
    )  # fmt: skip
    parser.add_argument(
        "--earlier", type=Path,
        help="an earlier comparison's JSON (e.g. models/topic-classifier/run_selection.json): its rows are kept as "
        "they were measured, before the new ones (runs given again are scored anew)",
    )  # fmt: skip
    parser.add_argument(
        "--clean", action="store_true",
        help="score only the rows none of the runs trained on (every run needs its trained_ids.npy)",
    )  # fmt: skip
    parser.add_argument(
        "--crossfit", type=folds, default=0, metavar="K",
        help="also score each run with its lexical weight and temperature refitted on K-1 of K folds of the "
        "validation + calibration rows and scored on the K-th (5 seeded splits): the halves and the mixing rule "
        "judged on 2,000+ rows instead of a weight fitted on calibration alone",
    )  # fmt: skip
    parser.add_argument(
        "--bootstrap", type=int, default=0, metavar="N",
        help="also each run's selection macro-F1 minus the first run's, with a 95 %% interval from N paired "
        "bootstrap resamples of the rows both scored (e.g. 1000)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    slice_ids = set(args.slice.read_text().split()) if args.slice else None
    seen = seen_by_any(args.runs) if args.clean else None
    predictions: list[dict] = [{} for _ in args.runs]
    rows = [
        run_row(d)
        | selection_scores(d, slice_ids, seen, args.crossfit, kept)
        | {"measured": date.today().isoformat(), "clean": args.clean}
        for d, kept in zip(args.runs, predictions, strict=True)
    ]
    if args.bootstrap:
        rows[0]["versus_first"] = {"reference": True}
        for row, kept in zip(rows[1:], predictions[1:], strict=True):
            row["versus_first"] = {"run": rows[0]["run"]} | paired_bootstrap(predictions[0], kept, args.bootstrap)
    if args.earlier:
        rows = merge_earlier(json.loads(args.earlier.read_text()), rows)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2) + "\n")
    print(render(rows))


if __name__ == "__main__":
    main()
