"""The shipped summariser (models/summarizer) on articles written for the tests."""

from __future__ import annotations

import math

import numpy as np
import pytest

from service.analyzer import load_torch_models
from service.models.summaries.summarizer import is_summary_sentence, read_count
from service.text import split_sentences
from tests.fixtures.articles import HEALTH, LONG_REPORT, REGIONAL_GOVERNMENT, SPORT
from training.config import project_path


@pytest.fixture(scope="module")
def summarizer():
    return load_torch_models(project_path("models/topic-classifier"), project_path("models/summarizer"))[1]


def test_artifact_is_small(summarizer):
    directory = project_path("models/summarizer")
    assert sum(p.stat().st_size for p in directory.iterdir()) <= 10 * 1024 * 1024


@pytest.mark.parametrize("method", ["supervised", "centroid", "lead"])
def test_every_method_returns_sentences_of_the_input_in_order(summarizer, method):
    texts = [SPORT, HEALTH, REGIONAL_GOVERNMENT]
    for text, summary in zip(texts, summarizer.summarize(texts, max_sentences=2, method=method), strict=True):
        assert len(summary.sentences) == 2 and summary.method == method
        assert [s.index for s in summary.sentences] == sorted(s.index for s in summary.sentences)
        assert all(text[s.start : s.end] == s.text for s in summary.sentences)
        assert summary.text == " ".join(s.text for s in summary.sentences)


def test_every_sentence_of_a_long_article_gets_a_score(summarizer):
    documents = summarizer.encode([LONG_REPORT])
    assert len(documents[0].windows) == summarizer.config.max_windows == 3  # of about 8 in the text
    sentences = split_sentences(LONG_REPORT)
    read = read_count(sentences, documents[0], summarizer.config.max_windows)
    assert 5 < read < len(sentences) // 2
    scores = summarizer.sentence_scores(LONG_REPORT, sentences, documents[0], "supervised")
    assert scores.shape == (len(sentences),) and np.isfinite(scores).all()
    if not summarizer.config.all_sentences:  # a scorer of the sentences read: the others rank after them, in order
        assert scores[read:].max() < scores[:read].min() and (np.diff(scores[read:]) < 0).all()
    summary = summarizer.summarize([LONG_REPORT], max_sentences=3, documents=documents)[0]
    assert len(summary.sentences) == 3 and all(LONG_REPORT[s.start : s.end] == s.text for s in summary.sentences)


@pytest.mark.parametrize("method", ["supervised", "centroid", "lead"])
def test_ratio_is_a_share_of_the_whole_long_article(summarizer, method):
    # About 700 words, nearly three times the ~250 the encoder reads: a ratio counts every sentence of it.
    body = LONG_REPORT
    every = split_sentences(body)
    assert len(body.split()) > 650 and len(every) == 46
    eligible = [i for i, s in enumerate(every) if is_summary_sentence(body, s)]
    read_up_to = summarizer.encode([body])[0].offsets[-1][-1][1]
    assert read_up_to < len(body) // 2
    half = summarizer.summarize([body], max_sentences=None, ratio=0.5, method=method)[0]
    assert len(half.sentences) == math.ceil(0.5 * len(eligible))  # more than the windows read hold
    assert any(s.start >= read_up_to for s in half.sentences)
    assert all(body[s.start : s.end] == s.text for s in half.sentences)
    whole = summarizer.summarize([body], max_sentences=None, ratio=1.0, method=method)[0]
    assert [s.index for s in whole.sentences] == eligible and whole.notes == [
        "text is not longer than the requested summary; returned whole"
    ]
    third = summarizer.summarize([body], max_sentences=None, ratio=0.3, method=method)[0]
    assert len(third.sentences) == math.ceil(0.3 * len(eligible)) and third.notes == []


def test_word_budget_is_respected(summarizer):
    summary = summarizer.summarize([REGIONAL_GOVERNMENT], max_sentences=None, max_words=40)[0]
    assert 0 < sum(len(s.text.split()) for s in summary.sentences) <= 40
