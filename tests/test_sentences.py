"""Table-driven tests of the Indonesian sentence splitter."""

from __future__ import annotations

import pytest

from service.text import normalize_whitespace, split_sentences, strip_boilerplate

CASES = [
    # (text, expected sentences)
    ("Presiden tiba di Solo. Ia disambut warga.", ["Presiden tiba di Solo.", "Ia disambut warga."]),
    ("Apa kabar? Baik sekali!", ["Apa kabar?", "Baik sekali!"]),
    ("Pasien dirawat oleh dr. Andi di RSUD.", ["Pasien dirawat oleh dr. Andi di RSUD."]),
    ("Menurut Dr. Budi, vaksin aman.", ["Menurut Dr. Budi, vaksin aman."]),
    ("H. Ahmad dan Hj. Siti hadir.", ["H. Ahmad dan Hj. Siti hadir."]),
    (
        "Prof. Rina membuka seminar. Acara dimulai pukul 09.00.",
        ["Prof. Rina membuka seminar.", "Acara dimulai pukul 09.00."],
    ),
    ("Kepala dinas Ir. Joko meninjau proyek.", ["Kepala dinas Ir. Joko meninjau proyek."]),
    ("Guru itu, Ani, S.Pd., mengajar di SD.", ["Guru itu, Ani, S.Pd., mengajar di SD."]),
    ("Ia bergelar M.Si. Dia dosen di Unpad.", ["Ia bergelar M.Si. Dia dosen di Unpad."]),
    ("Rumahnya di Jl. Merdeka No. 5, Bandung.", ["Rumahnya di Jl. Merdeka No. 5, Bandung."]),
    ("Warga Kec. Mlati dan Kab. Sleman berkumpul.", ["Warga Kec. Mlati dan Kab. Sleman berkumpul."]),
    ("Harganya Rp. 15.000 per kilo.", ["Harganya Rp. 15.000 per kilo."]),
    ("Ia membeli buku, pena, dll. untuk sekolah.", ["Ia membeli buku, pena, dll. untuk sekolah."]),
    (
        "Ia membeli buku, pena, dll. Kemudian ia pulang.",
        ["Ia membeli buku, pena, dll.", "Kemudian ia pulang."],
    ),
    ("Ada kopi, teh, dsb. di meja.", ["Ada kopi, teh, dsb. di meja."]),
    ("Inflasi 1.500,5 ton naik. Harga turun.", ["Inflasi 1.500,5 ton naik.", "Harga turun."]),
    ("Rapat pukul 10.30 WIB. Semua hadir.", ["Rapat pukul 10.30 WIB.", "Semua hadir."]),
    (
        "Nilainya 3,14 persen pada 2019. Tahun 2020 naik.",
        ["Nilainya 3,14 persen pada 2019.", "Tahun 2020 naik."],
    ),
    ("B. J. Habibie lahir di Parepare.", ["B. J. Habibie lahir di Parepare."]),
    (
        "Pahlawan M. Yamin dikenang. Namanya jadi jalan.",
        ["Pahlawan M. Yamin dikenang.", "Namanya jadi jalan."],
    ),
    ("B.J. Habibie wafat pada 2019.", ["B.J. Habibie wafat pada 2019."]),
    ('"Kami siap," kata Bupati. Ia lalu pergi.', ['"Kami siap," kata Bupati.', "Ia lalu pergi."]),
    ('"Kami siap." Bupati lalu pergi.', ['"Kami siap."', "Bupati lalu pergi."]),
    ('"Apa benar?" tanya wartawan.', ['"Apa benar?" tanya wartawan.']),
    ("“Ini berat,” ujarnya. “Tapi kami jalan.”", ["“Ini berat,” ujarnya.", "“Tapi kami jalan.”"]),
    ("Ia terdiam... lalu menangis.", ["Ia terdiam... lalu menangis."]),
    ("Ia terdiam... Semua orang menunggu.", ["Ia terdiam...", "Semua orang menunggu."]),
    ("Tunggu dulu… Ada kabar baru.", ["Tunggu dulu…", "Ada kabar baru."]),
    ("Syaratnya:\n- KTP asli\n- Kartu Keluarga", ["Syaratnya:", "- KTP asli", "- Kartu Keluarga"]),
    (
        "Langkahnya:\n1. Daftar daring.\n2. Unggah berkas.",
        ["Langkahnya:", "1. Daftar daring.", "2. Unggah berkas."],
    ),
    ("• Pertama\n• Kedua", ["• Pertama", "• Kedua"]),
    ("Paragraf satu.\n\nParagraf dua.", ["Paragraf satu.", "Paragraf dua."]),
    ("Laga berakhir 2-1. (Baca juga berita lain)", ["Laga berakhir 2-1.", "(Baca juga berita lain)"]),
    (
        "Situs Liputan6.com melaporkan. Berita lengkap di kpu.go.id hari ini.",
        ["Situs Liputan6.com melaporkan.", "Berita lengkap di kpu.go.id hari ini."],
    ),
    ("Kombes Pol. Yusri memberi keterangan.", ["Kombes Pol. Yusri memberi keterangan."]),
    ("Kapolres AKBP. Dedi hadir.", ["Kapolres AKBP. Dedi hadir."]),
    ("PT Maju Tbk. Membukukan laba.", ["PT Maju Tbk.", "Membukukan laba."]),
    ("Skor 3-0! Timnas lolos.", ["Skor 3-0!", "Timnas lolos."]),
    ("Benarkah?! Ya.", ["Benarkah?!", "Ya."]),
    ("Data s.d. Juni menunjukkan kenaikan.", ["Data s.d. Juni menunjukkan kenaikan."]),
    ("Ia lulus Ph.D. di Belanda.", ["Ia lulus Ph.D. di Belanda."]),
    ("Tanpa titik akhir", ["Tanpa titik akhir"]),
    ("", []),
    ("   \n  ", []),
    ("Jakarta -- Banjir melanda. Warga mengungsi.", ["Jakarta -- Banjir melanda.", "Warga mengungsi."]),
    (
        "Bupati (kiri) menyerahkan bantuan. Sebanyak 200 KK menerima.",
        ["Bupati (kiri) menyerahkan bantuan.", "Sebanyak 200 KK menerima."],
    ),
    ("Ia berkata (sambil tertawa). Lalu pergi.", ["Ia berkata (sambil tertawa).", "Lalu pergi."]),
    ("Dana Rp1,2 triliun cair. KPK memantau.", ["Dana Rp1,2 triliun cair.", "KPK memantau."]),
]


@pytest.mark.parametrize("text,expected", CASES, ids=[c[0][:30] for c in CASES])
def test_split_sentences(text, expected):
    assert [s.text for s in split_sentences(text)] == expected


@pytest.mark.parametrize("text", [c[0] for c in CASES if c[1]])
def test_spans_point_into_the_input(text):
    for sentence in split_sentences(text):
        assert text[sentence.start : sentence.end] == sentence.text


def test_there_are_at_least_forty_cases():
    assert len(CASES) >= 40


def test_boilerplate_lines_are_dropped():
    text = (
        "Harga beras naik.\nBaca juga: Harga cabai turun\nADVERTISEMENT\nSCROLL TO CONTINUE WITH CONTENT\n"
        "Pedagang mengeluh.\nIkuti berita terkini di Google News\nSimak juga video berikut\n"
        "Artikel ini telah tayang di Kompas.com\nEditor: Budi"
    )
    assert strip_boilerplate(text).split("\n") == ["Harga beras naik.", "Pedagang mengeluh."]


def test_inline_read_also_is_removed_up_to_a_quote():
    text = 'Bobby datang. Baca juga: Pilwalkot Medan Ramai "Salah satunya silaturahmi," ujarnya.'
    assert strip_boilerplate(text) == 'Bobby datang. "Salah satunya silaturahmi," ujarnya.'


def test_normalize_whitespace():
    raw = "A\u00a0b\u200b c\r\n\r\n\r\n\x07d\t\te"
    assert normalize_whitespace(raw) == "A b c\n\nd e"


@pytest.mark.parametrize(
    "raw,expected",
    [
        (
            "Ia ditangkap. Baca juga: Bom Taliban Meledak di Dekat Kedubes AS di Kabul, 10 Orang TewasTrump "
            "mengatakan hal itu.",
            "Ia ditangkap. Trump mengatakan hal itu.",
        ),
        (
            'Ia berkata.Baca juga: Korut Dicurigai Kembangkan Senjata "Kami siap," ujarnya.',
            'Ia berkata. "Kami siap," ujarnya.',
        ),
        (
            "Harga naik. Baca Juga Warga Antre Minyak Goreng di Pasar pedagang mengeluh.",
            "Harga naik. pedagang mengeluh.",
        ),
        (
            "Skor imbang. googletag.cmd.push(function() { googletag.display('div-gpt-ad-1'); }); Laga usai.",
            "Skor imbang. Laga usai.",
        ),
        ("Kulit sehat,[bacajuga:Baca Juga](3809787 3617927),Kulit kita berganti.", "Kulit sehat, Kulit kita berganti."),
        ("Isi berita.\nADVERTISEMENT SCROLL TO CONTINUE WITH CONTENT\nLanjutan.", "Isi berita.\nLanjutan."),
    ],
)
def test_inline_furniture_is_removed(raw, expected):
    assert strip_boilerplate(raw) == expected
