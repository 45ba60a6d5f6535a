"""Per-layer report of a conversion: each op's quantization parameters and its error against float.

The integer model runs on the quantized calibration set, keeping every intermediate value; each op's
output, dequantized, is compared with the float tensor of the same ONNX name from the calibration run.
Errors accumulate along the graph, so a layer's error includes its inputs' errors: the layer where the
SQNR drops most is the one that breaks accuracy. SQNR = 10 log10(mean(f^2) / mean((q - f)^2)) in dB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from evm_ext.model.convert import Conversion
from evm_ext.model.convert.ir import LINEAR_KINDS


@dataclass(frozen=True)
class LayerReport:
    """One integer op: what it is, its quantization parameters, its error against float (None: no float
    counterpart, e.g. an argmax or a tensor the converter introduced)."""

    index: int  # 1-based op number, as `aievm model inspect` shows it
    kind: str
    tensor: str  # ONNX tensor name of the op's output
    scale: float
    zero_point: int
    weight_scales: tuple[float, float] | None  # (min, max) per-output-channel weight scale
    rmse_steps: float | None  # root mean square error in output quantization steps
    max_steps: float | None  # largest absolute error in output steps
    sqnr_db: float | None


def layer_report(conv: Conversion, calib: np.ndarray) -> list[LayerReport]:
    """The report rows of `conv` (from `conversion(..., keep=True)`) on its calibration set `calib`."""
    model = conv.model
    values = [model.quantize_input(np.asarray(calib, np.float32))]
    for op in model.ops:
        values.append(op.run([values[i] for i in op.inputs]))
    weights = {ir.output: ir.weight for ir in conv.ir if ir.kind in LINEAR_KINDS}
    rows = []
    for i, op in enumerate(model.ops, start=1):
        name = conv.names[i]
        q = (values[i].astype(np.float64) - op.out.zero_point) * op.out.scale
        f = conv.calibration.floats.get(name)
        errors = _errors(q, f, op.out.scale) if f is not None and f.size == q.size else (None, None, None)
        w = weights.get(name)
        w_scales = None
        if w is not None:
            s = np.abs(w).reshape(len(w), -1).max(axis=1) / 127.0
            w_scales = (float(s.min()), float(s.max()))
        rows.append(
            LayerReport(i, op.kind.name.lower(), name, op.out.scale, op.out.zero_point, w_scales, *errors)
        )
    return rows


def _errors(q: np.ndarray, f: np.ndarray, scale: float) -> tuple[float, float, float]:
    e = q - f.reshape(q.shape).astype(np.float64)
    noise, signal = float(np.mean(e * e)), float(np.mean(np.square(f, dtype=np.float64)))
    sqnr = math.inf if noise == 0 else (10 * math.log10(signal / noise) if signal > 0 else -math.inf)
    return math.sqrt(noise) / scale, float(np.abs(e).max()) / scale, sqnr


def worst(rows: list[LayerReport]) -> LayerReport | None:
    """The layer with the lowest SQNR (the first of equals), or None if no layer has a float reference."""
    measured = [r for r in rows if r.sqnr_db is not None]
    return min(measured, key=lambda r: r.sqnr_db) if measured else None
