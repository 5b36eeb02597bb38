"""Which rows a topic run learnt from, so that an evaluation can tell clean rows from seen ones.

    python -m training.provenance record RUN [--data-dir COPY]   # a run trained before runs recorded it

A run writes ``trained_ids.npy`` beside its model: a sorted 64-bit hash of the id of every row whose
label it trained on (the encoder's and the lexical half's training rows; a lexical refit adds its
own). ``overlap`` counts how many of the rows an evaluation scores are among them: 0 means every
scored row is clean. A model trained on an earlier corpus build may have trained on rows that are in
today's validation or test split, and then its figures there are optimistic.

``record`` writes the file for a run trained before runs wrote it. It is exact only on the build the run
read, so it refuses when any file of the run's ``data_dir`` is newer than the run's start
(``train_metrics.json``'s time less its ``seconds.total``), and when the rows it finds do not reproduce
the run's recorded counts (training rows, careful-read ones, validation rows). ``--data-dir`` names a
preserved copy of that build instead (the counts must still match); it is required for a run refit with
``stage=lexical``, whose files no longer tell when it started.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import yaml

logger = logging.getLogger(__name__)

TRAINED_IDS = "trained_ids.npy"


def _hash(article_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(article_id.encode(), digest_size=8).digest(), "little")


def id_hashes(ids: Iterable[str]) -> np.ndarray:
    """The sorted unique 64-bit hashes of ``ids``."""
    return np.unique(np.array([_hash(i) for i in ids], dtype=np.uint64))


def record_trained_ids(run_dir: Path, ids: Iterable[str]) -> int:
    """Add ``ids`` to the run's record; return how many rows it now holds."""
    path = Path(run_dir) / TRAINED_IDS
    hashes = id_hashes(ids)
    if path.exists():
        hashes = np.union1d(np.load(path, allow_pickle=False), hashes)
    np.save(path, hashes)
    return len(hashes)


def trained_hashes(model_dir: Path) -> np.ndarray | None:
    """The run's record (sorted id hashes), or None for a model without one."""
    path = Path(model_dir) / TRAINED_IDS
    return np.load(path, allow_pickle=False) if path.exists() else None


def trained_among(model_dir: Path, ids: Iterable[str]) -> set[str] | None:
    """The ``ids`` the model in ``model_dir`` trained on (None: the model has no record)."""
    trained = trained_hashes(model_dir)
    if trained is None:
        return None
    ids = list(dict.fromkeys(ids))
    hits = np.isin(np.array([_hash(i) for i in ids], dtype=np.uint64), trained)
    return {i for i, hit in zip(ids, hits, strict=True) if hit}


def overlap(trained: np.ndarray | None, ids: Iterable[str]) -> int | None:
    """How many of ``ids`` are in a record (``trained_hashes``; None: no record)."""
    return None if trained is None else int(np.isin(id_hashes(ids), trained).sum())


def refuse_trained_on(
    trained: np.ndarray | None, rows_by_split: dict[str, list[dict]], data_dir: str, who: str, error: type[Exception]
) -> None:
    """Raise ``error`` when a record (``trained_hashes``) holds rows of the splits a later step fits or scores
    on: the corpus was rebuilt since the run trained. No record: nothing to check."""
    seen = overlap(trained, [r["id"] for rows in rows_by_split.values() for r in rows])
    if seen:
        splits = " and ".join(rows_by_split)
        raise error(f"{who} trained on {seen} of the {splits} rows of {data_dir}: rebuilt since?")


def overlap_phrase(counts: dict[str, int | None], trained: int | None) -> str:
    """One sentence for a card: how many scored rows of each set the model trained on."""
    if trained is None or any(n is None for n in counts.values()):
        return (
            f"**This model has no record of the rows it trained on** (`{TRAINED_IDS}`), so its figures are "
            "clean only on the corpus build it was trained on."
        )
    sets = " and ".join(counts)
    if not any(counts.values()):
        return (
            f"None of the {sets} rows scored is among the {trained:,} rows (articles, headlines, sentences) the "
            f"model trained on (`{TRAINED_IDS}`): these figures are clean."
        )
    seen = ", ".join(f"{n:,} {name}" for name, n in counts.items() if n)
    return (
        f"**{seen} rows scored are among the {trained:,} rows the model trained on** (`{TRAINED_IDS}`; "
        "it was trained on another corpus build): figures there are optimistic."
    )


def record_run(run_dir: Path, data_dir: Path | None = None) -> int:
    """Write ``trained_ids.npy`` for a run trained before runs recorded it (see the module docstring).

    ``data_dir``: a preserved copy of the build the run read, when the run's own ``data_dir`` was rebuilt since
    (the copy's training and validation rows must reproduce the counts in the run's ``train_metrics.json``)."""
    from training.config import project_path
    from training.train_classifier import load_train_rows, selection_rows

    config = yaml.safe_load((run_dir / "training_config.yaml").read_text())
    metrics_path = run_dir / "train_metrics.json"
    metrics = json.loads(metrics_path.read_text())
    own = project_path(config["data_dir"])
    if "soup_of" in metrics:
        raise SystemExit(f"error: {run_dir.name} is a soup: its record is the union of its runs' (training.soup)")
    if data_dir is None and "lexical_refit_seconds" in metrics:
        raise SystemExit(
            f"error: {run_dir.name} was refit (stage=lexical) after training, so its files do not tell when it "
            "started: name the build both steps read with --data-dir"
        )
    if data_dir is None or Path(data_dir).resolve() == own.resolve():
        started = metrics_path.stat().st_mtime - metrics["seconds"]["total"]
        data_dir = own
        newer = [p for p in data_dir.rglob("*") if p.is_file() and p.stat().st_mtime > started]
        if newer:
            raise SystemExit(
                f"error: {data_dir} was rebuilt after {run_dir.name} started ({newer[0]}): the rows it trained on "
                "cannot be recovered from it (--data-dir: a preserved copy of the build it read)"
            )
    if (run_dir / TRAINED_IDS).exists():
        raise SystemExit(f"error: {run_dir / TRAINED_IDS} exists already")
    from datasets import load_from_disk

    config = config | {"data_dir": str(data_dir)}
    rows = load_train_rows(config)
    counts = {"train_rows": len(rows), "train_rows_read": sum(r["label_method"] == "read" for r in rows)}
    if "validation" in load_from_disk(str(data_dir)):
        counts["validation_rows"] = len(selection_rows(config, "validation"))
    differ = {k: (n, metrics.get(k)) for k, n in counts.items() if metrics.get(k) not in (None, n)}
    if differ:
        raise SystemExit(f"error: {data_dir} is not the build {run_dir.name} read: (found, recorded) {differ}")
    return record_trained_ids(run_dir, [r["id"] for r in rows])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["record"])
    parser.add_argument("run", help="a run name under build/runs or a run directory")
    parser.add_argument("--data-dir", type=Path, help="a preserved copy of the topics build the run read")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from training.runs import RUNS_ROOT

    run_dir = Path(args.run) if Path(args.run).is_dir() else RUNS_ROOT / args.run
    print(f"{run_dir}: {record_run(run_dir, args.data_dir):,} trained rows recorded in {TRAINED_IDS}")


if __name__ == "__main__":
    main()
