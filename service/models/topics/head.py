"""The topic classifier's trainable part in PyTorch: upper encoder layers + a linear head."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from service.engines.backend import inference_precision
from service.engines.export import Blocks
from service.engines.pytorch import encoder_layers, inference_autocast, mean_pool, run_layers, tensors


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


def head_logits(
    head: TopicHead, config, precision: str | None = None
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``head`` as a numpy-in, numpy-out function of (lower states, mask) -> logits in ``precision`` (fp32 or
    bf16; None: what ``inference_precision()`` gives now), fixed for its lifetime."""
    precision = precision or inference_precision()

    @torch.inference_mode()
    def logits(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with inference_autocast(precision):
            return head(*tensors(hidden, mask), config).float().numpy()

    return logits


class ExportedHead(nn.Module):
    """``TopicHead`` in eval mode as exported to ONNX: upper blocks (additive mask), mean pooling, linear."""

    def __init__(self, head: TopicHead):
        super().__init__()
        self.blocks, self.classifier = Blocks(head.layers), head.classifier

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.classifier(mean_pool(self.blocks(hidden, mask), mask))
