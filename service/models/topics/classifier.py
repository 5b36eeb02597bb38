"""The topic classifier: fine-tuned top encoder layers + a linear head over mean-pooled tokens.

Artifacts are ``save_pretrained``-style directories holding only what the backbone does not:
the fine-tuned top layers and head (``model.safetensors``, fp16) and ``config.json`` (labels,
calibration temperature, topic threshold, the backbone spec and the fingerprint it was trained on).
An artifact may also hold a lexical model (``service.models.topics.lexical``); its log-probabilities are mixed
with the encoder's at ``lexical_weight`` before calibration.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from service.backbone.artifacts import (
    ARTIFACT_FILES,
    encoder_digest,
    load_state,
    load_trained_backbone,
    load_weights,
    read_config,
    save_artifact,
)
from service.engines.encoder import EncodedDocument, LowerLayers, encode_documents, pad_states, window_batches
from service.models.topics import lexical
from service.models.topics.lexical import LexicalModel
from service.models.topics.probabilities import mix_log_probabilities, softmax

logger = logging.getLogger(__name__)
# (lower-layer states (batch, seq, hidden) float32, mask (batch, seq) int64) -> logits (batch, labels)
HeadLogits = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class TopicScore:
    label: str
    score: float


@dataclass
class TopicPrediction:
    """All labels sorted by calibrated probability; ``topics`` are those above the threshold."""

    topic: str
    topics: list[str]
    scores: list[TopicScore]


@dataclass
class ClassifierConfig:
    labels: list[str]
    backbone: str
    backbone_fingerprint: str
    trainable_layers: int
    max_length: int
    prefix: str
    temperature: float = 1.0
    threshold: float = 0.5
    long_text: str = "chunk_mean"  # or "head": only the first window
    neural_temperature: float = 1.0  # scales the encoder's logits before they are mixed with the lexical model
    lexical_weight: float = 0.0  # share of the lexical model's log-probabilities (0: encoder only)
    delta_rank: int | None = None  # stored as the backbone + a change of this rank per matrix (``head.low_rank_delta``)
    extra: dict = field(default_factory=dict)


class TopicClassifier:
    """Load once, predict many: ``TopicClassifier.load(path).predict(texts)``. Thread-safe.

    The encoder work is two functions: ``lower`` (the frozen lower layers, shared with the
    summariser) and ``head_logits`` (the fine-tuned upper layers + head), run by PyTorch
    (``from_torch``, training and ``backend: torch``) or ONNX Runtime (``service.models.onnx``,
    where ``lead_lower`` runs the windows the head reads at full precision and ``lower`` the rest
    in int8).
    """

    # The files the classifier answers from (evidence such as eval.json is not among them).
    FILES = (*ARTIFACT_FILES, lexical.TERMS_NAME, lexical.WEIGHTS_NAME)

    def __init__(
        self,
        tokenizer,
        config: ClassifierConfig,
        lower: LowerLayers,
        head_logits: HeadLogits,
        n_lower: int,
        resolved=None,
        lexical: LexicalModel | None = None,
        head=None,
        backbone=None,
        lead_lower: LowerLayers | None = None,
        batching: str = "length",
    ):
        self.tokenizer, self.config, self.lower, self.head_logits = tokenizer, config, lower, head_logits
        self.lead_lower = lead_lower  # runs the windows the topic head reads, when set (see encode)
        self.batching = batching  # how windows are batched (``encoder.BATCHINGS``)
        self.n_lower, self.resolved, self.lexical = n_lower, resolved, lexical
        self.head, self.backbone = head, backbone  # the PyTorch modules, when PyTorch runs them
        self._lock = threading.Lock()

    @classmethod
    def from_torch(
        cls,
        backbone,
        tokenizer,
        head,
        config: ClassifierConfig,
        resolved=None,
        lexical: LexicalModel | None = None,
        batching: str = "length",
        precision: str | None = None,
    ) -> TopicClassifier:
        """Run by PyTorch in ``precision`` (fp32 or bf16; None: ``inference_precision()``)."""
        from service.engines.pytorch import encoder_layers, torch_lower
        from service.models.topics.head import head_logits

        n_lower = len(encoder_layers(backbone)) - len(head.layers)  # fewer than trainable_layers when cut
        backbone.eval()
        head.eval()
        return cls(
            tokenizer, config, torch_lower(backbone, n_lower, precision), head_logits(head, backbone.config, precision),
            n_lower, resolved, lexical, head, backbone, batching=batching,
        )  # fmt: skip

    @staticmethod
    def read(path: str | Path) -> tuple[ClassifierConfig, LexicalModel | None]:
        """An artifact's settings and lexical model (what every backend needs besides the encoder)."""
        path = Path(path)
        config = ClassifierConfig(**read_config(path, "topic classifier"))
        lexical = LexicalModel.load(path)
        if config.lexical_weight > 0 and (lexical is None or lexical.labels != config.labels):
            raise FileNotFoundError(f"{path} sets lexical_weight but holds no lexical model for its labels.")
        return config, lexical

    @classmethod
    def load(
        cls,
        path: str | Path,
        backbone: str | None = None,
        cache_dir: Path | None = None,
        shared_backbone=None,
        batching: str = "length",
        precision: str | None = None,
        shared_layers: int | None = None,
    ) -> TopicClassifier:
        """The artifact in ``path`` on its backbone, run by PyTorch (``batching``: ``encoder.BATCHINGS``;
        ``precision``: fp32 or bf16, None: ``inference_precision()``).

        ``shared_layers``: a topic encoder trained whole is cut after that layer (``head.split_encoder``); its
        ``backbone`` then carries the fine-tuned lower layers, a pass the summariser trained on them shares."""
        from service.models.topics.head import load_low_rank_delta, new_head, split_encoder

        path = Path(path)
        config, lexical = cls.read(path)
        model, tokenizer, resolved = load_trained_backbone(
            path, "topic classifier", config.__dict__, backbone, cache_dir, shared_backbone
        )
        head = new_head(model, len(config.labels), config.trainable_layers)
        head = load_low_rank_delta(head, load_state(path)) if config.delta_rank else load_weights(head, path)
        if shared_layers:
            model, head = split_encoder(model, head, shared_layers)
            model.topic_encoder = encoder_digest(path)  # what a summariser trained on these states checks
        return cls.from_torch(model, tokenizer, head, config, resolved, lexical, batching, precision)

    def save_pretrained(self, path: str | Path) -> None:
        state = None
        if self.config.delta_rank:  # a topic encoder trained whole, stored as the backbone + a low-rank change
            from service.models.topics.head import low_rank_delta

            if self.n_lower:
                raise ValueError("only an uncut topic encoder trained whole is saved as a low-rank change")
            state = low_rank_delta(self.head, self.backbone, self.config.delta_rank)
        save_artifact(path, self.head, self.config.__dict__, state)
        if self.lexical is None:
            LexicalModel.remove(Path(path))
        else:
            self.lexical.save(Path(path))

    def logits_from_documents(
        self, documents: list[EncodedDocument], batch_size: int = 32, max_windows: int | None = None
    ) -> list[np.ndarray]:
        """Uncalibrated logits of every window (or of the first ``max_windows``), from lower-layer
        states already computed.

        The states may come from a pass shared with the summariser; windows are batched by length.
        """
        flat = [(d, w) for d, doc in enumerate(documents) for w in range(len(doc.states[:max_windows]))]
        out = [
            np.zeros((len(doc.states[:max_windows]), len(self.config.labels)), dtype=np.float32) for doc in documents
        ]
        length = lambda d, w: documents[d].states[w].shape[0]  # noqa: E731
        width = self.config.max_length if self.batching == "fixed" else None
        for chosen in window_batches(flat, length, batch_size, self.batching):
            hidden, mask = pad_states([documents[d].states[w] for d, w in chosen], width)
            logits = self.head_logits(hidden, mask)
            for row, (d, w) in enumerate(chosen):
                out[d][w] = logits[row]
        return out

    def encode(self, texts: list[str], batch_size: int = 32, max_windows: int | None = None) -> list[EncodedDocument]:
        with self._lock:
            return encode_documents(
                self.lower,
                self.tokenizer,
                texts,
                self.config.max_length,
                self.config.prefix,
                batch_size,
                max_windows,
                self.lead_lower,
                self.windows_read(),
                self.batching,
            )

    def windows_read(self, strategy: str | None = None) -> int | None:
        """How many windows per text the topic decision reads: 1 for ``head``, all (None) otherwise."""
        return 1 if (strategy or self.config.long_text) == "head" else None

    def window_logits_per_text(
        self, texts: list[str], batch_size: int = 32, max_windows: int | None = None
    ) -> list[np.ndarray]:
        """Logits of every window of every text (a long text is never cut), or of the first ``max_windows``."""
        return self.logits_from_documents(self.encode(texts, batch_size, max_windows), batch_size)

    def pool(self, per_text: list[np.ndarray], strategy: str | None = None) -> np.ndarray:
        """One row of logits per text: the first window's ("head") or the mean over windows ("chunk_mean")."""
        strategy = strategy or self.config.long_text
        if strategy == "head":
            return np.stack([logits[0] for logits in per_text])
        return np.stack([logits.mean(axis=0) for logits in per_text])

    def neural_logits(self, texts: list[str], batch_size: int = 32, strategy: str | None = None) -> np.ndarray:
        """The encoder's pooled logits alone (what training compares and calibrates)."""
        strategy = strategy or self.config.long_text
        return self.pool(self.window_logits_per_text(texts, batch_size, self.windows_read(strategy)), strategy)

    def combine(self, texts: list[str], neural: np.ndarray) -> np.ndarray:
        """Final uncalibrated scores: the encoder's logits mixed with the lexical model's, if any."""
        weight = self.config.lexical_weight
        if self.lexical is None or weight <= 0:
            return neural
        return mix_log_probabilities(
            neural, self.lexical.log_probabilities(texts), weight, self.config.neural_temperature
        )

    def text_logits(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self.combine(texts, self.neural_logits(texts, batch_size))

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        return softmax(logits, self.config.temperature)

    def predict(self, texts: list[str], batch_size: int = 32) -> list[TopicPrediction]:
        probs = self.probabilities(self.text_logits(texts, batch_size))
        return [self.prediction(row) for row in probs]

    def prediction(self, row: np.ndarray) -> TopicPrediction:
        """Sorted scores and the topic set for one row of calibrated probabilities."""
        order = np.argsort(-row)
        labels = self.config.labels
        scores = [TopicScore(labels[i], round(float(row[i]), 4)) for i in order]
        topics = [labels[order[0]]] + [labels[i] for i in order[1:] if row[i] >= self.config.threshold]
        return TopicPrediction(topic=labels[order[0]], topics=topics, scores=scores)
