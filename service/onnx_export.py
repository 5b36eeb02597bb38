"""Export the trained models to ONNX for ``service.onnx_backend`` (runs once per cache entry).

Exported with ``torch.onnx.export``: the embedding layer (its 250k-row table quantised to int8, 4x
smaller), the encoder's lower blocks dynamically quantised to int8 (``quantize_dynamic``: QInt8
weights per output channel, activations quantised per call), and a second, fp32 copy of the
classifier's lower blocks: it reads the windows the topic head pools, where int8 alone moved the
top topic on 1.5 % of validation articles. Both block graphs take the embedding graph's output, so
the table is held once. The topic head (upper layers + linear) and the sentence scorer are fp32.
Attention masks are written as the additive masks every exporter handles, with the eager
attention implementation.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from pathlib import Path

import torch
from torch import nn

from service.backbone import load_backbone
from service.classifier import TopicClassifier
from service.embedding import mean_pool
from service.summarizer import Summarizer, feature_count

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


class TopicLogits(nn.Module):
    """``service.topic_head.TopicHead`` in eval mode: upper blocks, mean pooling, linear."""

    def __init__(self, head: nn.Module):
        super().__init__()
        self.blocks, self.classifier = Blocks(head.layers), head.classifier

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.classifier(mean_pool(self.blocks(hidden, mask), mask))


class ArticleScorer(nn.Module):
    """``service.scorer.SentenceScorer`` for one article (every sentence real: no padding mask input)."""

    def __init__(self, scorer: nn.Module):
        super().__init__()
        self.scorer = scorer

    def forward(self, vectors: torch.Tensor, features: torch.Tensor, title: torch.Tensor) -> torch.Tensor:
        return self.scorer(vectors, features, torch.ones(vectors.shape[:2], dtype=torch.bool), title)


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


def build_models(classifier_path: Path, summarizer_path: Path, backbone: str, out: Path, version: int) -> dict:
    """Export both artifacts on ``backbone`` into ``out``; returns the cache manifest's metadata."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    started = time.perf_counter()
    model, tokenizer, resolved = load_backbone(backbone)
    model.config._attn_implementation = "eager"  # a plain graph; this copy of the model is discarded after
    shared = (model, tokenizer, resolved)
    classifier = TopicClassifier.load(classifier_path, shared_backbone=shared)
    summarizer = Summarizer.load(summarizer_path, shared_backbone=shared)
    layers, hidden_size = model.config.num_hidden_layers, model.config.hidden_size
    ids = torch.full((2, 8), tokenizer.cls_token_id, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    by_token = {0: torch.export.Dim("batch"), 1: torch.export.Dim("seq")}
    names = ["hidden", "attention_mask"]
    lower_layers = sorted({classifier.n_lower, min(summarizer.config.feature_layer, layers)})
    exported = out / "export.onnx"
    export(Embeddings(model), (ids,), exported, ["input_ids"], ["hidden"], {"input_ids": by_token})
    quantize_dynamic(str(exported), str(out / "embeddings.onnx"), op_types_to_quantize=["Gather"])
    hidden = torch.zeros((2, 8, hidden_size))
    for n in lower_layers:
        blocks = Blocks(model.encoder.layer[:n])
        export(
            blocks, (hidden, mask), exported, ["hidden", "attention_mask"], ["states"], dict.fromkeys(names, by_token)
        )
        quantize_dynamic(str(exported), str(out / f"lower-{n}.onnx"), weight_type=QuantType.QInt8, per_channel=True)
        if n == classifier.n_lower:  # the windows the topic head reads: fp32 blocks
            exported.rename(out / f"lower-{n}.topic.onnx")
    exported.unlink(missing_ok=True)
    export(
        TopicLogits(classifier.head),
        (hidden, mask),
        out / "topic-head.onnx",
        ["hidden", "attention_mask"],
        ["logits"],
        {"hidden": by_token, "attention_mask": by_token},
    )
    sentences = {1: torch.export.Dim("sentences")}
    export(
        ArticleScorer(summarizer.scorer),
        (
            torch.zeros((1, 3, hidden_size)),
            torch.zeros((1, 3, feature_count(summarizer.config))),
            torch.zeros((1, hidden_size)),
        ),
        out / "scorer.onnx",
        ["vectors", "features", "title"],
        ["scores"],
        {"vectors": sentences, "features": sentences},
    )
    tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    return {
        "backbone_fingerprint": resolved.fingerprint,
        "backbone_layers": layers,
        "lower_layers": lower_layers,
        "topic_layers": classifier.n_lower,
        "special_ids": {"cls": tokenizer.cls_token_id, "sep": tokenizer.sep_token_id, "pad": tokenizer.pad_token_id},
        "export_version": version,
        "opset": OPSET,
        "build_seconds": round(time.perf_counter() - started, 1),
    }
