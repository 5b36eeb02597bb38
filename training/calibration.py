"""Probability calibration and the multi-label threshold, fitted on held-out articles."""

from __future__ import annotations

import numpy as np

from service.models.topics.probabilities import softmax


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising validation negative log-likelihood (Guo et al. 2017).

    A log-spaced grid search, then a finer one around the best: one parameter does not need an
    optimiser that can diverge.
    """
    y = np.asarray(labels)

    def nll(temperature: float) -> float:
        probs = softmax(logits, temperature)
        return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None))))

    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 121))
    best = grid[int(np.argmin([nll(t) for t in grid]))]
    fine = np.exp(np.linspace(np.log(best) - 0.06, np.log(best) + 0.06, 61))
    return float(fine[int(np.argmin([nll(t) for t in fine]))])


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-1 confidence over equal-width bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)


def example_f1(probs: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    """Mean per-article F1 of the predicted topic set (top label + labels above threshold)."""
    top = probs.argmax(axis=1)
    chosen = probs >= threshold
    chosen[np.arange(len(top)), top] = True
    hit = chosen[np.arange(len(labels)), labels]
    size = chosen.sum(axis=1)
    return float(np.mean(np.where(hit, 2.0 / (size + 1.0), 0.0)))


def choose_threshold(probs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Threshold for secondary topics maximising example-based F1 on validation."""
    grid = np.round(np.arange(0.10, 0.96, 0.05), 2)
    scores = [example_f1(probs, labels, t) for t in grid]
    best = int(np.argmax(scores))
    return float(grid[best]), float(scores[best])
