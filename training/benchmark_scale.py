"""Measure how the batch paths scale: the CLI's memory over a long file, and Ray Data against the CLI.

    python -m training.benchmark_scale [--rows 1000] [--long-rows 20000] [--out models/benchmark-scale.json]

Both on the held-out articles of build/data/topics (run ``python -m training.build_data`` first), on
the default engine (what ``auto`` chose, recorded), with the CPU's model and flags:

- **CLI memory**: ``python -m service analyze`` over ``--rows`` and ``--long-rows`` rows of 80-word
  cuts (peak RSS by GNU time): the file is streamed, so memory should not grow with it.
- **Ray Data**: the same ``--rows`` full-text articles through the CLI and through
  ``python -m service.distributed`` with 1 and 2 workers (wall time from the command line, Ray's
  start included); each Ray output must hold exactly the CLI's lines.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from training.benchmark_service import articles_of, cli_run
from training.config import PROJECT_ROOT, cpu_description, project_path


def full_articles(count: int) -> list[str]:
    """``count`` whole held-out articles (test, then validation)."""
    from datasets import load_from_disk

    corpus = load_from_disk(str(project_path("build/data/topics")))
    texts = [t for split in ("test", "validation") for t in corpus[split]["text"] if len(t.split()) >= 50]
    return texts[:count]


def ray_run(source: Path, output: Path, workers: int) -> tuple[list[dict], float]:
    from service.frontends.distributed import read_output

    began = time.perf_counter()
    command = [sys.executable, "-m", "service.distributed", "--input", str(source), "--output", str(output)]
    subprocess.run([*command, "--workers", str(workers)], cwd=PROJECT_ROOT, check=True, capture_output=True)
    seconds = time.perf_counter() - began
    return [{k: v for k, v in row.items() if k != "source"} for row in read_output(output)], seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--long-rows", type=int, default=20000)
    parser.add_argument("--out", default=None, help="JSON file for the results (default: print only)")
    args = parser.parse_args(argv)
    cpu = cpu_description()
    print(f"CPU: {cpu}", file=sys.stderr)
    report: dict = {"cpu": cpu, "cli_memory": {}, "distributed": {"rows": args.rows}}
    cuts = articles_of(80, args.long_rows)
    for rows in (args.rows, args.long_rows):
        report["cli_memory"][str(rows)] = cli_run(None, cuts[:rows]) | {"article_words": 80}
        print(f"CLI over {rows} rows measured", file=sys.stderr)
    texts = full_articles(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        report["distributed"]["cli"] = cli_run(None, texts, directory)
        expected = [json.loads(line) for line in (directory / "out.jsonl").read_text().splitlines()]
        for workers in (1, 2):
            lines, seconds = ray_run(directory / "in.jsonl", directory / f"ray-{workers}", workers)
            report["distributed"][f"workers_{workers}"] = {
                "seconds": round(seconds, 1),
                "articles_per_second": round(len(texts) / seconds, 2),
                "lines_equal_cli": lines == expected,
            }
            print(f"Ray with {workers} worker(s) measured", file=sys.stderr)
    text = json.dumps(report, indent=2)
    if args.out:
        project_path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
