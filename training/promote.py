"""Ship a training run: copy its files into the model directory the service loads, and rewrite the card.

    python -m training.promote RUN [--to models/topic-classifier|models/summarizer] [--replace]

RUN is a run name under ``build/runs`` (or a path to a run directory). The kind is read from the
run's ``config.json`` (the fields of ``ClassifierConfig`` or ``SummarizerConfig``); ``--to``
defaults to that kind's shipped directory. Every file of the run is copied except its
``README.md``: the card is written again in the destination from the files there
(``training.model_card``), or, while the evaluation files it needs are missing, a short card that
says so. The commands that produce them are printed.

A destination that already holds files is refused unless ``--replace``. Then its contents are
first moved to ``build/replaced/<name>-<YYYYMMDD-HHMMSS>/`` (nothing is deleted), except the
files that are evidence about the data rather than about the shipped model, which stay when the
run does not bring its own copy. What each shipped file is:

- ``config.json``, ``model.safetensors``, ``lexical.json``, ``lexical.safetensors``,
  ``training_config.yaml``, ``train_metrics.json``, ``trained_ids.npy`` (``training.provenance``): the
  model and how it was trained (the run brings them);
- ``eval.json``, ``confusion_matrix.png``: measurements of the shipped weights — moved;
- ``cv.json``: cross-validation of the recipe in the old ``training_config.yaml`` — moved (a new run
  may use another recipe; ``evaluate_summarizer --cv --model DEST`` measures the new one);
- ``run_selection.json``: the trained candidate runs the shipped one was chosen from — moved (a new
  run is not among them; ``compare_runs`` with ``--out`` writes a new comparison);
- ``cv_variants.json``: the log of configurations tried on the IndoSum folds
  (``evaluate_summarizer --cv --variant``): evidence about the data and the recipes, measuring no
  shipped weights — kept;
- ``scorings.jsonl``: every scoring of the development test (``training.scorings``), whichever model
  was scored: how often that set has been looked at, which a new model does not reset — kept, and the
  run's own entries (``evaluate_classifier --model build/runs/NAME``) are appended to it;
- ``README.md`` and anything else: moved (the card is rewritten).

So the rule: keep ``DATA_EVIDENCE`` (``cv_variants.json``, ``scorings.jsonl``) unless the run brings its own;
move the rest.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from service.backbone.artifacts import ARTIFACT_FILES, CONFIG_NAME
from service.models.summaries.features import SummarizerConfig
from service.models.topics.classifier import ClassifierConfig
from training.config import project_path
from training.model_card import write_classifier_card, write_summarizer_card
from training.runs import MODELS_ROOT, RUNS_ROOT, shown

logger = logging.getLogger(__name__)

REPLACED_ROOT = project_path("build/replaced")
KINDS = {"classifier": ClassifierConfig, "summarizer": SummarizerConfig}
SHIPPED_NAMES = {"classifier": "topic-classifier", "summarizer": "summarizer"}  # directories under models/
RUN_FILES = (*ARTIFACT_FILES, "training_config.yaml")  # what every finished run holds
# Kept in the destination on --replace (see the docstring); a log the run brings too is appended, never replaced.
DATA_EVIDENCE = frozenset({"cv_variants.json", "scorings.jsonl"})
APPENDED_LOGS = frozenset({"scorings.jsonl"})
CARD_INPUTS = {"classifier": ("eval.json",), "summarizer": ("eval.json", "cv.json")}


class PromoteError(ValueError):
    """A promotion that would lose or misplace files, or a run that is not a finished run."""


@dataclass
class Promotion:
    """What ``promote`` did, for the user to read."""

    kind: str
    run: Path
    destination: Path
    copied: list[str]
    replaced_to: Path | None = None
    moved: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    full_card: bool = False
    next_steps: list[str] = field(default_factory=list)


def run_kind(run: Path) -> str:
    """``classifier`` or ``summarizer``: the config class whose fields ``config.json`` holds."""
    keys = set(json.loads((run / CONFIG_NAME).read_text()))
    found = []
    for kind, config_class in KINDS.items():
        names = {f.name for f in dataclasses.fields(config_class)}
        required = {
            f.name
            for f in dataclasses.fields(config_class)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        if required <= keys <= names:
            found.append(kind)
    if len(found) != 1:
        raise PromoteError(f"{shown(run)}/config.json is neither a topic classifier's nor a summariser's config")
    return found[0]


def find_run(run: str | Path, runs_root: Path) -> Path:
    """A run by name (under ``runs_root``) or by path; it must hold a finished model."""
    path = runs_root / run if len(Path(run).parts) == 1 else project_path(run)
    missing = [name for name in RUN_FILES if not (path / name).is_file()]
    if not path.is_dir() or missing:
        raise PromoteError(f"{shown(path)} is not a finished training run (missing: {', '.join(missing)})")
    return path.resolve()


def move_aside(destination: Path, run: Path, replaced_root: Path) -> tuple[Path, list[str], list[str]]:
    """Move the destination's contents to ``replaced_root/<name>-<time>/``, keeping data evidence the run lacks."""
    archive = replaced_root / f"{destination.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    archive.mkdir(parents=True, exist_ok=False)
    moved, kept = [], []
    for entry in sorted(destination.iterdir()):
        if entry.name in APPENDED_LOGS or (entry.name in DATA_EVIDENCE and not (run / entry.name).exists()):
            kept.append(entry.name)
            continue
        shutil.move(entry, archive / entry.name)
        moved.append(entry.name)
    logger.info("moved %s to %s; kept %s", moved, shown(archive), kept)
    return archive, moved, kept


def merge_log(source: Path, destination: Path) -> None:
    """Append the lines of the JSONL log ``source`` that ``destination`` does not hold yet, in their order."""
    held = set(destination.read_text(encoding="utf-8").splitlines()) if destination.exists() else set()
    new = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip() and line not in held]
    with open(destination, "a", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in new))


def pending_card(kind: str, destination: Path, run: Path, missing: list[str]) -> str:
    """The card of a model whose evaluation files are not there yet: where it came from, no scores."""
    title = "Warta topic classifier" if kind == "classifier" else "Warta extractive summariser"
    commands = "".join(f"    {command}\n" for command in evaluation_commands(kind, destination, missing))
    return (
        f"# {title} (not evaluated yet)\n\n"
        f"Promoted from the training run `{shown(run)}`.\n"
        "How it was trained: `training_config.yaml` and `train_metrics.json` in this directory.\n"
        f"Its evaluation ({', '.join(missing)}) is not here yet, so this card reports no scores.\n"
        f"These commands measure it and write the full card:\n\n{commands}"
    )


def evaluation_commands(kind: str, destination: Path, missing: list[str]) -> list[str]:
    """The commands that write the missing ``eval.json`` / ``cv.json`` (and then the card)."""
    where = shown(destination)
    if kind == "classifier":
        return [f"python -m training.evaluate_classifier --model {where}"] if "eval.json" in missing else []
    commands = []
    if "cv.json" in missing:
        commands.append(f"python -m training.evaluate_summarizer --cv --model {where}")
    if "eval.json" in missing:
        commands.append(f"python -m training.evaluate_summarizer --model {where} [--raw CSV]")
    return commands


def next_steps(kind: str, destination: Path, run: Path, missing: list[str]) -> list[str]:
    """What to run now: the missing evaluations, and the optional run comparison of a classifier."""
    steps = evaluation_commands(kind, destination, missing)
    if kind == "classifier" and not (destination / "run_selection.json").exists():
        # Optional: the card's "How the configuration was chosen". The evaluation rewrites the card; without one
        # still to run, the comparison goes into the run, which is then promoted again.
        out = shown((destination if missing else run) / "run_selection.json")
        compare = f"python -m training.compare_runs {shown(run)} OTHER_RUNS... --out {out}"
        then = "" if missing else ", then promote again with --replace"
        steps.insert(0, f"{compare}{then}   # optional")
    return steps


def write_card(kind: str, destination: Path, run: Path) -> list[str]:
    """Write ``destination/README.md``; return the card inputs still missing (then the card says so)."""
    missing = [name for name in CARD_INPUTS[kind] if not (destination / name).exists()]
    if missing:
        (destination / "README.md").write_text(pending_card(kind, destination, run, missing), encoding="utf-8")
    elif kind == "classifier":
        write_classifier_card(destination)
    else:
        write_summarizer_card(destination)
    return missing


def promote(
    run: str | Path,
    to: str | Path | None = None,
    replace: bool = False,
    runs_root: Path | None = None,
    replaced_root: Path | None = None,
    models_root: Path | None = None,
) -> Promotion:
    """Copy a run into the shipped model directory of its kind (or ``to``) and rewrite the card there."""
    run_dir = find_run(run, runs_root or RUNS_ROOT)
    kind = run_kind(run_dir)
    destination = (project_path(to) if to else (models_root or MODELS_ROOT) / SHIPPED_NAMES[kind]).resolve()
    if destination == run_dir or destination.is_relative_to(run_dir) or run_dir.is_relative_to(destination):
        raise PromoteError(f"the run {shown(run_dir)} and the destination {shown(destination)} overlap")
    occupied = destination.exists() and any(destination.iterdir())
    if occupied and not replace:
        raise PromoteError(
            f"{shown(destination)} already holds a model; --replace moves its files to "
            f"{shown(replaced_root or REPLACED_ROOT)}/{destination.name}-<time>/ first"
        )
    promotion = Promotion(kind, run_dir, destination, copied=[])
    if occupied:
        promotion.replaced_to, promotion.moved, promotion.kept = move_aside(
            destination, run_dir, replaced_root or REPLACED_ROOT
        )
    destination.mkdir(parents=True, exist_ok=True)
    for source in sorted(run_dir.iterdir()):
        if source.name in APPENDED_LOGS and source.is_file():
            merge_log(source, destination / source.name)
            promotion.copied.append(f"{source.name} (its entries appended)")
        elif source.is_file() and source.name != "README.md":  # the run's own card: rewritten below
            shutil.copy2(source, destination / source.name)
            promotion.copied.append(source.name)
    missing = write_card(kind, destination, run_dir)
    promotion.full_card = not missing
    promotion.next_steps = next_steps(kind, destination, run_dir, missing)
    logger.info("promoted %s to %s", shown(run_dir), shown(destination))
    return promotion


def report(promotion: Promotion) -> str:
    """What happened, in the words the user needs."""
    where = shown(promotion.destination)
    lines = [f"{promotion.kind} run {shown(promotion.run)} -> {where}"]
    if promotion.replaced_to:
        lines.append(f"previous files moved to {shown(promotion.replaced_to)}: {', '.join(promotion.moved)}")
    if promotion.kept:
        lines.append(f"kept (evidence about the data, not the model): {', '.join(promotion.kept)}")
    lines.append(f"copied: {', '.join(promotion.copied)}")
    lines.append(f"card: {where}/README.md" + ("" if promotion.full_card else " (not evaluated yet: no scores in it)"))
    if promotion.next_steps:
        lines.append("next:")
        lines += [f"  {step}" for step in promotion.next_steps]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="run name under --runs-root, or a path to a run directory")
    parser.add_argument("--to", help="destination (default: models/topic-classifier or models/summarizer by kind)")
    parser.add_argument("--replace", action="store_true", help="replace a shipped model (old files: build/replaced)")
    parser.add_argument("--runs-root", type=Path, default=RUNS_ROOT, help="where run names are looked up")
    parser.add_argument("--replaced-root", type=Path, default=REPLACED_ROOT, help="where replaced files are moved")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        promotion = promote(
            args.run, args.to, args.replace, project_path(args.runs_root), project_path(args.replaced_root)
        )
    except PromoteError as error:
        raise SystemExit(f"error: {error}") from None
    print(report(promotion))


if __name__ == "__main__":
    main()
