"""Atomic, lock-protected build-once directories under the Warta cache.

Large derived files (the converted backbone, later corpus caches) are built on
first use. A directory only becomes visible under its final name once it is
complete: it is built in a sibling temporary directory, described by a
manifest of file sizes, and renamed into place. Concurrent builders serialise
on a lock file, so two processes starting at once build it once. An entry that
passes the size check but cannot be loaded is removed and rebuilt under the
same lock (``load_or_rebuild``).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

logger = logging.getLogger(__name__)

MANIFEST_NAME = "warta-manifest.json"
T = TypeVar("T")


def cache_root() -> Path:
    """The cache directory: ``$WARTA_CACHE`` or ``~/.cache/warta``."""
    return Path(os.environ.get("WARTA_CACHE") or Path.home() / ".cache" / "warta").expanduser()


def read_manifest(directory: Path) -> dict | None:
    """The manifest of a complete cache entry, or ``None`` if the entry is missing or damaged."""
    try:
        manifest = json.loads((directory / MANIFEST_NAME).read_text())
        for name, size in manifest["files"].items():
            if (directory / name).stat().st_size != size:
                logger.warning("cache entry %s: %s has the wrong size", directory, name)
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return manifest


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


def _build(target: Path, build: Callable[[Path], dict], metadata: dict | None) -> None:
    """Remove whatever is at ``target`` and build it afresh; the caller holds the entry's lock."""
    if target.exists():
        logger.warning("cache entry %s is incomplete or damaged; rebuilding it", target)
        shutil.rmtree(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        extra = build(tmp) or {}
        files = {str(p.relative_to(tmp)): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()}
        manifest = {**(metadata or {}), **extra, "files": files}
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache may be shared
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def build_once(target: Path, build: Callable[[Path], dict], metadata: dict | None = None) -> Path:
    """Return ``target``, building it with ``build(tmp_dir)`` if it is missing or damaged.

    ``build`` fills the empty directory it is given and may return extra
    metadata for the manifest. A damaged entry (missing manifest, wrong file
    sizes) is removed and rebuilt.
    """
    if read_manifest(target) is not None:
        return target
    with _locked(_lock_path(target)):
        if read_manifest(target) is not None:  # another process finished it while we waited
            return target
        _build(target, build, metadata)
    return target


def load_or_rebuild(
    target: Path, build: Callable[[Path], dict], load: Callable[[Path], T], metadata: dict | None = None
) -> T:
    """``load(target)``, building the entry first if needed (``build_once``).

    An entry whose manifest checks out but which ``load`` cannot read (a damaged file of the right size)
    is removed and rebuilt once, under the lock ``build_once`` takes, so no other builder sees it half
    gone; under the lock it is loaded again first, in case another process rebuilt it while we waited.
    A second failure to load propagates.
    """
    build_once(target, build, metadata)
    try:
        return load(target)
    except Exception as error:  # noqa: BLE001 - whatever the loader raises, the entry is unusable
        logger.warning("cache entry %s cannot be loaded (%s); rebuilding it", target, error)
    with _locked(_lock_path(target)):
        try:
            return load(target)
        except Exception:  # noqa: BLE001 - still unusable: this process rebuilds it
            _build(target, build, metadata)
    return load(target)
