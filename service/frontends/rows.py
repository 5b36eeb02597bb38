"""Input rows for every front end: one format map, one reader per format, one way to turn rows into lines.

A reader yields ``(row number, row, error)``: the row (a dict with ``text`` and optional ``id``,
``title`` and any other field) or, for a row that cannot be read, an error message that becomes that
row's output line. ``row`` is the 1-based input line (JSONL), record (CSV, after the header), block
(TXT) or table row (Parquet). The CLI, the app's Batch tab and Ray Data all read through here, so a
file gives the same lines everywhere.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

csv.field_size_limit(sys.maxsize)

# File extension -> format; every front end reads all of them.
FORMATS = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".txt": "txt",
    ".parquet": "parquet",
}
Record = tuple[int, dict | None, str | None]


class RowsError(ValueError):
    """A whole file cannot be read (no usable CSV header, no pyarrow for Parquet); the message says why."""


def file_format(path: str | Path) -> str | None:
    """The format of ``path`` from its extension, or None when it is not one Warta reads."""
    return FORMATS.get(Path(path).suffix.lower())


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


def read_jsonl(source: Path | BinaryIO) -> Iterator[Record]:
    """Every non-blank line: a JSON object, or the line's error."""
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


def read_csv(source: Path | BinaryIO) -> Iterator[Record]:
    """Every record after the header (which needs a ``text`` column); raises ``RowsError`` without one, or
    where the file stops being CSV. Any line endings (CRLF, LF, CR); quoted fields may span lines."""
    path = source if isinstance(source, (str, Path)) else getattr(source, "name", "input")
    with _binary(source) as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="replace", newline="")
        records = csv.reader(text)
        number = 0
        while True:
            try:
                values = next(records)
            except StopIteration:
                if number == 0:
                    raise RowsError(f"{path}: cannot read the CSV header (the file is empty)") from None
                return
            except csv.Error as error:  # the file's structure is broken here: what follows cannot be trusted
                raise RowsError(f"{path}: record {number + 1} cannot be read as CSV ({error})") from None
            number += 1
            if number == 1:
                header = [h.strip().lower() for h in values]
                if "text" not in header:
                    raise RowsError(f"{path}: the CSV needs a 'text' column (found: {', '.join(header)})")
                continue
            if not values or values == [""]:
                continue
            if len(values) != len(header):
                yield number, None, f"row {number} has {len(values)} fields, the header has {len(header)}"
            else:
                yield number, dict(zip(header, values, strict=True)), None


_BLANK_LINES = re.compile(r"\n[ \t]*\n[ \t]*\n")


def read_txt(source: Path | BinaryIO) -> Iterator[Record]:
    """Plain text: articles separated by two blank lines (any line endings), each its own row."""
    with _binary(source) as handle:
        text = _decode(handle.read()).replace("\r\n", "\n").replace("\r", "\n")
    blocks = [b.strip() for b in _BLANK_LINES.split(text) if b.strip()]
    for number, block in enumerate(blocks, start=1):
        yield number, {"id": str(number), "text": block}, None


def _plain(value):
    """A Parquet cell as a JSON value: dates and times as ISO strings, decimals as strings, bytes as text."""
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, datetime.timedelta)):
        return str(value)
    if isinstance(value, bytes):
        return _decode(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):  # lists, and map columns (lists of key-value tuples)
        return [_plain(v) for v in value]
    return value


def read_parquet(source: Path | BinaryIO) -> Iterator[Record]:
    """Every table row, read a batch at a time; columns of any type pass through as JSON values."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise RowsError("reading Parquet needs pyarrow: pip install pyarrow") from None
    import pyarrow as pa

    path = source if isinstance(source, (str, Path)) else getattr(source, "name", "input")
    with _binary(source) as handle:
        number = 0
        try:
            for batch in pq.ParquetFile(handle).iter_batches(batch_size=1024):
                for row in batch.to_pylist():
                    number += 1
                    yield number, {key: _plain(value) for key, value in row.items()}, None
        except (pa.ArrowException, OSError) as error:
            raise RowsError(f"{path}: cannot be read as Parquet after row {number} ({error})") from None


def count_rows(path: Path, fmt: str) -> int | None:
    """How many records ``path`` holds, without parsing them: JSONL's non-blank lines, Parquet's metadata;
    None where only parsing can tell (CSV records may span lines, TXT blocks need the whole text)."""
    if fmt == "jsonl":
        with open(path, "rb") as handle:
            return sum(1 for line in handle if line.strip())
    if fmt != "parquet":
        return None
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_rows
    except Exception as error:  # noqa: BLE001 - any unreadable file is the reader's error to report
        raise RowsError(f"{path}: cannot be read as Parquet ({error})") from None


READERS = {"jsonl": read_jsonl, "csv": read_csv, "txt": read_txt, "parquet": read_parquet}


def read_rows(source: Path | BinaryIO, fmt: str) -> Iterator[Record]:
    """The records of ``source`` in format ``fmt`` (one of ``READERS``)."""
    return READERS[fmt](source)


def item_of(number: int, row: dict) -> dict:
    """A read row as an ``Analyzer.analyze`` item: the row number is the id of a row without one."""
    item = dict(row)
    if item.get("id") in (None, ""):
        item["id"] = str(number)
    if item.get("title") == "":
        item["title"] = None
    return item


def analyze_chunk(analyzer, records: list[Record], **options) -> list[dict]:
    """The output lines of ``records``, in their order: ``{"row", "id", "error"}`` for a row that could
    not be read, else ``{"row", **AnalysisResult.to_dict()}``."""
    results = iter(analyzer.analyze([item_of(n, row) for n, row, err in records if err is None], **options))
    return [
        {"row": n, "id": str(n), "error": err} if err is not None else {"row": n, **next(results).to_dict()}
        for n, _, err in records
    ]
