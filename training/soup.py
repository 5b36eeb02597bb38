"""Average the topic encoders of finished runs into one model (a "model soup", Wortsman et al. 2022):

    python -m training.soup RUN RUN [RUN ...] --set run_name=NAME [--set KEY=VALUE ...]

Runs fine-tuned whole from the same backbone stay close enough in weight space that the mean of their layers
and heads is itself a model, often better than each, at the cost of one model when served. The soup is
stored like a trained run (``build/runs/NAME``, at ``delta_rank``), then the long-text strategy is chosen
on validation and the lexical half, temperature and threshold are fitted on calibration, as
``train_classifier`` does after training. Its ``trained_ids.npy`` is the union of the runs' records, so
``compare_runs --clean`` scores it, and them, on rows none trained on. Whether it ships is decided there.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from functools import reduce
from pathlib import Path

import numpy as np
import torch
import yaml

from service.models.topics.classifier import TopicClassifier
from training.config import config_from_args, project_path, write_training_outputs
from training.provenance import TRAINED_IDS, trained_hashes
from training.runs import RunDirError, prepare_run_dir, shown
from training.train_classifier import (
    KIND,
    calibrate,
    choose_long_text,
    compressed,
    load_train_rows,
    seed_everything,
    selection_rows,
)

logger = logging.getLogger(__name__)


class SoupError(ValueError):
    """The runs cannot be averaged into one model."""


def check_compatible(classifiers: list[TopicClassifier], names: list[str]) -> None:
    """Refuse runs that do not share labels, backbone, window length and a topic encoder trained whole."""
    first = classifiers[0].config
    for classifier, name in zip(classifiers, names, strict=True):
        config = classifier.config
        if classifier.n_lower:
            raise SoupError(f"{name}: only topic encoders trained whole can be averaged (it trains the top layers)")
        for key in ("labels", "backbone_fingerprint", "max_length", "prefix"):
            if getattr(config, key) != getattr(first, key):
                raise SoupError(f"{name}: {key} differs from {names[0]}'s")


def mean_state(heads: list[torch.nn.Module]) -> dict[str, torch.Tensor]:
    """The uniform mean of the heads' weights (fp32)."""
    states = [head.state_dict() for head in heads]
    return {key: torch.stack([s[key].float() for s in states]).mean(0) for key in states[0]}


def soup(classifiers: list[TopicClassifier], rank: int | None) -> TopicClassifier:
    """One classifier whose encoder layers and head are the mean of ``classifiers``', stored as the backbone + a
    rank-``rank`` change (what loads is what is scored); settings from the first, lexical half unfitted."""
    first = classifiers[0]
    head = first.head
    head.load_state_dict(mean_state([c.head for c in classifiers]))
    averaged = TopicClassifier.from_torch(
        first.backbone, first.tokenizer, head, replace(first.config, lexical_weight=0.0), first.resolved, None
    )
    return compressed(averaged, rank)


def union_record(runs: list[Path]) -> np.ndarray:
    """The union of the runs' trained-row records (``training.provenance``); every run must have one."""
    records = [trained_hashes(run) for run in runs]
    missing = [shown(run) for run, record in zip(runs, records, strict=True) if record is None]
    if missing:
        raise SoupError(f"no {TRAINED_IDS} in {', '.join(missing)}: a soup must know every row its runs trained on")
    return reduce(np.union1d, records)


def ingredient(run: Path) -> dict:
    """What a card says of a run in the soup: its name, training config and metrics (without the history)."""
    metrics = json.loads((run / "train_metrics.json").read_text())
    config = yaml.safe_load((run / "training_config.yaml").read_text())
    return {"run": shown(run), "config": config, "metrics": {k: v for k, v in metrics.items() if k != "history"}}


def make_soup(config: dict, runs: list[Path]) -> dict:
    """Average ``runs``, fit what follows the encoder, save into a new run directory; return its metrics."""
    if len(runs) < 2:
        raise SoupError("a soup needs at least two runs")
    started = time.perf_counter()
    classifiers = [TopicClassifier.load(run) for run in runs]
    check_compatible(classifiers, [shown(run) for run in runs])
    trained = union_record(runs)
    out_dir = prepare_run_dir(config, KIND)
    config = config | {"output_dir": shown(out_dir), "soup_of": [shown(run) for run in runs]}
    seed_everything(config["seed"])
    classifier = soup(classifiers, config.get("delta_rank"))
    del classifiers
    val_rows = selection_rows(config, "validation")
    train_rows = load_train_rows(config)  # the lexical half learns from these rows
    strategy_f1, logits_by_strategy = choose_long_text(config, classifier, val_rows)
    calibration = calibrate(config, classifier, train_rows, val_rows, logits_by_strategy)
    classifier.save_pretrained(out_dir)
    np.save(out_dir / TRAINED_IDS, trained)
    ingredients = [ingredient(run) for run in runs]
    averaging = round(time.perf_counter() - started, 1)  # the soup's own cost; "total" adds its runs' wall time
    metrics = {
        "soup_of": config["soup_of"],
        "label_source": config.get("label_source", "all"),
        "train_rows": len(trained),
        "train_rows_read": max(i["metrics"].get("train_rows_read") or 0 for i in ingredients),
        "validation_rows": len(val_rows),
        "trainable_layers": classifier.config.trainable_layers,
        "backbone_layers": ingredients[0]["metrics"].get("backbone_layers"),
        "max_length": classifier.config.max_length,
        "validation_macro_f1": {s: round(f, 4) for s, f in strategy_f1.items()},
        "long_text_strategy": classifier.config.long_text,
        **calibration,
        "seconds": {
            "averaging": averaging,
            "total": round(averaging + sum(i["metrics"]["seconds"]["total"] for i in ingredients), 1),
        },
        "ingredients": ingredients,
    }
    return write_training_outputs(out_dir, config, metrics)


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="finished runs (names under build/runs, or paths)")
    args, rest = parser.parse_known_args(argv)
    config = config_from_args(__doc__, "configs/classifier.yaml", rest)
    runs = [project_path(f"build/runs/{r}") if len(Path(r).parts) == 1 else project_path(r) for r in args.runs]
    try:
        print(json.dumps(make_soup(config, runs), indent=2))
    except (RunDirError, SoupError) as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
