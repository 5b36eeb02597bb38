"""Both trained heads as ONNX graphs: exported once into the cache, run by ONNX Runtime or OpenVINO (no PyTorch).

On first use the trained models are exported (``build``): the encoder's lower blocks (most of the
work) dynamically quantised to int8, except on the windows a topic head over lower-layer states reads,
which run fp32 blocks (int8 alone moved the top topic on 1.5 % of validation articles with the
two-layer head); the embedding table in int8; the topic head in fp32 and in int8 (``topic_precision``
chooses; a topic encoder trained whole is all head: its windows run the embeddings and the head
alone); the sentence scorer in fp32; for OpenVINO, the lower blocks in fp32 and with int8 weights
(``export.int8_weights``). Everything is written into ``$WARTA_CACHE/onnx/<key>`` atomically
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
from pathlib import Path

import numpy as np

from service.backbone.artifacts import ARTIFACT_FILES, digest_files, read_config
from service.backbone.cache import cache_root, load_or_rebuild, read_manifest
from service.backbone.resolve import resolve_backbone
from service.engines.backend import ENGINES, package_versions
from service.engines.encoder import WindowTokenizer
from service.engines.onnx import lower_layers, session, states_function
from service.models.summaries.features import SummarizerConfig
from service.models.summaries.summarizer import Summarizer, shared_topic_layers
from service.models.topics.classifier import TopicClassifier

logger = logging.getLogger(__name__)

# Bump when the export or quantisation changes, so old cache entries are not reused.
EXPORT_VERSION = 5
# Packages whose version changes what the export writes or how it loads: part of the cache key.
KEY_PACKAGES = ("onnxruntime", "onnx", "torch")


class OnnxBuildError(RuntimeError):
    """The models could not be exported to ONNX (the message says why)."""


def onnx_dir(
    classifier_path: Path,
    summarizer_path: Path,
    fingerprint: str,
    cache_dir: Path | None = None,
    versions: dict[str, str] | None = None,
) -> Path:
    """The cache entry for these two artifacts on this backbone with these package versions
    (default: the installed ones, ``package_versions(KEY_PACKAGES)``)."""
    digest = hashlib.sha256(f"export-v{EXPORT_VERSION}:{fingerprint}".encode())
    digest.update(json.dumps(package_versions(KEY_PACKAGES) if versions is None else versions, sort_keys=True).encode())
    for path in (classifier_path, summarizer_path):
        digest_files(digest, path, ARTIFACT_FILES)
    return (Path(cache_dir) if cache_dir else cache_root()) / "onnx" / digest.hexdigest()[:20]


# ---------------------------------------------------------------- export (PyTorch, once per entry)


def build(classifier_path: Path, summarizer_path: Path, backbone: str, out: Path, cut: int | None) -> dict:
    """Export both artifacts on ``backbone`` into ``out``; returns the cache manifest's metadata. ``cut``: where the
    topic encoder is cut for the summariser (``shared_topic_layers``, decided once by the caller), None for no cut:
    required, so that no caller exports an uncut encoder for a summariser that reads its lower layers."""
    import torch

    from service.backbone.resolve import load_backbone
    from service.engines.export import (
        OPSET,
        export,
        export_blocks,
        export_embeddings,
        export_states_graph,
        int8_weights,
        quantise,
    )
    from service.models.summaries.features import feature_count
    from service.models.summaries.scorer import ArticleScorer
    from service.models.topics.head import ExportedHead

    started = time.perf_counter()
    model, tokenizer, resolved = load_backbone(backbone)
    model.config._attn_implementation = "eager"  # a plain graph; this copy of the model is discarded after
    # Exported from the fp32 weights, whatever engine asked for the export. A topic encoder trained whole whose
    # states the summariser was trained on is cut there: its lower layers are the blocks both read.
    classifier = TopicClassifier.load(
        classifier_path, shared_backbone=(model, tokenizer, resolved), precision="fp32", shared_layers=cut
    )
    model = classifier.backbone  # the backbone, or its copy carrying the topic encoder's lower layers
    summarizer = Summarizer.load(summarizer_path, shared_backbone=(model, tokenizer, resolved), precision="fp32")
    layers, hidden_size = model.config.num_hidden_layers, model.config.hidden_size
    # A topic encoder trained whole (n_lower 0) reads the embeddings: no lower blocks of its own.
    lower = sorted(n for n in {classifier.n_lower, min(summarizer.config.feature_layer, layers)} if n > 0)
    export_embeddings(model, tokenizer.cls_token_id, out / "embeddings.onnx")
    for n in lower:  # int8 for ONNX Runtime; fp32 for its topic windows and OpenVINO; int8 weights for OpenVINO
        export_blocks(model, n, out / f"lower-{n}.onnx", out / f"lower-{n}.fp32.onnx")
        int8_weights(out / f"lower-{n}.fp32.onnx", out / f"lower-{n}.int8w.onnx")
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


GRAPH_ENGINES = tuple(e for e in ENGINES if not e.startswith("torch-"))  # the engines that run these graphs


def _open(
    directory: Path,
    manifest: dict,
    threads: int | None,
    topic_precision: str = "fp32",
    engine: str = "onnx-int8",
    compiled_cache: Path | None = None,
) -> dict:
    """The graphs of a cache entry as numpy functions, run by ``engine``: ONNX Runtime (the lower blocks in int8
    but the topic windows' in fp32, the topic head as ``topic_precision`` says) or OpenVINO (every graph in fp32
    or bf16 from the fp32 files, or for ``openvino-int8`` the lower blocks with int8 weights and the rest in fp32;
    compiled copies kept in ``compiled_cache/<precision>``)."""
    ids = manifest["special_ids"]
    precision = engine.split("-")[1]
    if engine == "onnx-int8":
        blocks, topic_blocks = ".onnx", ".fp32.onnx"
        head = "topic-head.int8.onnx" if topic_precision == "int8" else "topic-head.onnx"

        def start(path: Path):
            return session(path, threads)
    else:
        from service.engines.openvino import OpenVinoSession

        blocks = topic_blocks = ".int8w.onnx" if precision == "int8" else ".fp32.onnx"  # int8: weights only
        head, hint = "topic-head.onnx", "fp32" if precision == "int8" else precision
        # A cache of its own per precision: compiled graphs of one precision were seen loaded for another.
        cache = compiled_cache / hint if compiled_cache else None

        def start(path: Path):
            return OpenVinoSession(path, threads, hint, cache)

    sessions: dict[str, object] = {}

    def opened(name: str):  # one session per graph file, however often it is asked for
        if name not in sessions:
            sessions[name] = start(directory / name)
        return sessions[name]

    embeddings = opened("embeddings.onnx")
    n_topic = manifest["topic_layers"]
    return {
        "tokenizer": WindowTokenizer.from_file(directory / "tokenizer.json", ids["cls"], ids["sep"], ids["pad"]),
        "lower": {n: lower_layers(embeddings, opened(f"lower-{n}{blocks}")) for n in manifest["lower_layers"]},
        "topic_lower": lower_layers(embeddings, opened(f"lower-{n_topic}{topic_blocks}") if n_topic else None),
        "head": states_function(opened(head)),
        "scorer": OnnxScorer(opened("scorer.onnx")),
    }


def load_onnx_models(
    classifier_path: Path,
    summarizer_path: Path,
    backbone: str | None = None,
    cache_dir: Path | None = None,
    threads: int | None = None,
    batching: str = "length",
    topic_precision: str = "fp32",
    engine: str = "onnx-int8",
) -> tuple[TopicClassifier, Summarizer]:
    """Both models as ONNX graphs run by ``engine`` (``GRAPH_ENGINES``: ONNX Runtime int8, OpenVINO fp32 or
    bf16), exporting them into the cache on first use; ``batching``: how windows are batched
    (``encoder.BATCHINGS``). ``topic_precision``: ONNX Runtime's topic head graph, ``int8``
    (dynamically quantised) or ``fp32``."""
    if topic_precision not in ("int8", "fp32"):
        raise ValueError(f"topic_precision must be int8 or fp32, not {topic_precision!r}")
    if engine not in GRAPH_ENGINES:
        raise ValueError(f"engine must be one of {', '.join(GRAPH_ENGINES)}, not {engine!r}")
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
    cut = shared_topic_layers(summarizer_path, classifier_path)  # refuses a summariser of another topic encoder
    target = onnx_dir(classifier_path, summarizer_path, resolved.fingerprint, cache_dir)

    def build_entry(tmp: Path) -> dict:
        logger.info("exporting the models to ONNX (int8) into %s: about 30 s, once per model version", target)
        try:
            return build(classifier_path, summarizer_path, resolved.spec, tmp, cut)
        except Exception as error:  # noqa: BLE001 - any exporter failure means: no ONNX for these models
            raise OnnxBuildError(f"ONNX export failed: {type(error).__name__}: {error}") from error

    def open_entry(entry: Path) -> tuple[dict, dict]:
        manifest = read_manifest(entry)
        compiled = (Path(cache_dir) if cache_dir else cache_root()) / "openvino"
        return manifest, _open(entry, manifest, threads, topic_precision, engine, compiled)

    target.parent.mkdir(parents=True, exist_ok=True)
    try:  # a damaged file of the right size fails to open: the entry is rebuilt once, under the build lock
        manifest, parts = load_or_rebuild(target, build_entry, open_entry)
    except OnnxBuildError:
        raise
    except Exception as error:  # noqa: BLE001 - any loader failure after a rebuild: no ONNX for these models
        raise OnnxBuildError(f"cannot load the ONNX models in {target}: {error}") from error
    classifier_layers = manifest["topic_layers"]
    # A topic encoder trained whole and not cut has no lower blocks: every window it reads is its own pass.
    classifier_lower = parts["lower"].get(classifier_layers, parts["topic_lower"])
    classifier = TopicClassifier(
        parts["tokenizer"], config, classifier_lower, parts["head"], classifier_layers, resolved,
        lexical, lead_lower=parts["topic_lower"], batching=batching,
    )  # fmt: skip
    summary_layers = min(summary_config.feature_layer, manifest["backbone_layers"])
    summarizer = Summarizer(
        parts["tokenizer"], parts["scorer"], summary_config, parts["lower"][summary_layers], batching
    )
    return classifier, summarizer
