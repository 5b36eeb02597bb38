"""The OpenVINO engine: the same ONNX graphs as ``service.engines.onnx``, compiled by OpenVINO's CPU plugin.

It runs the fp32 graphs in fp32 or, where the CPU has bf16 instructions, in bf16 (``precision``): on an
Intel Xeon with AMX, bf16 ran the lower blocks 2.3x faster than ONNX Runtime int8 (``make report``'s speed
table shows the figures on the machine it ran on). Compiled graphs are kept in ``$WARTA_CACHE/openvino`` so a
second start skips most of the compilation. The ``openvino-int8`` engine runs graphs whose weights are int8
(``service.engines.export.int8_weights``) with an fp32 hint. Like ``onnx``, it imports neither torch nor transformers.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

HINTS = {"fp32": "f32", "bf16": "bf16"}  # precision -> INFERENCE_PRECISION_HINT


@functools.cache
def _core():
    import openvino as ov

    return ov.Core()


class OpenVinoSession:
    """``path`` compiled for the CPU in ``precision`` (fp32 or bf16) with ``threads`` threads (None: OpenVINO's
    default, one per physical core), called like an ``onnxruntime.InferenceSession``: ``run(None, feeds)``.

    One infer request, reused: callers serialise model calls (``Analyzer`` holds a lock)."""

    def __init__(self, path: Path, threads: int | None, precision: str, cache_dir: Path | None = None):
        if precision not in HINTS:
            raise ValueError(f"OpenVINO precision must be one of {', '.join(HINTS)}, not {precision!r}")
        config = {
            "INFERENCE_PRECISION_HINT": HINTS[precision],
            "PERFORMANCE_HINT": "LATENCY",  # one stream: a call uses every thread
            "NUM_STREAMS": "1",
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = str(threads)
        if cache_dir is not None:
            config["CACHE_DIR"] = str(cache_dir)
        self.path = Path(path)
        self.compiled = _core().compile_model(str(path), "CPU", config)
        self.request = self.compiled.create_infer_request()
        self.outputs = len(self.compiled.outputs)

    def run(self, _names, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.request.infer(feeds)
        return [np.array(self.request.get_output_tensor(i).data) for i in range(self.outputs)]
