"""``save_pretrained``-style artifact directories for task heads trained on a backbone.

Each holds ``config.json`` (with the backbone spec and the fingerprint it was trained on) and
``model.safetensors`` (fp16). Loading refuses a backbone whose weights differ from training.
"""

from __future__ import annotations

import json
from pathlib import Path

from service.backbone.resolve import BackboneError, load_backbone, sha256_file

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
ARTIFACT_FILES = (CONFIG_NAME, WEIGHTS_NAME)  # what every artifact holds; a head may add its own files


def digest_files(digest, directory: Path, names: tuple[str, ...]) -> None:
    """Feed ``digest`` (a hashlib object) each name and its file's sha256 ("-" for a missing file)."""
    for name in names:
        path = Path(directory) / name
        digest.update(name.encode())
        digest.update(sha256_file(path).encode() if path.exists() else b"-")


def encoder_digest(path: str | Path) -> str:
    """Names the fine-tuned weights of an artifact (its weights file): a summariser trained on the states of a
    topic encoder trained whole records the encoder's, and loads only beside it."""
    return sha256_file(Path(path) / WEIGHTS_NAME)[:16]


def read_config(path: Path, kind: str) -> dict:
    if not (path / CONFIG_NAME).exists():
        raise FileNotFoundError(f"No {kind} at {path} (missing {CONFIG_NAME}); train one first.")
    return json.loads((path / CONFIG_NAME).read_text())


def load_trained_backbone(
    path: Path, kind: str, config: dict, backbone: str | None, cache_dir: Path | None, shared: tuple | None = None
):
    """The backbone an artifact was trained on: ``(model, tokenizer, resolved)``.

    ``shared`` is an already loaded ``(model, tokenizer, resolved)`` to reuse (one copy in memory).
    """
    model, tokenizer, resolved = shared or load_backbone(backbone or config["backbone"], cache_dir)
    if resolved.fingerprint != config["backbone_fingerprint"]:
        raise BackboneError(
            f"The {kind} in {path} was trained on backbone {config['backbone_fingerprint']}, "
            f"but {resolved.spec!r} resolves to {resolved.fingerprint}. Use the same backbone or retrain."
        )
    return model, tokenizer, resolved


def load_state(path: Path) -> dict:
    """The artifact's tensors by name, in fp32."""
    from safetensors.torch import load_file

    return {k: v.float() for k, v in load_file(str(path / WEIGHTS_NAME)).items()}


def load_weights(module, path: Path):
    """``module`` (a torch ``nn.Module``) with the artifact's weights, in eval mode."""
    module.load_state_dict(load_state(path))
    return module.eval()


def save_artifact(path: str | Path, module, config: dict, state: dict | None = None) -> None:
    """Write ``module``'s weights (or ``state``, tensors by name) in fp16 and ``config`` as a
    ``save_pretrained``-style directory."""
    import torch
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = module.state_dict() if state is None else state
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in state.items()}
    save_file(state, str(path / WEIGHTS_NAME), metadata={"format": "pt"})
    (path / CONFIG_NAME).write_text(json.dumps(config, indent=2, ensure_ascii=False))
