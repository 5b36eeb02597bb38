"""Draw the test-split sample whose labels are checked by hand (``docs/test_gold_labels.tsv``).

    python -m training.gold_sample [--per-label 50] [--out build/gold_sample.tsv]

The same number of articles per publisher label, chosen by a seeded hash of the id (stable across
rebuilds), written in hashed order with title and lead only: no publisher label and no model output,
so the annotator labels blind. The file holds raw text and stays in ``build/``; only ids and labels
are committed. Guidelines: the article's main topic in the terms of ``configs/labels.yaml``;
``other`` when none fits (accidents, disasters, human-interest stories).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
from pathlib import Path

from training.config import project_path


def read_gold_labels(path: Path) -> dict[str, tuple[str, str]]:
    """``id -> (publisher_label, gold_label)`` from the committed, hand-checked sample ({} if there is none)."""
    if not path.exists():
        return {}
    lines = path.read_text().splitlines()
    if not lines or lines[0].split("\t") != ["id", "publisher_label", "gold_label"]:
        raise ValueError(f"{path}: expected the columns id, publisher_label, gold_label")
    return {row[0]: (row[1], row[2]) for row in (line.split("\t") for line in lines[1:] if line.strip())}


def configured_gold_labels(data_config: dict) -> dict[str, tuple[str, str]]:
    """The hand-checked sample named by ``split.gold_labels`` in the data config."""
    return read_gold_labels(project_path(data_config["split"].get("gold_labels", "docs/test_gold_labels.tsv")))


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def draw(rows: list[dict], per_label: int) -> list[dict]:
    """``per_label`` rows of each label (fewer if the label has fewer), in an order that hides the label."""
    by_label: dict[str, list[dict]] = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(row)
    chosen = [
        r for group in by_label.values() for r in sorted(group, key=lambda r: _hash(f"gold:{r['id']}"))[:per_label]
    ]
    return sorted(chosen, key=lambda r: _hash(f"{r['id']}order"))


def main(argv: list[str] | None = None) -> None:
    from datasets import load_from_disk

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="build/data/topics")
    parser.add_argument("--per-label", type=int, default=50)
    parser.add_argument("--lead-chars", type=int, default=300)
    parser.add_argument("--out", default="build/gold_sample.tsv")
    args = parser.parse_args(argv)
    sample = draw(list(load_from_disk(str(project_path(args.data_dir)))["test"]), args.per_label)
    out = project_path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with Path(out).open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["id", "title", "lead", "gold_label"])
        for row in sample:
            writer.writerow([row["id"], row["title"], " ".join(row["text"].split())[: args.lead_chars], ""])
    print(f"{len(sample)} articles to label blind: {out}")


if __name__ == "__main__":
    main()
