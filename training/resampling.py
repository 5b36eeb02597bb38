"""Bootstrap resampling of evaluation rows: how much a macro-F1 moves with which articles were drawn."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score


def bootstrap_macro_f1(
    y: np.ndarray, predictions: list[np.ndarray], resamples: int, seed: int = 13, labels: list[int] | None = None
) -> np.ndarray:
    """Macro-F1 of each prediction array on ``resamples`` draws (with replacement) of the rows, the same draws
    for every array (paired): shape ``(resamples, len(predictions))``. Every draw averages over the same
    ``labels`` (default: those of the full ``y``), not just the labels that draw happens to contain."""
    if labels is None:
        labels = np.unique(y).tolist()
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, len(predictions)))
    for i in range(resamples):
        draw = rng.integers(0, len(y), len(y))
        out[i] = [f1_score(y[draw], pred[draw], labels=labels, average="macro") for pred in predictions]
    return out


def interval(values: np.ndarray) -> list[float]:
    """The central 95 % of ``values``, rounded as the reports show it."""
    low, high = np.percentile(values, [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]
