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


def test_a_long_articles_encoder_reads_its_lead_and_the_lexical_half_all_of_it(classifier):
    """The shipped model pools the first window (``long_text: head``): what follows it cannot move the
    encoder's logits, however much of it there is. The lexical half reads the whole article, and at the
    shipped weight (0.7) six times the lead's length of another topic outweighs the lead."""
    from service.engines.encoder import tokenize_windows

    assert classifier.config.long_text == "head" and classifier.windows_read() == 1
    assert classifier.config.lexical_weight == 0.7
    lead = REGIONAL_GOVERNMENT
    long_text = lead + "\n" + "\n".join([SPORT.split("\n", 1)[1]] * 6)
    windows, _ = tokenize_windows(classifier.tokenizer, long_text, classifier.config.max_length)
    assert len(windows) > 3
    first_window = classifier.neural_logits([long_text])
    assert np.allclose(first_window, classifier.neural_logits([long_text + "\n" + HEALTH]), atol=1e-5)
    assert classifier.config.labels[int(first_window.argmax())] == "governance"  # the encoder: the lead alone
    assert classifier.predict([lead])[0].topic == "governance"
    assert classifier.predict([long_text])[0].topic == "sport"  # the mix: the lexical half read the rest


@pytest.fixture(scope="module")
def classifiers_by_precision():
    """The shipped classifier loaded under WARTA_PRECISION=fp32 and =bf16 (read when the model loads)."""
    loaded = {}
    with pytest.MonkeyPatch.context() as patch:
        for precision in ("fp32", "bf16"):
            patch.setenv("WARTA_PRECISION", precision)
            loaded[precision] = TopicClassifier.load(project_path("models/topic-classifier"))
    return loaded


def test_bf16_inference_keeps_fp32_answers(classifiers_by_precision):
    texts = [text for text, _ in CASES]
    full = classifiers_by_precision["fp32"].text_logits(texts)
    half = classifiers_by_precision["bf16"].text_logits(texts)
    assert not np.array_equal(full, half)  # two precisions really ran
    assert (full.argmax(1) == half.argmax(1)).all()
    assert np.abs(full - half).max() < 0.15


def test_unknown_precision_setting_is_refused(monkeypatch):
    monkeypatch.setenv("WARTA_PRECISION", "fp16")
    with pytest.raises(ValueError, match="WARTA_PRECISION"):
        TopicClassifier.load(project_path("models/topic-classifier"))
