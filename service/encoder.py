"""Running a BERT-style encoder in two parts: frozen lower layers, then (task-specific) upper layers.

A task head that fine-tunes only the top layers can share the lower-layer pass with other heads,
and training can cache the lower-layer states once instead of recomputing them every epoch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from transformers.masking_utils import create_bidirectional_mask


def encoder_layers(model: nn.Module) -> nn.ModuleList:
    """The transformer blocks of a BERT/RoBERTa-style ``AutoModel``."""
    return model.encoder.layer


def run_layers(layers: Sequence[nn.Module], hidden: torch.Tensor, attention_mask: torch.Tensor, config) -> torch.Tensor:
    """Apply ``layers`` to ``hidden`` (batch, seq, dim) with a padding mask (batch, seq)."""
    mask = create_bidirectional_mask(config=config, inputs_embeds=hidden, attention_mask=attention_mask)
    for layer in layers:
        out = layer(hidden, attention_mask=mask)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


def lower_states(
    model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, n_layers: int
) -> torch.Tensor:
    """Embeddings followed by the first ``n_layers`` blocks."""
    hidden = model.embeddings(input_ids=input_ids)
    return run_layers(encoder_layers(model)[:n_layers], hidden, attention_mask, model.config)


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``input_ids`` and ``attention_mask`` tensors."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


def text_windows(tokenizer, text: str, window: int, prefix: str = "") -> list[list[int]]:
    """Token ids of the whole text as consecutive windows, each wrapped in CLS/SEP (never truncated)."""
    ids = tokenizer(prefix + text, add_special_tokens=False, verbose=False)["input_ids"]
    size = window - 2
    chunks = [ids[i : i + size] for i in range(0, len(ids), size)] or [[]]
    return [[tokenizer.cls_token_id, *chunk, tokenizer.sep_token_id] for chunk in chunks]
