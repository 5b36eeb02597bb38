"""The Analyzer API and the batch CLI on the shipped models (real components, fixtures written here)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from service.analyzer import Analyzer, InputError, prepare_article
from service.config import load_labels
from tests.fixtures.articles import HEALTH, LONG_REPORT, REGIONAL_GOVERNMENT, SCRAPED_REGIONAL, SPORT
from training.config import PROJECT_ROOT

LABEL_KEYS = {label.key for label in load_labels()}


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer.load()


def test_analyze_returns_topics_and_an_anchored_summary(analyzer):
    title, body = SPORT.split("\n", 1)
    result = analyzer.analyze([{"id": "a1", "title": title, "text": body}], max_sentences=2)[0]
    assert result.error is None and result.id == "a1" and result.topic == "sport"
    scores = [t.score for t in result.topics]
    assert {t.label for t in result.topics} == LABEL_KEYS and scores == sorted(scores, reverse=True)
    assert len(result.summary_sentences) == 2
    assert all(body[s.start : s.end] == s.text for s in result.summary_sentences)
    line = result.to_dict()
    assert set(line) == {"id", "topic", "topics", "summary", "summary_sentences", "warnings"}
    json.dumps(line)  # serialisable as is


def test_bad_items_get_errors_without_losing_the_others(analyzer):
    results = analyzer.analyze(
        ["", "   \n ", None, {"id": 7, "text": 42}, {"id": "ok", "text": HEALTH}, ["not", "a", "dict"]]
    )
    assert [r.error is not None for r in results] == [True, True, True, True, False, True]
    assert results[0].error == "the text is empty" and results[2].error == "missing 'text'"
    assert results[3].id == "7" and "must be a string" in results[3].error
    assert results[4].topic == "health"


@pytest.mark.parametrize(
    "text,expected_warning",
    [
        ("<html><body><p>" + REGIONAL_GOVERNMENT.replace("\n", "</p><p>") + "</p></body></html>", "HTML"),
        ("Bupati meresmikan pasar baru.", "very short"),
        (
            "The city council approved the new budget on Monday after a long debate about schools and roads " * 3,
            "Indonesian",
        ),
    ],
    ids=["html", "short", "english"],
)
def test_hostile_inputs_warn(analyzer, text, expected_warning):
    result = analyzer.analyze([text])[0]
    assert result.error is None and any(expected_warning in w for w in result.warnings), result.warnings
    assert "<" not in result.text


def test_huge_and_binary_inputs():
    huge = prepare_article((REGIONAL_GOVERNMENT + "\n") * 200, max_chars=20_000)
    assert len(huge.text) <= 20_000 and any("longer than" in w for w in huge.warnings)
    with pytest.raises(InputError, match="binary"):
        prepare_article("\x00\x01\x02" * 100)


PROSE = REGIONAL_GOVERNMENT.split("\n", 1)[1]


@pytest.mark.parametrize(
    "text,stray",
    [
        (PROSE, 0),
        (PROSE.replace(". ", ".\x00 ", 1), 1),  # one NUL copied from a PDF
        (PROSE.replace("a", "a\x0c", 3), 3),  # form feeds
        (PROSE.replace("e", "\ufffd", 2), 2),  # bytes that were not UTF-8
        ("\x00\x00" + PROSE + "\x1b", 3),
    ],
    ids=["clean", "one-nul", "form-feeds", "undecodable-bytes", "both-ends"],
)
def test_a_few_stray_characters_are_removed_with_a_warning(text, stray):
    prepared = prepare_article(text)
    assert not any(ch in prepared.text for ch in "\x00\x0c\x1b\ufffd")
    warned = [w for w in prepared.warnings if "stray" in w]
    assert warned == ([f"{stray} stray control or undecodable character(s) removed"] if stray else [])


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02" * 100,
        bytes(range(256)).decode("utf-8", errors="replace") * 20,  # a binary file read as text
        PROSE[:400] + "\x00" * 40,  # 10 % NUL
    ],
    ids=["control-bytes", "random-bytes", "ten-percent-nul"],
)
def test_binary_is_decided_by_the_share_of_stray_characters(text):
    with pytest.raises(InputError, match="binary data"):
        prepare_article(text)


def test_control_characters_are_cleaned():
    prepared = prepare_article("Bupati\x07 meresmikan\u200b pasar " + REGIONAL_GOVERNMENT)
    assert "\x07" not in prepared.text and "\u200b" not in prepared.text


def _run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "service", *args], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600
    )


def test_ratio_sizes_the_summary_by_the_article(analyzer):
    from service.text import split_sentences

    title, body = SPORT.split("\n", 1)
    n = len(split_sentences(body))
    result = analyzer.analyze([{"id": "r", "title": title, "text": body}], max_sentences=3, ratio=0.7)[0]
    assert n == 6 and len(result.summary_sentences) == 5  # 70 % of 6 sentences, rounded up; replaces max_sentences
    with pytest.raises(ValueError, match="ratio"):
        analyzer.analyze([SPORT], ratio=2)
    # A long article: the share is of all its 45 body sentences, not of the ~250 words the encoder reads.
    title, body = LONG_REPORT.split("\n", 1)
    long = analyzer.analyze([{"id": "long", "title": title, "text": body}], ratio=0.4)[0]
    assert len(split_sentences(body)) == 45 and len(long.summary_sentences) == 18 and not long.warnings


def test_cli_help_documents_the_contract():
    out = _run_cli("analyze", "--help")
    assert out.returncode == 0 and "--max-sentences" in out.stdout and '"error"' in out.stdout
    assert "--ratio" in out.stdout


def test_cli_ratio(tmp_path):
    from service.text import split_sentences

    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "g", "text": REGIONAL_GOVERNMENT}) + "\n", encoding="utf-8")
    output = tmp_path / "out.jsonl"
    assert _run_cli("analyze", "--input", str(source), "--output", str(output), "--ratio", "1").returncode == 0
    line = json.loads(output.read_text())
    # ratio 1: every sentence, but the headline on the first line is a heading, never a summary sentence
    sentences = split_sentences(REGIONAL_GOVERNMENT)
    assert [s["text"] for s in line["summary_sentences"]] == [s.text for s in sentences[1:]]
    bad = _run_cli("analyze", "--input", str(source), "--output", str(output), "--ratio", "0")
    assert bad.returncode == 2 and "--ratio" in bad.stderr


def test_cli_jsonl_one_line_per_row_errors_only_on_bad_rows(tmp_path):
    rows = [
        json.dumps({"id": "sport", "title": "Timnas menang", "text": SPORT}),
        "{this is not json",
        json.dumps({"id": "no-text"}),
        json.dumps({"id": "empty", "text": ""}),
        json.dumps(["a", "list"]),
        json.dumps({"text": HEALTH}),
        json.dumps({"id": "gov", "text": REGIONAL_GOVERNMENT}),
    ]
    source = tmp_path / "in.jsonl"
    source.write_bytes(("\n".join(rows) + "\n").encode() + b'{"id": "bad-bytes", "text": "\xff\xfe"}\n')
    output = tmp_path / "out.jsonl"
    result = _run_cli("analyze", "--input", str(source), "--output", str(output), "--max-sentences", "2")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(lines) == len(rows) + 1
    assert [("error" in line) for line in lines] == [False, True, True, True, True, False, False, True]
    assert [line["id"] for line in lines] == ["sport", "2", "no-text", "empty", "5", "6", "gov", "bad-bytes"]
    assert "binary data" in lines[7]["error"]  # nothing but bytes that are not UTF-8
    assert lines[0]["topic"] == "sport" and lines[6]["topic"] == "governance"
    assert len(lines[0]["summary_sentences"]) == 2 and len(lines[0]["topics"]) == 11


def test_cli_csv_with_a_malformed_row(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text(
        f'id,title,text\na,Judul,"{HEALTH}"\nb,only-two-fields\nc,,"{SPORT}"\n',
        encoding="utf-8",
    )
    output = tmp_path / "out.jsonl"
    assert _run_cli("analyze", "--input", str(source), "--output", str(output)).returncode == 0
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["id"] for line in lines] == ["a", "3", "c"]
    assert "error" in lines[1] and lines[0]["topic"] == "health" and lines[2]["topic"] == "sport"


def test_cli_rejects_an_unknown_extension(tmp_path):
    source = tmp_path / "in.docx"
    source.write_text("x")
    result = _run_cli("analyze", "--input", str(source), "--output", str(tmp_path / "o.jsonl"))
    assert result.returncode == 2 and "--format" in result.stderr


HEADLINES = (
    "Wali Kota Malang Bakal Wujudkan",
    "Pemkab Jombang Ajak",
    "Polres Batu Gelar",
    "Harga Cabai di Pasar Besar",
)


@pytest.mark.parametrize("method", ["supervised", "centroid", "lead"])
@pytest.mark.parametrize("length", [{"max_sentences": 3}, {"max_sentences": None, "ratio": 1.0}])
def test_scraped_article_summaries_are_sentences_never_headings_fragments_or_headlines(analyzer, method, length):
    result = analyzer.analyze(
        [{"id": "s", "title": "Pemkot Malang Gelar Pasar Murah", "text": SCRAPED_REGIONAL}], method=method, **length
    )[0]
    assert result.error is None and len(result.summary_sentences) >= 3
    for sentence in result.summary_sentences:
        assert len(sentence.text.split()) > 3, sentence.text
        assert sentence.text.endswith("."), sentence.text  # every one a full sentence, none a heading
        assert not any(headline in sentence.text for headline in HEADLINES), sentence.text
        assert _words(SCRAPED_REGIONAL[sentence.start : sentence.end]) == _words(sentence.text)  # the caller's text
        assert sentence.text in result.text
    assert "Daftar Isi" not in result.text and "kota malang" not in result.text
    assert result.text.startswith("Pemerintah Kota Malang menggelar pasar murah")
    assert "Kepala dinas Budi Santoso menyebut" in result.text


MESSY = (
    "SURABAYA, KOMPAS.com - Pemerintah  Kota Surabaya meluncurkan program makan siang untuk sekolah tahun ini.\r\n"
    "<p>Program itu  mencakup makan siang gratis bagi <b>seluruh</b> siswa kelas satu sampai enam.</p>\r\n"
    "Wali kota mengatakan anggaran sudah disetujui DPRD dan mulai dicairkan bulan depan.\r\n\r\n"
    "‚ÄúKami ingin anak-anak tumbuh sehat,‚Äù ujar wali kota di Balai Kota, Senin.\r\n"
    "Dinas Pendidikan akan mengawasi pelaksanaan program di 300 sekolah negeri dan swasta."
)


def _words(text: str) -> list[str]:
    import re

    return re.findall(r"\w+", text.lower())


@pytest.mark.parametrize("max_sentences", [1, 3, 5])
def test_summary_offsets_index_the_callers_text(analyzer, max_sentences):
    """CRLF, double spaces, HTML, mojibake and a dateline: ``text[start:end]`` of what the caller passed
    holds the sentence's words, never cut mid-word (offsets into the cleaned text cut 'tahun i')."""
    from service.text import clean_text, strip_html

    result = analyzer.analyze([{"id": "m", "title": "Program Makan Siang", "text": MESSY}], max_sentences)[0]
    assert len(result.summary_sentences) == min(max_sentences, 5) or "returned whole" in " ".join(result.warnings)
    for sentence in result.summary_sentences:
        piece = MESSY[sentence.start : sentence.end]
        assert _words(clean_text(strip_html(piece))) == _words(sentence.text), (piece, sentence.text)
        assert sentence.start == 0 or not MESSY[sentence.start - 1].isalnum()
        assert sentence.end == len(MESSY) or not MESSY[sentence.end].isalnum()
    starts = [s.start for s in result.summary_sentences]
    assert starts == sorted(starts) and MESSY[starts[0] :].startswith(("Pemerintah", "Program", "Wali", "Dinas"))


def test_clean_input_keeps_offsets_unchanged(analyzer):
    """When cleaning changes nothing, the offsets are the summariser's own."""
    body = SPORT.split("\n", 1)[1]
    result = analyzer.analyze([{"id": "s", "text": body}], max_sentences=2)[0]
    assert result.text == body
    assert [body[s.start : s.end] for s in result.summary_sentences] == [s.text for s in result.summary_sentences]


def _mapped(original: str) -> list[tuple[str, str]]:
    from service.text import map_spans, split_sentences

    prepared = prepare_article(original)
    sentences = split_sentences(prepared.text)
    spans = map_spans(prepared.original, prepared.text, [(s.start, s.end) for s in sentences])
    ends = [0]
    for start, end in spans:  # in order, never overlapping
        assert start >= ends[-1] and end >= start
        ends.append(end)
    return [(original[a:b], s.text) for (a, b), s in zip(spans, sentences, strict=True)]


def test_offsets_skip_a_whole_html_pages_scripts_and_tags():
    script = " ".join(f"var{i} = {i};" for i in range(6000))  # more markup words than the body has
    page = (
        f"<html><head><script>{script}</script></head><body><p>Pemerintah kota meresmikan pasar baru di "
        "Sleman pada Senin pagi.</p><p>Warga menyambut pasar itu dengan gembira.</p></body></html>"
    )
    pairs = _mapped(page)
    assert [_words(piece) for piece, _ in pairs] == [_words(text) for _, text in pairs]


def test_offsets_of_sentences_between_mojibake_quotes_do_not_overlap():
    text = (
        "Wali kota berbicara kepada wartawan kemarin.‚Äù ‚ÄúBerikutnya kami akan membangun jalan baru di "
        "desa itu,‚Äù katanya kepada warga yang hadir."
    )
    pairs = _mapped(text)
    assert len(pairs) >= 2 and all(_words(text)[-1] in _words(piece) for piece, text in pairs)


def test_offsets_of_a_long_table_of_repeated_tokens():
    rows = "\r\n".join("Rp 000 Rp 000 Rp 000 000 000" for _ in range(3000))  # CRLF: cleaning changes it
    pairs = _mapped(f"Tabel harga pasar.\r\n{rows}\r\nHarga naik tajam minggu ini menurut pedagang pasar.")
    assert pairs[0] == ("Tabel harga pasar.", "Tabel harga pasar.") and pairs[-1][0].startswith("Harga naik")
