"""Summary selection, the short-text path and the optional abstractive backend (tiny random T5)."""

from __future__ import annotations

import numpy as np
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

from service.abstractive import AbstractiveSummarizer
from service.summarizer import Summarizer, position_features, select
from service.text import split_sentences

ARTICLE = (
    "Bupati meresmikan pasar baru di pusat kota pada Senin pagi. "
    "Pasar baru itu menampung lima ratus pedagang dari tiga kecamatan. "
    "Bupati meresmikan pasar baru di pusat kota bersama wakilnya. "
    "Pedagang menyambut gembira karena kios lama sering kebanjiran.\n\n"
    "Pemerintah daerah menyiapkan anggaran perawatan setiap tahun."
)


def test_selection_blocks_repeated_trigrams_and_keeps_article_order():
    sentences = split_sentences(ARTICLE)
    scores = np.array([0.9, 0.5, 0.8, 0.7, 0.1])
    assert select(scores, sentences, max_sentences=3) == [0, 1, 3]  # sentence 2 repeats sentence 0
    assert select(scores, sentences, max_sentences=3, block_trigrams=False) == [0, 2, 3]


def test_word_budget_limits_the_summary():
    sentences = split_sentences(ARTICLE)
    chosen = select(np.array([0.9, 0.5, 0.8, 0.7, 0.1]), sentences, max_sentences=None, max_words=20)
    assert sum(len(sentences[i].text.split()) for i in chosen) <= 20 and chosen


def test_position_features_mark_paragraph_starts():
    sentences = split_sentences(ARTICLE)
    features = position_features(ARTICLE, sentences)
    assert features.shape == (5, 4)
    assert features[:, 2].tolist() == [1.0, 0.0, 0.0, 0.0, 1.0]
    assert features[0, 1] == 1.0 and features[1, 1] == 0.5


def test_lead_and_short_texts_need_no_model():
    summarizer = Summarizer(backbone=None, tokenizer=None, scorer=None, config=None)
    lead = summarizer.summarize([ARTICLE], max_sentences=2, method="lead")[0]
    assert [s.index for s in lead.sentences] == [0, 1]
    assert all(ARTICLE[s.start : s.end] == s.text for s in lead.sentences)
    short = summarizer.summarize(["Satu kalimat saja. Dua kalimat."], max_sentences=3, method="lead")[0]
    assert short.text == "Satu kalimat saja. Dua kalimat." and short.notes


def test_lead_keeps_the_first_sentences_even_when_they_repeat_a_phrase():
    text = (
        "Bupati Sleman meresmikan pasar baru di Godean. Bupati Sleman meresmikan pasar itu bersama warga. "
        "Pedagang menyambut gembira. Pasar dibuka setiap hari."
    )
    summarizer = Summarizer(backbone=None, tokenizer=None, scorer=None, config=None)
    lead = summarizer.summarize([text], max_sentences=2, method="lead")[0]
    assert [s.index for s in lead.sentences] == [0, 1]  # trigram blocking would have skipped sentence 1


def test_abstractive_backend_runs_with_a_tiny_random_t5(tmp_path):
    words = ["<pad>", "</s>", "<unk>", "bupati", "pasar", "baru", "meresmikan", "kota"]
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    config = T5Config(
        vocab_size=len(words),
        d_model=16,
        d_kv=8,
        d_ff=32,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=2,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    torch.manual_seed(0)
    T5ForConditionalGeneration(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    summary = AbstractiveSummarizer(str(tmp_path)).summarize(["bupati meresmikan pasar baru"], max_new_tokens=5)[0]
    assert summary.model == str(tmp_path)
    assert set(summary.text.split()) <= set(words)
