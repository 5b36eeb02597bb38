"""build_once: atomic, single build under concurrency, damaged entries rebuilt."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from service.backbone.cache import build_once, read_manifest


def _slow_build(directory: Path, log: str) -> dict:
    with open(log, "a") as handle:
        handle.write("built\n")
    time.sleep(1.0)  # widen the window in which a second process could interfere
    (directory / "weights.bin").write_bytes(b"x" * 4096)
    (directory / "config.json").write_text("{}")
    return {"note": "test"}


def _worker(target: str, log: str) -> None:
    build_once(Path(target), lambda d: _slow_build(d, log))


def test_two_processes_build_once(tmp_path):
    target, log = tmp_path / "entry", tmp_path / "builds.log"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_worker, args=(str(target), str(log))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert [w.exitcode for w in workers] == [0, 0]
    assert log.read_text().count("built") == 1
    assert read_manifest(target)["files"] == {"config.json": 2, "weights.bin": 4096}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_failed_build_leaves_nothing(tmp_path):
    target = tmp_path / "entry"

    def broken(directory: Path) -> dict:
        (directory / "half.bin").write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        build_once(target, broken)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == [".entry.lock"]


def test_damaged_entry_is_rebuilt(tmp_path):
    target, log = tmp_path / "entry", tmp_path / "builds.log"
    build_once(target, lambda d: _slow_build(d, str(log)))
    (target / "weights.bin").write_bytes(b"short")
    assert read_manifest(target) is None
    build_once(target, lambda d: _slow_build(d, str(log)))
    assert (target / "weights.bin").stat().st_size == 4096
    assert log.read_text().count("built") == 2
