"""Where one ``Analyzer.analyze`` call spends its time, per engine.

    python -m training.profile_analyze [--engines openvino-bf16 onnx-int8] [--calls 20] [--words 400]

Each engine runs in a process of its own (``--engine`` internally) on the same 400-word articles cut from
the held-out test split (``build/data/topics``): one article per call, ``--calls`` calls after a warm-up,
under ``cProfile``. Printed per engine: the wall time per call and how much of it is spent in the engine's
graph calls (ONNX Runtime ``run``, OpenVINO ``infer``, PyTorch), the tokenizer, sentence splitting and
cleaning, and the rest (Python and numpy around them), and for the ONNX engines the time per graph file
(embeddings, lower blocks, topic head, scorer), with the CPU's model and flags.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import subprocess
import sys
import time
from pathlib import Path

from service.engines.measure import engine_environment
from training.benchmark_service import articles_of
from training.config import PROJECT_ROOT, cpu_description

# (part, substring of "file:function" in the profile); the first part that matches a function takes its own time.
PARTS = [
    ("engine: ONNX Runtime", "onnxruntime_pybind11_state.run"),
    ("engine: OpenVINO", "openvino._pyopenvino.infer"),
    ("engine: PyTorch", "torch"),
    ("tokenizer", "method 'encode' of 'tokenizers"),
    ("sentence splitting and cleaning", "service/text.py"),
]


def graph_timer() -> dict[str, float]:
    """Seconds per ONNX graph file, summed over every call of ONNX Runtime or OpenVINO from now on."""
    import onnxruntime

    from service.engines.openvino import OpenVinoSession

    seconds: dict[str, float] = {}

    def timed(run, name_of):
        def wrapper(self, *args, **kwargs):
            began = time.perf_counter()
            try:
                return run(self, *args, **kwargs)
            finally:
                name = name_of(self)
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - began

        return wrapper

    onnxruntime.InferenceSession.run = timed(onnxruntime.InferenceSession.run, lambda s: Path(s._model_path).name)
    OpenVinoSession.run = timed(OpenVinoSession.run, lambda s: s.path.name)
    return seconds


def profile(engine: str, calls: int, words: int) -> dict:
    from service.analyzer import Analyzer

    graphs = graph_timer()
    analyzer = Analyzer.load()
    texts = articles_of(words, calls)
    analyzer.analyze(texts[:1])  # warm-up
    graphs.clear()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for text in texts:
        analyzer.analyze([text])
    profiler.disable()
    wall = time.perf_counter() - started
    stats = pstats.Stats(profiler)
    shares = dict.fromkeys([name for name, _ in PARTS], 0.0)
    for (path, _, function), (_, _, own, _, _) in stats.stats.items():
        where = f"{path}:{function}"
        for name, marker in PARTS:
            if marker in where:
                shares[name] += own
                break
    total = sum(own for _, _, own, _, _ in stats.stats.values())
    shares["rest (Python around them, numpy)"] = max(total - sum(shares.values()), 0.0)
    return {
        "engine": analyzer.backend,
        "calls": calls,
        "ms_per_call": round(1000 * wall / calls, 1),
        "ms_per_call_by_part": {name: round(1000 * seconds / calls, 1) for name, seconds in shares.items()},
        "ms_per_call_by_graph": {name: round(1000 * seconds / calls, 1) for name, seconds in graphs.items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", nargs="+", default=["openvino-bf16", "onnx-int8"])
    parser.add_argument("--engine", help=argparse.SUPPRESS)  # internal: profile one engine in this process
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--words", type=int, default=400)
    args = parser.parse_args(argv)
    if args.engine:
        print(json.dumps(profile(args.engine, args.calls, args.words)))
        return
    print(f"CPU: {cpu_description()}")
    for engine in args.engines:
        command = [sys.executable, "-m", "training.profile_analyze", "--engine", engine, "--calls", str(args.calls)]
        done = subprocess.run(
            [*command, "--words", str(args.words)],
            capture_output=True, text=True, cwd=PROJECT_ROOT, env=engine_environment(engine), check=True,
        )  # fmt: skip
        result = json.loads(done.stdout.strip().splitlines()[-1])
        parts = ", ".join(f"{name} {ms}" for name, ms in result["ms_per_call_by_part"].items())
        graphs = ", ".join(f"{name} {ms}" for name, ms in result["ms_per_call_by_graph"].items())
        print(f"{result['engine']}: {result['ms_per_call']} ms per call (profiled); by part: {parts}")
        if graphs:
            print(f"    by graph: {graphs}")


if __name__ == "__main__":
    main()
