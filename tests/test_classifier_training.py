"""The classifier training code path (as the IndoBERT GPU config uses it) on a tiny random BERT."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml
from datasets import Dataset, DatasetDict

from service.backbone.resolve import BackboneError
from service.models.topics.classifier import TopicClassifier
from service.models.topics.lexical import LexicalModel
from service.models.topics.probabilities import log_softmax, softmax
from training.calibration import choose_threshold, example_f1, expected_calibration_error, fit_temperature
from training.config import load_yaml, project_path
from training.runs import RunDirError
from training.train_classifier import lexical_rows, load_train_rows, main, refit_lexical, train


@pytest.fixture(autouse=True)
def runs_root(tmp_path, monkeypatch):
    """``tmp_path`` stands in for build/runs: these tests write, overwrite and refit runs there only."""
    monkeypatch.setattr("training.runs.RUNS_ROOT", tmp_path)
    return tmp_path


ROWS = [
    ("sport", "timnas menang gol di sleman"),
    ("governance", "bupati meresmikan pasar baru di sleman"),
    ("health", "dokter pasien rumah sakit"),
    ("economy", "harga saham naik"),
    ("law", "polisi tersangka di sleman"),
]


def _tiny_topics(directory, validation_ids: str = "v"):
    def split(copies: int, name: str) -> Dataset:
        rows = [(label, text) for label, text in ROWS for _ in range(copies)]
        return Dataset.from_dict(
            {
                "label": [label for label, _ in rows],
                "title": ["" for _ in rows],
                "text": [f"{text} " * 6 for _, text in rows],  # 30+ words: several windows of 16 tokens
                "is_aux": [False for _ in rows],
                # every other row careful-read; the rest labelled by their publisher section
                "label_method": ["read" if i % 2 else "section" for i in range(len(rows))],
                "publisher_label": [label for label, _ in rows],
                "source": ["fixture" for _ in rows],
                "section": [label for label, _ in rows],
                "id": [f"{name}{i}" for i in range(len(rows))],
            }
        )

    splits = {"train": split(4, "t"), "validation": split(2, validation_ids), "test": split(2, "g")}
    DatasetDict(splits).save_to_disk(str(directory))
    return directory


def _tiny_run_config(tmp_path, backbone_dir) -> dict:
    """The IndoBERT GPU config, pointed at a tiny BERT on the CPU: the same code path, one step."""
    config = load_yaml(project_path("configs/classifier-indobert.yaml"))
    assert config["trainable_layers"] >= 12 and config["bf16"] and not config["cache_lower_layers"]
    config.update(
        backbone=str(backbone_dir),
        device="cpu",
        data_dir=str(_tiny_topics(tmp_path / "topics")),
        run_name="model",  # tmp_path / "model" (the runs root here); each test's runs replace each other
        overwrite=True,
        max_length=16,
        batch_size=8,
        encode_batch_size=8,
        epochs=1,
        max_steps=1,
    )
    return config


def test_indobert_config_path_runs_one_step_on_a_tiny_bert(tmp_path, tiny_bert_dir):
    metrics = train(_tiny_run_config(tmp_path, tiny_bert_dir))
    assert metrics["history"][0]["step"] == 1
    assert metrics["trainable_layers"] == 2  # every layer of the tiny model
    saved = yaml.safe_load((tmp_path / "model" / "training_config.yaml").read_text())
    assert saved["backbone"] == str(tiny_bert_dir) and saved["max_steps"] == 1
    classifier = TopicClassifier.load(tmp_path / "model")
    prediction = classifier.predict(["timnas menang gol " * 10])[0]
    assert len(prediction.scores) == 11
    assert prediction.topics[0] == prediction.topic == prediction.scores[0].label
    assert abs(sum(s.score for s in prediction.scores) - 1.0) < 1e-3
    assert json.loads((tmp_path / "model" / "train_metrics.json").read_text())["artifact_bytes"] > 0


def test_training_writes_a_new_run_under_the_runs_root_and_records_it(tmp_path, tiny_bert_dir):
    config = _tiny_run_config(tmp_path, tiny_bert_dir) | {"bf16": False, "lexical": None}
    del config["run_name"], config["overwrite"]  # no run name: topic-classifier-YYYYMMDD-HHMMSS
    train(config)
    (run,) = tmp_path.glob("topic-classifier-*")
    assert re.fullmatch(r"topic-classifier-\d{8}-\d{6}", run.name)
    assert TopicClassifier.load(run).config.labels and (run / "train_metrics.json").exists()
    assert yaml.safe_load((run / "training_config.yaml").read_text())["output_dir"] == str(run.resolve())
    with pytest.raises(RunDirError, match="already holds a run"):  # the same name again: refused, run kept
        train(config | {"run_name": run.name})
    assert TopicClassifier.load(run).config.labels


def test_training_into_models_is_refused_before_any_work(tmp_path, tiny_bert_dir, monkeypatch):
    models = tmp_path / "project" / "models"
    shipped = models / "topic-classifier"
    shipped.mkdir(parents=True)
    (shipped / "eval.json").write_text('{"macro_f1": 0.9}')
    monkeypatch.setattr("training.runs.MODELS_ROOT", models)
    config = _tiny_run_config(tmp_path, tiny_bert_dir)
    for output_dir in (shipped, models / "topic-classifier-new"):
        with pytest.raises(RunDirError, match="train into build/runs and promote"):
            train(config | {"output_dir": str(output_dir), "overwrite": True})
    with pytest.raises(RunDirError, match="under models/"):
        refit_lexical(config | {"output_dir": str(shipped), "stage": "lexical"})
    assert sorted(p.name for p in models.rglob("*")) == ["eval.json", "topic-classifier"]
    assert (shipped / "eval.json").read_text() == '{"macro_f1": 0.9}'


def test_the_command_line_refuses_the_shipped_model_directory():
    shipped = project_path("models/topic-classifier")
    before = {p.name: p.read_bytes() for p in shipped.iterdir()}
    with pytest.raises(SystemExit, match="train into build/runs and promote"):
        main(["--set", "output_dir=models/topic-classifier", "overwrite=true"])
    assert {p.name: p.read_bytes() for p in shipped.iterdir()} == before


def test_label_sources_choose_rows_and_weights_and_all_windows_train_more_items(tmp_path, tiny_bert_dir):
    config = _tiny_run_config(tmp_path, tiny_bert_dir)
    rows = load_train_rows(config | {"label_source": "read"})
    assert len(rows) == 10 and {r["label_method"] for r in rows} == {"read"}
    rows = load_train_rows(config | {"label_source": "read+sections", "publisher_weight": 0.25})
    assert len(rows) == 20
    assert {r["weight"] for r in rows if r["label_method"] == "section"} == {0.25}
    assert {r["weight"] for r in rows if r["label_method"] == "read"} == {1.0}
    with pytest.raises(ValueError):
        load_train_rows(config | {"label_source": "publisher"})
    (tmp_path / "under_review.txt").write_text("t1\nt3\nt0\nnot-an-id\n")  # t1, t3 read; t0 a section row
    kept = load_train_rows(config | {"label_source": "read", "exclude_ids": str(tmp_path / "under_review.txt")})
    assert len(kept) == 8 and not {"t0", "t1", "t3"} & {r["id"] for r in kept}
    first = train(config | {"label_source": "read", "bf16": False})
    every = train(config | {"label_source": "read", "bf16": False, "train_windows": 3})
    assert first["train_rows"] == every["train_rows"] == 10
    assert first["train_windows"] == 10 and 20 <= every["train_windows"] <= 30  # texts span 2-3+ windows of 16


def test_fp32_overrides_apply_only_without_bf16(tmp_path, tiny_bert_dir):
    config = _tiny_run_config(tmp_path, tiny_bert_dir) | {"fp32_overrides": {"label_source": "read"}}
    fp32 = train(config | {"bf16": False})
    saved = yaml.safe_load((tmp_path / "model" / "training_config.yaml").read_text())
    assert fp32["train_rows"] == 10 and saved["label_source"] == "read" and saved["fp32_overrides_applied"]
    bf16 = train(config | {"bf16": True})
    saved = yaml.safe_load((tmp_path / "model" / "training_config.yaml").read_text())
    assert bf16["train_rows"] == 20 and "fp32_overrides_applied" not in saved


def test_lexical_half_is_saved_and_mixed_at_its_weight(tmp_path, tiny_bert_dir):
    config = _tiny_run_config(tmp_path, tiny_bert_dir) | {
        "bf16": False,
        "lexical": {"max_features": 200, "weights": [0.5]},
    }
    metrics = train(config)
    assert metrics["lexical_weight"] == 0.5 and metrics["lexical_terms"] > 5
    classifier = TopicClassifier.load(tmp_path / "model")
    assert classifier.lexical is not None and classifier.config.lexical_weight == 0.5
    texts = ["polisi tersangka di sleman " * 6, "harga saham naik " * 8]
    neural = classifier.neural_logits(texts)
    mixed = 0.5 * log_softmax(
        neural / classifier.config.neural_temperature
    ) + 0.5 * classifier.lexical.log_probabilities(texts)
    np.testing.assert_allclose(classifier.text_logits(texts), mixed, rtol=1e-5, atol=1e-5)
    # The lexical model alone already separates these: the mix must not lose that.
    assert [classifier.config.labels[i] for i in classifier.lexical.log_probabilities(texts).argmax(1)] == [
        "law",
        "economy",
    ]


def test_lexical_stage_keeps_the_encoder_layers_and_refits_the_rest(tmp_path, tiny_bert_dir):
    config = _tiny_run_config(tmp_path, tiny_bert_dir) | {"bf16": False, "lexical": None}
    train(config)
    encoder_only = TopicClassifier.load(tmp_path / "model")
    assert encoder_only.lexical is None and encoder_only.config.lexical_weight == 0.0
    recorded = tmp_path / "model" / "train_metrics.json"
    recorded.write_text(json.dumps(json.loads(recorded.read_text()) | {"cpu": "the machine it trained on"}))
    lexical = {"max_features": 200, "weights": [0.7], "ngram_max": 1}
    metrics = refit_lexical(config | {"stage": "lexical", "lexical": lexical})
    refitted = TopicClassifier.load(tmp_path / "model")
    assert metrics["lexical_weight"] == 0.7 and refitted.config.lexical_weight == 0.7
    assert refitted.lexical.ngram_max == 1 and not any(" " in term for term in refitted.lexical.terms)
    texts = ["dokter pasien rumah sakit " * 6]
    np.testing.assert_allclose(refitted.neural_logits(texts), encoder_only.neural_logits(texts), atol=1e-5)
    assert metrics["history"] and "lexical_refit_seconds" in metrics  # earlier training metrics kept
    assert metrics["lexical_refit_peak_rss_mb"] > 0 and "peak_rss_mb" in metrics
    assert metrics["cpu"] == "the machine it trained on" and metrics["lexical_refit_cpu"]  # both CPUs kept
    refit_lexical(config | {"stage": "lexical"})  # lexical: None -> the saved lexical files must go
    assert LexicalModel.load(tmp_path / "model") is None
    assert TopicClassifier.load(tmp_path / "model").config.lexical_weight == 0.0


def test_the_lexical_half_learns_from_the_rows_lexical_rows_names(tmp_path, tiny_bert_dir):
    from training.model_card import _classifier_training_section

    config = _tiny_run_config(tmp_path, tiny_bert_dir) | {"bf16": False, "lexical": None}
    train(config)
    lexical = {"max_features": 200, "weights": [0.5]}
    rows = load_train_rows(config)
    assert len(rows) == 20  # label_source all: 10 careful reads + 10 section-labelled rows
    for which, expected in (("train", 20), ("read", 10), (None, 20)):
        settings = lexical | ({"rows": which} if which else {})
        metrics = refit_lexical(config | {"stage": "lexical", "lexical": settings})
        assert metrics["lexical_rows"] == expected, which
        saved = yaml.safe_load((tmp_path / "model" / "training_config.yaml").read_text())
        model_config = json.loads((tmp_path / "model" / "config.json").read_text())
        card = _classifier_training_section(model_config, metrics, saved)
        kind = "careful-read training articles" if which == "read" else "`all` training rows"
        assert f"its lexical half (on {expected} {kind})" in card and metrics["lexical_refit_cpu"] in card, which
    with pytest.raises(ValueError, match="lexical.rows must be one of"):
        refit_lexical(config | {"stage": "lexical", "lexical": lexical | {"rows": "sections"}})
    with pytest.raises(ValueError, match="no training row is a careful read"):
        lexical_rows([r for r in rows if r["label_method"] != "read"], "read")
    headline = {"label": "sport", "label_method": "read", "is_aux": True}  # auxiliary rows are never articles
    assert lexical_rows(rows + [headline], "read") == [r for r in rows if r["label_method"] == "read"]
    # A refit keeps the run's own config: its rows are the ones the encoder trained on (label_source read).
    train(config | {"label_source": "read"})
    metrics = refit_lexical(config | {"stage": "lexical", "lexical": lexical | {"rows": "train"}})
    assert metrics["lexical_rows"] == 10
    saved = yaml.safe_load((tmp_path / "model" / "training_config.yaml").read_text())
    assert saved["label_source"] == "read" and saved["stage"] == "lexical" and saved["lexical"]["rows"] == "train"
    # A corpus rebuilt so that the rows the encoder trained on are now validation: refused, nothing written.
    _tiny_topics(tmp_path / "topics", validation_ids="t")
    before = (tmp_path / "model" / "training_config.yaml").read_text()
    with pytest.raises(RunDirError, match="trained on 5 of the validation rows"):
        refit_lexical(config | {"stage": "lexical", "lexical": lexical})
    assert (tmp_path / "model" / "training_config.yaml").read_text() == before
    (tmp_path / "model" / "training_config.yaml").unlink()
    with pytest.raises(RunDirError, match="has no training_config.yaml"):
        refit_lexical(config | {"stage": "lexical", "lexical": lexical})


def test_a_topic_encoder_trained_whole_ships_as_a_low_rank_change(tmp_path, tiny_bert_dir):
    """``delta_rank``: each fine-tuned layer matrix is stored as its change from the backbone's in two rank-r
    factors; what loads is what was calibrated; at full rank nothing is lost, at a low rank the file shrinks."""
    import shutil

    from safetensors.torch import load_file

    from training.train_classifier import compressed

    config = _tiny_run_config(tmp_path, tiny_bert_dir) | {"bf16": False, "lexical": None, "max_steps": 3}
    train(config | {"lr_layers": 0.01})
    full = TopicClassifier.load(tmp_path / "model")
    assert full.n_lower == 0 and full.config.delta_rank is None
    texts = ["dokter pasien rumah sakit " * 6, "timnas menang gol di sleman " * 6]
    for rank in (16, 2):  # the tiny BERT's matrices are at most rank 16
        shutil.copytree(tmp_path / "model", tmp_path / f"rank-{rank}")
        refit_lexical(config | {"run_name": f"rank-{rank}", "stage": "lexical", "delta_rank": rank})
    lossless, small = (TopicClassifier.load(tmp_path / f"rank-{rank}") for rank in (16, 2))
    assert lossless.config.delta_rank == 16 and small.config.delta_rank == 2
    np.testing.assert_allclose(lossless.neural_logits(texts), full.neural_logits(texts), atol=2e-3)
    np.testing.assert_allclose(small.neural_logits(texts), compressed(full, 2).neural_logits(texts), atol=1e-5)
    stored = load_file(str(tmp_path / "rank-2" / "model.safetensors"))
    factors = {k: v.shape for k, v in stored.items() if k.endswith(".delta_a")}
    assert len(factors) == 2 * 6 and all(shape[1] == 2 for shape in factors.values())  # 6 matrices per layer
    assert not any(k.endswith(".weight") and v.dim() == 2 and k.startswith("layers.") for k, v in stored.items())
    sizes = [(tmp_path / name / "model.safetensors").stat().st_size for name in ("model", "rank-2")]
    assert sizes[1] < 0.6 * sizes[0]


def test_loading_with_a_different_backbone_fails_clearly(tmp_path, tiny_bert_dir):
    from tests.conftest import make_tiny_bert

    train(_tiny_run_config(tmp_path, tiny_bert_dir) | {"bf16": False})
    make_tiny_bert(tiny_bert_dir, seed=1)  # same spec, different weights
    with pytest.raises(BackboneError, match="trained on backbone"):
        TopicClassifier.load(tmp_path / "model")


def test_temperature_scaling_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 5)) * 3
    labels = np.array([rng.choice(5, p=p) for p in softmax(true_logits)])
    overconfident = true_logits * 2.5
    temperature = fit_temperature(overconfident, labels)
    assert 2.2 < temperature < 2.8
    before = expected_calibration_error(softmax(overconfident), labels)
    after = expected_calibration_error(softmax(overconfident, temperature), labels)
    assert after < before / 2


def test_threshold_adds_a_second_topic_only_when_it_pays():
    probs = np.array([[0.55, 0.40, 0.05], [0.9, 0.05, 0.05], [0.5, 0.45, 0.05]])
    labels = np.array([1, 0, 1])
    assert example_f1(probs, labels, 0.95) == pytest.approx(1 / 3)
    assert example_f1(probs, labels, 0.35) == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    threshold, score = choose_threshold(probs, labels)
    assert threshold <= 0.40 and score > 0.7


def test_a_config_can_build_on_a_base(tmp_path):
    from training.config import config_from_args

    child = tmp_path / "child.yaml"
    child.write_text("base: configs/classifier.yaml\ntrain_windows: 2\n")
    config = config_from_args("", "unused", ["--config", str(child), "--set", "epochs=3"])
    default = load_yaml(project_path("configs/classifier.yaml"))
    assert config["train_windows"] == 2 and config["epochs"] == 3 and "base" not in config
    assert {k: v for k, v in config.items() if k not in ("train_windows", "epochs")} == {
        k: v for k, v in default.items() if k not in ("train_windows", "epochs")
    }


def test_repeated_set_flags_all_apply():
    """``--set a=1 --set b=2`` keeps both (argparse's default would keep only the last flag's values)."""
    from training.config import config_from_args

    config = config_from_args(
        "", "configs/classifier.yaml", ["--set", "label_source=read", "--set", "epochs=3", "seed=5"]
    )
    assert (config["label_source"], config["epochs"], config["seed"]) == ("read", 3, 5)


def test_layer_wise_learning_rates_decay_downwards_and_patience_stops_training(tmp_path, tiny_bert_dir):
    from service.backbone.resolve import load_backbone
    from service.models.topics.head import new_head
    from training.train_classifier import parameter_groups

    model, _, _ = load_backbone(str(tiny_bert_dir))
    head = new_head(model, 5, 2)
    groups = parameter_groups({"lr_layers": 1e-4, "lr_head": 1e-3, "layer_decay": 0.5}, head)
    assert [g["lr"] for g in groups] == [5e-5, 1e-4, 1e-3]  # bottom layer, top layer, linear head
    assert sum(len(g["params"]) for g in groups) == len(list(head.parameters()))
    # Validation four times an epoch; patience 1 stops at the first validation that does not improve, so
    # training ends before the step budget of three epochs, and the best weights are the ones kept.
    config = _tiny_run_config(tmp_path, tiny_bert_dir) | {"bf16": False, "lexical": None, "max_steps": None}
    metrics = train(config | {"epochs": 3, "batch_size": 2, "eval_every": 0.25, "patience": 1, "lr_head": 0.0})
    history = metrics["history"]
    f1 = [h["val_macro_f1_head_window"] for h in history]
    assert len(history) >= 2 and f1[-1] <= max(f1[:-1])  # stopped on the first non-improvement
    steps_per_epoch = -(-metrics["train_windows"] // 2)
    assert history[-1]["step"] < 3 * steps_per_epoch  # stopped before the budget of three epochs
    assert metrics["best_epoch"] == history[f1.index(max(f1))]["epoch"]


def test_evaluations_break_down_per_source_and_year(tmp_path, tiny_bert_dir):
    from training.evaluate_classifier import breakdown

    train(_tiny_run_config(tmp_path, tiny_bert_dir) | {"bf16": False, "lexical": None})
    classifier = TopicClassifier.load(tmp_path / "model")

    def row(source: str, year: int, label: str, text: str) -> dict:
        return {"source": source, "year": year, "label": label, "title": "", "is_aux": False, "text": text}

    rows = [row("old", 2015, label, f"{text} " * 6) for label, text in ROWS]
    rows += [row("new", 2025, "sport", "timnas menang gol " * 8), row("new", 2025, "not-a-topic", "apa saja " * 8)]
    table = breakdown(classifier, rows, "label")
    assert list(table) == ["all", "new 2025", "old 2015"]
    assert (table["all"]["rows"], table["old 2015"]["rows"], table["new 2025"]["rows"]) == (6, 5, 1)  # unknown left out
    predicted = classifier.predict([rows[5]["text"]])[0].topic
    assert table["new 2025"]["accuracy"] == (1.0 if predicted == "sport" else 0.0)
    assert all(0.0 <= m["macro_f1"] <= 1.0 for m in table.values())


def test_runs_record_what_they_trained_on_and_evaluations_count_seen_rows(tmp_path, tiny_bert_dir):
    import os
    import shutil

    from datasets import load_from_disk

    from training.evaluate_classifier import seen_rows
    from training.provenance import TRAINED_IDS, overlap_phrase, record_run

    train(_tiny_run_config(tmp_path, tiny_bert_dir) | {"bf16": False, "lexical": None})
    model = tmp_path / "model"
    corpus = load_from_disk(str(tmp_path / "topics"))
    seen = seen_rows(model, {"validation": corpus["validation"].to_list(), "train": corpus["train"].to_list()})
    assert seen == {"trained_articles": 20, "scored_rows_trained_on": {"validation": 0, "train": 20}}
    assert "None of the validation rows" in overlap_phrase({"validation": 0}, 20)
    # a later build moves ten training articles into validation: they are counted, the card says so
    moved = load_from_disk(str(_tiny_topics(tmp_path / "rebuilt", validation_ids="t")))["validation"].to_list()
    counts = seen_rows(model, {"validation": moved})["scored_rows_trained_on"]
    assert counts == {"validation": 10} and "**10 validation rows scored" in overlap_phrase(counts, 20)
    # a run trained before runs kept the record: written from the unchanged build, refused after a rebuild
    (model / TRAINED_IDS).unlink()
    assert seen_rows(model, {"validation": moved})["scored_rows_trained_on"] == {"validation": None}
    assert "no record" in overlap_phrase({"validation": None}, None)
    built = min(p.stat().st_mtime for p in model.iterdir()) - 3600  # the fixture was built a second before training
    for path in (tmp_path / "topics").rglob("*"):
        os.utime(path, (built, built))
    assert record_run(model) == 20
    assert seen_rows(model, {"validation": moved})["scored_rows_trained_on"]["validation"] == 10
    with pytest.raises(SystemExit, match="exists already"):
        record_run(model)
    (model / TRAINED_IDS).unlink()
    later = max(p.stat().st_mtime for p in model.iterdir()) + 60
    os.utime(next((tmp_path / "topics" / "train").glob("*.arrow")), (later, later))
    with pytest.raises(SystemExit, match="rebuilt after"):
        record_run(model)
    # a preserved copy of the build the run read is accepted when it reproduces the run's row counts
    other = tmp_path / "other"
    built = load_from_disk(str(tmp_path / "topics"))
    DatasetDict({"train": built["train"].select(range(12)), "validation": built["validation"]}).save_to_disk(str(other))
    with pytest.raises(SystemExit, match="not the build"):
        record_run(model, data_dir=other)
    with pytest.raises(SystemExit, match="rebuilt after"):  # naming the live build changes nothing
        record_run(model, data_dir=tmp_path / "topics")
    metrics = json.loads((model / "train_metrics.json").read_text())
    (model / "train_metrics.json").write_text(json.dumps(metrics | {"lexical_refit_seconds": 1.0}))
    with pytest.raises(SystemExit, match="refit"):  # its files no longer tell when it started
        record_run(model)
    shutil.copytree(tmp_path / "topics", tmp_path / "copy")
    assert record_run(model, data_dir=tmp_path / "copy") == 20


def test_compare_runs_scores_the_slice_and_publisher_labels_on_the_build_the_run_trained_on(tmp_path, tiny_bert_dir):
    from datasets import load_from_disk

    from training.compare_runs import main as compare

    train(_tiny_run_config(tmp_path, tiny_bert_dir) | {"bf16": False, "lexical": None})
    ids = tmp_path / "slice.txt"
    ids.write_text("v1\nv3\nv4\n")  # v1, v3 careful-read (odd rows), v4 section-labelled: not in the slice
    out = str(tmp_path / "rows.json")
    compare([str(tmp_path / "model"), "--slice", str(ids), "--crossfit", "2", "--bootstrap", "20", "--out", out])
    (row,) = json.loads((tmp_path / "rows.json").read_text())
    assert row["versus_first"] == {"reference": True}  # the first run given is what the others are measured against
    # No lexical half: refitting the mix per fold leaves the encoder's argmax, so the two figures agree
    assert row["crossfit_macro_f1"] == row["selection_macro_f1"] and row["crossfit_spread"] == 0.0
    earlier = tmp_path / "earlier.json"  # an earlier comparison: its other runs stay as measured, "model" is re-scored
    earlier.write_text(json.dumps([row | {"stale": True}, row | {"run": "older-run", "measured": "2026-01-01"}]))
    compare([str(tmp_path / "model"), "--earlier", str(earlier), "--out", str(tmp_path / "both.json")])
    again, kept = json.loads((tmp_path / "both.json").read_text())  # the re-scored run keeps its place
    assert (kept["run"], kept["measured"]) == ("older-run", "2026-01-01")
    assert again["run"] == "model" and "stale" not in again
    assert (row["trained_on"], row["slice_rows"], row["validation_rows"], row["publisher_validation_rows"]) == (
        {"validation": 0, "publisher": 0},
        2,
        5,
        5,
    )
    classifier = TopicClassifier.load(tmp_path / "model")
    validation = {r["id"]: r for r in load_from_disk(str(tmp_path / "topics"))["validation"]}

    def right(ids: list[str], key: str) -> float:
        return sum(classifier.predict([validation[i]["text"]])[0].topic == validation[i][key] for i in ids) / len(ids)

    assert row["slice_accuracy"] == round(right(["v1", "v3"], "label"), 4)
    publisher = [i for i, r in validation.items() if r["label_method"] == "section"]
    assert row["publisher_validation_accuracy"] == round(right(publisher, "publisher_label"), 4)


def test_cross_fitting_scores_each_fold_with_a_mix_chosen_on_the_others():
    from training.compare_runs import crossfit_macro_f1
    from training.compare_runs import main as compare_main
    from training.train_classifier import choose_lexical_weight

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    noise = rng.normal(size=(60, 3))  # an encoder that knows nothing
    knowing = np.log(np.full((60, 3), 0.05) + 0.85 * np.eye(3)[y])  # a lexical half that is right on every row
    assert crossfit_macro_f1(noise, knowing, y, [0.0, 1.0], folds=3) == (1.0, 0.0)  # weight 1 chosen in every fold
    alone, _ = crossfit_macro_f1(noise, knowing, y, [0.0], folds=3)
    assert alone < 0.6  # the encoder alone: chance
    # Right only on the first 30 rows: the held-out folds decide, so the figure is below the in-sample best
    half = np.where(np.arange(60)[:, None] < 30, knowing, np.log(np.full((60, 3), 1 / 3)))
    mean, spread = crossfit_macro_f1(noise, half, y, [0.0, 0.5, 1.0], folds=3)
    assert mean == crossfit_macro_f1(noise, half, y, [0.0, 0.5, 1.0], folds=3)[0]  # seeded: repeatable
    _, _, in_sample = choose_lexical_weight(noise, half, y, [0.0, 0.5, 1.0])
    assert 0.3 < mean <= max(in_sample.values()) and spread >= 0.0  # held out, it cannot beat the in-sample best
    with pytest.raises(SystemExit):
        compare_main(["some-run", "--crossfit", "1"])  # one fold holds nothing out


def test_paired_bootstrap_measures_a_difference_on_the_rows_both_runs_scored():
    from training.compare_runs import paired_bootstrap

    y = np.repeat(np.arange(3), 30)
    wrong = y.copy()
    wrong[::3] = (y[::3] + 1) % 3  # a third of the rows wrong
    reference = {"ids": [f"a{i}" for i in range(90)], "y": y, "pred": wrong, "labels": ["a", "b", "c"]}
    same = paired_bootstrap(reference, reference, 50)
    assert same == {"rows": 90, "difference": 0.0, "interval": [0.0, 0.0]}
    order = list(range(89, -1, -1))  # the other run lists the articles in another order, and one fewer
    right = y[order][1:]  # every row right
    better = {"ids": [f"a{i}" for i in order][1:], "y": right, "pred": right, "labels": ["a", "b", "c"]}
    result = paired_bootstrap(reference, better, 200)
    assert result["rows"] == 89 and result["difference"] > 0.3 and result["interval"][0] > 0
    with pytest.raises(ValueError, match="different labels"):
        paired_bootstrap(reference, better | {"y": (y[order][1:] + 1) % 3}, 10)
    with pytest.raises(ValueError, match="different label lists"):
        paired_bootstrap(reference, better | {"labels": ["b", "a", "c"]}, 10)
    with pytest.raises(ValueError, match="no article in common"):
        paired_bootstrap(reference, better | {"ids": [f"z{i}" for i in range(89)]}, 10)


def test_clean_comparisons_leave_out_rows_any_run_trained_on_whichever_corpus_holds_them(tmp_path, tiny_bert_dir):
    import shutil

    from training.compare_runs import seen_by_any
    from training.provenance import TRAINED_IDS, record_trained_ids

    train(_tiny_run_config(tmp_path, tiny_bert_dir) | {"bf16": False, "lexical": None})  # trained on t0..t19
    other = tmp_path / "other-run"  # a run on another build, whose validation holds t10..t19, trained on none
    shutil.copytree(tmp_path / "model", other)
    config = yaml.safe_load((other / "training_config.yaml").read_text())
    config["data_dir"] = str(_tiny_topics(tmp_path / "other-build", validation_ids="t1"))
    (other / "training_config.yaml").write_text(yaml.safe_dump(config))
    (other / TRAINED_IDS).unlink()
    record_trained_ids(other, ["x0"])
    assert seen_by_any([tmp_path / "model", other]) == {f"t1{i}" for i in range(10)}
    (other / TRAINED_IDS).unlink()
    with pytest.raises(SystemExit, match="no record"):
        seen_by_any([tmp_path / "model", other])


def test_a_soup_averages_runs_trained_whole_and_records_every_row_they_trained_on(tmp_path, tiny_bert_dir):
    """``training.soup``: the mean of two runs' encoder layers and heads, stored and calibrated like a run; its
    record is the union of theirs and the lexical half's; runs that cannot make a sound soup are refused before
    anything is written."""
    import torch

    from training.model_card import _classifier_training_section
    from training.provenance import record_run, trained_hashes
    from training.soup import SoupError, main, make_soup

    config = _tiny_run_config(tmp_path, tiny_bert_dir) | {"bf16": False, "lexical": None, "max_steps": 3}
    config |= {"lr_layers": 0.01, "delta_rank": 16}  # full rank for the tiny BERT: storing loses nothing
    train(config | {"run_name": "a", "seed": 1, "label_source": "read"})
    train(config | {"run_name": "b", "seed": 2, "label_source": "read", "max_train_per_label": 1})
    a, b = (TopicClassifier.load(tmp_path / name).head.state_dict() for name in "ab")
    assert not torch.allclose(a["classifier.weight"], b["classifier.weight"])
    runs = [tmp_path / "b", tmp_path / "a"]
    records = [trained_hashes(run) for run in runs]
    assert len(records[0]) < len(records[1]) == 10  # b: the careful-read among one row per label; a: all 10
    metrics = make_soup(config | {"run_name": "soup", "label_source": "all"}, runs)
    made = TopicClassifier.load(tmp_path / "soup")
    for key, value in made.head.state_dict().items():
        torch.testing.assert_close(value, (a[key].float() + b[key].float()) / 2, atol=2e-3, rtol=1e-3)
    assert TopicClassifier.load(tmp_path / "a").head.state_dict()["classifier.weight"].equal(a["classifier.weight"])
    assert made.config.delta_rank == 16
    # the record: both runs' rows and the lexical half's (label_source all: every training row)
    assert len(trained_hashes(tmp_path / "soup")) == metrics["train_rows"] == 20
    assert np.isin(np.union1d(*records), trained_hashes(tmp_path / "soup")).all()
    assert metrics["soup_of"] == [str(run) for run in runs] and "calibration_macro_f1" in metrics
    assert set(metrics["validation_macro_f1"]) == {"head", "chunk_mean"}
    texts = ["dokter pasien rumah sakit " * 6]
    assert abs(sum(s.score for s in made.predict(texts)[0].scores) - 1.0) < 1e-3
    # the card says it is a soup and gives each run's data and cost
    saved = yaml.safe_load((tmp_path / "soup" / "training_config.yaml").read_text())
    card = _classifier_training_section(json.loads((tmp_path / "soup" / "config.json").read_text()), metrics, saved)
    assert "model soup" in card and "- `a`: label source\n`read` — 10 training rows" in card
    assert "- `b`: label source\n`read` — 3 training rows" in card and "stored at rank 16" in card
    total = metrics["seconds"]["averaging"] + sum(i["metrics"]["seconds"]["total"] for i in metrics["ingredients"])
    assert (
        metrics["seconds"]["total"] == round(total, 1)
        and f"in all (runs + soup): {metrics['seconds']['total']} s" in card
    )
    # refused before any work: one run, a run twice, writing over a run, a soup as a run, another corpus
    refusals = {
        "one": ([tmp_path / "a"], {}, "at least two"),
        "twice": ([tmp_path / "a", tmp_path / "a"], {}, "named twice"),
        "a": (runs, {"overwrite": True}, "one of its runs"),
        "nested": ([tmp_path / "a", tmp_path / "soup"], {}, "itself a soup"),
        "other": (runs, {"data_dir": str(_tiny_topics(tmp_path / "other"))}, "not "),
    }
    for name, (chosen, extra, message) in refusals.items():
        with pytest.raises(SoupError, match=message):
            make_soup(config | {"run_name": name} | extra, chosen)
    assert (tmp_path / "a" / "train_metrics.json").exists()
    train(config | {"run_name": "c", "max_length": 12})
    with pytest.raises(SoupError, match="max_length differs"):
        make_soup(config | {"run_name": "mixed"}, [tmp_path / "a", tmp_path / "c"])
    # a rebuild moved training rows into validation: the runs saw them, so no soup is fitted there
    _tiny_topics(tmp_path / "topics", validation_ids="t")
    with pytest.raises(SoupError, match="trained on 5 of the validation rows"):
        make_soup(config | {"run_name": "leaky"}, runs)
    assert not any((tmp_path / name).exists() for name in ("one", "twice", "nested", "other-soup", "mixed", "leaky"))
    with pytest.raises(SystemExit, match="is a soup"):  # its record cannot be rebuilt from its config
        record_run(tmp_path / "soup")
    # the command line: runs before and after --config, --set last; errors as one line
    with pytest.raises(SystemExit, match="error: .*named twice"):
        run = str(tmp_path / "a")
        main([run, "--config", "configs/classifier.yaml", run, "--set", f"data_dir={config['data_dir']}", "run_name=x"])
