"""Batch command line: analyse a JSONL or CSV file of articles into JSON lines.

    python -m service analyze --input articles.jsonl --output results.jsonl [--max-sentences 3]

Input rows have ``id``, ``text`` and optionally ``title`` (JSONL objects, or CSV columns). Output:
one JSON line per input row, in input order: ``{"row", "id", "topic", "topics", "summary",
"summary_sentences", "warnings"}``, or ``{"row", "id", "error"}`` for a row that cannot be analysed
(``row`` is the 1-based input line or CSV record number; a row without ``id`` gets it as its id).
The file is streamed (memory stays flat on any size) and flushed chunk by chunk: ``--resume``
continues a killed run, an existing output is never silently overwritten (``--overwrite``).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

csv.field_size_limit(sys.maxsize)

ROW_BATCH = 64  # rows read, analysed and written at a time
logger = logging.getLogger(__name__)


def _decode(raw: bytes) -> str:
    """UTF-8 (with or without BOM); bytes that are not UTF-8 become U+FFFD, which the analyzer counts:
    a few are removed with a warning, a text made mostly of them is refused as binary."""
    return raw.decode("utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8", errors="replace")


@contextmanager
def _binary(source: Path | BinaryIO) -> Iterator[BinaryIO]:
    """A binary handle on ``source``: a path (opened and closed here) or an open stream."""
    if isinstance(source, (str, Path)):
        with open(source, "rb") as handle:
            yield handle
    else:
        yield source


def read_jsonl(source: Path | BinaryIO) -> Iterator[tuple[int, dict | None, str | None]]:
    """``(row number, row, error)`` for every non-blank line."""
    with _binary(source) as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(_decode(raw))
            except (ValueError, json.JSONDecodeError) as error:
                yield number, None, f"line {number} is not valid JSON: {error}"
                continue
            if not isinstance(row, dict):
                yield number, None, f"line {number} is a JSON {type(row).__name__}, expected an object"
                continue
            yield number, row, None


def read_csv(source: Path | BinaryIO) -> Iterator[tuple[int, dict | None, str | None]]:
    """``(record number, row, error)`` for every record after the header (which needs a ``text`` column)."""
    path = source if isinstance(source, (str, Path)) else getattr(source, "name", "input")
    with _binary(source) as handle:
        header_raw = handle.readline()
        try:
            header = next(csv.reader([_decode(header_raw)]))
        except (ValueError, StopIteration) as error:
            raise SystemExit(f"error: {path}: cannot read the CSV header ({error})") from None
        header = [h.strip().lower() for h in header]
        if "text" not in header:
            raise SystemExit(f"error: {path}: the CSV needs a 'text' column (found: {', '.join(header)})")
        number = 1

        # Records may span lines (quoted newlines), so feed decoded lines to one csv.reader.
        for values in csv.reader(_decode(raw) for raw in handle):
            number += 1
            if not values or values == [""]:
                continue
            if len(values) != len(header):
                yield number, None, f"row {number} has {len(values)} fields, the header has {len(header)}"
            else:
                yield number, dict(zip(header, values, strict=True)), None


def count_rows(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


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

    reader = read_jsonl if fmt == "jsonl" else read_csv
    total = count_rows(input_path) - (1 if fmt == "csv" else 0)
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
        for index, record in enumerate(reader(input_path)):
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


def analyze_chunk(analyzer, records: list[tuple[int, dict | None, str | None]], **options) -> list[dict]:
    """The output lines of ``records`` (``(row number, row, error)``), in their order: ``{"row", "id",
    "error"}`` for a row that could not be read, else ``{"row", **AnalysisResult.to_dict()}``."""
    results = iter(analyzer.analyze([_item(n, row) for n, row, err in records if err is None], **options))
    return [
        {"row": n, "id": str(n), "error": err} if err is not None else {"row": n, **next(results).to_dict()}
        for n, _, err in records
    ]


def _item(number: int, row: dict) -> dict:
    item = dict(row)
    if item.get("id") in (None, ""):
        item["id"] = str(number)
    if item.get("title") == "":
        item["title"] = None
    return item


def main(argv: list[str] | None = None) -> int:
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
    analyze.add_argument("--input", required=True, type=Path, help="JSONL or CSV with id, text, optional title")
    analyze.add_argument("--output", required=True, type=Path, help="JSONL written here, one line per input row")
    analyze.add_argument("--format", choices=["jsonl", "csv"], help="input format (default: from the extension)")
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    fmt = args.format or {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}.get(
        args.input.suffix.lower()
    )
    if fmt is None:
        parser.error(f"cannot tell the format of {args.input} from its extension; pass --format jsonl or csv")
    if not args.input.is_file():
        parser.error(f"input file {args.input} not found")
    if args.max_sentences < 1:
        parser.error("--max-sentences must be at least 1")
    if args.chunk_size < 1:
        parser.error("--chunk-size must be at least 1")
    if args.resume and args.overwrite:
        parser.error("--resume and --overwrite exclude each other")
    from service.summarizer import check_ratio

    try:
        check_ratio(args.ratio)
    except ValueError as error:
        parser.error(f"--ratio: {error}")
    if args.output.exists() and args.output.stat().st_size and not (args.resume or args.overwrite):
        parser.error(f"{args.output} exists: pass --resume to continue it or --overwrite to replace it")

    from service.analyzer import DEFAULT_SERVICE_CONFIG, Analyzer

    # Independent batches: a row's result never depends on its neighbours, so --resume and Ray match.
    analyzer = Analyzer.load(config_path=args.config or DEFAULT_SERVICE_CONFIG, independent_batches=True)
    print(f"backend: {analyzer.backend} (WARTA_BACKEND=auto|onnx|torch chooses)", file=sys.stderr)
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
    resumed = f", {counts['resumed']} already there" if counts["resumed"] else ""
    print(f"{counts['rows']} rows written to {args.output} ({counts['errors']} with errors{resumed})", file=sys.stderr)
    return 0
