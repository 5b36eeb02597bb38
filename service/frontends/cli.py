"""Batch command line: analyse a file of articles (JSONL, CSV, TXT or Parquet) into JSON lines.

    python -m service analyze --input articles.jsonl --output results.jsonl [--max-sentences 3]

Input rows have ``id``, ``text`` and optionally ``title`` (JSONL objects, CSV or Parquet columns; TXT:
articles separated by two blank lines, see ``service.frontends.rows``). Output:
one JSON line per input row, in input order: ``{"row", "id", "topic", "topics", "summary",
"summary_sentences", "warnings"}``, or ``{"row", "id", "error"}`` for a row that cannot be analysed
(``row`` is the 1-based input line, CSV record, TXT block or Parquet row; a row without ``id`` gets it
as its id).
The file is streamed (memory stays flat on any size) and flushed chunk by chunk: ``--resume``
continues a killed run, an existing output is never silently overwritten (``--overwrite``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from service.frontends.rows import FORMATS, RowsError, analyze_chunk, file_format, read_rows

ROW_BATCH = 64  # rows read, analysed and written at a time
FORMAT_CHOICES = "|".join(sorted(set(FORMATS.values())))
logger = logging.getLogger(__name__)


def expected_rows(path: Path, fmt: str) -> int | None:
    """About how many rows ``path`` holds, for the progress bar (None when unknown without reading it)."""
    if fmt in ("jsonl", "csv"):
        with open(path, "rb") as handle:
            return sum(1 for line in handle if line.strip()) - (1 if fmt == "csv" else 0)
    return None


def completed_rows(path: Path) -> list[int]:
    """The ``row`` of every complete line of an earlier output; a partial last line is cut off the file."""
    rows, keep = [], 0
    with open(path, "rb+") as handle:  # streamed: an output of millions of lines is never held whole
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                logger.warning("%s: discarding a partial last line (%d bytes)", path, len(line))
                break
            try:
                rows.append(int(json.loads(line)["row"]))
            except (ValueError, KeyError, TypeError):
                raise SystemExit(f"error: {path} line {number} is not a line this CLI wrote; use --overwrite") from None
            keep += len(line)
        handle.truncate(keep)
    return rows


def analyze_file(
    analyzer,
    input_path: Path,
    output_path: Path,
    fmt: str,
    max_sentences: int,
    batch_size: int,
    ratio: float | None = None,
    resume: bool = False,
    chunk_size: int = ROW_BATCH,
) -> dict:
    """Analyse every row of ``input_path`` into ``output_path``, ``chunk_size`` rows at a time, each
    chunk flushed as it is done. With ``resume``, rows already complete in ``output_path`` are skipped
    and new lines appended (results do not depend on how rows were chunked)."""
    from tqdm import tqdm

    total = expected_rows(input_path, fmt)
    done = completed_rows(output_path) if resume and output_path.exists() else []
    counts = {"rows": 0, "errors": 0, "resumed": len(done)}
    mode = "a" if done else "w"
    with (
        open(output_path, mode, encoding="utf-8") as out,
        tqdm(total=total, initial=len(done), unit="row", file=sys.stderr) as bar,
    ):
        pending: list[tuple[int, dict | None, str | None]] = []

        def flush() -> None:
            lines = analyze_chunk(analyzer, pending, max_sentences=max_sentences, batch_size=batch_size, ratio=ratio)
            counts["errors"] += sum("error" in line for line in lines)
            out.write("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
            out.flush()  # a killed run loses at most the chunk in progress
            counts["rows"] += len(pending)
            bar.update(len(pending))
            pending.clear()

        seen = 0
        for index, record in enumerate(read_rows(input_path, fmt)):
            seen += 1
            if index < len(done):
                if record[0] != done[index]:
                    raise SystemExit(
                        f"error: {output_path} does not continue {input_path} (its line {index + 1} is row "
                        f"{done[index]}, the input's is row {record[0]}); use --overwrite to start again"
                    )
                continue
            pending.append(record)
            if len(pending) >= chunk_size:
                flush()
        if seen < len(done):
            raise SystemExit(f"error: {output_path} has more rows than {input_path}; use --overwrite")
        flush()
    return counts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m service", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    analyze = commands.add_parser(
        "analyze",
        help="topics and summaries for a file of articles",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    analyze.add_argument("--input", required=True, type=Path, help="JSONL, CSV, TXT or Parquet with id, text, title")
    analyze.add_argument("--output", required=True, type=Path, help="JSONL written here, one line per input row")
    analyze.add_argument("--format", choices=sorted(set(FORMATS.values())), help="input format (default: extension)")
    analyze.add_argument("--max-sentences", type=int, default=3, help="summary length in sentences (default 3)")
    analyze.add_argument(
        "--ratio",
        type=float,
        help="summary length as a share of each article's sentences, 0 < R <= 1 (replaces --max-sentences)",
    )
    analyze.add_argument("--batch-size", type=int, default=16, help="articles per encoder batch (default 16)")
    analyze.add_argument("--config", type=Path, help="service config (default configs/service.yaml)")
    analyze.add_argument(
        "--resume", action="store_true", help="continue an interrupted run: skip the rows OUTPUT already holds"
    )
    analyze.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    analyze.add_argument(
        "--chunk-size", type=int, default=ROW_BATCH, help=f"rows analysed and flushed at a time (default {ROW_BATCH})"
    )
    prepare = commands.add_parser(
        "prepare", help="build the backbone and the configured backend's models into the cache (make models)"
    )
    prepare.add_argument("--config", type=Path, help="service config (default configs/service.yaml)")
    return parser


def check_analyze_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """Refuse bad options before any model loads; returns the input format."""
    from service.models.summaries.summarizer import check_ratio  # here: --help stays free of numpy

    fmt = args.format or file_format(args.input)
    if fmt is None:
        parser.error(f"cannot tell the format of {args.input} from its extension; pass --format {FORMAT_CHOICES}")
    if not args.input.is_file():
        parser.error(f"input file {args.input} not found")
    if args.max_sentences < 1:
        parser.error("--max-sentences must be at least 1")
    if args.chunk_size < 1:
        parser.error("--chunk-size must be at least 1")
    if args.resume and args.overwrite:
        parser.error("--resume and --overwrite exclude each other")
    try:
        check_ratio(args.ratio)
    except ValueError as error:
        parser.error(f"--ratio: {error}")
    if args.output.exists() and args.output.stat().st_size and not (args.resume or args.overwrite):
        parser.error(f"{args.output} exists: pass --resume to continue it or --overwrite to replace it")
    return fmt


def load_analyzer(config: Path | None):
    from service.analyzer import Analyzer
    from service.config import DEFAULT_SERVICE_CONFIG

    # Independent batches: a row's result never depends on its neighbours, so --resume and Ray match.
    analyzer = Analyzer.load(config_path=config or DEFAULT_SERVICE_CONFIG, independent_batches=True)
    print(f"backend: {analyzer.backend} (WARTA_BACKEND=auto|onnx|torch chooses)", file=sys.stderr)
    return analyzer


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "prepare":
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        load_analyzer(args.config)
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    fmt = check_analyze_args(parser, args)
    analyzer = load_analyzer(args.config)
    try:
        counts = analyze_file(
            analyzer,
            args.input,
            args.output,
            fmt,
            args.max_sentences,
            args.batch_size,
            args.ratio,
            resume=args.resume,
            chunk_size=args.chunk_size,
        )
    except RowsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    resumed = f", {counts['resumed']} already there" if counts["resumed"] else ""
    print(f"{counts['rows']} rows written to {args.output} ({counts['errors']} with errors{resumed})", file=sys.stderr)
    return 0
