"""Backbone specs: the e5 cache, local directories and unresolvable ids."""

from __future__ import annotations

import pytest
import torch
from transformers import BertModel

from service.backbone.cache import MANIFEST_NAME, read_manifest
from service.backbone.resolve import (
    DEFAULT_BACKBONE,
    BackboneError,
    build_e5_small,
    load_backbone,
    resolve_backbone,
)
from service.config import load_labels
from tests.conftest import make_tiny_bert
from tests.embedding import embed_texts


def test_taxonomy_is_the_contract():
    labels = load_labels()
    assert [label.key for label in labels] == [
        "governance",
        "economy",
        "health",
        "education",
        "law",
        "sport",
        "technology",
        "automotive",
        "entertainment",
        "lifestyle",
        "world",
    ]
    assert labels[0].name == "Pemerintahan & Politik"
    assert all(label.scope and label.iptc.startswith("medtop:") for label in labels)


def test_local_directory_spec_loads_unchanged(tiny_bert_dir):
    model, tokenizer, resolved = load_backbone(str(tiny_bert_dir))
    assert resolved.name_or_path == str(tiny_bert_dir)
    assert resolved.fingerprint.startswith("sha256:")
    assert model.config.hidden_size == 16
    vectors = embed_texts(model, tokenizer, ["bupati meresmikan pasar baru di sleman " * 5, "pasar"])
    assert vectors.shape == (2, 16)
    # 30 words do not fit the 16-position window: windowing must kick in, not crash.
    assert resolve_backbone(str(tiny_bert_dir)).fingerprint == resolved.fingerprint


def test_fingerprint_changes_with_weights(tiny_bert_dir):
    before = resolve_backbone(str(tiny_bert_dir)).fingerprint
    model = BertModel.from_pretrained(tiny_bert_dir)
    with torch.no_grad():
        model.embeddings.word_embeddings.weight[4] += 1.0
    model.save_pretrained(tiny_bert_dir)
    assert resolve_backbone(str(tiny_bert_dir)).fingerprint != before


def test_same_name_different_weights_different_fingerprints(tmp_path):
    first, second = make_tiny_bert(tmp_path / "a" / "bert", seed=0), make_tiny_bert(tmp_path / "b" / "bert", seed=1)
    assert resolve_backbone(str(first)).fingerprint != resolve_backbone(str(second)).fingerprint


def _hub_cache(root, seed: int):
    """A Hugging Face hub cache holding ``tiny-org/tiny-bert`` (revision main), laid out as the hub client does."""
    repo = root / "models--tiny-org--tiny-bert"
    commit = f"{seed:040x}"
    make_tiny_bert(repo / "snapshots" / commit, seed=seed)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return repo / "snapshots" / commit


def test_hub_id_is_fingerprinted_by_its_cached_files(tmp_path, monkeypatch, caplog):
    from huggingface_hub import constants

    fingerprints = []
    for seed in (0, 1):  # two checkpoints published under one name
        snapshot = _hub_cache(tmp_path / f"hub-{seed}", seed)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / f"hub-{seed}"))
        fingerprints.append(resolve_backbone("tiny-org/tiny-bert").fingerprint)
        assert fingerprints[-1] == resolve_backbone(str(snapshot)).fingerprint  # the same files as a directory
    assert fingerprints[0] != fingerprints[1] and fingerprints[0].startswith("sha256:")

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    with caplog.at_level("WARNING", logger="service.backbone.resolve"):
        assert resolve_backbone("tiny-org/tiny-bert").fingerprint == "hub:tiny-org/tiny-bert"  # not cached: the name
    assert "not in the local Hugging Face cache" in caplog.text


def test_unresolvable_spec_has_a_clear_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackboneError) as caught:
        load_backbone("no-such-org/no-such-model-xyz")
    message = str(caught.value)
    assert "no-such-org/no-such-model-xyz" in message
    assert "local" in message and DEFAULT_BACKBONE in message
    assert "Traceback" not in message


def test_directory_without_config_is_rejected(tmp_path):
    with pytest.raises(BackboneError, match="config.json"):
        resolve_backbone(str(tmp_path))


def test_e5_cache_detects_damage_and_rebuilds(tmp_path):
    target = build_e5_small(tmp_path)
    manifest = read_manifest(target)
    assert manifest is not None and manifest["source_sha256"]
    weights = target / "model.safetensors"
    size = weights.stat().st_size
    with open(weights, "r+b") as handle:  # a crash mid-copy leaves a short file
        handle.truncate(size // 3)
    assert read_manifest(target) is None
    rebuilt = build_e5_small(tmp_path)
    assert rebuilt == target and weights.stat().st_size == size
    assert read_manifest(target) is not None
    (target / MANIFEST_NAME).unlink()  # an entry without a manifest was never finished
    build_e5_small(tmp_path)
    model, _, _ = load_backbone(DEFAULT_BACKBONE, cache_dir=tmp_path)
    assert model.config.num_hidden_layers == 12 and model.config.hidden_size == 384
