"""The summariser's trained part in PyTorch: a small transformer over an article's sentences."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from service.models.summaries.features import POSITION_FEATURES, SummarizerConfig, feature_count


class SentenceScorer(nn.Module):
    """Sentence vectors + hand features -> a small inter-sentence transformer -> one logit each.

    Besides the pooled vector of each sentence it sees its position and length, its word overlap
    with the title and with the rest of the article, and (computed here, from the vectors) its
    cosine to the article's mean sentence and to the title: the signals extractive summarisers use
    beyond position, made explicit for a head trained on a few thousand articles.
    """

    def __init__(
        self,
        hidden_size: int,
        width: int = 128,
        layers: int = 2,
        heads: int = 4,
        max_sentences: int = 128,
        n_features: int = POSITION_FEATURES,
        similarity: bool = False,
    ):
        super().__init__()
        self.similarity = similarity
        extra = 3 if similarity else 0
        self.project = nn.Linear(hidden_size + n_features + extra, width)
        self.position = nn.Embedding(max_sentences, width)
        block = nn.TransformerEncoderLayer(width, heads, dim_feedforward=2 * width, dropout=0.1, batch_first=True)
        self.context = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.out = nn.Linear(width, 1)
        self.max_sentences = max_sentences

    def forward(
        self, vectors: torch.Tensor, features: torch.Tensor, mask: torch.Tensor, title: torch.Tensor | None = None
    ) -> torch.Tensor:
        positions = torch.arange(vectors.shape[1]).clamp(max=self.max_sentences - 1)
        inputs = [vectors, features]
        if self.similarity:
            inputs.append(similarity_features(vectors, mask, title))
        x = self.project(torch.cat(inputs, dim=-1)) + self.position(positions)
        x = self.context(x, src_key_padding_mask=~mask.bool())
        return self.out(x).squeeze(-1)

    @torch.inference_mode()
    def scores(self, vectors: np.ndarray, features: np.ndarray, title: np.ndarray) -> np.ndarray:
        """One article's sentence logits from numpy inputs (sentences, hidden), (sentences, features), (hidden,)."""
        mask = torch.ones((1, vectors.shape[0]), dtype=torch.bool)
        batch = [torch.from_numpy(np.ascontiguousarray(a))[None] for a in (vectors, features, title)]
        return self(batch[0], batch[1], mask, batch[2])[0].numpy()


def similarity_features(vectors: torch.Tensor, mask: torch.Tensor, title: torch.Tensor | None) -> torch.Tensor:
    """(batch, sentences, 3): cosine to the article's mean sentence, cosine to the title, has-title."""
    normed = nn.functional.normalize(vectors, dim=-1)
    weights = mask.float().unsqueeze(-1)
    centroid = nn.functional.normalize((normed * weights).sum(1) / weights.sum(1).clamp(min=1), dim=-1)
    to_centroid = (normed * centroid.unsqueeze(1)).sum(-1)
    if title is None:
        title = torch.zeros((vectors.shape[0], vectors.shape[-1]))
    has_title = (title.abs().sum(-1) > 0).float()
    to_title = (normed * nn.functional.normalize(title, dim=-1).unsqueeze(1)).sum(-1)
    return torch.stack([to_centroid, to_title, has_title.unsqueeze(1).expand_as(to_title)], dim=-1)


def build_scorer(hidden_size: int, config: SummarizerConfig) -> SentenceScorer:
    return SentenceScorer(
        hidden_size,
        config.width,
        config.layers,
        config.heads,
        n_features=feature_count(config),
        similarity=config.similarity_features,
    )


class ArticleScorer(nn.Module):
    """``SentenceScorer`` for one article as exported to ONNX (every sentence real: no padding mask input)."""

    def __init__(self, scorer: SentenceScorer):
        super().__init__()
        self.scorer = scorer

    def forward(self, vectors: torch.Tensor, features: torch.Tensor, title: torch.Tensor) -> torch.Tensor:
        return self.scorer(vectors, features, torch.ones(vectors.shape[:2], dtype=torch.bool), title)
