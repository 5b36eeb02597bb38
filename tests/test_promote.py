"""Promotion: a run's files into a shipped model directory, the card rewritten, nothing of the old model lost.

Runs, destinations and build/replaced are temporary directories; the shipped models are only read
(their files serve as realistic runs).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from training.config import project_path
from training.promote import PromoteError, main, promote, run_kind

SHIPPED_CLASSIFIER = project_path("models/topic-classifier")
SHIPPED_SUMMARIZER = project_path("models/summarizer")
TRAINED_FILES = ("config.json", "model.safetensors", "training_config.yaml", "train_metrics.json")


def contents(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.fixture
def roots(tmp_path) -> dict[str, Path]:
    """A project-like layout in tmp_path: build/runs, build/replaced, models."""
    return {
        "runs_root": tmp_path / "build" / "runs",
        "replaced_root": tmp_path / "build" / "replaced",
        "models_root": tmp_path / "models",
    }


def evaluated_classifier_run(runs_root: Path) -> Path:
    """A classifier run evaluated before promotion: the shipped files (eval.json, run_selection.json ...)."""
    run = runs_root / "exp-evaluated"
    shutil.copytree(SHIPPED_CLASSIFIER, run)
    return run


def fresh_summarizer_run(runs_root: Path) -> Path:
    """A summariser run straight from training: model and training files only, new weights."""
    run = runs_root / "summarizer-20250612-093000"
    run.mkdir(parents=True)
    for name in TRAINED_FILES:
        shutil.copy(SHIPPED_SUMMARIZER / name, run / name)
    (run / "model.safetensors").write_bytes(b"weights of the new run")
    return run


def test_the_kind_comes_from_config_json(roots, tmp_path):
    assert run_kind(SHIPPED_CLASSIFIER) == "classifier"
    assert run_kind(SHIPPED_SUMMARIZER) == "summarizer"
    (tmp_path / "config.json").write_text(json.dumps({"backbone": "e5-small", "hidden": 3}))
    with pytest.raises(PromoteError, match="neither"):
        run_kind(tmp_path)


def test_promote_copies_the_run_and_writes_its_card(roots):
    run = evaluated_classifier_run(roots["runs_root"])
    promotion = promote("exp-evaluated", **roots)  # the destination follows the kind
    destination = roots["models_root"] / "topic-classifier"
    assert promotion.kind == "classifier" and promotion.destination == destination.resolve()
    shipped = contents(destination)
    assert {k: v for k, v in shipped.items() if k != "README.md"} == {
        k: v for k, v in contents(run).items() if k != "README.md"
    }
    card = shipped["README.md"].decode()
    macro_f1 = json.loads((run / "eval.json").read_text())["model"]["macro_f1"]
    assert card.startswith("---\n") and "# Warta topic classifier" in card and f"{macro_f1:.4f}" in card
    assert "## How the configuration was chosen" in card  # from run_selection.json
    assert promotion.full_card and promotion.next_steps == [] and not roots["replaced_root"].exists()


def test_a_fresh_run_gets_a_card_without_scores_and_the_commands_that_measure_it(roots, capsys):
    fresh_summarizer_run(roots["runs_root"])
    to = roots["models_root"] / "summarizer"
    main(["summarizer-20250612-093000", "--to", str(to), "--runs-root", str(roots["runs_root"])])
    to = to.resolve()
    assert sorted(contents(to)) == sorted([*TRAINED_FILES, "README.md"])
    card = (to / "README.md").read_text()
    assert "not evaluated yet" in card and "summarizer-20250612-093000" in card
    assert f"python -m training.evaluate_summarizer --cv --model {to}" in card
    printed = capsys.readouterr().out
    assert "next:" in printed and f"python -m training.evaluate_summarizer --model {to}" in printed


def test_promote_over_a_shipped_model_without_replace_changes_nothing(roots):
    fresh_summarizer_run(roots["runs_root"])
    destination = roots["models_root"] / "summarizer"
    shutil.copytree(SHIPPED_SUMMARIZER, destination)
    before = contents(destination)
    with pytest.raises(PromoteError, match="already holds a model; --replace"):
        promote("summarizer-20250612-093000", **roots)
    with pytest.raises(SystemExit, match="already holds a model"):
        main(
            [
                "summarizer-20250612-093000",
                *("--to", str(destination), "--runs-root", str(roots["runs_root"])),
                *("--replaced-root", str(roots["replaced_root"])),
            ]
        )
    assert contents(destination) == before
    assert not roots["replaced_root"].exists()


def test_replace_moves_the_old_model_to_build_replaced_and_keeps_data_evidence(roots, capsys):
    run = fresh_summarizer_run(roots["runs_root"])
    destination = roots["models_root"] / "summarizer"
    shutil.copytree(SHIPPED_SUMMARIZER, destination)
    before = contents(destination)
    main(
        [
            "summarizer-20250612-093000",
            "--to",
            str(destination),
            "--replace",
            "--runs-root",
            str(roots["runs_root"]),
            "--replaced-root",
            str(roots["replaced_root"]),
        ]
    )
    (archive,) = roots["replaced_root"].iterdir()
    assert archive.name.startswith("summarizer-")
    # Every old file is in build/replaced, byte for byte, except the data evidence, which stays.
    assert contents(archive) == {k: v for k, v in before.items() if k != "cv_variants.json"}
    after = contents(destination)
    assert after["cv_variants.json"] == before["cv_variants.json"]
    assert after["model.safetensors"] == b"weights of the new run"
    assert {k: after[k] for k in TRAINED_FILES} == contents(run)
    assert "eval.json" not in after and "cv.json" not in after  # the old model's scores do not pass as the new one's
    assert "not evaluated yet" in after["README.md"].decode()
    printed = capsys.readouterr().out
    assert f"previous files moved to {archive.resolve()}" in printed and "kept" in printed


def test_replace_with_an_evaluated_run_writes_the_full_card(roots):
    evaluated_classifier_run(roots["runs_root"])
    destination = roots["models_root"] / "topic-classifier"
    destination.mkdir(parents=True)
    (destination / "eval.json").write_text('{"old": true}')
    (destination / "notes.txt").write_text("old notes")
    promotion = promote("exp-evaluated", replace=True, **roots)
    assert promotion.replaced_to is not None and sorted(promotion.moved) == ["eval.json", "notes.txt"]
    assert (promotion.replaced_to / "notes.txt").read_text() == "old notes"
    assert not (destination / "notes.txt").exists()
    assert (destination / "eval.json").read_bytes() == (SHIPPED_CLASSIFIER / "eval.json").read_bytes()
    assert promotion.full_card and "# Warta topic classifier" in (destination / "README.md").read_text()


def test_an_unfinished_run_or_an_overlap_is_refused(roots):
    (roots["runs_root"] / "half").mkdir(parents=True)
    (roots["runs_root"] / "half" / "config.json").write_text("{}")
    with pytest.raises(PromoteError, match="not a finished training run.*model.safetensors"):
        promote("half", **roots)
    run = evaluated_classifier_run(roots["runs_root"])
    with pytest.raises(PromoteError, match="overlap"):
        promote("exp-evaluated", to=run, replace=True, **roots)
    assert contents(run) == contents(SHIPPED_CLASSIFIER)


def test_the_scoring_log_is_merged_never_reset_by_a_promotion(roots):
    """README flow: evaluate the run (its log gets one entry), then promote over the shipped model."""
    run = evaluated_classifier_run(roots["runs_root"])
    destination = roots["models_root"] / "topic-classifier"
    shutil.copytree(SHIPPED_CLASSIFIER, destination)
    shipped = (destination / "scorings.jsonl").read_text().splitlines()
    new_entry = json.dumps({"scored_at": "2026-12-05T00:00:00+00:00", "by": "training.evaluate_classifier",
                            "backend": "onnx-int8", "articles": 1465, "macro_f1": 0.9})  # fmt: skip
    (run / "scorings.jsonl").write_text("\n".join([*shipped, new_entry]) + "\n")  # copied, then scored once
    promotion = promote("exp-evaluated", replace=True, **roots)
    merged = (destination / "scorings.jsonl").read_text().splitlines()
    assert merged == [*shipped, new_entry] and "scorings.jsonl" not in promotion.moved
    assert f"scored {len(shipped) + 1} times" in (destination / "README.md").read_text()
