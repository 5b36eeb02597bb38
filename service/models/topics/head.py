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


DELTA_SUFFIXES = (".delta_a", ".delta_b")


def low_rank_delta(head: TopicHead, backbone: nn.Module, rank: int) -> dict[str, torch.Tensor]:
    """The head's weights with each fine-tuned layer matrix stored as its change from the backbone's, cut to
    rank ``rank`` (``W = W_backbone + A @ B``, A: out x rank, B: rank x in, by SVD; the best rank-r
    approximation of the change), in fp16 as the artifact holds them; vectors (biases, layer norms) and the
    classifier stay whole. Fine-tuning moves a pretrained encoder's matrices by a change of low rank (measured
    on e5-small: rank 32 keeps about 91 % of it): 12 layers ship in a few MB instead of 43."""
    upper = encoder_layers(backbone)[len(encoder_layers(backbone)) - len(head.layers) :]
    base = {f"layers.{i}.{k}": v for i, layer in enumerate(upper) for k, v in layer.state_dict().items()}
    state = {}
    for key, value in head.state_dict().items():
        if key in base and value.dim() == 2:
            u, s, vh = torch.linalg.svd((value - base[key]).float(), full_matrices=False)
            state[key + DELTA_SUFFIXES[0]] = (u[:, :rank] * s[:rank]).half()
            state[key + DELTA_SUFFIXES[1]] = vh[:rank].half()
        else:
            state[key] = value.detach().half()
    return state


def load_low_rank_delta(head: TopicHead, state: dict[str, torch.Tensor]) -> TopicHead:
    """``head`` (``new_head``: a copy of the backbone's layers) with the weights ``low_rank_delta`` gave, in eval
    mode: each stored change added to the backbone's matrix, everything else as stored."""
    weights = {}
    for key, value in head.state_dict().items():
        a, b = (state.get(key + suffix) for suffix in DELTA_SUFFIXES)
        weights[key] = value + a.float() @ b.float() if a is not None else state[key].float()
    head.load_state_dict(weights)
    return head.eval()


def with_low_rank_delta(head: TopicHead, backbone: nn.Module, rank: int) -> TopicHead:
    """A fine-tuned head as it loads once saved with ``low_rank_delta``: what calibration must see."""
    fresh = new_head(backbone, head.classifier.out_features, len(head.layers), head.dropout.p)
    return load_low_rank_delta(fresh, low_rank_delta(head, backbone, rank))


def split_encoder(backbone: nn.Module, head: TopicHead, n_lower: int) -> tuple[nn.Module, TopicHead]:
    """A topic encoder trained whole, cut after its ``n_lower``-th layer so its lower layers can be a pass
    shared with the summariser: ``backbone`` with its first ``n_lower`` layers replaced by the head's fine-tuned
    ones (a shallow copy: the embedding table and ``backbone`` itself are untouched) and a head of the rest.
    Same function as the uncut model; the cut only moves where the work happens."""
    layers = encoder_layers(backbone)
    if len(head.layers) != len(layers):
        raise ValueError(f"only a topic encoder trained whole can be cut ({len(head.layers)} of {len(layers)} layers)")
    if not 0 < n_lower < len(layers):
        raise ValueError(f"cut after layer 1..{len(layers) - 1}, not {n_lower}")
    encoder = copy.copy(backbone.encoder)
    encoder._modules = dict(backbone.encoder._modules)
    encoder.layer = nn.ModuleList([*head.layers[:n_lower], *layers[n_lower:]])
    cut = copy.copy(backbone)
    cut._modules = dict(backbone._modules)
    cut.encoder = encoder
    upper = TopicHead(nn.ModuleList(head.layers[n_lower:]), backbone.config.hidden_size, head.classifier.out_features)
    upper.classifier, upper.dropout = head.classifier, head.dropout
    return cut.eval(), upper.eval()


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
