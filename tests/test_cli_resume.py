"""The batch CLI survives being killed: SIGKILL mid-run, then --resume, gives the uninterrupted file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from tests.fixtures.articles import HEALTH, REGIONAL_GOVERNMENT, SCRAPED_REGIONAL, SPORT
from training.config import PROJECT_ROOT

ROWS = 36
CHUNK = 3


def write_input(path) -> None:
    texts = [SPORT, HEALTH, REGIONAL_GOVERNMENT, SCRAPED_REGIONAL]
    lines = []
    for i in range(ROWS):
        if i == 7:
            lines.append("{not json")  # a bad row keeps its place
        elif i == 20:
            lines.append(json.dumps({"id": "empty", "text": ""}))
        else:
            title, body = texts[i % 4].split("\n", 1)
            lines.append(json.dumps({"id": f"a{i}", "title": title, "text": body.replace(".", f" nomor {i}.", 1)}))
    path.write_text("\n".join(lines) + "\n")


def cli(source, output, *extra) -> list[str]:
    command = [sys.executable, "-m", "service", "analyze", "--input", str(source), "--output", str(output)]
    return [*command, "--chunk-size", str(CHUNK), *extra]


def complete_lines(path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    source, whole, resumed = tmp_path / "in.jsonl", tmp_path / "whole.jsonl", tmp_path / "resumed.jsonl"
    write_input(source)
    subprocess.run(cli(source, whole), cwd=PROJECT_ROOT, check=True, capture_output=True)
    expected = whole.read_text().splitlines()
    assert len(expected) == ROWS and [json.loads(line)["row"] for line in expected] == list(range(1, ROWS + 1))

    run = subprocess.Popen(cli(source, resumed), cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while complete_lines(resumed) < 2 * CHUNK and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert run.returncode == -signal.SIGKILL
    kept = complete_lines(resumed)
    assert 2 * CHUNK <= kept < ROWS  # killed mid-run, after some chunks were flushed
    with open(resumed, "ab") as handle:
        handle.write(b'{"row": 99, "id": "half a li')  # as if killed in the middle of a write

    finished = subprocess.run(cli(source, resumed, "--resume"), cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert f"{ROWS - kept} rows written" in finished.stderr and f"{kept} already there" in finished.stderr
    assert resumed.read_text().splitlines() == expected  # one line per row, in order, byte for byte


def test_existing_output_is_not_overwritten_silently(tmp_path):
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps({"id": "1", "text": SPORT}) + "\n")
    output.write_text("keep me\n")
    refused = subprocess.run(cli(source, output), cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert refused.returncode == 2 and "--resume" in refused.stderr and "--overwrite" in refused.stderr
    assert output.read_text() == "keep me\n"
    foreign = subprocess.run(cli(source, output, "--resume"), cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert foreign.returncode != 0 and "not a line this CLI wrote" in foreign.stderr
    subprocess.run(cli(source, output, "--overwrite"), cwd=PROJECT_ROOT, check=True, capture_output=True)
    assert json.loads(output.read_text())["topic"] == "sport"
