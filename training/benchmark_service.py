"""Measure the service: cold start, single-article latency, CLI batch throughput, peak memory.

    python -m training.benchmark_service [--runs 50] [--rows 1000]

Uses 400-word articles cut from the held-out test split (build/data/topics), so run
``python -m training.build_data`` first. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from training.config import PROJECT_ROOT, project_path

COLD_START = """
import time, json, resource
started = time.perf_counter()
from service.analyzer import Analyzer
analyzer = Analyzer.load()
result = analyzer.analyze([{"id": "x", "text": TEXT}])[0]
print(json.dumps({"cold_start_seconds": round(time.perf_counter() - started, 2), "topic": result.topic,
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args(argv)
    texts = articles_of(400, max(args.rows, args.runs))
    report: dict = {"article_words": 400}

    # Cold start in a fresh process (backbone cache warm): import, load both models, first answer.
    code = f"TEXT = {json.dumps(texts[0])}\n" + COLD_START
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True)
    report["cold_start"] = json.loads(out.stdout.strip().splitlines()[-1])
    report["cold_start"]["process_seconds"] = round(time.perf_counter() - started, 2)

    from service.analyzer import Analyzer

    analyzer = Analyzer.load()
    analyzer.analyze([texts[0]])  # warm-up
    latencies = []
    for text in texts[: args.runs]:
        begin = time.perf_counter()
        analyzer.analyze([text])
        latencies.append(1000 * (time.perf_counter() - begin))
    latencies.sort()
    report["single_article_ms"] = {
        "runs": len(latencies),
        "p50": round(statistics.median(latencies), 1),
        "p95": round(latencies[max(0, int(round(0.95 * len(latencies))) - 1)], 1),
    }

    with tempfile.TemporaryDirectory() as tmp:
        source, output = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        source.write_text(
            "".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts[: args.rows]))
        )
        begin = time.perf_counter()
        finished = subprocess.run(
            [
                "/usr/bin/time",
                "-f",
                "%M",
                sys.executable,
                "-m",
                "service",
                "analyze",
                "--input",
                str(source),
                "--output",
                str(output),
            ],
            cwd=PROJECT_ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - begin
        lines = output.read_text().splitlines()
    report["cli_batch"] = {
        "rows": len(lines),
        "seconds": round(seconds, 1),
        "articles_per_second": round(len(lines) / seconds, 2),
        "peak_rss_mb": round(int(finished.stderr.strip().splitlines()[-1]) / 1024, 1),  # GNU time %M, in KiB
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
