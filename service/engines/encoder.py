"""Reading text through the encoder window by window, without depending on where the layers run.

A BERT-style encoder is run in two parts: frozen lower layers, then task-specific upper layers. A
task head that fine-tunes only the top layers can share the lower-layer pass with other heads, and
training can cache the lower-layer states once instead of recomputing them every epoch.

This module is numpy only: the layers themselves are a ``LowerLayers`` callable given by a backend
(``service.engines.pytorch`` for PyTorch, ``service.engines.onnx`` for ONNX Runtime).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# (input_ids, attention_mask), both (batch, seq) int64 -> lower-layer states (batch, seq, hidden) float32
LowerLayers = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class WindowTokenizer:
    """A fast (``tokenizers``) tokenizer and the special ids that frame a window.

    Built from a transformers tokenizer (``from_transformers``) or straight from a
    ``tokenizer.json`` (``from_file``), which needs neither transformers nor torch.
    """

    backend: object  # tokenizers.Tokenizer
    cls_id: int
    sep_id: int
    pad_id: int

    @classmethod
    def from_transformers(cls, tokenizer) -> WindowTokenizer:
        return cls(tokenizer.backend_tokenizer, tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id)

    @classmethod
    def from_file(cls, path: str | Path, cls_id: int, sep_id: int, pad_id: int) -> WindowTokenizer:
        from tokenizers import Tokenizer

        backend = Tokenizer.from_file(str(path))
        backend.no_truncation()
        backend.no_padding()
        return cls(backend, cls_id, sep_id, pad_id)

    def ids_and_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        encoded = self.backend.encode(text, add_special_tokens=False)
        return encoded.ids, encoded.offsets


def window_tokenizer(tokenizer) -> WindowTokenizer:
    """``tokenizer`` itself when already a ``WindowTokenizer``, else one wrapping a transformers tokenizer."""
    return tokenizer if isinstance(tokenizer, WindowTokenizer) else WindowTokenizer.from_transformers(tokenizer)


# How windows are batched: "length" across texts by length, padded to the longest in the batch (the most
# throughput); "document" one text's windows per batch, so a text's result never depends on the texts batched
# with it, on any engine (int8 quantises activations per call, over the whole batch); "fixed" across texts
# with every window padded to the full width, independent of its neighbours on an engine whose rows do not
# interact (measured per engine: ``service.engines.measure``).
BATCHINGS = ("length", "document", "fixed")


def pad_batch(
    sequences: Sequence[Sequence[int]], pad_id: int, width: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded ``input_ids`` and ``attention_mask`` (int64 arrays), to ``width`` (None: the longest)."""
    width = max([len(s) for s in sequences] + [width or 0])
    ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return ids, mask


def pad_states(states: Sequence[np.ndarray], width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stack variable-length (len, hidden) states into a zero-padded float32 batch (``width`` wide, None: the
    longest) and its int64 mask."""
    width = max([state.shape[0] for state in states] + [width or 0])
    hidden = np.zeros((len(states), width, states[0].shape[1]), dtype=np.float32)
    mask = np.zeros((len(states), width), dtype=np.int64)
    for row, state in enumerate(states):
        hidden[row, : state.shape[0]] = np.asarray(state, dtype=np.float32)
        mask[row, : state.shape[0]] = 1
    return hidden, mask


def text_windows(tokenizer, text: str, window: int, prefix: str = "") -> list[list[int]]:
    """Token ids of the whole text as consecutive windows, each wrapped in CLS/SEP (never truncated)."""
    return tokenize_windows(tokenizer, text, window, prefix)[0]


@dataclass
class EncodedDocument:
    """One text run through the shared lower layers, window by window.

    ``states[w]`` holds the lower-layer output of window ``w`` (CLS + tokens + SEP, float32) and
    ``offsets[w]`` the character span in the text of each of its tokens (CLS/SEP excluded), so
    heads can pool whole windows (topics) or the tokens of one sentence (summaries).
    """

    windows: list[list[int]]
    offsets: list[list[tuple[int, int]]]
    states: list[np.ndarray]


def tokenize_windows(
    tokenizer, text: str, window: int, prefix: str = "", max_windows: int | None = None
) -> tuple[list[list[int]], list[list[tuple[int, int]]]]:
    """Windows as in ``text_windows`` plus each token's character span in ``text`` (prefix tokens: -1)."""
    tokenizer = window_tokenizer(tokenizer)
    ids, offsets = tokenizer.ids_and_offsets(prefix + text)
    spans = [(start - len(prefix), end - len(prefix)) for start, end in offsets]
    size = window - 2
    starts = list(range(0, len(ids), size) if ids else [0])[:max_windows]
    windows = [[tokenizer.cls_id, *ids[i : i + size], tokenizer.sep_id] for i in starts]
    return windows, [spans[i : i + size] for i in starts]


def window_batches(
    keys: list[tuple[int, int]], length: Callable[[int, int], int], batch_size: int, batching: str = "length"
) -> list[list[tuple[int, int]]]:
    """(document, window) keys in batches: by length across documents (little padding), or with
    ``batching="document"`` one document's windows per batch (``BATCHINGS``)."""
    if batching not in BATCHINGS:
        raise ValueError(f"batching must be one of {', '.join(BATCHINGS)}, not {batching!r}")
    if batching == "document":
        grouped: dict[int, list[tuple[int, int]]] = {}
        for key in keys:
            grouped.setdefault(key[0], []).append(key)
        return [group[i : i + batch_size] for group in grouped.values() for i in range(0, len(group), batch_size)]
    ordered = sorted(keys, key=lambda key: length(*key))
    return [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]


def encode_documents(
    lower: LowerLayers,
    tokenizer,
    texts: Sequence[str],
    window: int,
    prefix: str = "",
    batch_size: int = 32,
    max_windows: int | None = None,
    lead_lower: LowerLayers | None = None,
    lead_windows: int | None = 1,
    batching: str = "length",
) -> list[EncodedDocument]:
    """Run every window of every text through the ``lower`` layers, batched by length.

    With ``lead_lower``, the first ``lead_windows`` windows of each text (all when None) run through
    it instead: the ONNX backend reads the windows the topic head pools at full precision and the
    rest in int8. ``batching``: see ``BATCHINGS``.
    """
    tokenizer = window_tokenizer(tokenizer)
    docs = [
        EncodedDocument(*tokenize_windows(tokenizer, text, window, prefix, max_windows), states=[]) for text in texts
    ]
    flat = [(d, w) for d, doc in enumerate(docs) for w in range(len(doc.windows))]
    states: dict[tuple[int, int], np.ndarray] = {}
    lead = set() if lead_lower is None else {(d, w) for d, w in flat if lead_windows is None or w < lead_windows}
    for run, group in ((lead_lower, [k for k in flat if k in lead]), (lower, [k for k in flat if k not in lead])):
        width = window if batching == "fixed" else None
        for chosen in window_batches(group, lambda d, w: len(docs[d].windows[w]), batch_size, batching):
            hidden = run(*pad_batch([docs[d].windows[w] for d, w in chosen], tokenizer.pad_id, width))
            for row, (d, w) in enumerate(chosen):
                states[(d, w)] = hidden[row, : len(docs[d].windows[w])]
    for d, doc in enumerate(docs):
        doc.states = [states[(d, w)] for w in range(len(doc.windows))]
    return docs


def token_states(doc: EncodedDocument) -> np.ndarray:
    """(tokens, hidden): the states of every text token, windows concatenated, CLS/SEP left out."""
    return np.concatenate([window[1 : 1 + len(spans)] for window, spans in zip(doc.states, doc.offsets, strict=True)])


def sentence_vectors(doc: EncodedDocument, sentence_starts: Sequence[int], sentence_ends: Sequence[int]) -> np.ndarray:
    """Mean of the token states inside each sentence span (zeros for a sentence with no token)."""
    starts = list(sentence_starts)
    owner = []  # the sentence each text token belongs to, -1 for none
    for spans in doc.offsets:
        for start, end in spans:
            index = bisect.bisect_right(starts, start) - 1 if end > 0 and start >= 0 else -1
            owner.append(index if index >= 0 and start < sentence_ends[index] else -1)
    owner = np.asarray(owner, dtype=np.int64)
    keep = owner >= 0
    states = token_states(doc).astype(np.float32, copy=False)
    sums = np.zeros((len(starts), states.shape[-1]), dtype=np.float32)
    np.add.at(sums, owner[keep], states[keep])
    counts = np.bincount(owner[keep], minlength=len(starts)).astype(np.float32)
    return sums / np.maximum(counts, 1.0)[:, None]
