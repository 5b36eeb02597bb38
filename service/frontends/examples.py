"""Example articles for the app, written for Warta (not taken from any corpus)."""

SPORT = (
    "Timnas Indonesia Tekuk Vietnam 2-0 di Stadion Gelora Bung Karno\n"
    "Tim nasional sepak bola Indonesia menang 2-0 atas Vietnam dalam laga kualifikasi Piala Asia di "
    "Stadion Utama Gelora Bung Karno, Jakarta, Kamis malam. Gol pertama dicetak Rizky Pratama pada "
    "menit ke-23 lewat sundulan memanfaatkan umpan silang dari sisi kiri. Gol kedua lahir dari tendangan "
    "penalti Andi Saputra setelah penyerang Indonesia dijatuhkan di kotak terlarang. Pelatih timnas "
    "memuji disiplin para pemain yang mampu menahan tekanan lawan sepanjang babak kedua. Dengan "
    "kemenangan ini Indonesia naik ke peringkat kedua klasemen grup dan tinggal membutuhkan satu "
    "kemenangan lagi untuk lolos ke putaran final. Sekitar enam puluh ribu suporter memadati stadion."
)

HEALTH = (
    "Kasus Demam Berdarah Meningkat, Dinas Kesehatan Imbau Warga Lakukan 3M\n"
    "Jumlah pasien demam berdarah dengue yang dirawat di rumah sakit meningkat tajam dalam dua pekan "
    "terakhir. Dokter spesialis penyakit dalam di RSUD setempat mengatakan sebagian besar pasien datang "
    "dengan gejala demam tinggi, nyeri otot, dan trombosit yang turun. Dinas kesehatan meminta warga "
    "menguras tempat penampungan air, menutup wadah air, dan mendaur ulang barang bekas agar nyamuk "
    "Aedes aegypti tidak berkembang biak. Puskesmas juga melakukan pemeriksaan jentik dari rumah ke "
    "rumah dan menyiapkan tambahan tempat tidur bagi pasien. Warga yang mengalami demam lebih dari dua "
    "hari diminta segera memeriksakan diri ke fasilitas kesehatan terdekat agar tidak terlambat ditangani."
)

REGIONAL_GOVERNMENT = (
    "Bupati Luncurkan Program Bantuan Rumah Layak Huni untuk 500 Keluarga\n"
    "Pemerintah Kabupaten Sukamaju meluncurkan program bantuan rumah layak huni bagi 500 keluarga "
    "kurang mampu tahun ini. Bupati Sukamaju mengatakan anggaran program berasal dari APBD dan telah "
    "disetujui DPRD dalam rapat paripurna bulan lalu. Dinas Perumahan dan Kawasan Permukiman akan "
    "memverifikasi data calon penerima bersama camat dan kepala desa agar bantuan tepat sasaran. Bupati "
    "meminta aparatur sipil negara di setiap kecamatan mengawasi pelaksanaan pembangunan dan melaporkan "
    "perkembangannya setiap bulan. Ketua DPRD menyatakan dewan akan mengawal program ini dan "
    "mendorong pemerintah daerah menambah kuota penerima pada perubahan anggaran tahun depan."
)


EXAMPLES = [
    (SPORT.split("\n", 1)[0], SPORT.split("\n", 1)[1]),
    (HEALTH.split("\n", 1)[0], HEALTH.split("\n", 1)[1]),
    (REGIONAL_GOVERNMENT.split("\n", 1)[0], REGIONAL_GOVERNMENT.split("\n", 1)[1]),
]
