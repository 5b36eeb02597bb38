"""Where training writes: a run directory under ``build/runs``, never the shipped ``models/``.

A training script writes ``build/runs/NAME``, NAME being the config's ``run_name`` with ``{time}``
replaced by the start time (YYYYMMDD-HHMMSS); without ``run_name`` it is ``KIND-{time}`` (e.g.
``topic-classifier-20250612-093000``). ``output_dir`` in a config (or ``--set output_dir=PATH``)
names the whole directory instead. Either way:

- a directory under ``models/`` is refused: shipped models change only through ``python -m
  training.promote RUN`` (which keeps their evidence);
- an existing non-empty directory is refused unless ``overwrite: true``, and overwrite deletes
  run directories under ``build/runs`` only, nothing else.

The roots are module constants so tests can point them at a temporary directory.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from service.backbone.artifacts import CONFIG_NAME
from training.config import PROJECT_ROOT, project_path

logger = logging.getLogger(__name__)

RUNS_ROOT = project_path("build/runs")
MODELS_ROOT = project_path("models")


class RunDirError(ValueError):
    """A run directory training must not write into (or a run that is not there)."""


def shown(path: Path) -> str:
    """``path`` relative to the project root when it is inside it (how configs and messages name paths)."""
    path = path.resolve()
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


def run_dir(config: dict, kind: str, runs_root: Path | None = None) -> Path:
    """The directory a run of ``config`` trains into: ``output_dir`` if set, else ``build/runs/NAME``."""
    if config.get("output_dir"):
        return project_path(config["output_dir"]).resolve()
    name = str(config.get("run_name") or f"{kind}-{{time}}").replace("{time}", time.strftime("%Y%m%d-%H%M%S"))
    if Path(name).name != name or name in (".", ".."):
        raise RunDirError(f"run_name must be a plain directory name, not {name!r}")
    return ((runs_root or RUNS_ROOT) / name).resolve()


def refuse_models(path: Path, models_root: Path | None = None) -> None:
    """Refuse ``path`` when it lies under ``models/`` (the shipped models and their evidence)."""
    if path.resolve().is_relative_to((models_root or MODELS_ROOT).resolve()):
        raise RunDirError(
            f"{shown(path)} is under models/: train into build/runs and promote "
            "(python -m training.promote RUN); drop output_dir from the config or --set output_dir=null"
        )


def prepare_run_dir(config: dict, kind: str, runs_root: Path | None = None, models_root: Path | None = None) -> Path:
    """Check, empty if asked (``overwrite: true``) and create the run directory; return it.

    Called before any training, so a refused directory costs nothing.
    """
    runs_root = (runs_root or RUNS_ROOT).resolve()
    path = run_dir(config, kind, runs_root)
    refuse_models(path, models_root)
    if path.exists() and any(path.iterdir()):
        if not config.get("overwrite"):
            raise RunDirError(
                f"{shown(path)} already holds a run: choose another run_name, or --set overwrite=true to replace it"
            )
        if path == runs_root or not path.is_relative_to(runs_root):
            raise RunDirError(f"overwrite deletes run directories under {shown(runs_root)} only; {shown(path)} is not")
        logger.warning("overwrite: deleting the earlier run in %s", shown(path))
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    logger.info("training into %s", shown(path))
    return path


def existing_run_dir(config: dict, kind: str, runs_root: Path | None = None, models_root: Path | None = None) -> Path:
    """The trained run a later stage changes in place (e.g. ``stage: lexical``); never one under ``models/``."""
    path = run_dir(config, kind, runs_root)
    refuse_models(path, models_root)
    if not (path / CONFIG_NAME).exists():
        raise RunDirError(f"{shown(path)} holds no trained model: name the run with --set run_name=NAME")
    return path
