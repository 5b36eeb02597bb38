"""The lexical half of the topic classifier: TF-IDF word 1-2-grams + multinomial logistic regression.

The encoder reads 128-token windows and pools them; exact words anywhere in a long article (a
party name, a drug, a club) are what a bag of n-grams catches best, so the two are combined.
Stored as plain arrays (``lexical.safetensors``) and a term list (``lexical.json``), no pickle: the
featurisation below reproduces scikit-learn's ``TfidfVectorizer`` (lower-case, ``\\b\\w\\w+\\b``
tokens, n-grams joined by a space, sublinear tf, smoothed idf, L2 norm) so the service does not
need scikit-learn; a test checks both give the same probabilities.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from service.models.topics.probabilities import log_softmax

TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")
WEIGHTS_NAME = "lexical.safetensors"
TERMS_NAME = "lexical.json"


class LexicalModel:
    """``log_probabilities(texts)`` → (n, labels) log-probabilities, labels in ``self.labels`` order."""

    def __init__(
        self,
        terms: list[str],
        idf: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        labels: list[str],
        ngram_max: int = 2,
        sublinear_tf: bool = True,
    ):
        if coef.shape != (len(labels), len(terms)) or idf.shape != (len(terms),):
            raise ValueError(f"lexical model shapes disagree: coef {coef.shape}, {len(terms)} terms, idf {idf.shape}")
        self.terms, self.labels = terms, labels
        self.index = {term: i for i, term in enumerate(terms)}
        self.idf = idf.astype(np.float32)
        self.coef = coef.astype(np.float32)
        self.intercept = intercept.astype(np.float32)
        self.ngram_max, self.sublinear_tf = ngram_max, sublinear_tf

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and L2-normalised TF-IDF values of one text (only known terms)."""
        tokens = TOKEN_PATTERN.findall(text.lower())
        grams = Counter(tokens)
        for n in range(2, self.ngram_max + 1):
            grams.update(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
        found = [(self.index[g], c) for g, c in grams.items() if g in self.index]
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        columns = np.array([i for i, _ in found], dtype=np.int64)
        counts = np.array([c for _, c in found], dtype=np.float32)
        tf = 1.0 + np.log(counts) if self.sublinear_tf else counts
        values = tf * self.idf[columns]
        return columns, values / np.linalg.norm(values)

    def log_probabilities(self, texts: list[str]) -> np.ndarray:
        scores = np.empty((len(texts), len(self.labels)), dtype=np.float32)
        for row, text in enumerate(texts):
            columns, values = self.features(text)
            scores[row] = self.coef[:, columns] @ values + self.intercept
        return log_softmax(scores)

    @staticmethod
    def remove(path: Path) -> None:
        """Delete a lexical model saved in ``path`` (an artifact re-saved without one must not keep it)."""
        for name in (WEIGHTS_NAME, TERMS_NAME):
            (path / name).unlink(missing_ok=True)

    def save(self, path: Path) -> None:
        tensors = {
            "coef": self.coef.astype(np.float16),
            "intercept": self.intercept,
            "idf": self.idf,
        }
        save_file(tensors, str(path / WEIGHTS_NAME))
        spec = {"labels": self.labels, "ngram_max": self.ngram_max, "sublinear_tf": self.sublinear_tf}
        (path / TERMS_NAME).write_text(json.dumps({**spec, "terms": self.terms}, ensure_ascii=False))

    @classmethod
    def load(cls, path: Path) -> LexicalModel | None:
        """The lexical model saved in ``path``, or None when the artifact has none."""
        if not (path / TERMS_NAME).exists():
            return None
        spec = json.loads((path / TERMS_NAME).read_text())
        tensors = {k: v.astype(np.float32) for k, v in load_file(str(path / WEIGHTS_NAME)).items()}
        return cls(
            spec["terms"],
            tensors["idf"],
            tensors["coef"],
            tensors["intercept"],
            spec["labels"],
            spec["ngram_max"],
            spec["sublinear_tf"],
        )
