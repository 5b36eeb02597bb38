"""Which engine runs the encoder: ONNX Runtime int8, OpenVINO int8/fp32/bf16 or PyTorch fp32/bf16.

An engine is ``BACKEND-PRECISION``. The request comes from an argument, the environment
(``WARTA_BACKEND``, ``WARTA_PRECISION``) or the setting (``configs/service.yaml``); whatever it leaves open
(``auto``) is decided by measurement on the running CPU (``service.engines.measure``): the fastest of the
engines that match the request and agree with fp32 there. This module holds the rules, not the timing.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

BACKENDS = ("auto", "onnx", "openvino", "torch")
PRECISIONS = ("auto", "fp32", "bf16", "int8")
# Every engine, in the order ties are broken (least memory and quickest start first).
ENGINES = ("onnx-int8", "openvino-int8", "openvino-bf16", "openvino-fp32", "torch-bf16", "torch-fp32")
PACKAGES = {"onnx": "onnxruntime", "openvino": "openvino", "torch": "torch"}
ENGINE_PACKAGES = tuple(PACKAGES.values())


def package_versions(names: tuple[str, ...] = ENGINE_PACKAGES) -> dict[str, str]:
    """Installed versions from package metadata (no package is imported); "-" for one not installed."""
    versions = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "-"
    return versions


def requested_backend(setting: str | None = None, explicit: str | None = None) -> str:
    """``auto``, ``onnx``, ``openvino`` or ``torch``: ``explicit``, else ``WARTA_BACKEND``, else ``setting``."""
    choice = (explicit or os.environ.get("WARTA_BACKEND") or setting or "auto").lower()
    if choice not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {choice!r} (WARTA_BACKEND / service.yaml)")
    return choice


def requested_precision(setting: str | None = None, explicit: str | None = None) -> str:
    """``auto``, ``fp32``, ``bf16`` or ``int8``: ``explicit``, else ``WARTA_PRECISION``, else ``setting``."""
    choice = (explicit or os.environ.get("WARTA_PRECISION") or setting or "auto").lower()
    if choice not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {choice!r} (WARTA_PRECISION)")
    return choice


@functools.cache
def _cpuinfo() -> tuple[str, int, frozenset[str]]:
    """(model name, logical CPUs, flags) from ``/proc/cpuinfo``; ("unknown CPU", 0, {}) where it cannot be read."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "unknown CPU", 0, frozenset()
    fields = [line.split(":", 1) for line in lines if ":" in line]
    model = next((v.strip() for k, v in fields if k.strip() == "model name"), "unknown CPU")
    flags = next((v.split() for k, v in fields if k.strip() == "flags"), [])
    return model, sum(k.strip() == "processor" for k, _ in fields), frozenset(flags)


def cpu_description() -> str:
    """CPU model, CPU count and its AVX/AMX flags: printed with every training and benchmark figure, and part of
    the key of a cached engine choice (``service.engines.measure``)."""
    model, cpus, flags = _cpuinfo()
    vector = sorted(f for f in flags if f.startswith(("avx", "amx")))
    return f"{model}, {cpus} CPUs ({' '.join(vector) or 'no AVX'})"


def cpu_has_native_bf16() -> bool:
    """True on CPUs with bf16 instructions (AVX512-BF16, AMX); Linux only, False when unsure."""
    return bool({"avx512_bf16", "amx_bf16"} & _cpuinfo()[2])


def installed_backends() -> tuple[str, ...]:
    """The backends whose package is installed (nothing is imported)."""
    return tuple(b for b, package in PACKAGES.items() if importlib.util.find_spec(package) is not None)


def candidates(
    backend: str = "auto",
    precision: str = "auto",
    installed: tuple[str, ...] | None = None,
    native_bf16: bool | None = None,
) -> list[str]:
    """The engines a request admits, in ``ENGINES`` order, among the installed backends. ``auto`` precision
    leaves out bf16 on a CPU without bf16 instructions (emulated there, several times slower than fp32: not
    worth timing); asking for bf16 by name still gets it."""
    installed = installed_backends() if installed is None else installed
    native_bf16 = cpu_has_native_bf16() if native_bf16 is None else native_bf16
    found = []
    for engine in ENGINES:
        name, kind = engine.split("-")
        if name not in installed or backend not in ("auto", name) or precision not in ("auto", kind):
            continue
        if kind == "bf16" and precision == "auto" and not native_bf16:
            continue
        found.append(engine)
    if not found:
        raise ValueError(
            f"no engine for backend {backend!r} and precision {precision!r} with "
            f"{', '.join(installed) or 'no engine package'} installed (engines: {', '.join(ENGINES)})"
        )
    return found


@dataclass(frozen=True)
class EngineTiming:
    """One engine measured on the fixed batch (``service.engines.measure``)."""

    engine: str
    single_ms: float = float("inf")  # one article alone, median
    batch_ms: float = float("inf")  # per article in a batch of several
    agrees: bool = True  # topics and summaries as the fp32 reference gives them on the fixed batch
    batch_invariant: bool = False  # an article's result bitwise the same alone and batched ("fixed" batching)
    error: str | None = None

    @property
    def cost(self) -> float:
        """What ``auto`` minimises: one article's latency plus its share of a batch, equally weighted."""
        return self.single_ms + self.batch_ms


@dataclass
class EngineChoice:
    """The engine that runs, and why."""

    engine: str
    reason: str
    timings: dict[str, EngineTiming] = field(default_factory=dict)

    @property
    def batch_invariant(self) -> bool:
        timing = self.timings.get(self.engine)
        return bool(timing and timing.batch_invariant)

    def to_dict(self) -> dict:
        """As JSON holds it (the cached choice, ``benchmark.json``)."""
        return {
            "engine": self.engine,
            "reason": self.reason,
            "timings": {n: asdict(t) for n, t in self.timings.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> EngineChoice:
        timings = {name: EngineTiming(**t) for name, t in data.get("timings", {}).items()}
        return cls(data["engine"], data["reason"], timings)


def choose(timings: dict[str, EngineTiming], excluded: dict[str, str] | None = None) -> EngineChoice:
    """The engine with the lowest ``cost`` among those that ran, agree with the reference and are not
    ``excluded`` (engine -> why, e.g. a failed parity gate); ties go to the earlier one in ``ENGINES``."""
    excluded = excluded or {}

    def left_out(t: EngineTiming) -> str:
        return t.error or excluded.get(t.engine) or "disagrees with fp32"

    usable = [t for t in timings.values() if t.error is None and t.agrees and t.engine not in excluded]
    if not usable:
        raise ValueError(f"no usable engine ({'; '.join(f'{t.engine}: {left_out(t)}' for t in timings.values())})")
    best = min(usable, key=lambda t: (t.cost, ENGINES.index(t.engine)))
    others = ", ".join(
        f"{t.engine} {t.single_ms:.0f}+{t.batch_ms:.0f} ms" if t in usable else f"{t.engine} left out ({left_out(t)})"
        for t in sorted(timings.values(), key=lambda t: ENGINES.index(t.engine))
        if t.engine != best.engine
    )
    reason = f"fastest measured here: {best.single_ms:.0f} ms one article, {best.batch_ms:.0f} ms per article batched"
    return EngineChoice(best.engine, reason + (f" (others: {others})" if others else ""), timings)


def inference_precision() -> str:
    """``bf16`` or ``fp32``: PyTorch's precision when nothing was measured (training; a forced ``torch``
    backend decides by measurement instead, ``service.engines.measure``): ``WARTA_PRECISION``, else bf16 where
    the CPU has bf16 instructions."""
    choice = requested_precision()
    if choice == "int8":
        raise ValueError("WARTA_PRECISION=int8 is ONNX Runtime's; PyTorch runs fp32 or bf16")
    return "bf16" if choice == "bf16" or (choice == "auto" and cpu_has_native_bf16()) else "fp32"
