"""The shared lower-layer pass: windows cover the whole text and sentence pooling is exact."""

from __future__ import annotations

import numpy as np

from service.backbone.resolve import load_backbone
from service.engines.encoder import encode_documents, sentence_vectors, tokenize_windows
from service.engines.pytorch import torch_lower


def test_windows_cover_every_token_with_char_offsets(tiny_bert_dir):
    _, tokenizer, _ = load_backbone(str(tiny_bert_dir))
    text = "bupati meresmikan pasar baru di sleman " * 4
    windows, offsets = tokenize_windows(tokenizer, text, window=8)
    assert all(len(w) <= 8 and w[0] == tokenizer.cls_token_id and w[-1] == tokenizer.sep_token_id for w in windows)
    assert sum(len(w) - 2 for w in windows) == 24  # nothing dropped
    flat = [span for spans in offsets for span in spans]
    assert [text[s:e] for s, e in flat[:3]] == ["bupati", "meresmikan", "pasar"]


def test_sentence_vectors_average_their_own_tokens(tiny_bert_dir):
    model, tokenizer, _ = load_backbone(str(tiny_bert_dir))
    text = "bupati meresmikan pasar. timnas menang gol."
    doc = encode_documents(torch_lower(model, 2), tokenizer, [text], window=16)[0]
    assert len(doc.states) == 1 and doc.states[0].shape[0] == len(doc.windows[0])
    vectors = sentence_vectors(doc, [0, 25], [24, 43])
    # tokens: CLS bupati meresmikan pasar [UNK] timnas menang gol [UNK] SEP ("." is unknown)
    states = doc.states[0]
    np.testing.assert_allclose(vectors[0], states[1:5].mean(0), atol=1e-5)
    np.testing.assert_allclose(vectors[1], states[5:9].mean(0), atol=1e-5)
