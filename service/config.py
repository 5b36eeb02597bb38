"""What ``configs/`` holds for the service: project paths, the service settings and the topic taxonomy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "configs"
DEFAULT_LABELS_PATH = CONFIG_DIR / "labels.yaml"
DEFAULT_SERVICE_CONFIG = CONFIG_DIR / "service.yaml"


def project_path(path: str | Path) -> Path:
    """A configured path: absolute as given, otherwise relative to the project root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def load_settings(path: str | Path = DEFAULT_SERVICE_CONFIG) -> dict:
    """The service settings (``configs/service.yaml`` by default)."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}


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
