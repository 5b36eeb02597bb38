"""Loading YAML configs with paths resolved against the project root."""

from __future__ import annotations

from pathlib import Path

import yaml

from service.config import PROJECT_ROOT, project_path  # noqa: F401 - one resolution for service and training
from service.engines.backend import cpu_description  # noqa: F401 - one CPU description for service and training


def load_yaml(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def load_config(path: str | Path) -> dict:
    """A YAML config; ``base: OTHER.yaml`` (relative to the project root) is loaded first and overridden."""
    config = load_yaml(path)
    base = config.pop("base", None)
    return load_config(project_path(base)) | config if base else config


def config_from_args(description: str, default_config: str, argv: list[str] | None = None) -> dict:
    """``--config PATH`` plus ``--set KEY=VALUE`` overrides (values parsed as YAML)."""
    import argparse
    import logging

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=default_config)
    parser.add_argument(
        "--set", nargs="*", action="extend", default=[], metavar="KEY=VALUE", help="override config values (YAML)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return apply_overrides(load_config(project_path(args.config)), args.set)


def apply_overrides(config: dict, items: list[str]) -> dict:
    """``KEY=VALUE`` overrides (values parsed as YAML) applied to ``config`` in place."""
    for item in items:
        key, value = item.split("=", 1)
        config[key] = yaml.safe_load(value)
    return config


def lexical_rows_setting(config: dict) -> str:
    """``lexical.rows`` of a classifier config: ``train`` (every training row) where the key is absent."""
    return (config.get("lexical") or {}).get("rows", "train")


def lexical_weights(config: dict) -> list[float]:
    """``lexical.weights`` of a classifier config: the mixing weights tried (0.0, 0.1 ... 1.0 where absent)."""
    return (config.get("lexical") or {}).get("weights", [round(0.1 * i, 1) for i in range(11)])


def write_training_outputs(out_dir: Path, config: dict, metrics: dict, stage: str = "") -> dict:
    """Save the exact config next to an artifact and its metrics, with peak RSS, artifact size and CPU added.

    A later stage on a trained run (``stage``, e.g. ``lexical_refit_``) records its peak RSS and CPU
    under keys of its own (``lexical_refit_peak_rss_mb``, ``lexical_refit_cpu``): the training run's stay
    as they were measured.
    """
    import json
    import resource

    (out_dir / "training_config.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    metrics[f"{stage}peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    metrics["artifact_bytes"] = sum(p.stat().st_size for p in out_dir.iterdir())
    metrics[f"{stage}cpu"] = cpu_description()
    (out_dir / "train_metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
