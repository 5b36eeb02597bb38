"""The lexical half of the classifier reproduces scikit-learn's TF-IDF + logistic regression."""

from __future__ import annotations

import numpy as np

from service.models.topics.lexical import LexicalModel
from training.baselines import lexical_model, tfidf_logreg

TEXTS = {
    "sport": [
        "Timnas Indonesia menang 2-0, gol dicetak pada babak kedua di stadion.",
        "Pelatih timnas memuji pemain muda usai laga kualifikasi Piala Dunia.",
        "Klub Liga 1 merekrut striker baru jelang musim depan, kata pelatih.",
    ],
    "health": [
        "Dokter mengingatkan gejala hipertensi pada anak dan cara mencegahnya.",
        "Rumah sakit daerah menambah layanan cuci darah bagi pasien BPJS Kesehatan.",
        "Dinas Kesehatan mencatat kasus demam berdarah naik, dokter minta warga waspada.",
    ],
    "governance": [
        "Bupati meresmikan pasar baru dan meminta dinas menjaga kebersihan.",
        "DPRD menyetujui perubahan APBD, wali kota berjanji memperbaiki jalan.",
        "Gubernur melantik kepala dinas baru di kantor pemerintah provinsi.",
    ],
}


def _fitted():
    texts = [t for group in TEXTS.values() for t in group] * 2
    labels = [label for label, group in TEXTS.items() for _ in group] * 2
    return tfidf_logreg(max_features=500).fit(texts, labels)


def test_probabilities_match_scikit_learn_in_our_label_order(tmp_path):
    pipeline = _fitted()
    order = ["governance", "health", "sport"]  # not the pipeline's alphabetical class order
    lexical = lexical_model(pipeline, order)
    unseen = [
        "Pelatih timnas memanggil pemain baru, gol jadi target.",
        "Pasien rumah sakit mengeluhkan antrean BPJS, kata dokter.",
        "Wali kota dan DPRD membahas APBD untuk jalan dan pasar.",
        "BUPATI BARU, Gubernur dan dinas: rapat   pagi ini!",
    ]
    expected = pipeline.predict_log_proba(unseen)[:, [list(pipeline.classes_).index(k) for k in order]]
    np.testing.assert_allclose(lexical.log_probabilities(unseen), expected, atol=1e-4)
    assert [order[i] for i in lexical.log_probabilities(unseen).argmax(1)] == ["sport", "health", "governance"] + [
        "governance"
    ]

    lexical.save(tmp_path)
    reloaded = LexicalModel.load(tmp_path)
    assert reloaded.labels == order and reloaded.terms == lexical.terms
    np.testing.assert_allclose(reloaded.log_probabilities(unseen), expected, atol=2e-2)  # fp16 weights on disk


def test_a_unigram_lexical_half_has_no_word_pairs_and_still_matches_scikit_learn():
    texts = [t for group in TEXTS.values() for t in group] * 2
    labels = [label for label, group in TEXTS.items() for _ in group] * 2
    pipeline = tfidf_logreg(max_features=500, ngram_max=1).fit(texts, labels)
    lexical = lexical_model(pipeline, list(pipeline.classes_))
    assert lexical.ngram_max == 1 and not any(" " in term for term in lexical.terms)
    unseen = ["Pelatih timnas memanggil pemain baru", "dokter pasien rumah sakit"]
    np.testing.assert_allclose(lexical.log_probabilities(unseen), pipeline.predict_log_proba(unseen), atol=1e-4)


def test_text_without_known_words_gets_the_prior_not_nan():
    lexical = lexical_model(_fitted(), ["governance", "health", "sport"])
    for text in ["", "xyz qwv", "12 34 !!!"]:
        log_probs = lexical.log_probabilities([text])[0]
        assert np.isfinite(log_probs).all()
        np.testing.assert_allclose(np.exp(log_probs).sum(), 1.0, atol=1e-5)


def test_missing_lexical_files_mean_no_lexical_model(tmp_path):
    assert LexicalModel.load(tmp_path) is None
