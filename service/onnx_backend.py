"""The ONNX Runtime backend: int8 lower layers, the topic head and the summary scorer, no PyTorch at run time.

On first use the trained models are exported (``service.onnx_export``): the encoder's lower blocks
(the shared pass, most of the work) dynamically quantised to int8, except on the windows the topic
head reads, which run fp32 blocks so topics stay those of PyTorch fp32; the embedding table in
int8; the topic head and the sentence scorer in fp32. Everything is written into
``$WARTA_CACHE/onnx/<key>`` atomically (``service.cache``); the key hashes the backbone
fingerprint, both artifacts' weights and configs and the export format, so retraining a model
builds a new entry. A damaged entry is rebuilt.

Serving then needs only ``onnxruntime``, ``tokenizers`` and numpy: no torch or transformers import,
which is most of the cold start saved.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from service.artifacts import read_config
from service.backbone import resolve_backbone, sha256_file
from service.cache import build_once, cache_root, read_manifest
from service.classifier import HeadLogits, TopicClassifier
from service.encoder import LowerLayers, WindowTokenizer
from service.summarizer import Summarizer, SummarizerConfig

logger = logging.getLogger(__name__)

# Bump when the export or quantisation (service.onnx_export) changes, so old cache entries are not reused.
EXPORT_VERSION = 2
BACKENDS = ("auto", "onnx", "torch")


class OnnxBuildError(RuntimeError):
    """The models could not be exported to ONNX (the message says why)."""


def requested_backend(setting: str | None = None, explicit: str | None = None) -> str:
    """``auto``, ``onnx`` or ``torch``: ``explicit``, else ``WARTA_BACKEND``, else ``setting`` (service.yaml)."""
    choice = (explicit or os.environ.get("WARTA_BACKEND") or setting or "auto").lower()
    if choice not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {choice!r} (WARTA_BACKEND / service.yaml)")
    return choice


def backend_choice(setting: str | None = None, explicit: str | None = None) -> str:
    """``onnx`` or ``torch``: the requested backend with ``auto`` resolved.

    ``auto`` is ONNX Runtime int8 whenever ``onnxruntime`` is installed: measured side by side
    (``training.benchmark_service --compare``) it is faster than PyTorch fp32 and bf16 alike, on
    AVX-512 CPUs with native bf16 too.
    """
    choice = requested_backend(setting, explicit)
    if choice == "auto":
        import importlib.util

        return "onnx" if importlib.util.find_spec("onnxruntime") is not None else "torch"
    return choice


def _digest_files(digest, directory: Path, names: tuple[str, ...]) -> None:
    for name in names:
        path = directory / name
        digest.update(name.encode())
        digest.update(sha256_file(path).encode() if path.exists() else b"-")


def onnx_dir(classifier_path: Path, summarizer_path: Path, fingerprint: str, cache_dir: Path | None = None) -> Path:
    """The cache entry for these two artifacts on this backbone."""
    digest = hashlib.sha256(f"export-v{EXPORT_VERSION}:{fingerprint}".encode())
    for path in (classifier_path, summarizer_path):
        _digest_files(digest, Path(path), ("config.json", "model.safetensors"))
    return (Path(cache_dir) if cache_dir else cache_root()) / "onnx" / digest.hexdigest()[:20]


# ---------------------------------------------------------------- serving (onnxruntime + numpy only)


def _session(path: Path, threads: int | None):
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


def _lower(embeddings, blocks) -> LowerLayers:
    def lower(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        hidden = embeddings.run(None, {"input_ids": input_ids})[0]
        return blocks.run(None, {"hidden": hidden, "attention_mask": attention_mask})[0]

    return lower


def _head(session) -> HeadLogits:
    def logits(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return session.run(None, {"hidden": hidden, "attention_mask": mask})[0]

    return logits


@dataclass
class OnnxScorer:
    """The summary scorer as an ONNX Runtime session, called like ``SentenceScorer.scores``."""

    session: object

    def scores(self, vectors: np.ndarray, features: np.ndarray, title: np.ndarray) -> np.ndarray:
        feeds = {"vectors": vectors[None], "features": features[None], "title": title[None]}
        return self.session.run(None, {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in feeds.items()})[0][0]


def _open(directory: Path, manifest: dict, threads: int | None) -> dict:
    ids = manifest["special_ids"]
    embeddings = _session(directory / "embeddings.onnx", threads)
    return {
        "tokenizer": WindowTokenizer.from_file(directory / "tokenizer.json", ids["cls"], ids["sep"], ids["pad"]),
        "lower": {
            n: _lower(embeddings, _session(directory / f"lower-{n}.onnx", threads)) for n in manifest["lower_layers"]
        },
        "topic_lower": _lower(
            embeddings, _session(directory / f"lower-{manifest['topic_layers']}.topic.onnx", threads)
        ),
        "head": _head(_session(directory / "topic-head.onnx", threads)),
        "scorer": OnnxScorer(_session(directory / "scorer.onnx", threads)),
    }


def load_onnx_models(
    classifier_path: Path,
    summarizer_path: Path,
    backbone: str | None = None,
    cache_dir: Path | None = None,
    threads: int | None = None,
    independent_batches: bool = False,
) -> tuple[TopicClassifier, Summarizer]:
    """Both models run by ONNX Runtime, exporting them into the cache on first use; with
    ``independent_batches`` each article's windows are batched alone (``encoder.window_batches``)."""
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

    def build(tmp: Path) -> dict:
        logger.info("exporting the models to ONNX (int8) into %s; this happens once per model version", target)
        try:
            from service.onnx_export import build_models

            return build_models(classifier_path, summarizer_path, resolved.spec, tmp, EXPORT_VERSION)
        except Exception as error:  # noqa: BLE001 - any exporter failure means: no ONNX for these models
            raise OnnxBuildError(f"ONNX export failed: {type(error).__name__}: {error}") from error

    target.parent.mkdir(parents=True, exist_ok=True)
    for attempt in (1, 2):
        build_once(target, build)
        manifest = read_manifest(target)
        try:
            parts = _open(target, manifest, threads)
            break
        except Exception as error:  # noqa: BLE001 - a damaged file of the right size: rebuild it once
            if attempt == 2:
                raise OnnxBuildError(f"cannot load the ONNX models in {target}: {error}") from error
            logger.warning("ONNX cache entry %s is damaged (%s); rebuilding it", target, error)
            shutil.rmtree(target, ignore_errors=True)
    classifier_layers = manifest["backbone_layers"] - config.trainable_layers
    classifier = TopicClassifier(
        parts["tokenizer"], config, parts["lower"][classifier_layers], parts["head"], classifier_layers, resolved,
        lexical, lead_lower=parts["topic_lower"], by_document=independent_batches,
    )  # fmt: skip
    summary_layers = min(summary_config.feature_layer, manifest["backbone_layers"])
    summarizer = Summarizer(
        parts["tokenizer"], parts["scorer"], summary_config, parts["lower"][summary_layers], independent_batches
    )
    return classifier, summarizer


def main(argv: list[str] | None = None) -> None:
    """Build (if missing) the ONNX entry of the models configured in ``configs/service.yaml``."""
    import argparse

    import yaml

    from service.labels import CONFIG_DIR

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--config", type=Path, default=CONFIG_DIR / "service.yaml")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = yaml.safe_load(args.config.read_text()) or {}
    if backend_choice(settings.get("backend")) != "onnx":
        print("backend is torch: nothing to build")
        return
    root = CONFIG_DIR.parent

    def resolve(key: str) -> Path:
        path = Path(settings[key])
        return path if path.is_absolute() else root / path

    classifier, _ = load_onnx_models(
        resolve("classifier_dir"), resolve("summarizer_dir"), settings.get("backbone"), settings.get("cache_dir")
    )
    print(onnx_dir(resolve("classifier_dir"), resolve("summarizer_dir"), classifier.resolved.fingerprint,
                   settings.get("cache_dir")))  # fmt: skip


if __name__ == "__main__":
    main()
