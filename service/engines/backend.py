"""Which engine runs the encoder: ONNX Runtime or PyTorch, and PyTorch's precision (fp32 or bf16).

Chosen by setting (``configs/service.yaml``), environment (``WARTA_BACKEND``, ``WARTA_PRECISION``) or
argument; ``auto`` resolves by what is installed and what the CPU computes natively.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

BACKENDS = ("auto", "onnx", "torch")


def requested_backend(setting: str | None = None, explicit: str | None = None) -> str:
    """``auto``, ``onnx`` or ``torch``: ``explicit``, else ``WARTA_BACKEND``, else ``setting`` (service.yaml)."""
    choice = (explicit or os.environ.get("WARTA_BACKEND") or setting or "auto").lower()
    if choice not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {choice!r} (WARTA_BACKEND / service.yaml)")
    return choice


def backend_choice(setting: str | None = None, explicit: str | None = None) -> str:
    """``onnx`` or ``torch``: the requested backend with ``auto`` resolved.

    ``auto`` is ONNX Runtime int8 whenever ``onnxruntime`` is installed: the smallest memory and the
    quickest start everywhere, the fastest on the AMD EPYC measured, but not on an Intel Xeon with AMX,
    where PyTorch bf16 has the higher throughput (``training.benchmark_service --compare``; README).
    Choosing by measurement on the running CPU is still to come.
    """
    choice = requested_backend(setting, explicit)
    if choice == "auto":
        return "onnx" if importlib.util.find_spec("onnxruntime") is not None else "torch"
    return choice


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True on CPUs with bf16 instructions (AVX512-BF16, AMX); Linux only, False when unsure."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def inference_precision() -> str:
    """``bf16`` or ``fp32``: what the PyTorch backend runs with here (``WARTA_PRECISION``, default auto).

    Measured on a 2-core AVX512-BF16 machine: 2.5x faster at 128-token windows with logits within
    0.03 of fp32 and the same top label on every validation article compared; on AVX2-only CPUs
    bf16 is emulated and slower, so fp32 stays. ``WARTA_PRECISION=fp32`` or ``bf16`` overrides.
    """
    choice = os.environ.get("WARTA_PRECISION", "auto").lower()
    if choice not in ("auto", "fp32", "bf16"):
        raise ValueError(f"WARTA_PRECISION must be auto, fp32 or bf16, not {choice!r}")
    return "bf16" if choice == "bf16" or (choice == "auto" and cpu_has_native_bf16()) else "fp32"
