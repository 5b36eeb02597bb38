"""Both trained heads on ONNX Runtime: exported once into the cache, loaded back with no PyTorch at run time.

On first use the trained models are exported (``build``): the encoder's lower blocks (most of the
work) dynamically quantised to int8, except on the windows a topic head over lower-layer states reads,
which run fp32 blocks (int8 alone moved the top topic on 1.5 % of validation articles with the
two-layer head); the embedding table in int8; the topic head in fp32 and in int8 (``topic_precision``
chooses; a topic encoder trained whole is all head: its windows run the embeddings and the head
alone); the sentence scorer in fp32. Everything is written into ``$WARTA_CACHE/onnx/<key>`` atomically
(``service.backbone.cache``); the key hashes the backbone fingerprint, both artifacts' weights and
configs, the export format and the onnxruntime, onnx and torch versions, so retraining a model or
upgrading one of those packages builds a new entry. A damaged entry is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from service.backbone.artifacts import ARTIFACT_FILES, digest_files, read_config
from service.backbone.cache import cache_root, load_or_rebuild, read_manifest
from service.backbone.resolve import resolve_backbone
from service.engines.encoder import WindowTokenizer
from service.engines.onnx import lower_layers, session, states_function
from service.models.summaries.features import SummarizerConfig
from service.models.summaries.summarizer import Summarizer
from service.models.topics.classifier import TopicClassifier

logger = logging.getLogger(__name__)

# Bump when the export or quantisation changes, so old cache entries are not reused.
EXPORT_VERSION = 3
# Packages whose version changes what the export writes or how it loads: part of the cache key.
KEY_PACKAGES = ("onnxruntime", "onnx", "torch")


class OnnxBuildError(RuntimeError):
    """The models could not be exported to ONNX (the message says why)."""


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str]:
    """Installed versions from package metadata (no package is imported); "-" for one not installed."""
    versions = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "-"
    return versions


def onnx_dir(
    classifier_path: Path,
    summarizer_path: Path,
    fingerprint: str,
    cache_dir: Path | None = None,
    versions: dict[str, str] | None = None,
) -> Path:
    """The cache entry for these two artifacts on this backbone with these package versions
    (default: the installed ones, ``package_versions()``)."""
    digest = hashlib.sha256(f"export-v{EXPORT_VERSION}:{fingerprint}".encode())
    digest.update(json.dumps(package_versions() if versions is None else versions, sort_keys=True).encode())
    for path in (classifier_path, summarizer_path):
        digest_files(digest, path, ARTIFACT_FILES)
    return (Path(cache_dir) if cache_dir else cache_root()) / "onnx" / digest.hexdigest()[:20]


# ---------------------------------------------------------------- export (PyTorch, once per entry)


def build(classifier_path: Path, summarizer_path: Path, backbone: str, out: Path) -> dict:
    """Export both artifacts on ``backbone`` into ``out``; returns the cache manifest's metadata."""
    import torch

    from service.backbone.resolve import load_backbone
    from service.engines.export import (
        OPSET,
        export,
        export_blocks,
        export_embeddings,
        export_states_graph,
        quantise,
    )
    from service.models.summaries.features import feature_count
    from service.models.summaries.scorer import ArticleScorer
    from service.models.topics.head import ExportedHead

    started = time.perf_counter()
    model, tokenizer, resolved = load_backbone(backbone)
    model.config._attn_implementation = "eager"  # a plain graph; this copy of the model is discarded after
    shared = (model, tokenizer, resolved)
    classifier = TopicClassifier.load(classifier_path, shared_backbone=shared)
    summarizer = Summarizer.load(summarizer_path, shared_backbone=shared)
    layers, hidden_size = model.config.num_hidden_layers, model.config.hidden_size
    # A topic encoder trained whole (n_lower 0) reads the embeddings: no lower blocks of its own.
    lower = sorted(n for n in {classifier.n_lower, min(summarizer.config.feature_layer, layers)} if n > 0)
    export_embeddings(model, tokenizer.cls_token_id, out / "embeddings.onnx")
    for n in lower:  # the windows the topic head reads also get fp32 blocks
        topic = out / f"lower-{n}.topic.onnx" if n == classifier.n_lower else None
        export_blocks(model, n, out / f"lower-{n}.onnx", topic)
    export_states_graph(ExportedHead(classifier.head), hidden_size, out / "topic-head.onnx", "logits")
    quantise(out / "topic-head.onnx", out / "topic-head.int8.onnx")
    sentences = {1: torch.export.Dim("sentences")}
    example = (
        torch.zeros((1, 3, hidden_size)),
        torch.zeros((1, 3, feature_count(summarizer.config))),
        torch.zeros((1, hidden_size)),
    )
    names = ["vectors", "features", "title"]
    export(
        ArticleScorer(summarizer.scorer),
        example,
        out / "scorer.onnx",
        names,
        ["scores"],
        dict.fromkeys(names[:2], sentences),
    )
    tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    return {
        "backbone_fingerprint": resolved.fingerprint,
        "backbone_layers": layers,
        "lower_layers": lower,
        "topic_layers": classifier.n_lower,
        "special_ids": {"cls": tokenizer.cls_token_id, "sep": tokenizer.sep_token_id, "pad": tokenizer.pad_token_id},
        "export_version": EXPORT_VERSION,
        "opset": OPSET,
        "build_seconds": round(time.perf_counter() - started, 1),
    }


# ---------------------------------------------------------------- serving (onnxruntime + numpy only)


@dataclass
class OnnxScorer:
    """The summary scorer as an ONNX Runtime session, called like ``SentenceScorer.scores``."""

    session: object

    def scores(self, vectors: np.ndarray, features: np.ndarray, title: np.ndarray) -> np.ndarray:
        feeds = {"vectors": vectors[None], "features": features[None], "title": title[None]}
        return self.session.run(None, {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in feeds.items()})[0][0]


def _open(directory: Path, manifest: dict, threads: int | None, topic_precision: str = "fp32") -> dict:
    ids = manifest["special_ids"]
    embeddings = session(directory / "embeddings.onnx", threads)
    n_topic = manifest["topic_layers"]
    topic_blocks = session(directory / f"lower-{n_topic}.topic.onnx", threads) if n_topic else None
    head = "topic-head.int8.onnx" if topic_precision == "int8" else "topic-head.onnx"
    return {
        "tokenizer": WindowTokenizer.from_file(directory / "tokenizer.json", ids["cls"], ids["sep"], ids["pad"]),
        "lower": {
            n: lower_layers(embeddings, session(directory / f"lower-{n}.onnx", threads))
            for n in manifest["lower_layers"]
        },
        "topic_lower": lower_layers(embeddings, topic_blocks),
        "head": states_function(session(directory / head, threads)),
        "scorer": OnnxScorer(session(directory / "scorer.onnx", threads)),
    }


def load_onnx_models(
    classifier_path: Path,
    summarizer_path: Path,
    backbone: str | None = None,
    cache_dir: Path | None = None,
    threads: int | None = None,
    independent_batches: bool = False,
    topic_precision: str = "fp32",
) -> tuple[TopicClassifier, Summarizer]:
    """Both models run by ONNX Runtime, exporting them into the cache on first use; with
    ``independent_batches`` each article's windows are batched alone (``encoder.window_batches``).
    ``topic_precision``: the topic head's graph, ``int8`` (dynamically quantised) or ``fp32``."""
    if topic_precision not in ("int8", "fp32"):
        raise ValueError(f"topic_precision must be int8 or fp32, not {topic_precision!r}")
    classifier_path, summarizer_path = Path(classifier_path), Path(summarizer_path)
    config, lexical = TopicClassifier.read(classifier_path)
    summary_config = SummarizerConfig(**read_config(summarizer_path, "summariser"))
    resolved = resolve_backbone(backbone or config.backbone, cache_dir)
    for kind, trained_on in (("topic classifier", config), ("summariser", summary_config)):
        if trained_on.backbone_fingerprint != resolved.fingerprint:
            raise OnnxBuildError(
                f"The {kind} was trained on backbone {trained_on.backbone_fingerprint}, "
                f"but {resolved.spec!r} resolves to {resolved.fingerprint}. Use the same backbone or retrain."
            )
    target = onnx_dir(classifier_path, summarizer_path, resolved.fingerprint, cache_dir)

    def build_entry(tmp: Path) -> dict:
        logger.info("exporting the models to ONNX (int8) into %s: about 30 s, once per model version", target)
        try:
            return build(classifier_path, summarizer_path, resolved.spec, tmp)
        except Exception as error:  # noqa: BLE001 - any exporter failure means: no ONNX for these models
            raise OnnxBuildError(f"ONNX export failed: {type(error).__name__}: {error}") from error

    def open_entry(entry: Path) -> tuple[dict, dict]:
        manifest = read_manifest(entry)
        return manifest, _open(entry, manifest, threads, topic_precision)

    target.parent.mkdir(parents=True, exist_ok=True)
    try:  # a damaged file of the right size fails to open: the entry is rebuilt once, under the build lock
        manifest, parts = load_or_rebuild(target, build_entry, open_entry)
    except OnnxBuildError:
        raise
    except Exception as error:  # noqa: BLE001 - any loader failure after a rebuild: no ONNX for these models
        raise OnnxBuildError(f"cannot load the ONNX models in {target}: {error}") from error
    classifier_layers = manifest["backbone_layers"] - config.trainable_layers
    # A topic encoder trained whole has no lower blocks: every window it reads is its own pass.
    classifier_lower = parts["lower"].get(classifier_layers, parts["topic_lower"])
    classifier = TopicClassifier(
        parts["tokenizer"], config, classifier_lower, parts["head"], classifier_layers, resolved,
        lexical, lead_lower=parts["topic_lower"], by_document=independent_batches,
    )  # fmt: skip
    summary_layers = min(summary_config.feature_layer, manifest["backbone_layers"])
    summarizer = Summarizer(
        parts["tokenizer"], parts["scorer"], summary_config, parts["lower"][summary_layers], independent_batches
    )
    return classifier, summarizer
