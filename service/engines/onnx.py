"""The ONNX Runtime engine: sessions tuned for a small CPU, and the encoder and heads as numpy functions.

Serving needs only ``onnxruntime``, ``tokenizers`` and numpy: no torch or transformers import, which
is most of the cold start saved. The graphs themselves are written by ``service.engines.export``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from service.engines.encoder import LowerLayers


def session(path: Path, threads: int | None):
    """An ``onnxruntime.InferenceSession`` on the CPU with ``threads`` intra-op threads (None: ORT's default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Several sessions run in turn: idle pools spinning for work took the cores from the next one
    # (single-article p50 117 ms with spinning, 54 ms without). Without the memory arena, activation
    # buffers are freed after each call: peak RSS 1.08 GB -> 0.90 GB at the same speed.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_cpu_mem_arena = False
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def lower_layers(embeddings, blocks=None) -> LowerLayers:
    """The embedding graph followed by a block graph (none: the embeddings alone, for a head that
    holds every block), as a ``LowerLayers`` function."""

    def lower(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        hidden = embeddings.run(None, {"input_ids": input_ids})[0]
        if blocks is None:
            return hidden
        return blocks.run(None, {"hidden": hidden, "attention_mask": attention_mask})[0]

    return lower


def states_function(graph) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A graph over (lower-layer states, mask), such as the topic head, as a numpy function."""

    def run(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return graph.run(None, {"hidden": hidden, "attention_mask": mask})[0]

    return run
