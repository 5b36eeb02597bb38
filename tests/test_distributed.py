"""Ray Data batch analysis on a real local Ray instance gives the CLI's lines, bad rows included."""

from __future__ import annotations

import datetime
import decimal
import json
import subprocess
import sys
import tracemalloc

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.fixtures.articles import HEALTH, REGIONAL_GOVERNMENT, SCRAPED_REGIONAL, SPORT
from training.config import PROJECT_ROOT

ray = pytest.importorskip("ray")


def write_fixture(directory) -> tuple:
    """43 rows over four files, with malformed, empty, binary and non-object rows, one clean file (a block
    without any error must still reach the workers as text) and a Parquet file with date, timestamp and
    decimal columns (which json.dumps cannot write as they come)."""
    texts = [SPORT, HEALTH, REGIONAL_GOVERNMENT, SCRAPED_REGIONAL]
    lines = []
    for i in range(27):
        if i == 4:
            lines.append("{not json")
        elif i == 9:
            lines.append(json.dumps({"id": "empty", "text": ""}))
        elif i == 13:
            lines.append(json.dumps(["a", "list"]))
        elif i == 17:
            lines.append(json.dumps({"id": "binary", "text": "\x00\x01\x02" * 50}))
        else:
            title, body = texts[i % 4].split("\n", 1)
            lines.append(json.dumps({"id": f"j{i}", "title": title, "text": body.replace(".", f" ke-{i}.", 1)}))
    jsonl = directory / "a.jsonl"
    jsonl.write_text("\n".join(lines) + "\n")
    csv_rows = ["id,title,text"] + [f'c{i},,"{texts[i % 4].split(chr(10), 1)[1]}"' for i in range(9)] + ["bad,row"]
    csv = directory / "b.csv"
    csv.write_text("\n".join(csv_rows) + "\n")
    clean = directory / "c.jsonl"
    clean.write_text("".join(json.dumps({"id": f"k{i}", "text": texts[i]}) + "\n" for i in range(3)))
    typed = directory / "d.parquet"
    days = range(3)
    table = {
        "id": [f"p{i}" for i in days],
        "text": texts[:3],
        "date": pa.array([datetime.date(2025, 6, 1 + i) for i in days], pa.date32()),
        "published": pa.array([datetime.datetime(2025, 6, 1, 8, i) for i in days], pa.timestamp("us", tz="UTC")),
        "price": pa.array([decimal.Decimal("12.50")] * 3, pa.decimal128(6, 2)),
    }
    pq.write_table(pa.table(table), typed)
    return jsonl, csv, clean, typed


def cli_lines(source, output) -> list[dict]:
    command = [sys.executable, "-m", "service", "analyze", "--input", str(source), "--output", str(output)]
    subprocess.run(command, cwd=PROJECT_ROOT, check=True, capture_output=True)
    return [json.loads(line) for line in output.read_text().splitlines()]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs_and_cli_lines(tmp_path_factory) -> tuple[list[str], list[dict]]:
    """The fixture files and what ``python -m service analyze`` writes for them (with ``source``), made once."""
    directory = tmp_path_factory.mktemp("inputs")
    inputs = write_fixture(directory)
    expected = []
    for source in inputs:
        expected += [{"source": str(source), **line} for line in cli_lines(source, directory / f"{source.stem}.out")]
    assert len(expected) == 43 and sum("error" in line for line in expected) == 5
    return [str(p) for p in inputs], expected


@pytest.fixture(scope="module", params=["jsonl", "parquet"])
def ray_run(request, local_ray, inputs_and_cli_lines, tmp_path_factory) -> tuple[str, dict, list[dict]]:
    """One Ray Data run over the fixture files per output format: ``(format, counts, rows written)``."""
    from service.frontends.distributed import read_output, run

    fmt, output = request.param, tmp_path_factory.mktemp("ray-out") / "out"
    counts = run(inputs_and_cli_lines[0], output, fmt, workers=2, batch_size=8)
    return fmt, counts, read_output(output, fmt)


def test_ray_data_gives_the_cli_lines_for_every_row(ray_run, inputs_and_cli_lines):
    _, counts, written = ray_run
    assert counts["rows"] == 43 and counts["errors"] == 5
    assert written == inputs_and_cli_lines[1]  # same rows, same order, same topics, scores and summaries


def test_parquet_with_date_timestamp_and_decimal_columns_analyses_every_row(ray_run):
    _, _, written = ray_run
    typed = [row for row in written if row["source"].endswith("d.parquet")]
    assert [(row["row"], row["id"]) for row in typed] == [(1, "p0"), (2, "p1"), (3, "p2")]
    assert not any("error" in row for row in typed)
    assert [row["topic"] for row in typed] == ["sport", "health", "governance"]
    assert all(row["summary"] for row in typed)


def test_written_rows_are_counted_by_streaming(tmp_path):
    """``run`` counts its output a line (JSONL) or a batch of the error column (Parquet) at a time."""
    from service.frontends.distributed import count_output, output_schema

    jsonl, parquet = tmp_path / "jsonl", tmp_path / "parquet"
    jsonl.mkdir()
    parquet.mkdir()
    text = "kata " * 2000  # 10 kB a row: 20 MB over two files
    for part in range(2):
        with open(jsonl / f"part-{part}.json", "w", encoding="utf-8") as handle:
            for i in range(2000):
                row = {"row": i, "error": "line is not valid JSON"} if i % 100 == 0 else {"row": i, "summary": text}
                handle.write(json.dumps(row) + "\n")
        rows = [{"row": i, "error": "bad" if i % 100 == 0 else None, "summary": text} for i in range(2000)]
        pq.write_table(pa.Table.from_pylist(rows, schema=output_schema()), parquet / f"part-{part}.parquet")

    tracemalloc.start()
    try:
        assert count_output(jsonl, "jsonl") == (4000, 40)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # reading the output back (read_output) holds all 20 MB
    assert count_output(parquet, "parquet") == (4000, 40)


def test_actor_resources_fit_the_largest_node():
    from service.frontends.distributed import actor_resources

    # One node of 2 CPUs: today's requests, (2 - 0.2) / workers, and the cores shared out as threads.
    assert actor_resources([2.0], 1) == (pytest.approx(1.8), 2)
    assert actor_resources([2.0], 2) == (pytest.approx(0.9), 1)
    # Two nodes of 2 CPUs, one worker: it must fit one node (the cluster total, 3.8, fits none).
    cpus, threads = actor_resources([2.0, 2.0], 1)
    assert cpus <= 2.0 - 0.2 and threads == 2
    # Three workers on two nodes of 2: two fit on one node at 0.9 each, so none is left unplaced.
    assert actor_resources([2.0, 2.0], 3) == (pytest.approx(0.9), 1)
    assert actor_resources([2.0, 2.0], 2) == (pytest.approx(1.8), 2)  # one worker per node
    assert actor_resources([16.0, 2.0, 0.0], 2) == (pytest.approx(7.9), 8)  # both on the big node
