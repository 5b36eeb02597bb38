"""build_once and load_or_rebuild: atomic, single build under concurrency, damaged entries rebuilt under the lock."""

from __future__ import annotations

import fcntl
import multiprocessing
import time
from pathlib import Path

import pytest

from service.backbone.cache import build_once, load_or_rebuild, read_manifest


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


def _hold_lock(lock: str, held, log: str) -> None:
    """Hold an entry's build lock for a second, then note whether the damaged file was still there."""
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        held.set()
        time.sleep(1.0)
        weights = Path(lock).parent / "entry" / "weights.bin"
        with open(log, "a") as out:
            out.write(f"released; damaged file present: {weights.read_bytes() == b'y' * 4096}\n")
        fcntl.flock(handle, fcntl.LOCK_UN)


def _load(directory: Path) -> bytes:
    data = (directory / "weights.bin").read_bytes()
    if data != b"x" * 4096:
        raise ValueError("corrupt weights")
    return data


def test_entry_that_fails_to_load_is_rebuilt_under_the_lock(tmp_path):
    target, log = tmp_path / "entry", tmp_path / "builds.log"
    build_once(target, lambda d: _slow_build(d, str(log)))
    (target / "weights.bin").write_bytes(b"y" * 4096)  # right size, wrong content: only loading can tell
    assert read_manifest(target) is not None

    context = multiprocessing.get_context("fork")
    held = context.Event()
    holder = context.Process(target=_hold_lock, args=(str(tmp_path / ".entry.lock"), held, str(log)))
    holder.start()
    assert held.wait(10)
    started = time.perf_counter()
    assert load_or_rebuild(target, lambda d: _slow_build(d, str(log)), _load) == b"x" * 4096
    holder.join(10)
    assert holder.exitcode == 0
    assert time.perf_counter() - started >= 1.5  # waited for the lock (~1 s left), then built (1 s)
    # The damaged entry was neither removed nor rebuilt while the other process held the lock.
    assert log.read_text().splitlines() == ["built", "released; damaged file present: True", "built"]
    assert read_manifest(target)["files"] == {"config.json": 2, "weights.bin": 4096}


def test_entry_rebuilt_by_another_process_while_waiting_is_not_rebuilt_again(tmp_path):
    target, log = tmp_path / "entry", tmp_path / "builds.log"
    build_once(target, lambda d: _slow_build(d, str(log)))
    (target / "weights.bin").write_bytes(b"y" * 4096)
    calls = []

    def load(directory: Path) -> bytes:
        calls.append(directory)
        if len(calls) == 1:  # what another process does while this one waits for the lock: it rebuilds the entry
            (directory / "weights.bin").write_bytes(b"x" * 4096)
            raise ValueError("corrupt weights")
        return _load(directory)

    assert load_or_rebuild(target, lambda d: _slow_build(d, str(log)), load) == b"x" * 4096
    assert log.read_text().count("built") == 1 and len(calls) == 2
