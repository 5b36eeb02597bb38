"""The extractive summarisation corpus from IndoSum, re-aligned to our own sentence splitter.

IndoSum ships tokenised sentences with gold extractive labels. Inference sees raw text, so we
detokenise the articles (paragraphs restored), clean them with the service's ``clean_text``, split
them with ``service.text.split_sentences`` and carry each gold label over to the sentences of ours
that it covers. Titles come from the URL slug, so training sees title + body as serving does.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from urllib.parse import urlparse

from tqdm import tqdm

from service.text import BOILERPLATE_LINE, clean_text, split_sentences, strip_dateline

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


def title_from_url(url: str) -> str:
    """IndoSum has no titles; its URLs end in the headline's slug ("…/mentan-lepas-ekspor-perdana")."""
    segments = [seg for seg in urlparse(url).path.split("/") if seg and not seg.isdigit()]
    slug = max(segments[-2:], key=lambda seg: seg.count("-"), default="")
    slug = re.sub(r"^\d+-\d+-", "", slug)  # cnnindonesia's "20161112230644-142-172253" ids
    words = [w for w in slug.replace("_", "-").split("-") if w and not (w.isdigit() and len(w) > 4)]
    return " ".join(words).capitalize() if len(words) >= 3 else ""


def align_article(paragraphs: list[list[list[str]]], gold: list[list[bool]]) -> dict:
    """Cleaned body text (the service's ``clean_text``), our sentence spans, gold labels carried over.

    The positive sentences of IndoSum are looked up in the cleaned text in order; each of our
    sentences is positive when at least half of it lies inside one of them.
    """
    parts, positives, originals = [], [], 0
    for paragraph, labels in zip(paragraphs, gold, strict=True):
        sentences = detokenize_sentences(paragraph)
        text = " ".join(sentences)
        if not text or BOILERPLATE_LINE.match(text):
            continue
        parts.append(text)
        originals += len(sentences)
        positives += [sentence for sentence, label in zip(sentences, labels, strict=True) if label]
    body = clean_text("\n\n".join(parts))
    positive_spans, position, lost = [], 0, 0
    for sentence in positives:
        sentence = sentence if sentence in body else strip_dateline(sentence)  # the lead lost its dateline
        found = body.find(sentence, position)
        if found < 0:
            lost += 1
            continue
        positive_spans.append((found, found + len(sentence)))
        position = found + len(sentence)
    ours = split_sentences(body)
    labels = []
    for sentence in ours:
        covered = sum(max(0, min(sentence.end, e) - max(sentence.start, s)) for s, e in positive_spans)
        labels.append(int(covered >= 0.5 * (sentence.end - sentence.start)))
    return {
        "body": body,
        "sentence_starts": [s.start for s in ours],
        "sentence_ends": [s.end for s in ours],
        "labels": labels,
        "original_sentences": originals,
        "original_positive": len(positives),
        "positive_not_found": lost,
    }


def split_for(article_id: str, validation_fraction: float, seed: int) -> str:
    bucket = int(hashlib.sha1(f"{seed}:{article_id}".encode()).hexdigest(), 16) % 10_000 / 10_000
    return "validation" if bucket < validation_fraction else "train"


def build_summaries(raw_dir: Path, out_dir: Path, settings: dict, seed: int) -> dict:
    """IndoSum's dev folds as one dataset with a ``fold`` column (1-4) for cross-validation.

    An article (by id or URL) that appears in several fold files is kept once, in the first fold.
    ``split`` is the shipped model's own hash-based validation slice; there is no test split: the
    honest estimate is the cross-validation in ``evaluate_summarizer --cv``.
    """
    from datasets import Dataset, DatasetDict

    seen, rows, duplicates = set(), [], 0
    files = sorted((raw_dir / settings["source"]).glob(settings.get("glob", "dev.*.jsonl")))
    for path in files:
        fold = int(re.search(r"(\d+)\.jsonl$", path.name).group(1))
        for line in tqdm(path.read_text(encoding="utf-8").splitlines(), desc=f"indosum {path.name}", leave=False):
            record = json.loads(line)
            keys = {record["id"], record["source_url"].rstrip("/")}
            if keys & seen:
                duplicates += 1
                continue
            seen |= keys
            aligned = align_article(record["paragraphs"], record["gold_labels"])
            if not aligned["labels"]:
                continue
            rows.append(
                {
                    "id": record["id"],
                    "fold": fold,
                    "category": record["category"],
                    "source": record["source"],
                    "url": record["source_url"],
                    "title": title_from_url(record["source_url"]),
                    "summary": " ".join(detokenize_sentences(record["summary"])),
                    "split": split_for(record["id"], settings["validation_fraction"], seed),
                    **aligned,
                }
            )
    splits = {name: Dataset.from_list([r for r in rows if r["split"] == name]) for name in ("train", "validation")}
    DatasetDict(splits).save_to_disk(str(out_dir / "summaries"))
    return {
        "articles": len(rows),
        "duplicates_across_folds": duplicates,
        "rows_per_fold": {str(f): sum(r["fold"] == f for r in rows) for f in sorted({r["fold"] for r in rows})},
        "rows_per_split": {name: len(ds) for name, ds in splits.items()},
        "with_title": sum(bool(r["title"]) for r in rows),
        "positive_sentences_indosum": sum(r["original_positive"] for r in rows),
        "positive_sentences_not_found_after_cleaning": sum(r["positive_not_found"] for r in rows),
        "positive_sentences_ours": sum(sum(r["labels"]) for r in rows),
    }
