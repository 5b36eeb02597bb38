"""The PyTorch engine: lower layers of a transformers ``AutoModel`` (fp32 or bf16) and mean pooling.

Training always runs here; serving runs here with ``backend: torch`` (see ``service.engines.onnx``
for the default). Importing this module imports torch and transformers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from service.engines.backend import inference_precision
from service.engines.encoder import LowerLayers


def inference_autocast(precision: str | None = None) -> torch.autocast:
    """bf16 autocast for inference where the CPU computes bf16 natively, else plain fp32
    (``precision``, default ``service.engines.backend.inference_precision()``)."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=(precision or inference_precision()) == "bf16")


def encoder_layers(model: nn.Module) -> nn.ModuleList:
    """The transformer blocks of a BERT/RoBERTa-style ``AutoModel``."""
    return model.encoder.layer


def padding_attention_mask(attention_mask: torch.Tensor, hidden: torch.Tensor, config) -> torch.Tensor | None:
    """The 4-D mask a BERT-style layer takes for a padding mask (batch, seq) of 1s and 0s over ``hidden``
    (batch, seq, dim), as transformers builds it for bidirectional attention: ``None`` when nothing is padded (so
    SDPA keeps its unmasked kernel), else (batch, 1, seq, seq) with the padded keys masked: booleans (True attends)
    for ``sdpa``, additive 0 / ``finfo(hidden.dtype).min`` for ``eager`` (``config._attn_implementation``)."""
    keep = attention_mask.to(device=hidden.device, dtype=torch.bool)
    tracing = torch.jit.is_tracing() or torch.compiler.is_compiling()
    if not tracing and bool(keep.all()):
        return None
    implementation = getattr(config, "_attn_implementation", None) or "eager"  # None: the layers run eager
    if implementation not in ("sdpa", "eager"):
        raise ValueError(f"no padding mask for attn_implementation={implementation!r} (sdpa or eager)")
    batch, length = keep.shape
    mask = keep[:, None, None, :].expand(batch, 1, hidden.shape[1], length).contiguous()
    if implementation == "sdpa":
        return mask
    return torch.where(mask, torch.zeros((), device=mask.device, dtype=hidden.dtype), torch.finfo(hidden.dtype).min)


def run_layers(layers: Sequence[nn.Module], hidden: torch.Tensor, attention_mask: torch.Tensor, config) -> torch.Tensor:
    """Apply ``layers`` to ``hidden`` (batch, seq, dim) with a padding mask (batch, seq)."""
    mask = padding_attention_mask(attention_mask, hidden, config)
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


def torch_lower(model: nn.Module, n_layers: int, precision: str | None = None) -> LowerLayers:
    """The first ``n_layers`` of ``model`` as a numpy-in, numpy-out ``LowerLayers`` in ``precision`` (fp32 or
    bf16; None: what ``inference_precision()`` gives now), fixed for its lifetime."""
    precision = precision or inference_precision()

    @torch.inference_mode()
    def lower(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        with inference_autocast(precision):
            hidden = lower_states(model, torch.from_numpy(input_ids), torch.from_numpy(attention_mask), n_layers)
        return hidden.float().numpy()

    return lower


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average ``hidden`` (batch, seq, dim) over the positions where ``mask`` is 1."""
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def tensors(*arrays: np.ndarray) -> tuple[torch.Tensor, ...]:
    """numpy arrays as torch tensors (shared memory)."""
    return tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)
