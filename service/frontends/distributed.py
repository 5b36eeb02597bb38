"""Batch analysis on Ray Data: archives over one machine's cores or a whole cluster.

    python -m service.distributed --input 'archive/*.jsonl' --output out/ [--format jsonl|parquet]
        [--workers N] [--batch-size B] [--address auto|ray://HOST:10001]

Reads JSONL, CSV, TXT or Parquet files (a path, a directory or a glob) with
``ray.data.read_binary_files`` and parses each file with the readers every front end shares
(``service.frontends.rows``), so a malformed row becomes that row's error exactly as in
``python -m service analyze`` (Ray's JSON and CSV readers stop the whole read at the
first bad line). A callable class loads the ``Analyzer`` once per worker (``map_batches(...,
concurrency=N)``); every output row carries the CLI's fields plus ``source`` (the input file),
in input order. Without ``--address`` a local Ray instance starts; with one, the command joins
that cluster (``ray start --head`` on one node, ``ray start --address HEAD:6379`` on the others).
Needs ``pip install 'warta[distributed]'``.
"""

from __future__ import annotations

import argparse
import glob
import io
import json
import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from service.frontends.rows import FORMATS, RowsError, analyze_chunk, file_format, read_rows

logger = logging.getLogger(__name__)
OUTPUT_FIELDS = ("source", "row", "id", "topic", "topics", "summary", "summary_sentences", "warnings", "error")


def input_files(spec: str) -> list[str]:
    """Files named by a path, a directory (its supported files) or a glob, sorted."""
    path = Path(spec)
    if path.is_dir():
        files = [str(p) for p in sorted(path.iterdir()) if file_format(p)]
    else:
        files = sorted(glob.glob(spec)) if any(ch in spec for ch in "*?[") else [spec]
    missing = [f for f in files if not Path(f).is_file()]
    if not files or missing:
        raise SystemExit(f"error: no input files for {spec!r}" + (f" ({missing[0]} not found)" if missing else ""))
    unknown = [f for f in files if not file_format(f)]
    if unknown:
        raise SystemExit(f"error: cannot tell the format of {unknown[0]}: use {', '.join(sorted(FORMATS))}")
    return files


def rows_of_file(item: dict) -> list[dict]:
    """One record per input row of a file read by ``read_binary_files``: parsed, or the row's error."""
    path, data = item["path"], item["bytes"]
    try:
        records = list(read_rows(io.BytesIO(data), file_format(path)))
    except RowsError as error:  # a file that cannot be read at all (a CSV without a usable header): one error row
        records = [(1, None, str(error))]
    # Empty strings, not None: a block whose column is all None would reach the workers as NaN.
    return [
        {
            "source": path,
            "row": n,
            "data": json.dumps(row, ensure_ascii=False) if row is not None else "",
            "error": e or "",
        }
        for n, row, e in records
    ]


def actor_resources(node_cpus: list[float], workers: int, reserve: float = 0.2) -> tuple[float, int]:
    """CPUs each of ``workers`` Analyzer actors asks Ray for, and its engine threads (ONNX Runtime, OpenVINO).

    Every node keeps ``reserve`` CPUs for the read tasks (0.1 CPU each). An actor asks for the largest
    share ``(cpus - reserve) / k`` of one node with which all ``workers`` actors still fit on the alive
    nodes: on one node that is ``(cpus - reserve) / workers``, and never more than the largest node has.
    Its threads are that node's cores shared the same way (``cpus // k``), at least one.
    """
    usable = [cpus for cpus in node_cpus if cpus > reserve]
    if not usable:
        raise ValueError(f"no Ray node has more than {reserve} CPU for an Analyzer worker: {node_cpus}")

    def fits(request: float) -> bool:  # the epsilon keeps k * (x / k) from counting as k - 1 slots
        return sum(math.floor((cpus - reserve) / request + 1e-9) for cpus in usable) >= workers

    # k actors on a node of `cpus` CPUs; k = workers on the largest node always fits.
    request, cpus, k = max(
        ((cpus - reserve) / k, cpus, k) for cpus in usable for k in range(1, workers + 1) if fits((cpus - reserve) / k)
    )
    return request, max(1, int(cpus // k))


class AnalyzeBatch:
    """Loads the Analyzer once per Ray worker; turns a batch of parsed rows into output rows."""

    def __init__(self, config: str | None, threads: int | None, options: dict):
        from service.analyzer import Analyzer
        from service.config import DEFAULT_SERVICE_CONFIG

        self.analyzer = Analyzer.load(
            config_path=config or DEFAULT_SERVICE_CONFIG, threads=threads, independent_batches=True
        )
        self.options = options

    def __call__(self, batch: dict):
        import pyarrow as pa

        records = [
            (int(n), json.loads(data) if data else None, str(error) or None)
            for n, data, error in zip(batch["row"], batch["data"], batch["error"], strict=True)
        ]
        lines = analyze_chunk(self.analyzer, records, **self.options)
        rows = [{"source": source, **line} for source, line in zip(batch["source"], lines, strict=True)]
        return pa.Table.from_pylist(rows, schema=output_schema())


def output_schema():
    """The output columns: the CLI's fields (absent ones null) and ``source``, with nested types."""
    import pyarrow as pa

    topic = pa.struct([("label", pa.string()), ("score", pa.float64())])
    sentence = pa.struct([("index", pa.int64()), ("start", pa.int64()), ("end", pa.int64()), ("text", pa.string())])
    return pa.schema(
        [
            ("source", pa.string()),
            ("row", pa.int64()),
            ("id", pa.string()),
            ("topic", pa.string()),
            ("topics", pa.list_(topic)),
            ("summary", pa.string()),
            ("summary_sentences", pa.list_(sentence)),
            ("warnings", pa.list_(pa.string())),
            ("error", pa.string()),
        ]
    )


def output_row(row: dict) -> dict:
    """A written row back as the CLI's line (+ ``source``): null fields dropped."""
    return {field: row[field] for field in OUTPUT_FIELDS if row.get(field) is not None}


def run(
    inputs: list[str],
    output: Path,
    fmt: str = "jsonl",
    workers: int = 1,
    batch_size: int = 64,
    address: str | None = None,
    config: str | None = None,
    options: dict | None = None,
) -> dict:
    """Analyse ``inputs`` into ``output`` (a directory of JSONL or Parquet files); returns counts."""
    import ray

    started = time.perf_counter()
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, log_to_driver=False, num_cpus=os.cpu_count())
    node_cpus = [node["Resources"].get("CPU", 0.0) for node in ray.nodes() if node["Alive"]]
    actor_cpus, threads = actor_resources(node_cpus, workers)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # output rows in input order
    context.enable_progress_bars = sys.stderr.isatty()
    dataset = (
        ray.data.read_binary_files(inputs, include_paths=True, num_cpus=0.1)
        .flat_map(rows_of_file, num_cpus=0.1)
        .map_batches(
            AnalyzeBatch,
            fn_constructor_kwargs={"config": config, "threads": threads, "options": options or {}},
            batch_size=batch_size,
            concurrency=workers,
            num_cpus=actor_cpus,
            batch_format="default",
        )
    )
    output.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        dataset.write_parquet(str(output))
    else:
        dataset.write_json(str(output), lines=True, force_ascii=False)
    seconds = time.perf_counter() - started
    rows, errors = count_output(output, fmt)
    return {
        "rows": rows,
        "errors": errors,
        "seconds": round(seconds, 1),
        "workers": workers,
        "threads_per_worker": threads,
    }


def output_rows(directory: Path, fmt: str = "jsonl", columns: list[str] | None = None) -> Iterator[dict]:
    """Every row written to ``directory`` as a CLI line with ``source`` (null fields dropped), in file order,
    streamed: one JSONL line or one Parquet batch (of ``columns`` only, when given) at a time."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        for file in sorted(directory.glob("*.parquet")):
            for batch in pq.ParquetFile(file).iter_batches(columns=columns):
                yield from (output_row(row) for row in batch.to_pylist())
        return
    for file in sorted(directory.glob("*.json*")):
        with open(file, encoding="utf-8") as lines:
            yield from (output_row(json.loads(line)) for line in lines if line.strip())


def count_output(directory: Path, fmt: str = "jsonl") -> tuple[int, int]:
    """``(rows, rows with an error)`` written to ``directory``, in constant memory (Parquet: the error column)."""
    rows = errors = 0
    for row in output_rows(directory, fmt, columns=["error"]):
        rows += 1
        errors += "error" in row
    return rows, errors


def read_output(directory: Path, fmt: str = "jsonl") -> list[dict]:
    """Every row written to ``directory`` (``output_rows``), held in memory: for tests and benchmarks."""
    return list(output_rows(directory, fmt))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m service.distributed", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--input", required=True, help="a file, a directory or a glob of JSONL / CSV / TXT / Parquet")
    parser.add_argument("--output", required=True, type=Path, help="directory for the output files")
    parser.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl", help="output format")
    parser.add_argument("--workers", type=int, default=1, help="Analyzer workers (Ray actors), default 1")
    parser.add_argument("--batch-size", type=int, default=64, help="rows per worker call (default 64)")
    parser.add_argument("--address", help="join a running Ray cluster: auto or ray://HOST:10001 (default: local)")
    parser.add_argument("--max-sentences", type=int, default=3)
    parser.add_argument("--max-words", type=int, help="cap each summary at about this many words")
    parser.add_argument("--config", help="service config (default configs/service.yaml)")
    args = parser.parse_args(argv)
    if args.workers < 1 or args.batch_size < 1:
        parser.error("--workers and --batch-size must be at least 1")
    if args.output.exists() and any(args.output.iterdir()):
        parser.error(f"{args.output} is not empty: choose a new directory")
    try:
        import ray  # noqa: F401
    except ImportError:
        parser.error("Ray is not installed: pip install 'warta[distributed]'")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    counts = run(
        input_files(args.input),
        args.output,
        args.format,
        args.workers,
        args.batch_size,
        args.address,
        args.config,
        {"max_sentences": args.max_sentences, "max_words": args.max_words},
    )
    print(json.dumps(counts), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
