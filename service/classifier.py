"""The topic classifier: fine-tuned top encoder layers + a linear head over mean-pooled tokens.

Artifacts are ``save_pretrained``-style directories holding only what the backbone does not:
the fine-tuned top layers and head (``model.safetensors``, fp16) and ``config.json`` (labels,
calibration temperature, topic threshold, the backbone spec and the fingerprint it was trained on).
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from service.backbone import BackboneError, load_backbone
from service.embedding import mean_pool
from service.encoder import encoder_layers, lower_states, pad_batch, run_layers, text_windows

logger = logging.getLogger(__name__)

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"


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


class TopicHead(nn.Module):
    """Upper encoder layers (copied from the backbone, then fine-tuned) + dropout + linear head."""

    def __init__(self, upper_layers: nn.ModuleList, hidden_size: int, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.layers = upper_layers
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_labels)

    def forward(self, lower: torch.Tensor, attention_mask: torch.Tensor, config) -> torch.Tensor:
        hidden = run_layers(self.layers, lower, attention_mask, config)
        return self.classifier(self.dropout(mean_pool(hidden, attention_mask)))


def new_head(backbone: nn.Module, num_labels: int, trainable_layers: int, dropout: float = 0.1) -> TopicHead:
    layers = encoder_layers(backbone)
    upper = nn.ModuleList(copy.deepcopy(layers[len(layers) - trainable_layers :]))
    return TopicHead(upper, backbone.config.hidden_size, num_labels, dropout)


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
    extra: dict = field(default_factory=dict)


class TopicClassifier:
    """Load once, predict many: ``TopicClassifier.load(path).predict(texts)``. Thread-safe."""

    def __init__(self, backbone: nn.Module, tokenizer, head: TopicHead, config: ClassifierConfig):
        self.backbone, self.tokenizer, self.head, self.config = backbone, tokenizer, head, config
        self.n_lower = len(encoder_layers(backbone)) - config.trainable_layers
        self._lock = threading.Lock()
        self.backbone.eval()
        self.head.eval()

    @classmethod
    def load(cls, path: str | Path, backbone: str | None = None, cache_dir: Path | None = None) -> TopicClassifier:
        path = Path(path)
        if not (path / CONFIG_NAME).exists():
            raise FileNotFoundError(f"No topic classifier at {path} (missing {CONFIG_NAME}); train one first.")
        config = ClassifierConfig(**json.loads((path / CONFIG_NAME).read_text()))
        model, tokenizer, resolved = load_backbone(backbone or config.backbone, cache_dir)
        if resolved.fingerprint != config.backbone_fingerprint:
            raise BackboneError(
                f"The classifier in {path} was trained on backbone {config.backbone_fingerprint}, "
                f"but {resolved.spec!r} resolves to {resolved.fingerprint}. Use the same backbone or retrain."
            )
        head = new_head(model, len(config.labels), config.trainable_layers)
        state = {k: v.float() for k, v in load_file(str(path / WEIGHTS_NAME)).items()}
        head.load_state_dict(state)
        return cls(model, tokenizer, head, config)

    def save_pretrained(self, path: str | Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().to(torch.float16).contiguous() for k, v in self.head.state_dict().items()}
        save_file(state, str(path / WEIGHTS_NAME), metadata={"format": "pt"})
        (path / CONFIG_NAME).write_text(json.dumps(self.config.__dict__, indent=2, ensure_ascii=False))

    @torch.inference_mode()
    def window_logits(self, windows: list[list[int]], batch_size: int = 32) -> np.ndarray:
        """Uncalibrated logits for each token window; windows are batched by length."""
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        out = np.zeros((len(windows), len(self.config.labels)), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            ids, mask = pad_batch([windows[i] for i in chosen], self.tokenizer.pad_token_id)
            lower = lower_states(self.backbone, ids, mask, self.n_lower)
            out[chosen] = self.head(lower, mask, self.backbone.config).numpy()
        return out

    def window_logits_per_text(
        self, texts: list[str], batch_size: int = 32, first_only: bool = False
    ) -> list[np.ndarray]:
        """Logits of every window of every text (a long text is never cut)."""
        per_text = [text_windows(self.tokenizer, t, self.config.max_length, self.config.prefix) for t in texts]
        if first_only:
            per_text = [w[:1] for w in per_text]
        flat = [w for windows in per_text for w in windows]
        with self._lock:
            logits = self.window_logits(flat, batch_size)
        bounds = np.cumsum([0] + [len(w) for w in per_text])
        return [logits[bounds[i] : bounds[i + 1]] for i in range(len(texts))] if texts else []

    def pool(self, per_text: list[np.ndarray], strategy: str | None = None) -> np.ndarray:
        """One row of logits per text: the first window's ("head") or the mean over windows ("chunk_mean")."""
        strategy = strategy or self.config.long_text
        if strategy == "head":
            return np.stack([logits[0] for logits in per_text])
        return np.stack([logits.mean(axis=0) for logits in per_text])

    def text_logits(self, texts: list[str], batch_size: int = 32, strategy: str | None = None) -> np.ndarray:
        strategy = strategy or self.config.long_text
        return self.pool(
            self.window_logits_per_text(texts, batch_size, first_only=strategy == "head"), strategy=strategy
        )

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        scaled = logits / self.config.temperature
        scaled -= scaled.max(axis=1, keepdims=True)
        exp = np.exp(scaled)
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, texts: list[str], batch_size: int = 32) -> list[TopicPrediction]:
        probs = self.probabilities(self.text_logits(texts, batch_size))
        return [self._prediction(row) for row in probs]

    def _prediction(self, row: np.ndarray) -> TopicPrediction:
        order = np.argsort(-row)
        labels = self.config.labels
        scores = [TopicScore(labels[i], round(float(row[i]), 4)) for i in order]
        topics = [labels[order[0]]] + [labels[i] for i in order[1:] if row[i] >= self.config.threshold]
        return TopicPrediction(topic=labels[order[0]], topics=topics, scores=scores)
