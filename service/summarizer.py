"""Extractive summaries: score sentences, pick with redundancy control, return them in article order.

Three methods share one interface: ``supervised`` (a small sentence scorer trained on IndoSum over
the backbone's lower-layer token states, pooled per sentence), ``centroid`` (sentences closest to
the document centroid, no trained head) and ``lead`` (the first k sentences).
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from service.artifacts import load_trained_backbone, load_weights, read_config, save_artifact
from service.encoder import EncodedDocument, encode_documents, encoder_layers, sentence_vectors
from service.text import Sentence, split_sentences

METHODS = ("supervised", "centroid", "lead")
POSITION_FEATURES = 4
_WORD = re.compile(r"\w+")


@dataclass
class SummarySentence:
    """A selected sentence: its index among the article's sentences and its span in the input."""

    index: int
    start: int
    end: int
    text: str


@dataclass
class Summary:
    text: str
    sentences: list[SummarySentence]
    method: str
    notes: list[str] = field(default_factory=list)


class SentenceScorer(nn.Module):
    """Sentence vectors + position features -> a small inter-sentence transformer -> one logit each."""

    def __init__(self, hidden_size: int, width: int = 128, layers: int = 2, heads: int = 4, max_sentences: int = 128):
        super().__init__()
        self.project = nn.Linear(hidden_size + POSITION_FEATURES, width)
        self.position = nn.Embedding(max_sentences, width)
        block = nn.TransformerEncoderLayer(width, heads, dim_feedforward=2 * width, dropout=0.1, batch_first=True)
        self.context = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.out = nn.Linear(width, 1)
        self.max_sentences = max_sentences

    def forward(self, vectors: torch.Tensor, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(vectors.shape[1]).clamp(max=self.max_sentences - 1)
        x = self.project(torch.cat([vectors, features], dim=-1)) + self.position(positions)
        x = self.context(x, src_key_padding_mask=~mask.bool())
        return self.out(x).squeeze(-1)


def position_features(text: str, sentences: list[Sentence]) -> torch.Tensor:
    """Relative position, 1/(index+1), paragraph start, length in words / 40."""
    count = max(len(sentences), 1)
    rows = []
    for index, sentence in enumerate(sentences):
        paragraph_start = index == 0 or "\n" in text[sentences[index - 1].end : sentence.start]
        words = len(_WORD.findall(sentence.text))
        rows.append([index / count, 1.0 / (index + 1), float(paragraph_start), min(words / 40.0, 3.0)])
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, POSITION_FEATURES)


def check_ratio(ratio: float | None) -> None:
    """A summary ratio is a share of the article's sentences: above 0, at most 1."""
    if ratio is not None and not 0 < ratio <= 1:
        raise ValueError(f"ratio must be in (0, 1], the share of the article's sentences; got {ratio!r}")


def trigrams(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def select(
    scores: np.ndarray,
    sentences: list[Sentence],
    max_sentences: int | None = 3,
    max_words: int | None = None,
    block_trigrams: bool = True,
) -> list[int]:
    """Greedy by score, skipping sentences that repeat a trigram of one already chosen (Paulus et al.)."""
    chosen, seen, words = [], set(), 0
    for index in np.argsort(-scores, kind="stable"):
        sentence_trigrams = trigrams(sentences[index].text)
        if block_trigrams and sentence_trigrams & seen:
            continue
        length = len(_WORD.findall(sentences[index].text))
        if max_words is not None and chosen and words + length > max_words:
            continue
        chosen.append(int(index))
        seen |= sentence_trigrams
        words += length
        if max_sentences is not None and len(chosen) >= max_sentences:
            break
        if max_words is not None and words >= max_words:
            break
    return sorted(chosen)


def centroid_scores(vectors: torch.Tensor) -> np.ndarray:
    normed = torch.nn.functional.normalize(vectors, dim=-1)
    centroid = torch.nn.functional.normalize(normed.mean(0, keepdim=True), dim=-1)
    return (normed @ centroid.T).squeeze(-1).numpy()


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
    extra: dict = field(default_factory=dict)


class Summarizer:
    """``Summarizer.load(path).summarize(texts, max_sentences=3)``; thread-safe."""

    def __init__(self, backbone: nn.Module, tokenizer, scorer: SentenceScorer | None, config: SummarizerConfig):
        self.backbone, self.tokenizer, self.scorer, self.config = backbone, tokenizer, scorer, config
        self._lock = threading.Lock()
        if scorer is not None:
            scorer.eval()

    @classmethod
    def load(
        cls, path: str | Path, backbone: str | None = None, cache_dir: Path | None = None, shared_backbone=None
    ) -> Summarizer:
        path = Path(path)
        config = SummarizerConfig(**read_config(path, "summariser"))
        model, tokenizer, _ = load_trained_backbone(
            path, "summariser", config.__dict__, backbone, cache_dir, shared_backbone
        )
        scorer = SentenceScorer(model.config.hidden_size, config.width, config.layers, config.heads)
        return cls(model.eval(), tokenizer, load_weights(scorer, path), config)

    def save_pretrained(self, path: str | Path) -> None:
        save_artifact(path, self.scorer, self.config.__dict__)

    def encode(self, texts: list[str], batch_size: int = 32) -> list[EncodedDocument]:
        n_lower = min(self.config.feature_layer, len(encoder_layers(self.backbone)))
        with self._lock:
            return encode_documents(
                self.backbone, self.tokenizer, texts, n_lower, self.config.max_length, self.config.prefix, batch_size
            )

    @torch.inference_mode()
    def sentence_scores(self, text: str, sentences: list[Sentence], doc: EncodedDocument, method: str) -> np.ndarray:
        if method == "lead":
            return -np.arange(len(sentences), dtype=np.float32)
        vectors = sentence_vectors(doc, [s.start for s in sentences], [s.end for s in sentences])
        if method == "centroid":
            return centroid_scores(vectors)
        features = position_features(text, sentences)
        mask = torch.ones((1, len(sentences)), dtype=torch.bool)
        return self.scorer(vectors.unsqueeze(0), features.unsqueeze(0), mask)[0].numpy()

    def summarize(
        self,
        texts: list[str],
        max_sentences: int | None = 3,
        max_words: int | None = None,
        method: str = "supervised",
        batch_size: int = 32,
        documents: list[EncodedDocument] | None = None,
        body_starts: list[int] | None = None,
        ratio: float | None = None,
    ) -> list[Summary]:
        """One summary per text.

        Length: ``max_sentences``, or with ``ratio`` that share of the article's sentences (rounded
        up, at least one; it replaces ``max_sentences``); ``max_words`` caps either. ``documents``
        lets a caller share an encoder pass it already ran over ``texts``; with ``body_starts`` only
        ``text[body_start:]`` is summarised (e.g. after a title the classifier also read) and offsets
        refer to that body.
        """
        if method not in METHODS:
            raise ValueError(f"unknown summary method {method!r}; choose one of {', '.join(METHODS)}")
        check_ratio(ratio)
        if method == "supervised" and self.scorer is None:
            raise ValueError("this summariser has no trained scorer; use method='centroid' or 'lead'")
        body_starts = body_starts or [0] * len(texts)
        split = [
            [Sentence(s.start + b, s.end + b, s.text) for s in split_sentences(text[b:])]
            for text, b in zip(texts, body_starts, strict=True)
        ]
        needs_encoding = method != "lead"
        if needs_encoding and documents is None:
            documents = self.encode(texts, batch_size)
        out = []
        for index, (text, sentences) in enumerate(zip(texts, split, strict=True)):
            body = text[body_starts[index] :]
            budget = max(1, math.ceil(ratio * len(sentences))) if ratio is not None else max_sentences
            limit = budget if budget is not None else len(sentences)
            if len(sentences) <= limit and (max_words is None or len(_WORD.findall(body)) <= max_words):
                chosen = list(range(len(sentences)))
                notes = ["text is not longer than the requested summary; returned whole"] if sentences else []
            else:
                doc = documents[index] if needs_encoding else None
                # `lead` is the first sentences as they stand: no redundancy filter (trigram blocking
                # made it skip a lead sentence that repeats a name or phrase of an earlier one).
                scores = self.sentence_scores(text, sentences, doc, method)
                chosen = select(scores, sentences, budget, max_words, block_trigrams=method != "lead")
                notes = []
            shift = body_starts[index]
            picked = [
                SummarySentence(i, sentences[i].start - shift, sentences[i].end - shift, sentences[i].text)
                for i in chosen
            ]
            out.append(Summary(" ".join(s.text for s in picked), picked, method, notes))
        return out
