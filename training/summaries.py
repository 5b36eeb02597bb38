"""The extractive summarisation corpus from IndoSum, re-aligned to our own sentence splitter.

IndoSum ships tokenised sentences with gold extractive labels. Inference sees raw text, so we
detokenise the articles (paragraphs restored), split them with ``service.text.split_sentences``
and carry each gold label over to the sentences of ours that it covers.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from tqdm import tqdm

from service.text import BOILERPLATE_LINE, split_sentences

_NO_SPACE_BEFORE = {",", ".", ";", ":", "!", "?", ")", "]", "}", "%", "”", "’", "...", "…", "/"}
_NO_SPACE_AFTER = {"(", "[", "{", "“", "‘", "/", "#", "@"}


def detokenize_sentences(sentences: list[list[str]]) -> list[str]:
    """Join IndoSum tokens back into ordinary text, one string per sentence.

    Quotes often open in one sentence and close in a later one, so the open/closed state of
    straight double quotes is carried across the sentences of a paragraph.
    """
    out_sentences, quote_open = [], False
    for tokens in sentences:
        out: list[str] = []
        attach_next = True
        for index, token in enumerate(tokens):
            if token == '"':
                following = tokens[index + 1] if index + 1 < len(tokens) else ""
                closes = quote_open or (out and out[-1].strip() in {",", ".", "!", "?"} and following[:1].islower())
                if closes:
                    out.append(token)
                    attach_next = False
                    quote_open = False
                else:
                    out.append(("" if attach_next else " ") + token)
                    attach_next = True
                    quote_open = True
                continue
            space = "" if attach_next or token in _NO_SPACE_BEFORE else " "
            out.append(space + token)
            attach_next = token in _NO_SPACE_AFTER
        out_sentences.append(re.sub(r"\s+", " ", "".join(out)).strip())
    return out_sentences


def detokenize(tokens: list[str]) -> str:
    return detokenize_sentences([tokens])[0]


def align_article(paragraphs: list[list[list[str]]], gold: list[list[bool]]) -> dict:
    """Detokenised text, our sentence spans and labels carried over by character overlap."""
    parts, positive_spans, original_spans = [], [], []
    offset = 0
    for paragraph, labels in zip(paragraphs, gold, strict=True):
        sentences = detokenize_sentences(paragraph)
        text = " ".join(sentences)
        if not text or BOILERPLATE_LINE.match(text):
            continue
        if parts:
            offset += 2  # the "\n\n" joining paragraphs
        position = offset
        for sentence, label in zip(sentences, labels, strict=True):
            original_spans.append((position, position + len(sentence)))
            if label:
                positive_spans.append((position, position + len(sentence)))
            position += len(sentence) + 1
        parts.append(text)
        offset += len(text)
    article = "\n\n".join(parts)
    ours = split_sentences(article)
    labels = []
    for sentence in ours:
        covered = sum(max(0, min(sentence.end, e) - max(sentence.start, s)) for s, e in positive_spans)
        labels.append(int(covered >= 0.5 * (sentence.end - sentence.start)))
    same_boundaries = len({(s.start, s.end) for s in ours} & set(original_spans))
    return {
        "text": article,
        "sentence_starts": [s.start for s in ours],
        "sentence_ends": [s.end for s in ours],
        "labels": labels,
        "matched_sentences": same_boundaries,
        "original_sentences": len(original_spans),
        "original_positive": len(positive_spans),
    }


def split_for(article_id: str, validation_fraction: float, test_fraction: float, seed: int) -> str:
    bucket = int(hashlib.sha1(f"{seed}:{article_id}".encode()).hexdigest(), 16) % 10_000 / 10_000
    if bucket < test_fraction:
        return "test"
    if bucket < test_fraction + validation_fraction:
        return "validation"
    return "train"


def build_summaries(raw_dir: Path, out_dir: Path, settings: dict, seed: int) -> dict:
    from datasets import Dataset, DatasetDict

    seen, rows = set(), []
    files = sorted((raw_dir / settings["source"]).glob("*.jsonl"))
    for path in files:
        for line in tqdm(path.read_text(encoding="utf-8").splitlines(), desc=f"indosum {path.name}", leave=False):
            record = json.loads(line)
            if record["id"] in seen:
                continue
            seen.add(record["id"])
            aligned = align_article(record["paragraphs"], record["gold_labels"])
            if not aligned["labels"]:
                continue
            rows.append(
                {
                    "id": record["id"],
                    "category": record["category"],
                    "source": record["source"],
                    "url": record["source_url"],
                    "summary": " ".join(detokenize_sentences(record["summary"])),
                    "split": split_for(record["id"], settings["validation_fraction"], settings["test_fraction"], seed),
                    **aligned,
                }
            )
    splits = {
        name: Dataset.from_list([r for r in rows if r["split"] == name]) for name in ("train", "validation", "test")
    }
    DatasetDict(splits).save_to_disk(str(out_dir / "summaries"))
    matched = sum(r["matched_sentences"] for r in rows)
    total = sum(r["original_sentences"] for r in rows)
    return {
        "articles": len(rows),
        "rows_per_split": {name: len(ds) for name, ds in splits.items()},
        "sentence_boundaries_identical_to_indosum": round(matched / max(total, 1), 4),
        "positive_sentences_indosum": sum(r["original_positive"] for r in rows),
        "positive_sentences_ours": sum(sum(r["labels"]) for r in rows),
    }
