"""The log of every scoring of the development test (the 1,500 double-read June-2025 gold articles).

That set may be scored again after each round, but every scoring is recorded, next to the model it
scored, in ``scorings.jsonl`` (one JSON object a line, appended, never rewritten), and the model card
shows the whole log: how often the set was looked at is part of what its figures mean.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path

import yaml

from training.config import PROJECT_ROOT

SCORINGS_NAME = "scorings.jsonl"


def git_commit() -> str:
    """The checked-out commit (``+dirty`` with uncommitted changes), or ``unknown``."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty.stdout.strip() else "")


def scored_run(model_dir: Path) -> str:
    """The training run a model directory holds (its ``training_config.yaml``'s run directory), or ``unknown``."""
    path = Path(model_dir) / "training_config.yaml"
    if not path.exists():
        return "unknown"
    config = yaml.safe_load(path.read_text())
    return Path(config.get("output_dir") or config.get("run_name") or "unknown").name


def log_scoring(model_dir: Path, by: str, backend: str, articles: int, macro_f1: float, **extra) -> dict:
    """Append one scoring of the development test to ``model_dir/scorings.jsonl``; returns the entry."""
    entry = {
        "scored_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "by": by,
        "command": " ".join(["python -m", by, *sys.argv[1:]]),
        "commit": git_commit(),
        "run": scored_run(model_dir),
        "backend": backend,
        "articles": articles,
        "macro_f1": round(float(macro_f1), 4),
        **extra,
    }
    with open(Path(model_dir) / SCORINGS_NAME, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return entry


def read_scorings(model_dir: Path) -> list[dict]:
    path = Path(model_dir) / SCORINGS_NAME
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def scorings_table(entries: list[dict]) -> str:
    """The log as a Markdown table for the model card."""
    rows = [
        "| # | when | commit | run | by | backend | articles | accuracy | macro-F1 | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for number, e in enumerate(entries, start=1):
        accuracy = f"{e['accuracy']:.4f}" if "accuracy" in e else ""
        rows.append(
            f"| {number} | {e['scored_at'][:10]} | {e.get('commit', '')} | {e.get('run', '–')} | `{e['by']}` "
            f"| {e['backend']} | {e['articles']} | {accuracy} "
            f"| {e['macro_f1']:.4f} | {e.get('note', '')} |"
        )
    return "\n".join(rows)
