"""Summary selection, the lead path, the length options and the short-text path."""

from __future__ import annotations

import re

import numpy as np
import pytest

from service.engines.encoder import EncodedDocument
from service.models.summaries.features import SummarizerConfig, feature_count, position_features
from service.models.summaries.summarizer import (
    Summarizer,
    is_summary_sentence,
    rank_unread_last,
    read_count,
    select,
)
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
    summarizer = Summarizer()
    lead = summarizer.summarize([ARTICLE], max_sentences=2, method="lead")[0]
    assert [s.index for s in lead.sentences] == [0, 1]
    assert all(ARTICLE[s.start : s.end] == s.text for s in lead.sentences)
    short_text = "Satu kalimat saja di sini. Dua kalimat juga di sini."
    short = summarizer.summarize([short_text], max_sentences=3, method="lead")[0]
    assert short.text == short_text and short.notes


def test_lead_keeps_the_first_sentences_even_when_they_repeat_a_phrase():
    text = (
        "Bupati Sleman meresmikan pasar baru di Godean. Bupati Sleman meresmikan pasar itu bersama warga. "
        "Pedagang menyambut gembira. Pasar dibuka setiap hari."
    )
    summarizer = Summarizer()
    lead = summarizer.summarize([text], max_sentences=2, method="lead")[0]
    assert [s.index for s in lead.sentences] == [0, 1]  # trigram blocking would have skipped sentence 1


def test_ratio_sets_the_length_as_a_share_of_the_sentences():
    text = " ".join(f"Kalimat nomor {i} berisi kabar yang berbeda dari yang lain." for i in range(10))
    summarizer = Summarizer()
    assert len(summarizer.summarize([text], method="lead", ratio=0.3)[0].sentences) == 3
    assert len(summarizer.summarize([text], method="lead", ratio=0.01)[0].sentences) == 1  # at least one
    assert len(summarizer.summarize([text], method="lead", ratio=0.25)[0].sentences) == 3  # rounded up
    for bad in (0, -0.5, 1.5):
        with pytest.raises(ValueError, match="ratio"):
            summarizer.summarize([text], method="lead", ratio=bad)


# Shaped like a scraped detik page (written for this test): dateline on its own lines, a table of
# contents, link texts cut onto their own lines, a section heading, a list lead-in.
SCRAPED = (
    "Daftar Isi\nSyarat Ikut Program Pemutihan\nCara Daftar Lewat Aplikasi\nJakarta\n-\n"
    "Pemerintah Provinsi Jawa Tengah\nmemperpanjang program pemutihan pajak kendaraan hingga akhir bulan.\n"
    "Kepala Bapenda menyebut ribuan warga sudah mendaftar sejak pekan lalu.\n"
    "Syarat Ikut Program Pemutihan\n"
    "Warga cukup membawa KTP dan STNK ke kantor Samsat terdekat.\n"
    "Cara Daftar Lewat Aplikasi:\n"
    "Unduh aplikasi Samsat digital lalu isi nomor polisi kendaraan.\n"
    "Budi Santoso\n"
    "Petugas melayani warga hingga pukul empat sore setiap hari kerja.\n(abc/def)\npemutihan pajak\nsamsat"
)


@pytest.mark.parametrize("method", ["lead"])
@pytest.mark.parametrize("ratio", [None, 1.0])
def test_summaries_hold_sentences_never_headings_or_fragments(method, ratio):
    from service.analyzer import prepare_article

    text = prepare_article(SCRAPED).text
    summarizer = Summarizer()
    summary = summarizer.summarize([text], max_sentences=None if ratio else 5, method=method, ratio=ratio)[0]
    assert summary.sentences[0].text == (
        "Pemerintah Provinsi Jawa Tengah memperpanjang program pemutihan pajak kendaraan hingga akhir bulan."
    )
    for sentence in summary.sentences:
        assert len(sentence.text.split()) > 3, sentence.text
        assert sentence.text.endswith("."), sentence.text
    assert "Syarat Ikut Program Pemutihan" not in summary.text and "Budi Santoso" not in summary.text


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Warga antre di kantor Samsat sejak pagi.", True),
        ("Jakarta", False),
        ("Luna Maya", False),
        ("Harga naik lagi.", False),  # three words
        ("Syarat Pemutihan Pajak Kendaraan Bermotor di Jawa Barat", False),  # a heading on its own line
        ("Berikut cara mendaftar lelang KPK:", False),  # a lead-in to a list
        ("warga yang datang terlambat tetap dilayani petugas", True),  # no stop, but not a heading
    ],
)
def test_what_may_stand_in_a_summary(text, expected):
    sentence = split_sentences(text)[0]
    assert is_summary_sentence(text, sentence) is expected


def test_a_text_of_headings_only_gets_an_empty_summary_with_a_note():
    summarizer = Summarizer()
    summary = summarizer.summarize(["Jadwal Liga Inggris Pekan Ini\nHasil Pertandingan Semalam"], method="lead")[0]
    assert summary.sentences == [] and "no complete sentence" in summary.notes[0]


def test_sentences_read_stop_at_the_last_token_read():
    text = "Satu dua tiga empat. Lima enam tujuh delapan. Sembilan sepuluh sebelas dua belas."
    sentences = split_sentences(text)
    spans = [(m.start(), m.end()) for m in re.finditer(r"\w+|\.", text)]
    whole = EncodedDocument(windows=[[0] * 9, [0] * 9], offsets=[spans[:7], spans[7:]], states=[])
    assert read_count(sentences, whole, max_windows=3) == 3  # fewer windows than allowed: all read
    cut = EncodedDocument(windows=[[0] * 9], offsets=[spans[:7]], states=[])  # stopped inside sentence 2
    assert read_count(sentences, cut, max_windows=1) == 1
    assert read_count(sentences, cut, max_windows=None) == 3
    assert read_count(sentences, whole, max_windows=1) == 1  # more windows read than asked


def test_sentences_past_the_windows_read_rank_after_those_read_in_article_order():
    scores = rank_unread_last(np.array([0.2, 0.9, -0.5], dtype=np.float32), 6)
    assert list(np.argsort(-scores, kind="stable")) == [1, 0, 2, 3, 4, 5]


def test_with_all_sentences_the_sentences_past_the_windows_read_have_no_vector_and_a_flag():
    text = "Satu dua tiga empat. Lima enam tujuh delapan. Sembilan sepuluh sebelas dua belas."
    sentences = split_sentences(text)
    spans = [(m.start(), m.end()) for m in re.finditer(r"\w+|\.", text)]
    doc = EncodedDocument(windows=[[0] * 9], offsets=[spans[:7]], states=[np.ones((9, 4), np.float32)])
    read = read_count(sentences, doc, max_windows=1)
    config = SummarizerConfig("b", "f", 10, 9, "", max_windows=1, all_sentences=True)
    vectors, features, _ = Summarizer(config=config).inputs(text, sentences, doc, 0, read)
    assert read == 1 and features.shape == (3, feature_count(config)) == (3, 5)
    assert list(features[:, -1]) == [1.0, 0.0, 0.0]
    assert (vectors[0] == 1).all() and not vectors[1:].any()  # sentence 2 is half read: no vector either
    config.all_sentences = False  # a model trained before: no flag, the sentences as pooled
    vectors, features, _ = Summarizer(config=config).inputs(text, sentences[:read], doc, 0)
    assert features.shape == (1, 4) and (vectors == 1).all()


class RecordingScorer:
    """Records what the summariser hands a scorer; later sentences score higher."""

    def __init__(self):
        self.seen: list[tuple[np.ndarray, np.ndarray]] = []

    def scores(self, vectors: np.ndarray, features: np.ndarray, title: np.ndarray) -> np.ndarray:
        self.seen.append((vectors.copy(), features.copy()))
        return np.arange(len(vectors), dtype=np.float32)


@pytest.mark.parametrize("all_sentences", [True, False])
def test_what_the_scorer_is_given_for_the_sentences_past_the_windows_read(all_sentences):
    text = "Satu dua tiga empat. Lima enam tujuh delapan. Sembilan sepuluh sebelas dua belas."
    spans = [(m.start(), m.end()) for m in re.finditer(r"\w+|\.", text)]
    doc = EncodedDocument(windows=[[0] * 9], offsets=[spans[:7]], states=[np.ones((9, 4), np.float32)])
    config = SummarizerConfig("b", "f", 10, 9, "", max_windows=1, all_sentences=all_sentences)
    scorer = RecordingScorer()
    summary = Summarizer(scorer=scorer, config=config).summarize([text], max_sentences=1, documents=[doc])[0]
    vectors, features = scorer.seen[0]
    if all_sentences:  # every sentence, the two past the window without a vector and flagged: the last one wins
        assert list(features[:, -1]) == [1.0, 0.0, 0.0] and not vectors[1:].any()
        assert [s.index for s in summary.sentences] == [2]
    else:  # the sentence read alone; the others rank after it
        assert features.shape == (1, 4) and [s.index for s in summary.sentences] == [0]
