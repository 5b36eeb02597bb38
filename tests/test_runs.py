"""Training writes runs under build/runs, never into models/, and deletes only runs it is asked to replace."""

from __future__ import annotations

import re

import pytest
import yaml

from training.config import load_config, project_path
from training.runs import RunDirError, existing_run_dir, prepare_run_dir, refuse_models, run_dir


@pytest.mark.parametrize(
    "config_name, kind, name",
    [
        ("classifier.yaml", "topic-classifier", "topic-classifier"),
        ("classifier-bf16.yaml", "topic-classifier", "topic-classifier-bf16"),
        ("classifier-indobert.yaml", "topic-classifier", "topic-classifier-indobert"),
        ("summarizer.yaml", "summarizer", "summarizer"),
    ],
)
def test_every_training_config_trains_into_a_new_run_under_build_runs(config_name, kind, name):
    path = run_dir(load_config(project_path(f"configs/{config_name}")), kind)  # resolves only: nothing is written
    assert path.parent == project_path("build/runs").resolve()
    assert re.fullmatch(rf"{name}-\d{{8}}-\d{{6}}", path.name)
    assert not path.is_relative_to(project_path("models").resolve())


@pytest.mark.parametrize("output_dir", ["models/topic-classifier", "models/summarizer", "models/new-model"])
def test_the_shipped_models_directory_is_refused(output_dir):
    with pytest.raises(RunDirError, match="under models/: train into build/runs and promote"):
        refuse_models(run_dir({"output_dir": output_dir}, "topic-classifier"))


def test_a_directory_under_models_is_refused_even_with_overwrite(tmp_path):
    models = tmp_path / "models"
    (models / "summarizer").mkdir(parents=True)
    (models / "summarizer" / "cv.json").write_text("{}")
    for config in (
        {"output_dir": str(models / "summarizer"), "overwrite": True},
        {"output_dir": str(models / "summarizer-2")},
    ):
        with pytest.raises(RunDirError, match="train into build/runs and promote"):
            prepare_run_dir(config, "summarizer", runs_root=tmp_path / "runs", models_root=models)
    assert [p.name for p in models.rglob("*")] == ["summarizer", "cv.json"]
    assert not (tmp_path / "runs").exists()


def test_a_new_run_gets_the_start_time_in_its_name(tmp_path):
    path = prepare_run_dir({"run_name": "exp-{time}"}, "k", runs_root=tmp_path / "runs", models_root=tmp_path / "m")
    assert path.is_dir() and path.parent == (tmp_path / "runs").resolve()
    assert re.fullmatch(r"exp-\d{8}-\d{6}", path.name)


def test_an_existing_run_is_kept_unless_overwrite_is_asked(tmp_path):
    runs = tmp_path / "runs"
    (runs / "exp").mkdir(parents=True)
    (runs / "exp" / "model.safetensors").write_bytes(b"earlier run")
    with pytest.raises(RunDirError, match="already holds a run.*overwrite=true"):
        prepare_run_dir({"run_name": "exp"}, "k", runs_root=runs, models_root=tmp_path / "models")
    assert (runs / "exp" / "model.safetensors").read_bytes() == b"earlier run"
    path = prepare_run_dir({"run_name": "exp", "overwrite": True}, "k", runs_root=runs, models_root=tmp_path / "m")
    assert path == (runs / "exp").resolve() and path.is_dir() and not any(path.iterdir())


def test_overwrite_deletes_nothing_outside_the_runs_root(tmp_path):
    elsewhere = tmp_path / "my-notes"
    elsewhere.mkdir()
    (elsewhere / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="under .* only"):
        prepare_run_dir(
            {"output_dir": str(elsewhere), "overwrite": True},
            "k",
            runs_root=tmp_path / "runs",
            models_root=tmp_path / "m",
        )
    assert (elsewhere / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("name", ["../../models/topic-classifier", "a/b", ".."])
def test_a_run_name_is_a_plain_directory_name(tmp_path, name):
    with pytest.raises(RunDirError, match="plain directory name"):
        run_dir({"run_name": name}, "k", tmp_path)


def test_a_later_stage_needs_an_existing_run(tmp_path):
    with pytest.raises(RunDirError, match="holds no trained model"):
        existing_run_dir({"run_name": "missing"}, "k", runs_root=tmp_path, models_root=tmp_path / "models")
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "config.json").write_text("{}")
    assert (
        existing_run_dir({"run_name": "exp"}, "k", runs_root=tmp_path, models_root=tmp_path / "models")
        == (tmp_path / "exp").resolve()
    )


def test_retraining_from_a_shipped_training_config_is_refused_before_any_work(tmp_path):
    """A training config that names models/summarizer as its output_dir (as shipped configs once did) is refused."""
    from training import train_summarizer

    shipped = project_path("models/summarizer")
    config = yaml.safe_load((shipped / "training_config.yaml").read_text()) | {"output_dir": "models/summarizer"}
    (tmp_path / "training_config.yaml").write_text(yaml.safe_dump(config))
    before = {p.name: p.read_bytes() for p in shipped.iterdir()}
    with pytest.raises(SystemExit, match="train into build/runs and promote"):
        train_summarizer.main(["--config", str(tmp_path / "training_config.yaml"), "--set", "overwrite=true"])
    assert {p.name: p.read_bytes() for p in shipped.iterdir()} == before
