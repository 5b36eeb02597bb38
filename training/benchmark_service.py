"""Measure the service: cold start, single-article latency, batch throughput, the CLI, peak memory.

    python -m training.benchmark_service [--compare] [--runs 50] [--rows 1000] [--out models/benchmark.json]
    python -m training.benchmark_service --compare --models before=CONFIG.yaml   # + other models, same run

Uses 400-word articles cut from the held-out test split (build/data/topics), so run
``python -m training.build_data`` first. Without ``--compare`` it measures the configured backend;
with it, every available backend (ONNX Runtime int8, PyTorch bf16 where the CPU has it natively,
PyTorch fp32) side by side in one process on the same articles, next to what a plain transformers
user runs: one fp32 forward of the same e5-small with the article truncated to 512 tokens. Single-
article timings are interleaved (every contender in turn, ten articles each), so a machine that
slows down mid-run slows all of them alike. Ratios are to that reference. ``--models LABEL=CONFIG``
adds every backend once more on the models another service config names (e.g. the models before a
retraining: ``classifier_dir: build/replaced/...``), as contenders ``BACKEND [LABEL]`` in the same run.
Prints the CPU's model and flags and writes everything to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from service.engines.measure import engine_environment
from training.config import PROJECT_ROOT, cpu_description, project_path

COLD_START = """
import json, resource, sys, time
started = time.perf_counter()
from service.analyzer import Analyzer
imported = time.perf_counter()
analyzer = Analyzer.load(config_path=CONFIG)
loaded = time.perf_counter()
result = analyzer.analyze([{"id": "x", "text": TEXT}])[0]
done = time.perf_counter()
print(json.dumps({"backend": analyzer.backend, "import_seconds": round(imported - started, 2),
                  "load_seconds": round(loaded - imported, 2), "first_answer_seconds": round(done - loaded, 2),
                  "in_process_seconds": round(done - started, 2), "torch_imported": "torch" in sys.modules,
                  "topic": result.topic,
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""
REFERENCE = "transformers-fp32-512"
DEFAULT_CONFIG = "configs/service.yaml"
# Single-article timings alternate between contenders every BLOCK articles. Alternating on every
# article measured each one up to 2.3x slow: the thread pools of PyTorch and ONNX Runtime keep
# spinning for a while after a call and took the cores from whichever ran next.
BLOCK = 10


def articles_of(words: int, count: int) -> list[str]:
    from datasets import load_from_disk

    rows = load_from_disk(str(project_path("build/data/topics")))["test"]
    out = []
    for text in rows["text"]:
        tokens = text.split(" ")
        if len(tokens) >= words:
            out.append(" ".join(tokens[:words]))
        if len(out) == count:
            break
    # Fewer long articles than requested: cycle through them (throughput is per article anyway).
    return [out[i % len(out)] for i in range(count)]


def cold_start(backend: str, text: str, repeats: int, config: str = DEFAULT_CONFIG) -> dict:
    """Fresh process, warm cache: interpreter start, import, load both models, first answer (median run)."""
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        preamble = f"TEXT = {json.dumps(text)}\nCONFIG = {json.dumps(str(project_path(config)))}\n"
        out = subprocess.run(
            [sys.executable, "-c", preamble + COLD_START],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            env=engine_environment(backend),
            check=True,
        )
        run = json.loads(out.stdout.strip().splitlines()[-1])
        run["process_seconds"] = round(time.perf_counter() - started, 2)
        runs.append(run)
    runs.sort(key=lambda r: r["process_seconds"])
    return runs[len(runs) // 2] | {"runs": repeats, "process_seconds_all": [r["process_seconds"] for r in runs]}


def cli_run(backend: str | None, texts: list[str], directory: Path | None = None, config: str = DEFAULT_CONFIG) -> dict:
    """``python -m service analyze`` over ``texts`` as JSONL on the engine ``backend`` (None: whatever the
    environment and ``auto`` choose): wall time and peak RSS (GNU time). The input and output (``in.jsonl``,
    ``out.jsonl``) are kept in ``directory`` when given."""
    with tempfile.TemporaryDirectory() as tmp:
        source, output = Path(directory or tmp) / "in.jsonl", Path(directory or tmp) / "out.jsonl"
        source.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts)))
        command = ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "service", "analyze"]
        begin = time.perf_counter()
        finished = subprocess.run(
            [*command, "--input", str(source), "--output", str(output), "--config", str(project_path(config))],
            cwd=PROJECT_ROOT,
            env=engine_environment(backend) if backend else None,
            check=True,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - begin
        lines = output.read_text().splitlines()
    return {
        "rows": len(lines),
        "seconds": round(seconds, 1),
        "articles_per_second": round(len(lines) / seconds, 2),
        "peak_rss_mb": round(int(finished.stderr.strip().splitlines()[-1]) / 1024, 1),  # GNU time %M, in KiB
        "engine": engine.group(1) if (engine := re.search(r"^engine: ([\w-]+),", finished.stderr, re.M)) else "?",
    }


class PlainTransformers:
    """What a plain transformers user runs: AutoTokenizer + AutoModel, fp32, truncated to 512 tokens."""

    def __init__(self):
        import torch
        from transformers import AutoModel, AutoTokenizer

        from service.backbone.resolve import resolve_backbone

        path = resolve_backbone("e5-small").name_or_path
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path, add_pooling_layer=False).eval()

    def __call__(self, texts: list[str]) -> None:
        inputs = self.tokenizer(texts, truncation=True, max_length=512, padding=True, return_tensors="pt")
        with self.torch.inference_mode():
            self.model(**inputs)


def percentiles(milliseconds: list[float]) -> dict:
    ordered = sorted(milliseconds)
    return {
        "runs": len(ordered),
        "p50": round(statistics.median(ordered), 1),
        "p95": round(ordered[max(0, int(round(0.95 * len(ordered))) - 1)], 1),
    }


def throughput(run, texts: list[str], batch_size: int) -> float:
    """Articles per second for ``run(batch)`` over ``texts`` in batches of ``batch_size``."""
    begin = time.perf_counter()
    for start in range(0, len(texts), batch_size):
        run(texts[start : start + batch_size])
    return round(len(texts) / (time.perf_counter() - begin), 2)


def load_analyzer(backend: str, config: str = DEFAULT_CONFIG):
    from service.analyzer import Analyzer

    name, precision = backend.split("-")
    analyzer = Analyzer.load(config_path=project_path(config), backend=name, precision=precision)
    if analyzer.backend != backend:
        raise SystemExit(f"error: asked for {backend}, got {analyzer.backend}")
    return analyzer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", action="store_true", help="every backend + the plain transformers reference")
    parser.add_argument("--runs", type=int, default=50, help="single-article timings per contender")
    parser.add_argument("--batch-articles", type=int, default=200, help="articles timed for batch throughput")
    parser.add_argument("--rows", type=int, default=1000, help="rows for the CLI run")
    parser.add_argument("--cold-repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="JSON file for the results (default: print only)")
    parser.add_argument(
        "--models", nargs="*", default=[], metavar="LABEL=CONFIG",
        help="also every backend on the models of another service config, as 'BACKEND [LABEL]'",
    )  # fmt: skip
    args = parser.parse_args(argv)
    configs = {"": DEFAULT_CONFIG} | dict(item.split("=", 1) for item in args.models)
    cpu = cpu_description()
    print(f"CPU: {cpu}", file=sys.stderr)
    texts = articles_of(400, max(args.rows, args.runs, args.batch_articles))
    from service.analyzer import engine_for
    from service.engines.backend import candidates
    from service.engines.measure import table as timing_table

    choice = engine_for(project_path(DEFAULT_CONFIG))  # what auto (or the environment) picks here; no model loaded
    print(f"engine chosen: {choice.engine}: {choice.reason}", file=sys.stderr)
    backends = candidates() if args.compare else [choice.engine]
    report: dict = {"cpu": cpu, "article_words": 400, "models": configs, "backends": {}, "choice": choice.to_dict()}
    runs = [(f"{backend} [{label}]" if label else backend, backend, config) for label, config in configs.items()
            for backend in backends]  # fmt: skip

    for name, backend, config in runs:  # fresh processes first, while nothing else is loaded here
        report["backends"][name] = {"cold_start": cold_start(backend, texts[0], args.cold_repeats, config)}
        report["backends"][name]["cli"] = cli_run(backend, texts[: args.rows], config=config)
        print(f"{name}: cold start and CLI measured", file=sys.stderr)

    contenders = {}
    for name, backend, config in runs:
        analyzer = load_analyzer(backend, config)

        def run(batch, analyzer=analyzer, batch_size=16):
            analyzer.analyze(batch, batch_size=batch_size)

        contenders[name] = (run, analyzer)
    if args.compare:
        plain = PlainTransformers()
        contenders[REFERENCE] = (plain, None)
    latencies: dict[str, list[float]] = {name: [] for name in contenders}
    for block in range(0, args.runs, BLOCK):  # every contender in turn, BLOCK articles each
        for name, (run, _) in contenders.items():
            run(texts[:1])  # untimed: lets the previous contender's idle threads stand down
            for text in texts[block : min(block + BLOCK, args.runs)]:
                begin = time.perf_counter()
                run([text])
                latencies[name].append(1000 * (time.perf_counter() - begin))
    batch_texts = texts[: args.batch_articles]
    for name, (run, analyzer) in contenders.items():
        entry = report["backends"].setdefault(name, {})
        entry["single_article_ms"] = percentiles(latencies[name])
        for size in (16, 32):
            if analyzer is None:
                entry[f"articles_per_second_batch_{size}"] = throughput(run, batch_texts, size)
            else:
                entry[f"articles_per_second_batch_{size}"] = throughput(
                    lambda batch, run=run, size=size: run(batch, batch_size=size), batch_texts, size
                )
    if args.compare:
        reference = report["backends"][REFERENCE]
        for name, _, _ in runs:
            entry = report["backends"][name]
            entry["vs_reference"] = {
                "p50_ratio": round(entry["single_article_ms"]["p50"] / reference["single_article_ms"]["p50"], 2),
                **{
                    f"throughput_ratio_batch_{size}": round(
                        entry[f"articles_per_second_batch_{size}"] / reference[f"articles_per_second_batch_{size}"], 2
                    )
                    for size in (16, 32)
                },
            }
    text = json.dumps(report, indent=2)
    if args.out:
        project_path(args.out).write_text(text + "\n")
    print(text)
    print(table(report), file=sys.stderr)
    if choice.timings:
        print(f"\nauto's measurement (first load on this CPU):\n{timing_table(choice)}", file=sys.stderr)


def table(report: dict) -> str:
    """The report as a Markdown table (what the README shows)."""
    lines = [
        "| | cold start (s) | p50 / p95 (ms) | articles/s, batch 16 / 32 | CLI (art/s, peak RSS MB) "
        "| p50 ratio | throughput ratio (16) |",
        "|---|---|---|---|---|---|---|",
    ]
    chosen = report.get("choice", {}).get("engine")
    for name, entry in report["backends"].items():
        cold = entry.get("cold_start", {}).get("process_seconds", "")
        label = f"{name} (auto's choice)" if name == chosen else name
        single = entry["single_article_ms"]
        cli = entry.get("cli")
        cli_cell = f"{cli['articles_per_second']}, {cli['peak_rss_mb']}" if cli else ""
        ratio = entry.get("vs_reference", {})
        lines.append(
            f"| {label} | {cold} | {single['p50']} / {single['p95']} | {entry['articles_per_second_batch_16']} / "
            f"{entry['articles_per_second_batch_32']} | "
            f"{cli_cell} | "
            f"{ratio.get('p50_ratio', '1.00' if name == REFERENCE else '')} | "
            f"{ratio.get('throughput_ratio_batch_16', '1.00' if name == REFERENCE else '')} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
