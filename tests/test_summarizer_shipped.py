"""The shipped summariser (models/summarizer) on articles written for the tests."""

from __future__ import annotations

import pytest

from service.models.summaries.summarizer import Summarizer
from tests.fixtures.articles import HEALTH, REGIONAL_GOVERNMENT, SPORT
from training.config import project_path


@pytest.fixture(scope="module")
def summarizer():
    return Summarizer.load(project_path("models/summarizer"))


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


def test_long_article_summary_comes_from_the_windows_read(summarizer):
    body = "\n".join([REGIONAL_GOVERNMENT, SPORT.split("\n", 1)[1], HEALTH.split("\n", 1)[1]] * 3)
    documents = summarizer.encode([body])
    assert len(documents[0].windows) == summarizer.config.max_windows == 3  # of about 8 in the text
    read_up_to = documents[0].offsets[-1][-1][1]
    assert read_up_to < len(body) // 2
    summary = summarizer.summarize([body], max_sentences=3, documents=documents)[0]
    assert len(summary.sentences) == 3 and all(s.end <= read_up_to for s in summary.sentences)


def test_word_budget_is_respected(summarizer):
    summary = summarizer.summarize([REGIONAL_GOVERNMENT], max_sentences=None, max_words=40)[0]
    assert 0 < sum(len(s.text.split()) for s in summary.sentences) <= 40
