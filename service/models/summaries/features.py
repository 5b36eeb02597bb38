"""What the sentence scorer reads: the settings that shape it and the hand features of each sentence."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from service.text import Sentence

POSITION_FEATURES = 4
LEXICAL_FEATURES = 4
MIN_SUMMARY_WORDS = 4  # a summary sentence is a sentence: "Jakarta", "Luna Maya", "Daftar Isi" are not
WORD = re.compile(r"\w+")


@dataclass
class SummarizerConfig:
    backbone: str
    backbone_fingerprint: str
    feature_layer: int  # lower layers whose output is pooled per sentence
    max_length: int
    prefix: str
    width: int = 128
    layers: int = 2
    heads: int = 4
    lexical_features: bool = False  # the title/centrality/number/quote features of ``lexical_features``
    similarity_features: bool = False  # cosine to the article centroid and to the title
    block_trigrams: bool = True  # redundancy filter in the supervised selection
    max_windows: int | None = None  # encoder windows read from the start (None: all)
    # The scorer sees every sentence of the article: those past the windows read by their hand features
    # alone (no vector) and a flag saying so. False (models trained before): it scores the sentences read,
    # and the rest rank after them in article order.
    all_sentences: bool = False
    # The fine-tuned topic encoder whose lower ``feature_layer`` layers give the token states
    # (``topics.classifier.encoder_digest``): the pass both heads share. None: the frozen backbone's layers.
    topic_encoder: str | None = None
    extra: dict = field(default_factory=dict)


def feature_count(config: SummarizerConfig) -> int:
    """How many hand features per sentence the scorer of ``config`` reads (+ the read flag of ``all_sentences``)."""
    return POSITION_FEATURES + (LEXICAL_FEATURES if config.lexical_features else 0) + int(config.all_sentences)


def position_features(text: str, sentences: list[Sentence]) -> np.ndarray:
    """Relative position, 1/(index+1), paragraph start, length in words / 40."""
    count = max(len(sentences), 1)
    rows = []
    for index, sentence in enumerate(sentences):
        paragraph_start = index == 0 or "\n" in text[sentences[index - 1].end : sentence.start]
        words = len(WORD.findall(sentence.text))
        rows.append([index / count, 1.0 / (index + 1), float(paragraph_start), min(words / 40.0, 3.0)])
    return np.asarray(rows, dtype=np.float32).reshape(-1, POSITION_FEATURES)


def lexical_features(title: str, sentences: list[Sentence]) -> np.ndarray:
    """Share of a sentence's words in the title, share found in other sentences, has a number, is a quote."""
    bags = [{w for w in WORD.findall(s.text.lower()) if len(w) > 2} for s in sentences]
    counts: dict[str, int] = {}
    for bag in bags:
        for word in bag:
            counts[word] = counts.get(word, 0) + 1
    title_words = {w for w in WORD.findall(title.lower()) if len(w) > 2}
    rows = []
    for sentence, bag in zip(sentences, bags, strict=True):
        size = max(len(bag), 1)
        rows.append(
            [
                len(bag & title_words) / size,
                sum(counts[w] > 1 for w in bag) / size,
                float(any(ch.isdigit() for ch in sentence.text)),
                float(sentence.text[:1] in "\"“'‘" or '"' in sentence.text or "“" in sentence.text),
            ]
        )
    return np.asarray(rows, dtype=np.float32).reshape(-1, LEXICAL_FEATURES)


def with_read_flag(features: np.ndarray, n_read: int) -> np.ndarray:
    """``features`` + one column: 1 for the first ``n_read`` sentences (those the encoder read), else 0."""
    flag = (np.arange(features.shape[0]) < n_read).astype(np.float32)[:, None]
    return np.concatenate([features, flag], axis=-1)


def sentence_features(text: str, sentences: list[Sentence], body_start: int, lexical: bool) -> np.ndarray:
    """The hand features of every sentence of ``text[body_start:]`` (title = ``text[:body_start]``)."""
    position = position_features(text, sentences)
    if not lexical:
        return position
    return np.concatenate([position, lexical_features(text[:body_start], sentences)], axis=-1)
