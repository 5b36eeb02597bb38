"""Table-driven tests of the Indonesian sentence splitter."""

from __future__ import annotations

import pytest

from service.text import clean_text, normalize_whitespace, split_sentences, strip_boilerplate

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
        (
            "Messi cetak gol. SIMAK JUGA: Maradona Dukung Tevez Pindah Ke Tiongkok\nLaga usai.",
            "Messi cetak gol. \nLaga usai.",
        ),
        (
            "Sidang ditunda.\nBaca: Nama Syahrini Disebut di Sidang Pajak\nHakim menolak.",
            "Sidang ditunda.\nHakim menolak.",
        ),
        (
            "Apple merilis ponsel.\nTim Cook, CEO Apple (Foto: Reuters)\nHarganya naik.",
            "Apple merilis ponsel.\nHarganya naik.",
        ),
    ],
)
def test_inline_furniture_is_removed(raw, expected):
    assert strip_boilerplate(raw) == expected


# --- whole-article cleaning (service.text.clean_text), shared by training and serving ---------

HEADLINE_LIST = (
    "Wali kota meresmikan pasar rakyat di Blimbing pada Senin.\n"
    "- Wali Kota Malang Bakal Wujudkan Potensi Kota Industri Melalui Industri Kreatif Berbasis Digital\n"
    "- Pemkab Jombang Ajak Masyarakat Desa Bendet Berantas Rokok Ilegal\n"
    "Pasar itu menampung tiga ratus pedagang."
)


@pytest.mark.parametrize(
    "raw,expected",
    [
        # runs of bulleted Title Case headlines of other articles: boilerplate
        (
            HEADLINE_LIST,
            "Wali kota meresmikan pasar rakyat di Blimbing pada Senin.\nPasar itu menampung tiga ratus pedagang.",
        ),
        (
            "Bupati membuka festival.\nBerita Terkait:\n- Festival Kopi Digelar di Alun-alun\n- Harga Kopi Naik\n"
            "Festival berlangsung tiga hari.",
            "Bupati membuka festival.\nFestival berlangsung tiga hari.",
        ),
        # a list the text introduces with a colon is content, even in Title Case
        (
            "Pemkot menyiapkan tiga langkah:\n- Menambah Armada Sampah\n- Membuka Bank Sampah Baru\nWarga mendukung.",
            "Pemkot menyiapkan tiga langkah:\n- Menambah Armada Sampah\n- Membuka Bank Sampah Baru\nWarga mendukung.",
        ),
        # sentence-case bullets and bullets ending with a stop are content
        (
            "Warga mengeluh.\n- harga beras naik dua kali lipat\n- Pasokan gas elpiji tersendat sejak Mei.",
            "Warga mengeluh.\n- harga beras naik dua kali lipat\n- Pasokan gas elpiji tersendat sejak Mei.",
        ),
        # link texts cut onto their own lines are joined back into the sentence
        (
            "Jakarta\n-\nLuna Maya\nternyata memiliki alasan menerima tawaran film itu.",
            "Luna Maya ternyata memiliki alasan menerima tawaran film itu.",
        ),
        (
            "Dua pemain\nTimnas Indonesia\nbisa bermain lagi saat melawan\nJepang\n.\nKeduanya pulih.",
            "Dua pemain Timnas Indonesia bisa bermain lagi saat melawan Jepang.\nKeduanya pulih.",
        ),
        ("Dikutip dari\nAntara News, harga cabai turun.", "Dikutip dari Antara News, harga cabai turun."),
        # a heading followed by its paragraph stays a line of its own
        (
            "Harga naik tajam.\nSyarat Ikut Program Pemutihan\nWarga cukup membawa KTP.",
            "Harga naik tajam.\nSyarat Ikut Program Pemutihan\nWarga cukup membawa KTP.",
        ),
        # a table of contents before the dateline goes
        (
            "Daftar Isi\nSyarat Ikut Pemutihan\nCara Ikut Lelang:\nJakarta\n-\nKPK melelang barang rampasan.",
            "KPK melelang barang rampasan.",
        ),
        # the desk credit and the tags after it go; so does a read-also headline on its own line
        (
            "Film tayang Juni.\nBaca juga:\n3 Ratu Horor Beradu Akting di Film Baru\nPenonton antusias.\n"
            "[Gambas:Video 20detik]\n(fbr/wes)\nluna maya\nfilm horor",
            "Film tayang Juni.\nPenonton antusias.",
        ),
        # a quotation opens its own paragraph even after a line without a stop
        (
            'Menurut dia sebagian besar warga sudah mendaftar sejak pekan lalu\n"Kami siap," katanya.',
            'Menurut dia sebagian besar warga sudah mendaftar sejak pekan lalu\n"Kami siap," katanya.',
        ),
        # what training cleaning did before: mojibake, continuation lines, missing spaces
        (
            "Harga naik ‚Äì kata warga.Pedagang\nmengeluh,apalagi pembeli.",
            "Harga naik – kata warga. Pedagang mengeluh, apalagi pembeli.",
        ),
    ],
)
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected
