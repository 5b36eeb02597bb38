"""Which engine runs: the request rules, ``auto``'s choice from a timing table, its cache, and the OpenVINO
engine's agreement with PyTorch fp32 on the shipped models."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from service.analyzer import Analyzer, models_version
from service.config import load_settings, project_path
from service.engines.backend import (
    ENGINES,
    EngineTiming,
    candidates,
    choose,
    requested_backend,
    requested_precision,
)
from service.engines.measure import choice_path, choose_engine, gate_failures, write_choice
from service.frontends.engines import fixed_batch
from tests.fixtures.articles import HEALTH, REGIONAL_GOVERNMENT, SCRAPED_REGIONAL, SPORT
from training.config import PROJECT_ROOT

ARTICLES = [SPORT, HEALTH, REGIONAL_GOVERNMENT, SCRAPED_REGIONAL]
ALL = ("onnx", "openvino", "torch")


def test_the_request_follows_argument_then_environment_then_setting(monkeypatch):
    monkeypatch.delenv("WARTA_BACKEND", raising=False)
    monkeypatch.delenv("WARTA_PRECISION", raising=False)
    assert requested_backend("torch") == "torch" and requested_backend(None) == "auto"
    assert requested_precision("bf16") == "bf16" and requested_precision(None) == "auto"
    monkeypatch.setenv("WARTA_BACKEND", "openvino")
    monkeypatch.setenv("WARTA_PRECISION", "fp32")
    assert requested_backend("onnx") == "openvino" and requested_precision("bf16") == "fp32"  # environment wins
    assert requested_backend("torch", explicit="onnx") == "onnx"  # Analyzer.load(backend=...) wins over both
    monkeypatch.setenv("WARTA_BACKEND", "tensorrt")
    with pytest.raises(ValueError, match="auto, onnx, openvino, torch"):
        requested_backend(None)


def test_candidates_are_what_the_request_admits_among_installed_engines():
    assert candidates("auto", "auto", ALL, native_bf16=True) == list(ENGINES)
    # Without bf16 instructions bf16 is emulated (several times slower): auto does not time it ...
    assert candidates("auto", "auto", ALL, native_bf16=False) == [
        "onnx-int8", "openvino-int8", "openvino-fp32", "torch-fp32"
    ]  # fmt: skip
    # ... but asking for it by name gets it.
    assert candidates("torch", "bf16", ALL, native_bf16=False) == ["torch-bf16"]
    assert candidates("openvino", "auto", ALL, native_bf16=True) == ["openvino-int8", "openvino-bf16", "openvino-fp32"]
    assert candidates("auto", "int8", ALL, native_bf16=True) == ["onnx-int8", "openvino-int8"]
    assert candidates("auto", "fp32", ("onnx", "torch"), native_bf16=True) == ["torch-fp32"]
    with pytest.raises(ValueError, match="no engine for backend 'openvino'"):
        candidates("openvino", "auto", ("onnx", "torch"), native_bf16=True)
    with pytest.raises(ValueError, match="no engine for backend 'onnx' and precision 'bf16'"):
        candidates("onnx", "bf16", ALL, native_bf16=True)


def timing(engine, single, batch, **kwargs) -> EngineTiming:
    return EngineTiming(engine, single, batch, **kwargs)


@pytest.mark.parametrize(
    "table, expected",
    [
        # The AMD EPYC kind (issue 12): ONNX Runtime int8 fastest.
        ({"onnx-int8": (35, 20), "openvino-bf16": (60, 30), "torch-bf16": (50, 25), "torch-fp32": (90, 70)},
         "onnx-int8"),
        # Intel with AVX512-BF16 but no AMX (issue 22): bf16 slower than fp32 on both engines.
        ({"onnx-int8": (80, 60), "openvino-bf16": (126, 90), "openvino-fp32": (77, 59), "torch-bf16": (139, 110),
          "torch-fp32": (81, 66)}, "openvino-fp32"),
        # Intel with AMX: OpenVINO bf16.
        ({"onnx-int8": (78, 60), "openvino-bf16": (38, 20), "openvino-fp32": (77, 57), "torch-bf16": (56, 25),
          "torch-fp32": (77, 64)}, "openvino-bf16"),
    ],
)  # fmt: skip
def test_auto_never_picks_an_engine_that_measured_slower(table, expected):
    timings = {engine: timing(engine, *ms) for engine, ms in table.items()}
    choice = choose(timings)
    assert choice.engine == expected
    assert all(choice.timings[choice.engine].cost <= t.cost for t in timings.values())


def test_auto_leaves_out_engines_that_failed_disagreed_or_failed_the_gate():
    timings = {
        "onnx-int8": timing("onnx-int8", 10, 10, agrees=False),  # fastest, but moved a topic
        "openvino-bf16": timing("openvino-bf16", 20, 10),  # next: failed the recorded parity gate
        "openvino-fp32": EngineTiming("openvino-fp32", error="the probe failed: no such device"),
        "torch-bf16": timing("torch-bf16", 50, 30),
        "torch-fp32": timing("torch-fp32", 60, 40),
    }
    choice = choose(timings, {"openvino-bf16": "failed the parity gate"})
    assert choice.engine == "torch-bf16"
    for why in ("onnx-int8 left out (disagrees with fp32)", "openvino-bf16 left out (failed the parity gate)",
                "openvino-fp32 left out (the probe failed: no such device)", "torch-fp32 60+40 ms"):  # fmt: skip
        assert why in choice.reason
    with pytest.raises(ValueError, match="no usable engine"):
        choose({"onnx-int8": timings["onnx-int8"]})
    tie = choose({"torch-fp32": timing("torch-fp32", 30, 30), "openvino-fp32": timing("openvino-fp32", 30, 30)})
    assert tie.engine == "openvino-fp32"  # ties go to the earlier engine in ENGINES


def test_the_recorded_parity_gate_applies_to_the_models_it_was_measured_on(tmp_path):
    record = tmp_path / "parity.json"
    record.write_text(json.dumps({"models": "abc", "gate": {"engines": {"onnx-int8": False, "torch-bf16": True}}}))
    assert list(gate_failures(record, "abc")) == ["onnx-int8"]
    assert gate_failures(record, "retrained") == {}  # another model: its own gate, not this one
    assert gate_failures(tmp_path / "missing.json", "abc") == {}


def test_a_cached_choice_is_reused_for_the_same_cpu_packages_and_models_only(tmp_path):
    settings = load_settings(project_path("configs/service.yaml"))
    version = models_version(project_path(settings["classifier_dir"]), project_path(settings["summarizer_dir"]))
    timings = {"openvino-fp32": timing("openvino-fp32", 80, 50), "torch-fp32": timing("torch-fp32", 70, 50)}
    cached = choose(timings)
    write_choice(choice_path(("auto", "fp32"), version, tmp_path), cached)
    assert cached.engine == "torch-fp32"
    # Read back without timing anything (a probe would take seconds and could choose otherwise).
    again = choose_engine("auto", "fp32", version, cache_dir=tmp_path)
    assert again.engine == "torch-fp32" and "cached in" in again.reason
    assert again.timings["openvino-fp32"] == timings["openvino-fp32"]
    assert choice_path(("auto", "fp32"), "other-models", tmp_path) != choice_path(("auto", "fp32"), version, tmp_path)


def test_the_fixed_batch_is_the_same_every_time():
    batch = fixed_batch()
    assert batch == fixed_batch() and len(batch) == 8
    assert 60 <= min(len(a["text"].split()) for a in batch) < max(len(a["text"].split()) for a in batch) <= 450


@pytest.fixture(scope="module")
def fp32_analyzer():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WARTA_PRECISION", "fp32")
        return Analyzer.load(backend="torch")


def scores(result) -> dict[str, float]:
    return {t.label: t.score for t in result.topics}


@pytest.mark.parametrize("precision, tolerance", [("fp32", 0.02), ("bf16", 0.03)])  # int8 embedding table
def test_openvino_agrees_with_pytorch_fp32(fp32_analyzer, precision, tolerance):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WARTA_PRECISION", precision)
        analyzer = Analyzer.load(backend="openvino")
    assert analyzer.backend == f"openvino-{precision}"
    items = [{"id": str(i), "text": text} for i, text in enumerate(ARTICLES)]
    ours, reference = analyzer.analyze(items), fp32_analyzer.analyze(items)
    assert [r.topic for r in ours] == [r.topic for r in reference]
    for a, b in zip(ours, reference, strict=True):
        difference = max(abs(scores(a)[label] - p) for label, p in scores(b).items())
        assert difference <= tolerance, (a.id, difference)
        assert [s.index for s in a.summary_sentences] == [s.index for s in b.summary_sentences]


def test_with_fixed_batching_an_article_gets_the_same_result_whatever_it_is_batched_with():
    # OpenVINO fp32 keeps rows apart: batched across articles at fixed width, each result is its own.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WARTA_PRECISION", "fp32")
        analyzer = Analyzer.load(backend="openvino", batching="fixed")
    alone = analyzer.analyze([SCRAPED_REGIONAL])[0].to_dict()
    crowded = analyzer.analyze([SPORT, HEALTH * 3, SCRAPED_REGIONAL, REGIONAL_GOVERNMENT], batch_size=4)[2]
    assert crowded.to_dict() == alone


def test_the_cli_says_which_engine_runs_and_why(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "1", "text": SPORT}) + "\n")
    env = {"WARTA_BACKEND": "openvino", "WARTA_PRECISION": "fp32"}
    done = subprocess.run(
        [sys.executable, "-m", "service", "analyze", "--input", str(source), "--output", str(tmp_path / "out.jsonl")],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env={**os.environ, **env}, check=True,
    )  # fmt: skip
    assert "engine: openvino-fp32" in done.stderr and "asked for (WARTA_BACKEND" in done.stderr
    assert json.loads((tmp_path / "out.jsonl").read_text())["topic"] == "sport"
