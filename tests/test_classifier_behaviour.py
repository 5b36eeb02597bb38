"""Behavioural tests of the shipped topic classifier (models/topic-classifier)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from service.config import load_labels
from service.models.topics.classifier import TopicClassifier
from service.text import split_sentences
from tests.fixtures.articles import HEALTH, REGIONAL_GOVERNMENT, SPORT
from training.config import project_path

CASES = [(SPORT, "sport"), (HEALTH, "health"), (REGIONAL_GOVERNMENT, "governance")]


@pytest.fixture(scope="module")
def classifier():
    return TopicClassifier.load(project_path("models/topic-classifier"))


def test_artifact_is_small_and_uses_the_taxonomy(classifier):
    directory = project_path("models/topic-classifier")
    assert sum(p.stat().st_size for p in directory.iterdir()) <= 10 * 1024 * 1024
    assert classifier.config.labels == [label.key for label in load_labels()]


@pytest.mark.parametrize("text,expected", CASES, ids=[c[1] for c in CASES])
def test_unmistakable_articles_get_their_topic(classifier, text, expected):
    prediction = classifier.predict([text])[0]
    assert prediction.topic == expected, prediction.scores[:3]
    assert [s.label for s in prediction.scores][0] == expected
    assert len(prediction.scores) == 11


@pytest.mark.parametrize("text,expected", CASES, ids=[c[1] for c in CASES])
def test_sentence_order_does_not_flip_the_topic(classifier, text, expected):
    title, body = text.split("\n", 1)
    sentences = [s.text for s in split_sentences(body)]
    random.Random(7).shuffle(sentences)
    assert classifier.predict([title + "\n" + " ".join(sentences)])[0].topic == expected


@pytest.mark.parametrize(
    "text,expected,swaps",
    [
        (SPORT, "sport", {"Rizky Pratama": "Budi Hartono", "Andi Saputra": "Yohanes Lamba", "Jakarta": "Surabaya"}),
        (REGIONAL_GOVERNMENT, "governance", {"Sukamaju": "Tanjung Harapan"}),
        (HEALTH, "health", {"Aedes aegypti": "nyamuk", "RSUD": "rumah sakit umum"}),
    ],
    ids=["sport", "governance", "health"],
)
def test_names_of_people_and_places_do_not_flip_the_topic(classifier, text, expected, swaps):
    for old, new in swaps.items():
        text = text.replace(old, new)
    assert classifier.predict([text])[0].topic == expected


def test_long_article_is_read_whole(classifier):
    long_text = REGIONAL_GOVERNMENT + "\n" + "\n".join([SPORT.split("\n", 1)[1]] * 6)
    windows = classifier.window_logits_per_text([long_text])[0]
    assert windows.shape[0] > 3  # every window is scored, none dropped


def test_bf16_inference_keeps_fp32_answers(classifier, monkeypatch):
    texts = [text for text, _ in CASES]
    monkeypatch.setenv("WARTA_PRECISION", "fp32")
    full = classifier.text_logits(texts)
    monkeypatch.setenv("WARTA_PRECISION", "bf16")
    half = classifier.text_logits(texts)
    assert (full.argmax(1) == half.argmax(1)).all()
    assert np.abs(full - half).max() < 0.15


def test_unknown_precision_setting_is_refused(monkeypatch):
    monkeypatch.setenv("WARTA_PRECISION", "fp16")
    with pytest.raises(ValueError, match="WARTA_PRECISION"):
        TopicClassifier.load(project_path("models/topic-classifier"))
