"""One reader for every front end (``service.frontends.rows``) and one length cut for training and serving."""

from __future__ import annotations

import datetime
import decimal
import io
import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from service.analyzer import prepare_article
from service.frontends.rows import FORMATS, RowsError, file_format, read_rows
from service.text import cut_text
from tests.fixtures.articles import HEALTH, REGIONAL_GOVERNMENT, SPORT
from training.cleaning import clean_body
from training.config import PROJECT_ROOT


def _parquet(path, texts):
    table = pa.table(
        {
            "id": [f"p{i}" for i in range(len(texts))],
            "text": texts,
            "date": pa.array([datetime.date(2025, 6, 1 + i) for i in range(len(texts))], pa.date32()),
            "published": pa.array(
                [datetime.datetime(2025, 6, 1, 8, i) for i in range(len(texts))], pa.timestamp("us", tz="UTC")
            ),
            "price": pa.array([decimal.Decimal("12.50")] * len(texts), pa.decimal128(6, 2)),
        }
    )
    pq.write_table(table, path)


def test_every_front_end_reads_the_same_formats():
    assert file_format("a.JSONL") == "jsonl" and file_format("b.csv") == "csv" and file_format("c.txt") == "txt"
    assert file_format("d.parquet") == "parquet" and file_format("e.docx") is None
    assert set(FORMATS.values()) == {"jsonl", "csv", "txt", "parquet"}


def test_parquet_cells_of_any_type_become_json_values(tmp_path):
    path = tmp_path / "in.parquet"
    _parquet(path, [SPORT, HEALTH])
    records = list(read_rows(path, "parquet"))
    assert [(n, err) for n, _, err in records] == [(1, None), (2, None)]
    row = records[1][1]
    assert row["date"] == "2025-06-02" and row["price"] == "12.50" and row["published"].startswith("2025-06-01T08:01")
    json.dumps(row)  # what Ray's row files hold


def test_txt_splits_on_two_blank_lines_with_any_line_ending():
    data = f"{SPORT}\r\n\r\n\r\n{HEALTH}\n\n\n\n{REGIONAL_GOVERNMENT}".encode()
    records = list(read_rows(io.BytesIO(data), "txt"))
    assert [row["id"] for _, row, _ in records] == ["1", "2", "3"]
    assert records[0][1]["text"] == SPORT.replace("\r\n", "\n").strip()


def test_a_csv_without_text_column_is_refused_whole():
    with pytest.raises(RowsError, match="'text' column"):
        list(read_rows(io.BytesIO(b"id,body\n1,x\n"), "csv"))


def test_cli_analyses_every_parquet_row_with_date_timestamp_and_decimal_columns(tmp_path):
    source, output = tmp_path / "in.parquet", tmp_path / "out.jsonl"
    _parquet(source, [SPORT, HEALTH, ""])
    result = subprocess.run(
        [sys.executable, "-m", "service", "analyze", "--input", str(source), "--output", str(output)],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [(line["row"], line["id"]) for line in lines] == [(1, "p0"), (2, "p1"), (3, "p2")]
    assert lines[0]["topic"] == "sport" and lines[1]["topic"] == "health" and "error" in lines[2]


def test_training_and_serving_cut_and_clean_in_the_same_order():
    paragraph = "Bupati Sleman meresmikan pasar baru di Kecamatan Depok pada hari Senin.   Warga menyambutnya."
    text = "\r\n".join([paragraph] * 40)  # CRLF and double spaces: cleaning shortens the text
    limit = 1500
    served = prepare_article(text, max_chars=limit).text
    assert served == clean_body(text, max_chars=limit) == clean_body(cut_text(text, limit))
    assert len(cut_text(text, limit)) <= limit and cut_text(text, limit).rstrip().endswith(paragraph)
    assert served.count("Bupati") == cut_text(text, limit).count("Bupati") < 40
