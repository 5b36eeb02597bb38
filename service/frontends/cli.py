"""Batch command line: analyse a file of articles (JSONL, CSV, TXT or Parquet) into JSON lines.

    python -m service analyze --input articles.jsonl --output results.jsonl [--max-sentences 3]

Input rows have ``id``, ``text`` and optionally ``title`` (JSONL objects, CSV or Parquet columns; TXT:
articles separated by two blank lines, see ``service.frontends.rows``). Output:
one JSON line per input row, in input order: ``{"row", "id", "topic", "topics", "summary",
"summary_sentences", "warnings"}``, or ``{"row", "id", "error"}`` for a row that cannot be analysed
(``row`` is the 1-based input line, CSV record, TXT block or Parquet row; a row without ``id`` gets it
as its id).
The file is streamed (memory stays flat on any size) and flushed chunk by chunk into OUTPUT.partial,
renamed to OUTPUT when complete; OUTPUT.run.json records the run (input sha256, options, backend,
models). ``--resume`` continues a killed run of the same input, options, backend and models and
refuses anything else; an existing output is never silently overwritten (``--overwrite``), and the
input is never the output.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from service.backbone.resolve import sha256_file
from service.frontends.rows import FORMATS, RowsError, analyze_chunk, count_rows, file_format, item_of, read_rows

ROW_BATCH = 64  # rows read, analysed and written at a time
FORMAT_CHOICES = "|".join(sorted(set(FORMATS.values())))
logger = logging.getLogger(__name__)


class RunError(Exception):
    """A run that must not start: the message says why and what to pass; no file has been touched."""


@dataclass
class RunFiles:
    """Where a run writes. ``output`` appears only when the run is complete, with ``record`` saying what it
    is (input fingerprint, options, settings, backend and engine versions, models, rows); until then the
    lines go to ``partial`` and its description to ``partial_record``. Each record describes exactly the
    file beside it, so a record can never vouch for another run's lines."""

    output: Path

    def _beside(self, suffix: str) -> Path:
        return self.output.with_name(self.output.name + suffix)

    @property
    def partial(self) -> Path:
        return self._beside(".partial")

    @property
    def record(self) -> Path:
        return self._beside(".run.json")

    @property
    def partial_record(self) -> Path:
        return self._beside(".partial.run.json")

    def all(self) -> tuple[Path, ...]:
        return self.output, self.partial, self.record, self.partial_record


def run_identity(input_path: Path, fmt: str, options: dict, analyzer) -> dict:
    """What makes two runs the same run: the input's content, how it is read, the options and settings that
    change results, the backend, the versions of the engine that runs it and the models' version."""
    from service.engines.backend import ENGINE_PACKAGES, package_versions

    return {
        "input_sha256": sha256_file(input_path),
        "format": fmt,
        "options": options,
        "settings": {key: analyzer.settings.get(key) for key in ("max_chars", "min_words")},
        "backend": analyzer.backend,
        "engine": package_versions(("onnx", *ENGINE_PACKAGES)),
        "models": analyzer.version,
    }


def same_file(a: Path, b: Path) -> bool:
    """``a`` and ``b`` are one file (links resolved; hard links too when both exist)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    return a.exists() and b.exists() and os.path.samefile(a, b)


def check_paths(input_path: Path, files: RunFiles) -> None:
    for path in files.all():
        if same_file(input_path, path):
            raise RunError(f"{path} is the input file itself: choose another --output (the input is never written)")


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _read_record(path: Path, target: Path) -> dict:
    if not path.exists():
        raise RunError(f"{target} has no run record ({path.name}): it was not written by this CLI's run; "
                       "use --overwrite to start again")  # fmt: skip
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise RunError(f"{path} is damaged; use --overwrite to start again") from None


def written_lines(path: Path) -> tuple[list[tuple[int, str]], int]:
    """``(row, id)`` of every complete line of an earlier output and the byte length they take (a partial
    last line is not counted); read line by line, the file is not changed."""
    lines, keep = [], 0
    with open(path, "rb") as handle:  # streamed: an output of millions of lines is never held whole
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                break
            try:
                data = json.loads(line)
                lines.append((int(data["row"]), str(data["id"])))
            except (ValueError, KeyError, TypeError):
                raise RunError(f"{path} line {number} is not a line this CLI wrote; use --overwrite") from None
            keep += len(line)
    return lines, keep


def record_id(record) -> str:
    """The ``id`` the output line of an input record carries."""
    number, row, error = record
    return str(number) if error is not None else str(item_of(number, row)["id"])


def resumable(files: RunFiles, identity: dict) -> tuple[Path, dict] | None:
    """The file an earlier run of this very run left (``partial``, or ``output`` when it completed) and its
    record, or None when there is none; raises ``RunError`` when what is there belongs to another run."""
    if files.partial.exists():
        target, record = files.partial, _read_record(files.partial_record, files.partial)
    elif files.output.exists():
        target, record = files.output, _read_record(files.record, files.output)
        if not record.get("complete"):
            raise RunError(f"{files.record} does not describe a complete {target}; use --overwrite to start again")
    else:
        return None
    differences = [key for key in identity if record.get(key) != identity[key]]
    if differences:
        raise RunError(
            f"{target} is the output of another run (different {', '.join(differences)}): --resume continues only "
            "the same input with the same options, settings, backend, engine and models; use --overwrite or "
            "another --output"
        )
    return target, record


def check_continues(target: Path, done: list[tuple[int, str]], records) -> None:
    """Raise ``RunError`` unless the lines in ``target`` are, in order, the first input records' rows and ids."""
    seen = 0
    for (row, line_id), record in zip(done, records, strict=False):
        seen += 1
        if (row, line_id) != (record[0], record_id(record)):
            raise RunError(
                f"{target} does not continue the input (its line {seen} is row {row} id {line_id!r}, the input's "
                f"is row {record[0]} id {record_id(record)!r}); use --overwrite to start again"
            )
    if seen < len(done):
        raise RunError(f"{target} has more rows than the input; use --overwrite to start again")


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
    max_words: int | None = None,
) -> dict:
    """Analyse every row of ``input_path`` into ``output_path``, ``chunk_size`` rows at a time, each chunk
    flushed to ``OUTPUT.partial`` as it is done and renamed to ``output_path`` at the end (an existing
    output stays whole until then). With ``resume``, the rows an earlier run of the same input, options,
    settings, backend, engine and models already wrote are checked (row numbers and ids) and skipped;
    anything else is refused with ``RunError``, and an unreadable input with ``RowsError``, before a file
    is touched. Results do not depend on how rows were chunked."""
    from tqdm import tqdm

    files = RunFiles(output_path)
    check_paths(input_path, files)
    options = {"max_sentences": max_sentences, "ratio": ratio, "max_words": max_words}
    identity = run_identity(input_path, fmt, options, analyzer)
    found = resumable(files, identity) if resume else None
    target = found[0] if found else None
    done, keep = written_lines(target) if target else ([], 0)
    rows = read_rows(input_path, fmt)
    first = list(itertools.islice(rows, 1))  # an unreadable input fails here, before anything is written
    if target:
        check_continues(target, done, read_rows(input_path, fmt))
    if target == files.output:  # complete: nothing to write, if every row is there
        if found[1].get("rows") != len(done):
            raise RunError(f"{target} holds {len(done)} lines, its record says {found[1].get('rows')}; use --overwrite")
        return {"rows": 0, "errors": 0, "resumed": len(done)}
    if target:
        if keep < target.stat().st_size:
            logger.warning("%s: discarding a partial last line (%d bytes)", target, target.stat().st_size - keep)
        with open(target, "rb+") as handle:
            handle.truncate(keep)
    description = {**identity, "input": str(input_path.resolve())}
    _write_json(files.partial_record, {**description, "complete": False})
    counts = {"rows": 0, "errors": 0, "resumed": len(done)}
    with (
        open(files.partial, "a" if done else "w", encoding="utf-8") as out,
        tqdm(total=count_rows(input_path, fmt), initial=len(done), unit="row", file=sys.stderr) as bar,
    ):
        pending: list = []

        def flush() -> None:
            lines = analyze_chunk(analyzer, pending, batch_size=batch_size, **options)
            counts["errors"] += sum("error" in line for line in lines)
            out.write("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
            out.flush()  # a killed run loses at most the chunk in progress
            counts["rows"] += len(pending)
            bar.update(len(pending))
            pending.clear()

        for record in itertools.islice(itertools.chain(first, rows), len(done), None):
            pending.append(record)
            if len(pending) >= chunk_size:
                flush()
        flush()
        os.fsync(out.fileno())  # on disk before the rename makes it the output
    os.replace(files.partial, files.output)
    _write_json(files.record, {**description, "complete": True, "rows": len(done) + counts["rows"]})
    files.partial_record.unlink()
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
    analyze.add_argument(
        "--max-words", type=int, help="cap each summary at about this many words (with --max-sentences or --ratio)"
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
        "prepare",
        help="build the backbone and the models into the cache and, for auto, time the engines (make models)",
    )
    prepare.add_argument("--config", type=Path, help="service config (default configs/service.yaml)")
    engines = commands.add_parser("engines", help="which engine runs here and why, with auto's timing table")
    engines.add_argument("--config", type=Path, help="service config (default configs/service.yaml)")
    engines.add_argument("--again", action="store_true", help="time the engines anew instead of the cached choice")
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
    if args.max_words is not None and args.max_words < 1:
        parser.error("--max-words must be at least 1")
    if args.chunk_size < 1:
        parser.error("--chunk-size must be at least 1")
    if args.resume and args.overwrite:
        parser.error("--resume and --overwrite exclude each other")
    try:
        check_ratio(args.ratio)
    except ValueError as error:
        parser.error(f"--ratio: {error}")
    files = RunFiles(args.output)
    try:
        check_paths(args.input, files)
    except RunError as error:
        parser.error(str(error))
    if not (args.resume or args.overwrite):
        if args.output.exists() and args.output.stat().st_size:
            parser.error(f"{args.output} exists: pass --resume to continue it or --overwrite to replace it")
        if files.partial.exists():
            parser.error(f"an interrupted run left {files.partial}: pass --resume to continue it or --overwrite")
    return fmt


def load_analyzer(config: Path | None):
    """The Analyzer, or ``RunError`` with one line saying what is missing (a model, the backbone, a setting)."""
    from service.analyzer import Analyzer, LoadError
    from service.config import DEFAULT_SERVICE_CONFIG

    try:
        # Independent batches: a row's result never depends on its neighbours, so --resume and Ray match.
        analyzer = Analyzer.load(config_path=config or DEFAULT_SERVICE_CONFIG, independent_batches=True)
    except LoadError as error:
        raise RunError(str(error)) from None
    print(
        f"engine: {analyzer.backend}, {analyzer.batching} batching: {analyzer.engine_choice.reason} "
        "(WARTA_BACKEND=auto|onnx|openvino|torch and WARTA_PRECISION=auto|fp32|bf16|int8 choose)",
        file=sys.stderr,
    )
    return analyzer


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("service").setLevel(logging.INFO)  # one-off builds (backbone, ONNX export) say so
    if args.command == "engines":
        from service.frontends import engines

        return engines.main([*(["--config", str(args.config)] if args.config else []), *(["--again"] * args.again)])
    fmt = check_analyze_args(parser, args) if args.command == "analyze" else None
    try:
        analyzer = load_analyzer(args.config)
        if args.command == "prepare":
            return 0
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
            max_words=args.max_words,
        )
    except (RunError, RowsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    resumed = f", {counts['resumed']} already there" if counts["resumed"] else ""
    print(f"{counts['rows']} rows written to {args.output} ({counts['errors']} with errors{resumed})", file=sys.stderr)
    return 0
