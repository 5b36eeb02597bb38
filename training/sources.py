"""Read the raw corpora into uniform article records, as configured in ``configs/sources.yaml``."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

logger = logging.getLogger(__name__)

FIELDS = ("title", "text", "date", "category", "subcategory", "url", "outlet")
_SECOND_LEVEL = {"co", "or", "go", "ac", "web", "my", "sch", "net"}


@dataclass
class RawArticle:
    """One row of a raw file, before cleaning and labelling."""

    source: str
    file: str
    row: int
    kind: str
    title: str
    text: str
    outlet: str
    year: int  # the collection period of the source, which is what splits are held out by
    url: str = ""
    sections: list[str] = field(default_factory=list)  # most specific first

    @property
    def id(self) -> str:
        return hashlib.sha1(f"{self.file}:{self.row}".encode()).hexdigest()[:16]


def registered_domain(url_or_host: str) -> str:
    """``aceh.tribunnews.com`` -> ``tribunnews.com``; ``news.republika.co.id`` -> ``republika.co.id``."""
    host = urlparse(url_or_host).hostname if "//" in url_or_host else url_or_host
    parts = (host or "").lower().removeprefix("www.").split(".")
    if len(parts) >= 3 and parts[-2] in _SECOND_LEVEL:
        return ".".join(parts[-3:])
    return ".".join(parts[-2:])


def normalize_section(name: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", str(name).lower()).split())


def url_sections(url: str) -> list[str]:
    """Section names a URL carries: its first path segment, then its subdomain."""
    parsed = urlparse(url)
    out = []
    segments = [s for s in parsed.path.split("/") if s]
    if len(segments) > 1 and not segments[0].isdigit() and segments[0] not in {"read", "berita", "news"}:
        out.append(normalize_section(segments[0]))
    host = (parsed.hostname or "").lower().removeprefix("www.")
    labels = host.split(".")
    registered = registered_domain(host).split(".")
    if len(labels) > len(registered):
        out.append(normalize_section(labels[0]))
    return [s for s in out if s]


def _read_table(path: Path, encoding: str = "utf-8") -> pd.DataFrame:
    if path.suffix == ".xlsx":
        return pd.read_excel(path, dtype=str)
    if path.suffix == ".tsv":
        return pd.read_csv(path, sep="\t", dtype=str)
    if path.suffix == ".json":
        return pd.read_json(path, dtype=str)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=str)
    return pd.read_csv(path, dtype=str, encoding=encoding, encoding_errors="replace")


def _cell(row: pd.Series, column: str | None) -> str:
    if not column or column not in row.index:
        return ""
    value = row[column]
    return "" if pd.isna(value) else str(value).strip()


def read_source(name: str, spec: dict, raw_dir: Path) -> Iterator[RawArticle]:
    """Yield every row of one configured source."""
    kind = spec.get("kind", "article")
    for file_spec in spec["files"]:
        paths = sorted(raw_dir.glob(file_spec["glob"]))
        if not paths:
            logger.warning("%s: no file matches %s under %s", name, file_spec["glob"], raw_dir)
        columns = file_spec["columns"]
        for path in paths:
            table = _read_table(path, file_spec.get("encoding", "utf-8"))
            missing = [c for c in columns.values() if c not in table.columns]
            if missing:
                raise ValueError(f"{path}: columns {missing} not found (has {list(table.columns)})")
            relative = str(path.relative_to(raw_dir))
            for index, row in table.iterrows():
                values = {key: _cell(row, columns.get(key)) for key in FIELDS}
                url = values["url"]
                outlet = file_spec.get("outlet_name") or (
                    registered_domain(url) if url.startswith("http") else values["outlet"].lower()
                )
                if not url.startswith("http") and "." in outlet:
                    outlet = registered_domain(outlet)
                sections = [normalize_section(values["subcategory"])]
                sections += url_sections(url) if url.startswith("http") else []
                sections.append(normalize_section(values["category"]))
                title = values["title"]
                if file_spec.get("title_from_slug"):
                    title = title.replace("-", " ").capitalize()
                yield RawArticle(
                    source=name,
                    file=relative,
                    row=int(index),
                    kind=kind,
                    title=title,
                    text=values["text"],
                    outlet=outlet,
                    year=int(spec["year"]),
                    url=url,
                    sections=[s for s in sections if s and s != "-"],
                )
