"""Ray Data batch analysis on a real local Ray instance gives the CLI's lines, bad rows included."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.fixtures.articles import HEALTH, REGIONAL_GOVERNMENT, SCRAPED_REGIONAL, SPORT
from training.config import PROJECT_ROOT

ray = pytest.importorskip("ray")


def write_fixture(directory) -> tuple:
    """40 rows over three files, with malformed, empty, binary and non-object rows (and one clean file:
    a block without any error must still reach the workers as text)."""
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
    return jsonl, csv, clean


def cli_lines(source, output) -> list[dict]:
    command = [sys.executable, "-m", "service", "analyze", "--input", str(source), "--output", str(output)]
    subprocess.run(command, cwd=PROJECT_ROOT, check=True, capture_output=True)
    return [json.loads(line) for line in output.read_text().splitlines()]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_ray_data_gives_the_cli_lines_for_every_row(tmp_path, local_ray, fmt):
    from service.frontends.distributed import read_output, run

    inputs = write_fixture(tmp_path)
    expected = []
    for source in inputs:
        expected += [{"source": str(source), **line} for line in cli_lines(source, tmp_path / f"{source.stem}.out")]
    assert len(expected) == 40 and sum("error" in line for line in expected) == 5

    counts = run([str(p) for p in inputs], tmp_path / "ray-out", fmt, workers=2, batch_size=8)
    written = read_output(tmp_path / "ray-out", fmt)
    assert counts["rows"] == 40 and counts["errors"] == 5
    assert written == expected  # same rows, same order, same topics, scores and summaries
