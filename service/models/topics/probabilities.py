"""Turning classifier scores into (log-)probabilities; one numerically stable softmax for every model."""

from __future__ import annotations

import numpy as np


def log_softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scaled = scores / temperature
    shifted = scaled - scaled.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    return np.exp(log_softmax(scores, temperature))


def mix_log_probabilities(
    neural: np.ndarray, lexical_log_probs: np.ndarray, lexical_weight: float, neural_temperature: float = 1.0
) -> np.ndarray:
    """A weighted geometric mean of the two models' probabilities, as log-scores."""
    return (1.0 - lexical_weight) * log_softmax(neural, neural_temperature) + lexical_weight * lexical_log_probs
