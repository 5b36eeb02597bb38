"""``auto`` decided by measurement: time every engine a request admits on this CPU, keep the fastest.

On the first load of a model version (and in ``make models``), each candidate engine
(``service.engines.backend.candidates``) runs in a process of its own (so no engine's thread pool or memory
weighs on another's, and the serving process imports only the engine it uses) on a fixed batch of eight
articles made from the app's examples: one article alone (median of 5) and the eight in one batch. The
probe also records the topic probabilities, compared with an fp32 engine's (an engine that moves a top topic
or a probability by more than ``TOLERANCE`` is left out), and whether an article's encoder states are
bitwise the same alone and batched with the others at fixed width (then the CLI may batch across articles).
Engines that failed the recorded parity gate for these models (``training.evaluate_backends``'s file) are
left out too. The choice is cached in ``$WARTA_CACHE/engines/<key>.json``; the key hashes the CPU model and
flags, the core count, the engine packages' versions, the models' version, the request and the engines it
admits, so a new CPU, engine, upgrade or model measures again.

The probe itself is ``service.frontends.engines`` (it loads the ``Analyzer``); ``python -m service engines
[--again]`` prints the last measurement's table.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from service.backbone.cache import cache_root
from service.engines.backend import (
    ENGINE_PACKAGES,
    EngineChoice,
    EngineTiming,
    candidates,
    choose,
    cpu_description,
    package_versions,
)

logger = logging.getLogger(__name__)

TOLERANCE = 0.05  # largest topic-probability difference from fp32 on the fixed batch
CHOICE_VERSION = 2


def engine_environment(engine: str) -> dict[str, str]:
    backend, precision = engine.split("-")
    return dict(os.environ, WARTA_BACKEND=backend, WARTA_PRECISION=precision)


def run_probe(engine: str, config: str | None, model_dirs, threads: int | None) -> dict:
    """``probe`` in a fresh process; ``{"engine", "error"}`` when it fails."""
    command = [sys.executable, "-m", "service.frontends.engines", "--probe", engine]
    if config:
        command += ["--config", str(config)]
    for flag, value in zip(("--classifier-dir", "--summarizer-dir"), model_dirs, strict=True):
        if value:
            command += [flag, str(value)]
    if threads:
        command += ["--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, env=engine_environment(engine), check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"engine": engine, "error": f"the probe failed: {last}"}
    return json.loads(lines[-1])


def timings_from(probes: list[dict]) -> dict[str, EngineTiming]:
    """Probe results as ``EngineTiming``s, each compared with the first fp32 engine that ran."""
    ran = [p for p in probes if "error" not in p]
    reference = next((p for p in ran if p["engine"].endswith("-fp32")), None)
    timings = {}
    for p in probes:
        if "error" in p:
            timings[p["engine"]] = EngineTiming(p["engine"], error=p["error"])
            continue
        agrees = True
        if reference is not None and p is not reference:
            for ours, theirs in zip(p["probabilities"], reference["probabilities"], strict=True):
                top = max(range(len(ours)), key=ours.__getitem__) == max(range(len(theirs)), key=theirs.__getitem__)
                agrees &= top and max(abs(a - b) for a, b in zip(ours, theirs, strict=True)) <= TOLERANCE
        timings[p["engine"]] = EngineTiming(p["engine"], p["single_ms"], p["batch_ms"], agrees, p["batch_invariant"])
    return timings


def gate_failures(parity_file: Path | None, models_version: str) -> dict[str, str]:
    """Engines whose recorded parity gate failed for these models (``training.evaluate_backends``)."""
    if parity_file is None or not parity_file.is_file():
        return {}
    record = json.loads(parity_file.read_text())
    if record.get("models") != models_version:
        return {}
    return {
        engine: f"failed the parity gate in {parity_file.name}"
        for engine, passed in record.get("gate", {}).get("engines", {}).items()
        if not passed
    }


def choice_path(request: tuple[str, str], models_version: str, cache_dir: Path | None = None) -> Path:
    """Where the choice for ``request`` is cached. Not keyed by the thread setting: the CLI and Ray's workers
    (fewer threads each) must run the same engine to give the same lines."""
    identity = {
        "version": CHOICE_VERSION,
        "cpu": cpu_description(),
        "packages": package_versions(ENGINE_PACKAGES),
        "models": models_version,
        "request": list(request),
        "engines": candidates(*request),  # an engine installed since is timed too
    }
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]
    return (Path(cache_dir) if cache_dir else cache_root()) / "engines" / f"{key}.json"


def read_choice(path: Path) -> EngineChoice | None:
    try:
        return EngineChoice.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_choice(path: Path, choice: EngineChoice) -> None:
    """Atomically: a reader sees the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(choice.to_dict() | {"cpu": cpu_description()}, indent=2) + "\n")
    os.replace(tmp, path)


def choose_engine(
    backend: str,
    precision: str,
    models_version: str,
    config: str | None = None,
    model_dirs: tuple[str | None, str | None] = (None, None),
    threads: int | None = None,
    cache_dir: Path | None = None,
    parity_file: Path | None = None,
    again: bool = False,
) -> EngineChoice:
    """The engine for a request (``backend``, ``precision``: ``auto`` or a name): the only one it admits, or the
    fastest measured here (cached; ``again`` measures anew)."""
    admitted = candidates(backend, precision)
    if len(admitted) == 1:  # nothing to measure; what an earlier auto measurement found still applies
        forced = backend != "auto" or precision != "auto"
        why = "asked for (WARTA_BACKEND / WARTA_PRECISION / settings)" if forced else "the only engine installed"
        measured = read_choice(choice_path(("auto", "auto"), models_version, cache_dir))
        timing = measured.timings.get(admitted[0]) if measured else None
        return EngineChoice(admitted[0], why, {admitted[0]: timing} if timing else {})
    path = choice_path((backend, precision), models_version, cache_dir)
    cached = None if again else read_choice(path)
    if cached is not None and cached.engine in admitted:
        cached.reason += f" (measured earlier; cached in {path})"
        return cached
    logger.info("timing the engines %s on this CPU (once per CPU, model version and upgrade)", ", ".join(admitted))
    started = time.perf_counter()
    probes = [run_probe(engine, config, model_dirs, threads) for engine in admitted]
    choice = choose(timings_from(probes), gate_failures(parity_file, models_version))
    logger.info("engine %s: %s (measured in %.0f s)", choice.engine, choice.reason, time.perf_counter() - started)
    write_choice(path, choice)
    return choice


def table(choice: EngineChoice) -> str:
    """The timings as a Markdown table, the chosen engine marked."""
    lines = ["| engine | one article (ms) | per article in a batch of 8 (ms) | agrees with fp32 | batch-invariant |",
             "|---|---|---|---|---|"]  # fmt: skip
    for name, t in choice.timings.items():
        mark = " (chosen)" if name == choice.engine else ""
        if t.error:
            lines.append(f"| {name}{mark} | {t.error} | | | |")
        else:
            lines.append(f"| {name}{mark} | {t.single_ms:.1f} | {t.batch_ms:.1f} | {'yes' if t.agrees else 'no'} "
                         f"| {'yes' if t.batch_invariant else 'no'} |")  # fmt: skip
    return "\n".join(lines)
