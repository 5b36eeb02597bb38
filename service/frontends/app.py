"""The Gradio app: Artikel (one article), Batch (a file of articles), Tentang (taxonomy, metrics)."""

from __future__ import annotations

import atexit
import csv
import html
import io
import itertools
import json
import logging
import re
import shutil
import tempfile
import time
from pathlib import Path

import gradio as gr

from service.analyzer import BINARY_SHARE, AnalysisResult, Analyzer
from service.config import load_labels
from service.frontends.examples import EXAMPLES
from service.frontends.rows import FORMATS, RowsError, analyze_chunk, count_rows, file_format, read_rows
from service.text import stray_characters

logger = logging.getLogger(__name__)
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_BATCH_ROWS = 2000  # default of setting max_batch_rows: about two minutes of analysis on 2 cores
# Both analysis endpoints share one concurrency group of one: one analysis at a time, whichever tab asks.
ONE_AT_A_TIME = {"concurrency_id": "analysis", "concurrency_limit": 1}
BATCH_COLUMNS = ["row", "id", "topic", "topics", "summary", "warnings", "error"]
CSS = """
.warta-badge { display: inline-block; font-size: 1.5em; font-weight: 700; padding: .35em .8em;
               border-radius: .5em; background: #fde68a; color: #1f2937; }
.warta-badge small { font-weight: 400; font-size: .6em; }
.warta-also { display: block; font-size: .55em; font-weight: 400; }
.warta-error { padding: .5em .8em; border-radius: .5em; background: #fee2e2; color: #7f1d1d; }
"""


def _badge(result: AnalysisResult, names: dict[str, str]) -> str:
    if result.error:
        return f'<div class="warta-error" id="warta-error">⚠️ {html.escape(result.error)}</div>'
    others = [names[t] for t in result.selected_topics[1:]]
    extra = f' <span class="warta-also">juga: {html.escape(", ".join(others))}</span>' if others else ""
    score = result.topics[0].score
    return (
        f'<div class="warta-badge" id="warta-topic-badge" data-topic="{result.topic}">'
        f"{html.escape(names[result.topic])} <small>({result.topic}, {score:.0%})</small>{extra}</div>"
    )


def _highlighted(result: AnalysisResult) -> list[tuple[str, str | None]]:
    """The cleaned article as segments, the summary sentences marked (found in order in the cleaned text:
    their offsets index the text the caller passed)."""
    segments, position = [], 0
    for sentence in result.summary_sentences:
        start = result.text.find(sentence.text, position)
        if start < 0:
            continue
        if start > position:
            segments.append((result.text[position:start], None))
        segments.append((sentence.text, "ringkasan"))
        position = start + len(sentence.text)
    if position < len(result.text):
        segments.append((result.text[position:], None))
    return segments


def _too_many_rows(count: str, max_rows: int) -> gr.Error:
    return gr.Error(
        f"Berkas berisi {count} baris; batasnya {max_rows:,} per unggahan. Bagi berkasnya, atau pakai CLI "
        f"(python -m service analyze) untuk berkas besar. / {count} rows; the limit is {max_rows:,} per upload "
        "(max_batch_rows): split the file or use the CLI."
    )


def _records_from_upload(path: Path, max_rows: int) -> list[tuple[int, dict | None, str | None]]:
    """``(row number, row, error)`` in input order from an uploaded file (``service.frontends.rows``); a file of
    more than ``max_rows`` rows is refused before more than ``max_rows + 1`` of them are read."""
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise gr.Error(f"Berkas terlalu besar ({size / 1e6:.1f} MB); batasnya {MAX_UPLOAD_BYTES // 1_000_000} MB.")
    fmt = file_format(path)
    with open(path, "rb") as handle:
        head = handle.read(4096).decode("utf-8", errors="replace")
    if fmt != "parquet" and stray_characters(head) > BINARY_SHARE * max(len(head), 1):
        raise gr.Error("Berkas ini bukan teks (biner). Unggah CSV, JSONL, TXT, atau Parquet. / Not a text file.")
    if fmt is None:
        kinds = ", ".join(sorted(FORMATS))
        raise gr.Error(f"Jenis berkas {path.suffix or '(tanpa ekstensi)'} tidak didukung: gunakan {kinds}.")
    try:
        total = count_rows(path, fmt)
        if total is not None and total > max_rows:
            raise _too_many_rows(f"{total:,}", max_rows)
        records = list(itertools.islice(read_rows(path, fmt), max_rows + 1))
    except RowsError as error:
        raise gr.Error(str(error)) from None
    if len(records) > max_rows:
        raise _too_many_rows(f"lebih dari {max_rows:,} / more than {max_rows:,}", max_rows)
    return records


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def batch_overview(records, results: list[dict], names: dict[str, str]) -> tuple:
    """Articles per topic, and per day and topic when the rows carry a ``date`` (or ``tanggal``)
    starting with YYYY-MM-DD: two data frames for the Batch tab's charts (the second may be empty)."""
    import pandas as pd

    rows = {n: row for n, row, err in records if err is None}
    per_topic, per_day = {}, {}
    for line in results:
        if "topic" not in line:
            continue
        topic = names[line["topic"]]
        per_topic[topic] = per_topic.get(topic, 0) + 1
        row = rows.get(line["row"], {})
        day = _DAY.match(str(row.get("date") or row.get("tanggal") or ""))
        if day:
            per_day[(day.group(0), topic)] = per_day.get((day.group(0), topic), 0) + 1
    topics = pd.DataFrame(sorted(per_topic.items(), key=lambda kv: -kv[1]), columns=["topik", "artikel"])
    days = pd.DataFrame([(d, t, c) for (d, t), c in sorted(per_day.items())], columns=["tanggal", "topik", "artikel"])
    return topics, days


RATIO_LABEL = "Atau rasio: bagian kalimat artikel (0 = pakai jumlah kalimat) / Or a share of the sentences"


MAX_WORDS_LABEL = "Batas kata (0 = tanpa batas) / At most this many words (0: no limit)"


def length_controls() -> list:
    """The summary-length sliders both tabs show: sentences, ratio, word limit (``length_options`` reads them)."""
    return [
        gr.Slider(1, 8, value=3, step=1, label="Panjang ringkasan (kalimat)"),
        gr.Slider(0, 1, value=0, step=0.05, label=RATIO_LABEL),
        gr.Slider(0, 300, value=0, step=10, label=MAX_WORDS_LABEL),
    ]


def length_options(max_sentences: float, ratio: float = 0.0, max_words: float = 0.0) -> dict:
    """The sliders' values as ``Analyzer.analyze`` options: a ratio or word limit of 0 means none."""
    return {
        "max_sentences": int(max_sentences),
        "ratio": float(ratio) if ratio else None,
        "max_words": int(max_words) if max_words else None,
    }


def article_handler(analyzer: Analyzer, names: dict[str, str]):
    """The Artikel tab's function: one article -> badge, probabilities, summary, highlighted text, warnings."""

    def analyze_article(title: str, text: str, max_sentences: float, ratio: float = 0.0, max_words: float = 0.0):
        item = {"id": "artikel", "title": title or None, "text": text}
        result = analyzer.analyze([item], **length_options(max_sentences, ratio, max_words))[0]
        if result.error:
            return _badge(result, names), {}, "", [], f"**Kesalahan / error:** {result.error}"
        probabilities = {f"{names[t.label]} ({t.label})": t.score for t in result.topics}
        warnings = "\n".join(f"- ⚠️ {w}" for w in result.warnings)
        return _badge(result, names), probabilities, result.summary, _highlighted(result), warnings

    return analyze_article


def batch_table(results: list[dict]) -> list[list]:
    """The Batch tab's table rows (``BATCH_COLUMNS``) from the CLI's lines."""
    return [
        [
            r["row"],
            r.get("id"),
            r.get("topic", ""),
            ", ".join(f"{t['label']} {t['score']:.2f}" for t in r.get("topics", [])[:3]),
            r.get("summary", ""),
            "; ".join(r.get("warnings", [])),
            r.get("error", ""),
        ]
        for r in results
    ]


class DownloadFolders:
    """Where the Batch tab writes its downloads: a folder per request under one temporary root of this app;
    folders older than ``max_age`` seconds go on each request (Gradio has served its own copy by then),
    the root when the app exits."""

    def __init__(self, max_age: float = 3600):
        self.root, self.max_age = Path(tempfile.mkdtemp(prefix="warta-app-")), max_age
        atexit.register(shutil.rmtree, self.root, True)

    def new(self) -> Path:
        now = time.time()
        for folder in self.root.iterdir():
            if now - folder.stat().st_mtime > self.max_age:
                shutil.rmtree(folder, ignore_errors=True)
        return Path(tempfile.mkdtemp(dir=self.root))


def write_downloads(results: list[dict], table: list[list], out_dir: Path) -> list[str]:
    """The CSV (the table) and JSONL (the CLI's lines) downloads, written into ``out_dir``."""
    jsonl_path, csv_path = out_dir / "warta.jsonl", out_dir / "warta.csv"
    jsonl_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results), encoding="utf-8")
    buffer = io.StringIO()
    csv.writer(buffer).writerows([BATCH_COLUMNS, *table])
    csv_path.write_text(buffer.getvalue(), encoding="utf-8")
    return [str(csv_path), str(jsonl_path)]


def batch_handler(analyzer: Analyzer, names: dict[str, str], max_rows: int, downloads: DownloadFolders):
    """The Batch tab's function: a file of at most ``max_rows`` rows -> table, downloads, articles per topic,
    articles per day. The lines are the CLI's for the same file (the app's Analyzer, like the CLI's, gives each
    article the result it gets alone)."""

    def analyze_upload(file, max_sentences: float, ratio: float = 0.0, max_words: float = 0.0, progress=gr.Progress()):  # noqa: B008
        if file is None:
            raise gr.Error("Unggah berkas dulu. / Upload a file first.")
        records = _records_from_upload(Path(file if isinstance(file, str) else file.name), max_rows)
        results: list[dict] = []  # the CLI's lines, in input order
        for start in progress.tqdm(range(0, len(records), 16), desc="Menganalisis"):
            chunk = records[start : start + 16]
            results.extend(analyze_chunk(analyzer, chunk, **length_options(max_sentences, ratio, max_words)))
        table = batch_table(results)
        topics, days = batch_overview(records, results, names)
        files = write_downloads(results, table, downloads.new())
        return table, files, topics, gr.update(value=days, visible=not days.empty)

    return analyze_upload


def article_tab(handler, labels) -> None:
    """Title and text in; topic badge, probabilities, summary and the highlighted article out (``/analyze``)."""
    with gr.Row():
        with gr.Column(scale=3):
            title = gr.Textbox(label="Judul (opsional) / Title", elem_id="warta-title")
            text = gr.Textbox(label="Isi berita / Article text", lines=14, elem_id="warta-text")
            lengths = length_controls()
            button = gr.Button("Analisis", variant="primary", elem_id="warta-analyze")
            examples = [[t, b, 3] for t, b in EXAMPLES]
            gr.Examples(examples=examples, inputs=[title, text, lengths[0]], label="Contoh / Examples")
        with gr.Column(scale=2):
            badge = gr.HTML(label="Topik utama")
            probabilities = gr.Label(label="Probabilitas topik", num_top_classes=len(labels))
            summary = gr.Textbox(label="Ringkasan / Summary", lines=5, elem_id="warta-summary")
            warnings = gr.Markdown()
    highlighted = gr.HighlightedText(
        label="Artikel, kalimat ringkasan disorot", color_map={"ringkasan": "yellow"}, combine_adjacent=False
    )
    outputs = [badge, probabilities, summary, highlighted, warnings]
    button.click(handler, [title, text, *lengths], outputs, api_name="analyze", **ONE_AT_A_TIME)


def batch_tab(handler) -> None:
    """A file in; the results table, downloads and two charts out (``/analyze_batch``)."""
    gr.Markdown(
        "Unggah **CSV** (kolom `id`, `text`, opsional `title` dan `date`), **JSONL** (objek per baris), "
        "**Parquet** atau **TXT** (artikel dipisah dua baris kosong), maks. 20 MB. Baris yang rusak dilaporkan "
        "per baris; grafik menghitung artikel per topik (dan per hari bila ada kolom `date` YYYY-MM-DD)."
    )
    upload = gr.File(label="Berkas", file_types=sorted(FORMATS), elem_id="warta-upload")
    lengths = length_controls()
    button = gr.Button("Analisis berkas", variant="primary", elem_id="warta-batch-analyze")
    with gr.Row():
        with gr.Column(scale=3):
            table = gr.Dataframe(headers=BATCH_COLUMNS, label="Hasil", wrap=True)
        with gr.Column(scale=2):
            topic_chart = gr.BarPlot(
                x="topik", y="artikel", title="Artikel per topik", sort="-y", y_lim=[0, None],
                elem_id="warta-batch-topics",
            )  # fmt: skip
            day_chart = gr.BarPlot(
                x="tanggal", y="artikel", color="topik", title="Artikel per hari", visible=False,
                elem_id="warta-batch-days",
            )  # fmt: skip
    downloads = gr.File(label="Unduh CSV dan JSONL", file_count="multiple")
    outputs = [table, downloads, topic_chart, day_chart]
    button.click(handler, [upload, *lengths], outputs, api_name="analyze_batch", **ONE_AT_A_TIME)


def build_app(analyzer: Analyzer) -> gr.Blocks:
    """The three tabs over one ``Analyzer`` (setting ``max_batch_rows`` caps a Batch upload)."""
    labels = load_labels()
    names = {label.key: label.name for label in labels}
    max_rows = int(analyzer.settings.get("max_batch_rows", MAX_BATCH_ROWS))
    # Gradio's cache (uploads, served downloads): files older than an hour go every 10 minutes and at exit.
    with gr.Blocks(title="Warta: topik & ringkasan berita", delete_cache=(600, 3600)) as app:
        gr.Markdown(
            "# Warta\nTopik dan ringkasan berita berbahasa Indonesia. *Topics and summaries for Indonesian news.*"
        )
        with gr.Tab("Artikel"):
            article_tab(article_handler(analyzer, names), labels)
        with gr.Tab("Batch"):
            batch_tab(batch_handler(analyzer, names, max_rows, DownloadFolders()))
        with gr.Tab("Tentang"):
            gr.Markdown(_about(labels, analyzer.model_dirs))
    return app


CLASSIFIER_ROWS = [
    ("Warta", "model"),
    ("TF-IDF + regresi logistik, label pembaca", "tfidf_careful_labels"),
    ("TF-IDF + regresi logistik, rubrik penerbit", "tfidf_publisher_labels"),
    ("rubrik penerbit", "publisher_labels"),
]
SUMMARY_METHODS = {"model": "Warta", "lead3_plain": "LEAD-3 (tiga kalimat pertama)"}


def _classifier_section(data: dict) -> list[str]:
    """The classifier's figures, named for the set they were measured on (eval.json's ``test_set``)."""
    engine = f"{data.get('backend', '?')} {data.get('precision', '')}".strip()
    lines = [
        f"## Klasifikasi topik: uji pengembangan ({data.get('gold_articles', '?')} artikel)",
        "",
        f"{data.get('test_set', '')}. Pembaca adalah model bahasa yang membaca seperti pembaca cermat "
        f"(*the readers are language models*). Mesin: {engine}.",
        "",
        "| model | akurasi | macro-F1 |",
        "|---|---|---|",
    ]
    return lines + [
        f"| {label} | {data[key]['accuracy']:.3f} | {data[key]['macro_f1']:.3f} |"
        for label, key in CLASSIFIER_ROWS
        if key in data
    ]


def _summary_section(data: dict) -> list[str]:
    """The summariser's figures on the validation split (ROUGE F1 against IndoSum's reference summaries)."""
    lines = [
        f"## Ringkasan: validasi ({data['validation_articles']} artikel IndoSum, "
        f"{data['sentences_per_summary']} kalimat)",
        "",
        "| metode | ROUGE-1 | ROUGE-2 | ROUGE-L |",
        "|---|---|---|---|",
    ]
    return lines + [
        f"| {SUMMARY_METHODS.get(m, m)} | {r['rouge1']:.2f} | {r['rouge2']:.2f} | {r['rougeL']:.2f} |"
        for m, r in data["validation_rouge_f1"].items()
    ]


def _about(labels, model_dirs: tuple[Path, Path] | None) -> str:
    """The Tentang tab: the taxonomy and the measured figures (each model's eval.json) of the models served,
    ``model_dirs`` = (classifier, summariser) as the Analyzer loaded them."""
    lines = ["## Taksonomi topik", "", "| kunci | nama | cakupan | IPTC |", "|---|---|---|---|"]
    lines += [f"| `{x.key}` | {x.name} | {x.scope} | {x.iptc} |" for x in labels]
    for directory, section in zip(model_dirs or (), (_classifier_section, _summary_section), strict=False):
        file = Path(directory) / "eval.json"
        if file.exists():
            lines += ["", *section(json.loads(file.read_text()))]
    return "\n".join(lines)
