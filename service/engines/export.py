"""Writing ONNX graphs from PyTorch modules (run once per cache entry, by ``service.models.onnx``).

Exported with ``torch.onnx.export`` (the torch.export-based exporter): the embedding layer (its
250k-row table quantised to int8, 4x smaller) and a model's lower blocks, dynamically quantised to
int8 (``quantize_dynamic``: QInt8 weights per output channel, activations quantised per call) and,
where asked, kept in fp32 as well. Block graphs take the embedding graph's output, so the table is
held once. Attention masks are written as the additive masks every exporter handles, with the eager
attention implementation.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

OPSET = 18


class Blocks(nn.Module):
    """Transformer blocks applied with a padding mask (batch, seq) of 1s and 0s."""

    def __init__(self, layers: nn.ModuleList):
        super().__init__()
        self.layers = layers

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        additive = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
        for layer in self.layers:
            out = layer(hidden, attention_mask=additive)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden


class Embeddings(nn.Module):
    """A BERT-style model's embedding layer (words + positions + token types, layer norm)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.embeddings = model.embeddings

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.embeddings(input_ids=input_ids)


def token_axes() -> dict:
    """Dynamic (batch, seq) axes for a token-shaped input."""
    return {0: torch.export.Dim("batch"), 1: torch.export.Dim("seq")}


def sample_states(hidden_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Example (hidden, mask) inputs for tracing a graph over lower-layer states (one row padded)."""
    mask = torch.ones((2, 8), dtype=torch.long)
    mask[1, 6:] = 0
    return torch.zeros((2, 8, hidden_size)), mask


def export(module: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], dynamic: dict) -> None:
    """``torch.onnx.export`` (the torch.export-based exporter) into one self-contained file.

    ``dynamic`` maps each input name to {axis: Dim}. (The older TorchScript exporter bakes the
    sentence count into ``nn.MultiheadAttention``'s reshapes, so the scorer needs this one.)
    """
    for name in ("torch.onnx", "onnx_ir", "onnxscript"):  # progress chatter, not problems
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            args,
            str(path),
            input_names=inputs,
            output_names=outputs,
            dynamic_shapes=tuple(dynamic.get(name) for name in inputs),
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            verbose=False,
        )


def export_states_graph(module: nn.Module, hidden_size: int, path: Path, output: str) -> None:
    """A module over (lower-layer states, mask) -> ``output``, with dynamic batch and sequence axes."""
    names = ["hidden", "attention_mask"]
    export(module, sample_states(hidden_size), path, names, [output], {name: token_axes() for name in names})


def export_embeddings(model: nn.Module, sample_id: int, path: Path) -> None:
    """``model``'s embedding layer, its table quantised to int8."""
    from onnxruntime.quantization import quantize_dynamic

    plain = path.with_suffix(".fp32.tmp")
    ids = torch.full((2, 8), sample_id, dtype=torch.long)
    export(Embeddings(model), (ids,), plain, ["input_ids"], ["hidden"], {"input_ids": token_axes()})
    quantize_dynamic(str(plain), str(path), op_types_to_quantize=["Gather"])
    plain.unlink()


def quantise(fp32_path: Path, int8_path: Path) -> None:
    """A graph's MatMul weights dynamically quantised to int8 (QInt8 per output channel)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True)


def export_blocks(model: nn.Module, layers: int, int8_path: Path, fp32_path: Path | None = None) -> None:
    """``model``'s first ``layers`` blocks quantised to int8 (QInt8 per channel); kept in fp32 too at ``fp32_path``."""
    plain = fp32_path or int8_path.with_suffix(".fp32.tmp")
    export_states_graph(Blocks(model.encoder.layer[:layers]), model.config.hidden_size, plain, "states")
    quantise(plain, int8_path)
    if fp32_path is None:
        plain.unlink()


def int8_weights(fp32_path: Path, out_path: Path) -> None:
    """``fp32_path`` with every MatMul weight stored in int8 (symmetric, one scale per output channel) behind a
    ``DequantizeLinear``; activations stay as they are. OpenVINO runs such weights as compressed weights and
    quantises activations per group on the fly (its ``openvino-int8`` engine), with no calibration data."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(fp32_path))
    graph = model.graph
    weights = {i.name: i for i in graph.initializer if len(i.dims) == 2}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    nodes, kept = [], []
    for node in graph.node:
        name = node.input[1] if node.op_type == "MatMul" and len(node.input) == 2 else None
        if name in weights and uses[name] == 1:
            w = numpy_helper.to_array(weights.pop(name)).astype(np.float32)
            scale = (np.maximum(np.abs(w).max(axis=0), 1e-12) / 127).astype(np.float32)
            q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
            kept += [
                numpy_helper.from_array(q, f"{name}.int8"),
                numpy_helper.from_array(scale, f"{name}.scale"),
                numpy_helper.from_array(np.zeros(scale.shape, np.int8), f"{name}.zero"),
            ]
            nodes.append(
                helper.make_node(
                    "DequantizeLinear", [f"{name}.int8", f"{name}.scale", f"{name}.zero"], [f"{name}.dq"], axis=1
                )
            )
            node.input[1] = f"{name}.dq"
        nodes.append(node)
    others = [i for i in graph.initializer if len(i.dims) != 2 or i.name in weights]
    del graph.initializer[:]
    graph.initializer.extend(others + kept)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(out_path))
