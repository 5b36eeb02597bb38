"""TF-IDF + logistic regression for topics: the baseline we measure against, and, smaller, the
lexical half of our own classifier (``service.models.topics.lexical.LexicalModel``)."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from service.models.topics.lexical import LexicalModel


def tfidf_logreg(c: float = 4.0, max_features: int = 300_000, seed: int = 13, ngram_max: int = 2) -> Pipeline:
    """Word 1-``ngram_max``-gram TF-IDF (sublinear tf) + class-balanced logistic regression."""
    vectorizer = TfidfVectorizer(ngram_range=(1, ngram_max), min_df=2, max_features=max_features, sublinear_tf=True)
    return Pipeline(
        [
            ("tfidf", vectorizer),
            ("logreg", LogisticRegression(C=c, max_iter=2000, class_weight="balanced", random_state=seed)),
        ]
    )


def lexical_model(pipeline: Pipeline, labels: list[str]) -> LexicalModel:
    """The fitted pipeline as plain arrays, rows reordered to ``labels``."""
    vectorizer, logreg = pipeline.named_steps["tfidf"], pipeline.named_steps["logreg"]
    terms = [""] * len(vectorizer.vocabulary_)
    for term, column in vectorizer.vocabulary_.items():
        terms[column] = term
    classes = list(logreg.classes_)
    coef = np.zeros((len(labels), len(terms)))
    # A label absent from the training rows can never win: a prior far below every seen label's.
    intercept = np.full(len(labels), logreg.intercept_.min() - 30.0)
    for row, label in enumerate(labels):
        if label in classes:
            coef[row], intercept[row] = logreg.coef_[classes.index(label)], logreg.intercept_[classes.index(label)]
    return LexicalModel(
        terms,
        vectorizer.idf_,
        coef,
        intercept,
        labels,
        ngram_max=vectorizer.ngram_range[1],
        sublinear_tf=vectorizer.sublinear_tf,
    )
