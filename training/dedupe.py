"""Exact and near-duplicate detection (MinHash over word shingles, banded LSH)."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

_PRIME = (1 << 31) - 1  # a*x+b stays below 2**63 for 32-bit shingle hashes
_WORD = re.compile(r"\w+")


def fingerprint(text: str) -> str:
    """Key for exact duplicates: case, punctuation and spacing do not matter."""
    return hashlib.sha1(" ".join(_WORD.findall(text.lower())).encode()).hexdigest()


def shingles(text: str, size: int) -> set[int]:
    words = _WORD.findall(text.lower())
    if len(words) <= size:
        grams = [" ".join(words)]
    else:
        grams = [" ".join(words[i : i + size]) for i in range(len(words) - size + 1)]
    return {int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little") for g in grams}


class MinHasher:
    def __init__(self, num_perm: int, seed: int = 1):
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, _PRIME, size=(num_perm, 1), dtype=np.uint64)
        self.b = rng.integers(0, _PRIME, size=(num_perm, 1), dtype=np.uint64)

    def signature(self, items: set[int]) -> np.ndarray:
        values = np.fromiter(items, dtype=np.uint64, count=len(items))[None, :]
        return ((self.a * values + self.b) % _PRIME).min(axis=1)


def jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / max(len(a | b), 1)


def find_duplicates(
    texts: Sequence[str], shingle_words: int = 5, num_perm: int = 64, bands: int = 16, threshold: float = 0.8
) -> list[int | None]:
    """For each text, the index of an earlier text it duplicates (exactly or nearly), else None.

    Candidates come from LSH buckets; each is confirmed with the exact Jaccard similarity of the
    shingle sets, so the threshold means what it says.
    """
    hasher = MinHasher(num_perm)
    rows = num_perm // bands
    buckets: dict[tuple, list[int]] = defaultdict(list)
    exact: dict[str, int] = {}
    sets: list[set[int]] = []
    result: list[int | None] = []
    for index, text in enumerate(texts):
        key = fingerprint(text)
        items = shingles(text, shingle_words)
        sets.append(items)
        if key in exact:
            result.append(exact[key])
            continue
        exact[key] = index
        signature = hasher.signature(items)
        band_keys = [(band, signature[band * rows : (band + 1) * rows].tobytes()) for band in range(bands)]
        duplicate_of = None
        for band_key in band_keys:
            for candidate in buckets.get(band_key, ()):
                if result[candidate] is None and jaccard(items, sets[candidate]) >= threshold:
                    duplicate_of = candidate
                    break
            if duplicate_of is not None:
                break
        result.append(duplicate_of)
        if duplicate_of is None:
            for band_key in band_keys:
                buckets[band_key].append(index)
    return result
