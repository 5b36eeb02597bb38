"""``make report`` renders the README's measured blocks from the committed JSON files, nothing else."""

from __future__ import annotations

import pytest

from training.config import PROJECT_ROOT
from training.report import BLOCKS, README, parity_block, render_readme, speed_block

BENCHMARK = {
    "cpu": "Test CPU, 2 CPUs (avx2)",
    "article_words": 400,
    "backends": {
        "onnx-int8": {
            "cold_start": {"runs": 3, "process_seconds": 1.5, "import_seconds": 0.1, "load_seconds": 1.2,
                           "first_answer_seconds": 0.1},
            "cli": {"rows": 1000, "articles_per_second": 20.5, "peak_rss_mb": 800.4},
            "single_article_ms": {"p50": 50.0, "p95": 60.0},
            "articles_per_second_batch_16": 21.0,
            "articles_per_second_batch_32": 20.0,
            "vs_reference": {"p50_ratio": 0.35, "throughput_ratio_batch_16": 3.5},
        },
        "transformers-fp32-512": {
            "single_article_ms": {"p50": 143.0, "p95": 150.0},
            "articles_per_second_batch_16": 6.0,
            "articles_per_second_batch_32": 5.8,
        },
    },
}  # fmt: skip


def test_every_block_of_the_readme_is_rendered_and_nothing_outside_changes():
    text = README.read_text(encoding="utf-8")
    rendered = render_readme(text)
    assert render_readme(rendered) == rendered  # idempotent
    for name in BLOCKS:
        assert f"<!-- report:{name} -->" in rendered and f"<!-- /report:{name} -->" in rendered
    stale = rendered.replace("<!-- report:speed -->\n", "<!-- report:speed -->\n| onnx-int8 | 9.99 s |\n", 1)
    assert "9.99 s" not in render_readme(stale)  # a hand-edited figure does not survive a report
    outside = rendered.replace("## Speed and backends", "## Speed and backends (edited)", 1)
    assert "(edited)" in render_readme(outside)


def test_a_readme_without_a_block_is_refused():
    with pytest.raises(ValueError, match="report:parity"):
        render_readme("<!-- report:speed -->\n<!-- /report:speed -->\n<!-- report:scale -->\n<!-- /report:scale -->")


def test_blocks_show_the_cpu_and_the_measured_values():
    block = speed_block(BENCHMARK)
    assert "Test CPU, 2 CPUs (avx2)" in block and "| onnx-int8 | 1.50 s | 50.0 / 60.0 ms | 21.0 / 20.0 |" in block
    assert "plain transformers fp32, 512 tokens" in block and "20.5, 800 MB" in block
    assert "loading the models 1.20 s" in block
    assert parity_block({}).startswith("_Not measured yet")


def test_every_scoring_is_appended_and_shown_in_the_card(tmp_path):
    import shutil

    from training.model_card import write_classifier_card
    from training.scorings import log_scoring, read_scorings

    model = tmp_path / "topic-classifier"
    shutil.copytree(PROJECT_ROOT / "models" / "topic-classifier", model)
    before = read_scorings(model)
    assert len(before) >= 5  # the scorings before the log existed, reconstructed from git
    log_scoring(model, "training.evaluate_classifier", "onnx-int8", 1465, 0.88811, accuracy=0.8922)
    after = read_scorings(model)
    assert after[:-1] == before and after[-1]["macro_f1"] == 0.8881 and after[-1]["backend"] == "onnx-int8"
    run = "some-run"  # which trained model was scored: the log outlives promotions
    (model / "training_config.yaml").write_text("output_dir: build/runs/some-run\n")
    log_scoring(model, "training.evaluate_classifier", "onnx-int8", 1465, 0.88811, accuracy=0.8922)
    after = read_scorings(model)
    assert after[-1]["run"] == run
    write_classifier_card(model)
    card = (model / "README.md").read_text()
    assert f"scored {len(after)} times" in card and "scored once" not in card
    assert f"| {len(after)} | " in card and "| onnx-int8 | 1465 | 0.8922 | 0.8881 |" in card
    assert f"| {run} | `training.evaluate_classifier` |" in card
