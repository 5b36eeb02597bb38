"""Baselines measured side by side with our models: TF-IDF + logistic regression for topics."""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline


def tfidf_logreg(c: float = 4.0, max_features: int = 300_000, seed: int = 13) -> Pipeline:
    """Word 1-2-gram TF-IDF (sublinear tf) + class-balanced logistic regression."""
    return Pipeline(
        [
            ("tfidf", TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=max_features, sublinear_tf=True)),
            ("logreg", LogisticRegression(C=c, max_iter=2000, class_weight="balanced", random_state=seed)),
        ]
    )
