"""The batch CLI survives being killed (SIGKILL mid-run, then --resume, gives the uninterrupted file) and
never loses or mixes a user's data: another input, other options or the input itself as output are refused
with every file left as it was."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

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

    partial = tmp_path / "resumed.jsonl.partial"
    run = subprocess.Popen(cli(source, resumed), cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while complete_lines(partial) < 2 * CHUNK and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert run.returncode == -signal.SIGKILL
    assert not resumed.exists()  # the output appears only when complete
    kept = complete_lines(partial)
    assert 2 * CHUNK <= kept < ROWS  # killed mid-run, after some chunks were flushed
    refused = subprocess.run(cli(source, resumed), cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert refused.returncode == 2 and "--resume" in refused.stderr  # an interrupted run is not restarted silently
    with open(partial, "ab") as handle:
        handle.write(b'{"row": 99, "id": "half a li')  # as if killed in the middle of a write

    finished = subprocess.run(cli(source, resumed, "--resume"), cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert f"{ROWS - kept} rows written" in finished.stderr and f"{kept} already there" in finished.stderr
    assert resumed.read_text().splitlines() == expected  # one line per row, in order, byte for byte
    record = json.loads((tmp_path / "resumed.jsonl.run.json").read_text())
    assert not partial.exists() and record["complete"] and record["rows"] == ROWS
    assert not (tmp_path / "resumed.jsonl.partial.run.json").exists()
    again = subprocess.run(cli(source, resumed, "--resume"), cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert again.returncode == 0 and f"0 rows written to {resumed} (0 with errors, {ROWS} already" in again.stderr
    assert resumed.read_text().splitlines() == expected


def snapshot(directory) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


def test_resume_refuses_another_input_or_other_options_and_touches_nothing(tmp_path):
    first, second, output = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "out.jsonl"
    write_input(first)
    lines = first.read_text().splitlines()
    second.write_text("\n".join(lines[:3] + [json.dumps({"id": "other", "text": HEALTH})] + lines[4:]) + "\n")
    subprocess.run(cli(first, output), cwd=PROJECT_ROOT, check=True, capture_output=True)
    partial = tmp_path / "out.jsonl.partial"
    os.replace(output, partial)  # as if a run over a.jsonl had been killed after all its rows
    record = json.loads((tmp_path / "out.jsonl.run.json").read_text()) | {"complete": False}
    (tmp_path / "out.jsonl.partial.run.json").write_text(json.dumps(record))
    (tmp_path / "out.jsonl.run.json").unlink()
    before = snapshot(tmp_path)
    for command, reason in (
        (cli(second, output, "--resume"), "input_sha256"),
        (cli(first, output, "--resume", "--max-sentences", "2"), "options"),
        (cli(first, output, "--resume", "--max-words", "30"), "options"),
    ):
        refused = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
        assert refused.returncode == 2 and "another run" in refused.stderr and reason in refused.stderr
        assert snapshot(tmp_path) == before
    record = tmp_path / "out.jsonl.partial.run.json"  # the same run, but a line whose id is not the input's
    data = partial.read_text().splitlines()
    data[1] = data[1].replace('"id": "a1"', '"id": "zz"')
    partial.write_text("\n".join(data) + "\n")
    before = snapshot(tmp_path)
    refused = subprocess.run(cli(first, output, "--resume"), cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert refused.returncode == 2 and "does not continue the input" in refused.stderr and "'zz'" in refused.stderr
    assert snapshot(tmp_path) == before and record.exists()


def test_max_words_caps_every_summary(tmp_path):
    from service.text import split_sentences

    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate([SPORT, HEALTH])))
    command = cli(source, output, "--max-sentences", "5", "--max-words", "35")
    subprocess.run(command, cwd=PROJECT_ROOT, check=True, capture_output=True)
    summaries = [json.loads(line)["summary"] for line in output.read_text().splitlines()]
    for summary in summaries:  # a first sentence longer than the cap stands alone
        assert 0 < len(summary.split()) <= 35 or len(split_sentences(summary)) == 1
    assert max(len(split_sentences(s)) for s in summaries) < 5
    refused = subprocess.run(
        cli(source, tmp_path / "x.jsonl", "--max-words", "0"), cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert refused.returncode == 2 and "--max-words must be at least 1" in refused.stderr


def test_the_input_is_never_the_output(tmp_path):
    source = tmp_path / "in.jsonl"
    write_input(source)
    (tmp_path / "link.jsonl").symlink_to(source)
    original = source.read_bytes()
    for output in (source, tmp_path / "link.jsonl", tmp_path / "." / "in.jsonl"):
        refused = subprocess.run(cli(source, output, "--overwrite"), cwd=PROJECT_ROOT, capture_output=True, text=True)
        assert refused.returncode == 2 and "input file itself" in refused.stderr
        assert source.read_bytes() == original


def test_overwrite_keeps_the_old_output_until_the_new_one_is_complete(tmp_path):
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(source)
    output.write_text("old\n")
    partial = tmp_path / "out.jsonl.partial"
    run = subprocess.Popen(
        cli(source, output, "--overwrite"), cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while complete_lines(partial) < 2 * CHUNK and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert run.returncode == -signal.SIGKILL and complete_lines(partial) >= 2 * CHUNK
    assert output.read_text() == "old\n"  # killed mid-run: the old output is whole


@pytest.mark.parametrize(
    "config",
    [
        "classifier_dir: /nonexistent/classifier\nsummarizer_dir: /nonexistent/summarizer\n",
        "backend: [onnx\n",  # not YAML
        "backend: tensorrt\n",
    ],
    ids=["missing-model", "broken-yaml", "unknown-backend"],
)
def test_a_model_that_cannot_load_is_a_one_line_error(tmp_path, config):
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps({"id": "1", "text": SPORT}) + "\n")
    (tmp_path / "service.yaml").write_text(config)
    command = cli(source, output, "--config", str(tmp_path / "service.yaml"))
    failed = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr, failed.stderr
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot load the models" in errors[0] and not output.exists()


def test_an_unreadable_input_is_refused_before_any_file_is_written(tmp_path):
    source, output = tmp_path / "in.csv", tmp_path / "out.jsonl"
    source.write_text("id,body\n1,no text column\n")
    failed = subprocess.run(cli(source, output), cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert failed.returncode == 2 and "'text' column" in failed.stderr and "Traceback" not in failed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_existing_output_is_not_overwritten_silently(tmp_path):
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps({"id": "1", "text": SPORT}) + "\n")
    output.write_text("keep me\n")
    refused = subprocess.run(cli(source, output), cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert refused.returncode == 2 and "--resume" in refused.stderr and "--overwrite" in refused.stderr
    assert output.read_text() == "keep me\n"
    foreign = subprocess.run(cli(source, output, "--resume"), cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert foreign.returncode != 0 and "no run record" in foreign.stderr
    subprocess.run(cli(source, output, "--overwrite"), cwd=PROJECT_ROOT, check=True, capture_output=True)
    assert json.loads(output.read_text())["topic"] == "sport"


def test_the_first_onnx_export_is_announced_at_the_clis_log_level(tmp_path):
    """A fresh cache (the converted backbone linked in): the ~30 s export says what it is doing."""
    from service.backbone.cache import cache_root

    cache = tmp_path / "cache"
    (cache / "backbones").mkdir(parents=True)
    for entry in (cache_root() / "backbones").iterdir():
        (cache / "backbones" / entry.name).symlink_to(entry)
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps({"id": "1", "text": SPORT}) + "\n")
    env = dict(os.environ, WARTA_CACHE=str(cache), WARTA_BACKEND="onnx")
    run = subprocess.run(cli(source, output), cwd=PROJECT_ROOT, capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert "exporting the models to ONNX" in run.stderr and "about 30 s" in run.stderr
    assert json.loads(output.read_text())["topic"] == "sport"
