"""Corpus building on tiny fixtures written here (never copied from the raw corpora)."""

from __future__ import annotations

import csv
import hashlib
import json

import pytest
import yaml
from datasets import load_from_disk

from service.text import fix_mojibake, strip_dateline
from training.build_data import main as build_data_main
from training.cleaning import clean_body, repair_joined_paragraphs
from training.dedupe import find_duplicates
from training.labeling import LexiconRules, SectionMap, label_article
from training.sources import registered_domain, url_sections
from training.summaries import align_article, detokenize, title_from_url

LEXICONS = {
    "governance": ["bupati", "DPRD", "APBD", "wali kota", "pemkab", "dinas"],
    "law": ["polisi", "tersangka", "ditangkap", "jaksa", "vonis"],
    "economy": ["harga", "saham", "inflasi"],
    "none": ["banjir", "gempa"],
}
RULES = LexiconRules(LEXICONS, ["governance", "law"], min_score=4, margin=2.0)


def test_joined_paragraphs_are_restored():
    raw = 'Harga naik tajam.,"Kami kaget," kata pedagang.,Pemerintah berjanji turun tangan.'
    assert repair_joined_paragraphs(raw).split("\n") == [
        "Harga naik tajam.",
        '"Kami kaget," kata pedagang.',
        "Pemerintah berjanji turun tangan.",
    ]


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("JAKARTA, KOMPAS.com - Banjir melanda.", "Banjir melanda."),
        ("Liputan6.com, Jakarta - Harga naik.", "Harga naik."),
        ("SURABAYA - Wali kota meresmikan taman.", "Wali kota meresmikan taman."),
        ("Banda Aceh - Gubernur hadir.", "Gubernur hadir."),
        (
            "Dalam rapat itu, ada usulan - kata dia - yang ditolak.",
            "Dalam rapat itu, ada usulan - kata dia - yang ditolak.",
        ),
    ],
)
def test_datelines_are_stripped_but_prose_is_kept(raw, expected):
    assert strip_dateline(raw) == expected


def test_mojibake_and_boilerplate_are_cleaned():
    raw = "Wali kota meresmikan pasar ‚Äì kata warga.\nBaca juga: Pasar lama dibongkar\nADVERTISEMENT\nWarga senang."
    assert fix_mojibake("‚Äì") == "–"
    assert clean_body(raw) == "Wali kota meresmikan pasar – kata warga.\nWarga senang."


def test_url_sections_and_domains():
    assert registered_domain("https://aceh.tribunnews.com/2025/06/10/x") == "tribunnews.com"
    assert registered_domain("https://news.republika.co.id/berita/x") == "republika.co.id"
    assert url_sections("https://www.liputan6.com/health/read/123/judul") == ["health"]
    assert url_sections("https://regional.kompas.com/read/2019/09/10/1/judul") == ["regional"]


def test_most_specific_topical_section_wins():
    sections = SectionMap({"sport": ["bola"], "health": ["health"], "mixed": ["news", "nasional"]}, {})
    assert sections.decide(["health", "lifestyle"], "okezone.com") == ("health", "health")
    assert sections.decide(["nasional", "news"], "okezone.com") == (None, "news")
    assert sections.decide(["nasional", "bola"], "okezone.com") == ("sport", "bola")
    overridden = SectionMap({"lifestyle": ["hot"]}, {"detik.com": {"hot": "entertainment"}})
    assert overridden.decide(["hot"], "detik.com")[0] == "entertainment"
    assert overridden.decide(["hot"], "other.com")[0] == "lifestyle"


def test_weak_rules_label_only_clear_cases():
    governance = "Bupati dan DPRD membahas APBD. Pemkab menyiapkan dinas baru. Bupati optimistis."
    assert RULES.decide("Bupati bahas APBD", governance) == "governance"
    law = "Polisi menetapkan tersangka. Tersangka ditangkap di rumahnya. Jaksa menyiapkan dakwaan."
    assert RULES.decide("Tersangka ditangkap polisi", law) == "law"
    mixed = "Bupati dan DPRD hadir saat polisi menangkap tersangka yang ditangkap kemarin."
    assert RULES.decide("Rapat", mixed) is None  # no clear winner
    flood = "Banjir melanda. Banjir merendam rumah, gempa susulan terasa; bupati meninjau."
    assert RULES.decide("Banjir dan gempa", flood) is None  # the `none` competitor wins
    business = "Harga saham naik, inflasi turun, harga pangan stabil; bupati hadir."
    assert RULES.decide("Harga saham", business) is None  # economy competes but is not a target


def test_label_article_prefers_sections_over_rules():
    sections = SectionMap({"sport": ["bola"], "mixed": ["news"]}, {})
    text = "Polisi menetapkan tersangka. Tersangka ditangkap. Jaksa siap."
    assert label_article(["bola"], "x.com", "Judul", text, sections, RULES).method == "section"
    decision = label_article(["news"], "x.com", "Tersangka ditangkap", text, sections, RULES)
    assert (decision.label, decision.method) == ("law", "rule")


LONG_A = " ".join(f"kalimat nomor {i} tentang pembangunan jembatan desa oleh pemerintah kabupaten" for i in range(30))


def test_near_duplicates_are_found_and_distinct_texts_kept():
    near = LONG_A.replace("nomor 7 ", "nomor tujuh ")
    other = " ".join(f"pertandingan ke {i} tim sepak bola daerah menang di stadion" for i in range(30))
    assert find_duplicates([LONG_A, LONG_A.upper(), near, other]) == [None, 0, 0, None]


def test_indosum_detokenisation_and_label_alignment():
    assert detokenize(["Harga", "naik", "(", "27", "/", "3", ")", ",", "kata", "dia", "."]) == (
        "Harga naik (27/3), kata dia."
    )
    paragraphs = [
        [["Bupati", "meresmikan", "pasar", "."], ["Warga", "senang", "."]],
        [['"', "Kami", "puas", ",", '"', "kata", "Ani", "."]],
    ]
    aligned = align_article(paragraphs, [[True, False], [True]])
    assert aligned["body"] == 'Bupati meresmikan pasar. Warga senang.\n\n"Kami puas," kata Ani.'
    assert aligned["labels"] == [1, 0, 1]
    starts, ends = aligned["sentence_starts"], aligned["sentence_ends"]
    assert aligned["body"][starts[2] : ends[2]] == '"Kami puas," kata Ani.'


def test_indosum_bodies_get_the_service_cleaning_and_keep_their_labels():
    paragraphs = [[["Suara.com", "-", "Bupati", "meresmikan", "pasar", "."], ["Warga", "senang", "."]]]
    aligned = align_article(paragraphs, [[True, False]])
    assert aligned["body"] == "Bupati meresmikan pasar. Warga senang."  # the dateline is gone, as in serving
    assert aligned["labels"] == [1, 0] and aligned["positive_not_found"] == 0


@pytest.mark.parametrize(
    "url,title",
    [
        (
            "http://www.suara.com/bisnis/2017/03/13/201620/mentan-lepas-ekspor-daging-ayam",
            "Mentan lepas ekspor daging ayam",
        ),
        (
            "http://www.cnnindonesia.com/olahraga/20161112230644-142-172253/ronaldo-main-hingga-usia-41/",
            "Ronaldo main hingga usia 41",
        ),
        ("https://example.com/12", ""),
    ],
)
def test_indosum_titles_come_from_the_url_slug(url, title):
    assert title_from_url(url) == title


def _row_id(row: int) -> str:
    return hashlib.sha1(f"news/berita.csv:{row}".encode()).hexdigest()[:16]


def _write_fixture_corpus(root):
    raw = root / "raw"
    (raw / "news").mkdir(parents=True)
    (raw / "sums").mkdir()
    body = {
        "governance": "Bupati bersama DPRD membahas APBD dan program dinas untuk desa. Pemkab menyiapkan anggaran. ",
        "sport": "Tim sepak bola daerah menang dua gol di stadion utama dan pelatih memuji para pemain muda. ",
        "health": "Dinas kesehatan membuka posyandu baru dan dokter memeriksa balita serta ibu hamil di desa. ",
    }
    rows = []
    for index in range(36):
        topic = ["governance", "sport", "health"][index % 3]
        section = {"governance": "nasional", "sport": "bola", "health": "health"}[topic]
        outlet = "held.com" if index % 4 == 0 else "train.com"
        text = f"Laporan {index} hari ke {index * 7}. " + body[topic] * 4 + f"Catatan unik {index * 13}."
        rows.append(
            {
                "judul": f"Berita {index}",
                "isi": text,
                "kategori": section,
                "link": f"https://{outlet}/{section}/read/{index}/x",
            }
        )
    rows.append(dict(rows[1]))  # an exact duplicate
    with open(raw / "news" / "berita.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(raw / "sums" / "dev.01.jsonl", "w") as handle:
        for index in range(12):
            record = {
                "id": f"art-{index}",
                "category": "tajuk utama",
                "source": "fixture",
                "source_url": f"https://example.com/{index}",
                "paragraphs": [[["Bupati", "meresmikan", "pasar", str(index), "."], ["Warga", "senang", "."]]],
                "gold_labels": [[True, False]],
                "summary": [["Bupati", "meresmikan", "pasar", "."]],
            }
            handle.write(json.dumps(record) + "\n")
    sources = {
        "sources": {
            "news": {
                "year": 2025,
                "files": [
                    {
                        "glob": "news/*.csv",
                        "columns": {"title": "judul", "text": "isi", "category": "kategori", "url": "link"},
                    }
                ],
            },
        },
        "sections": {"sport": ["bola"], "health": ["health"], "mixed": ["nasional"]},
        "outlet_sections": {},
    }
    (root / "sources.yaml").write_text(yaml.safe_dump(sources))
    (root / "lexicons.yaml").write_text(yaml.safe_dump({"targets": ["governance", "law"], "lexicons": LEXICONS}))
    config = {
        "raw_dir": str(raw),
        "out_dir": str(root / "out"),
        "sources_config": str(root / "sources.yaml"),
        "seed": 1,
        "cleaning": {"min_words": 20, "min_words_aux": 3, "max_chars": 5000},
        "dedupe": {"shingle_words": 5, "num_perm": 64, "bands": 16, "threshold": 0.8},
        "weak_labels": {
            "lexicons": str(root / "lexicons.yaml"),
            "min_score": 4,
            "margin": 2.0,
            "sample_size": 5,
            "sample_file": str(root / "sample.tsv"),
        },
        "split": {"validation_fraction": 0.25, "test_source": "news", "test_outlets": ["held.com"]},
        "summaries": {"source": "sums", "validation_fraction": 0.2},
        "annotations": {"reads": str(root / "reads.tsv"), "adjudication": str(root / "adjudication.tsv")},
    }
    # Careful reading: held-out rows 0-12 read twice and agreed, 16 disagreed and adjudicated, 20
    # disagreed and not adjudicated yet; training row 2 read as `other`.
    reads = ["id\tset\treader\tlabel\tsecond"]
    for row in (0, 4, 8, 12):
        reads += [f"{_row_id(row)}\tgold\t{reader}\tgovernance\t" for reader in ("a", "b")]
    reads += [f"{_row_id(16)}\tgold\ta\tlaw\t", f"{_row_id(16)}\tgold\tb\tgovernance\t"]
    reads += [f"{_row_id(20)}\tgold\ta\tlaw\t", f"{_row_id(20)}\tgold\tb\tsport\t"]
    reads += [f"{_row_id(2)}\ttrain\ta\tother\t"]
    (root / "reads.tsv").write_text("\n".join(reads) + "\n")
    (root / "adjudication.tsv").write_text(f"id\tlabel\tsecond\trule\n{_row_id(16)}\tlaw\tgovernance\t1\n")
    (root / "data.yaml").write_text(yaml.safe_dump(config))
    return root / "data.yaml"


def test_build_data_end_to_end(tmp_path):
    config = _write_fixture_corpus(tmp_path)
    build_data_main(["--config", str(config)])
    topics = load_from_disk(str(tmp_path / "out" / "topics"))
    test, train, validation, heldout = topics["test"], topics["train"], topics["validation"], topics["heldout"]
    assert sorted(test["id"]) == sorted(_row_id(r) for r in (0, 4, 8, 12, 16))  # read twice, agreed or adjudicated
    assert {r["id"]: r["label"] for r in test}[_row_id(16)] == "law"
    assert {r["id"]: r["second_label"] for r in test}[_row_id(16)] == "governance"
    assert set(test["label_method"]) == {"read"}
    assert _row_id(20) in heldout["id"] and set(heldout["outlet"]) == {"held.com"}
    assert "held.com" not in set(train["outlet"]) | set(validation["outlet"])
    assert list(topics["unlabelled"]["id"]) == [_row_id(2)]  # read as `other`: no topic
    assert len(test) + len(train) + len(validation) + len(heldout) == 35  # 37 rows, one duplicate, one `other`
    all_ids = list(test["id"]) + list(train["id"]) + list(validation["id"]) + list(heldout["id"])
    assert len(all_ids) == len(set(all_ids))
    governance = [r for r in train if r["label"] == "governance"]
    assert governance and all(r["label_method"] == "rule" for r in governance)
    assert all(r["publisher_label"] is None for r in governance)  # a rule label is not a publisher label
    assert {r["label_method"] for r in train if r["label"] == "sport"} == {"section"}
    assert all("Laporan" in r["text"] for r in train)
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["duplicates_removed_per_source"] == {"news": 1}
    summaries = load_from_disk(str(tmp_path / "out" / "summaries"))
    assert sum(len(summaries[s]) for s in summaries) == 12
    assert all(r["labels"] == [1, 0] for r in summaries["train"])
    assert (tmp_path / "sample.tsv").read_text().count("\n") >= 2


def test_slice_splits_follow_the_annotation_sets():
    from training.build_data import Article, assign_splits

    def article(i: int, source: str, label: str | None = "economy") -> Article:
        return Article(f"id{i}", source, "outlet", 2025, "t", "body", "", "bisnis", label, "section", False)

    articles = [article(i, "news2025") for i in range(400)] + [article(1000 + i, "old") for i in range(100)]
    articles += [article(2000 + i, "news2025", None) for i in range(20)]  # the unlabelled 2025 pool
    for a in articles:
        a.publisher_label = a.label
    gold = {f"id{i}": "gold" for i in range(0, 400, 4)}
    pending = {"id1": "gold-pending"}
    read_for_training = {f"id{2000 + i}": "train" for i in range(10)}
    for a in articles[-20:-10]:
        a.label, a.label_method = "health", "read"  # read for training
    settings = {"test_source": "news2025", "test_outlets": [], "validation_fraction": 0.1, "calibration_fraction": 0.3}
    assign_splits(articles, settings, seed=13, annotated=gold | pending | read_for_training)
    splits = {a.id: a.split for a in articles}
    calibration = [i for i, s in splits.items() if s == "calibration"]
    assert 60 <= len(calibration) <= 120  # about 30 % of the 299 slice articles outside the gold set
    assert all(splits[i] == "test" for i in gold)
    assert splits["id1"] == "heldout"  # not yet read twice: out of test and never trained on
    assert {splits[f"id{i}"] for i in range(400)} <= {"test", "calibration", "heldout"}
    assert all(splits[f"id{1000 + i}"] in ("train", "validation") for i in range(100))  # older source untouched
    assert all(splits[f"id{2000 + i}"] in ("train", "validation") for i in range(10))  # read 2025 pool trains
    assert all(splits[f"id{2010 + i}"] == "unlabelled" for i in range(10))
    # With train_on_slice_rest, the slice's other labelled articles train; gold, pending, calibration do not.
    assign_splits(
        articles, settings | {"train_on_slice_rest": True}, seed=13, annotated=gold | pending | read_for_training
    )
    again = {a.id: a.split for a in articles}
    assert all(again[i] == "test" for i in gold) and again["id1"] == "heldout"
    assert [i for i, s in again.items() if s == "calibration"] == calibration
    rest = [f"id{i}" for i in range(400) if f"id{i}" not in gold and f"id{i}" not in calibration and i != 1]
    assert rest and {again[i] for i in rest} == {"train", "validation"}
    # A calibration reading stays in calibration even where the hash would train it; gold must be in the slice.
    read_for_calibration = {rest[0]: "calibration"}
    assign_splits(articles, settings | {"train_on_slice_rest": True}, seed=13, annotated=gold | read_for_calibration)
    assert {a.id: a.split for a in articles}[rest[0]] == "calibration"
    with pytest.raises(ValueError, match="not in the held-out slice"):
        assign_splits(articles, settings, seed=13, annotated={"id1000": "gold"})
    # The out-of-period slice: `transfer` reads of other sources are always validation, never trained
    # on, whatever the stratified draw would do; a transfer read inside the held-out slice is refused.
    transfer = {f"id{1000 + i}": "transfer" for i in range(30)}
    assign_splits(articles, settings, seed=13, annotated=gold | transfer)
    assert all(a.split == "validation" for a in articles if a.id in transfer)
    assert {a.split for a in articles if a.source == "old" and a.id not in transfer} <= {"train", "validation"}
    with pytest.raises(ValueError, match="not outside the held-out slice"):
        assign_splits(articles, settings, seed=13, annotated={"id5": "transfer"})


def test_new_reads_move_no_other_article_between_train_and_validation():
    """Reading more articles (new labels, relabelled ones) leaves every other article in its split."""
    from training.build_data import Article, assign_splits

    def corpus() -> list[Article]:
        labels = ["economy", "law", "sport", None]
        return [
            Article(f"id{i}", "old", "o", 2020, "t", "body", "", "s", labels[i % 4], "section", False)
            for i in range(800)
        ]

    settings = {"test_source": "news2025", "test_outlets": [], "validation_fraction": 0.2}
    before = corpus()
    assign_splits(before, settings, seed=13)
    after = corpus()
    for a in after[:40]:  # read: 10 unlabelled articles get a label, 30 labelled ones another
        a.label, a.label_method = "health", "read"
    assign_splits(after, settings, seed=13, annotated={a.id: "train" for a in after[:40]})
    was = {a.id: a.split for a in before}
    assert all(a.split == was[a.id] for a in after[40:])
    assert all(a.split == was[a.id] for a in after[:40] if was[a.id] != "unlabelled")
    validation = sum(a.split == "validation" for a in before) / sum(a.label is not None for a in before)
    assert 0.15 < validation < 0.25


def test_reading_replaces_publisher_labels_and_other_has_no_topic():
    from training.annotation import FinalLabel
    from training.build_data import Article, apply_reading

    def article(i: int, label: str | None, method: str) -> Article:
        return Article(f"id{i}", "s", "o", 2025, "t", "body", "", "nasional", label, method, False)

    articles = [article(0, "economy", "section"), article(1, "law", "rule"), article(2, None, "none")]
    finals = {
        "id0": FinalLabel("id0", "train", "governance", "economy", 2, False),
        "id1": FinalLabel("id1", "train", "other", "", 1, False),
    }
    apply_reading(articles, finals)
    assert (articles[0].label, articles[0].second_label, articles[0].label_method) == ("governance", "economy", "read")
    assert articles[0].publisher_label == "economy"
    assert (articles[1].label, articles[1].label_method, articles[1].publisher_label) == (None, "read", None)
    assert (articles[2].label, articles[2].label_method) == (None, "none")
