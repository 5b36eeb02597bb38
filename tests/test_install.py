"""The install is the lock: every package ``make setup`` put in this environment is at its pinned version."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from training.config import PROJECT_ROOT

PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s\\;]+)")


def pins() -> dict[str, str]:
    lines = (PROJECT_ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
    return {m.group(1).lower().replace("_", "-"): m.group(2) for line in lines if (m := PIN.match(line))}


def test_every_locked_package_is_installed_at_its_pin():
    locked = pins()
    assert len(locked) > 50 and locked["torch"] == "2.13.0+cpu"
    wrong = {}
    for name, pinned in locked.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            wrong[name] = (pinned, installed)
    assert wrong == {}


def test_no_unused_or_internal_dependency():
    assert "peft" not in pins() and "peft" not in (PROJECT_ROOT / "pyproject.toml").read_text()
    sources = [p.read_text(encoding="utf-8") for p in Path(PROJECT_ROOT / "service").rglob("*.py")]
    assert not any("transformers.masking_utils" in text for text in sources)
