"""The topic taxonomy from ``configs/labels.yaml``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
DEFAULT_LABELS_PATH = CONFIG_DIR / "labels.yaml"


@dataclass(frozen=True)
class Label:
    key: str
    name: str
    scope: str
    iptc: str


def load_labels(path: Path = DEFAULT_LABELS_PATH) -> list[Label]:
    """The labels in taxonomy order; raises ``ValueError`` on duplicate or missing fields."""
    entries = yaml.safe_load(Path(path).read_text(encoding="utf-8"))["labels"]
    labels = [Label(**entry) for entry in entries]
    keys = [label.key for label in labels]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{path}: duplicate label keys in {keys}")
    return labels
