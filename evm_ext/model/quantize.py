"""Conversion-time quantization (float math is fine here: only the stored integers are consensus)."""

from __future__ import annotations

import numpy as np

from evm_ext.model.errors import ConversionError
from evm_ext.model.ops import Requant
from evm_ext.tensor.requant import INT8_MAX, INT8_MIN, quantize_multiplier
from evm_ext.tensor.softmax import SOFTMAX_ONE


def choose_qparams(lo: float, hi: float) -> tuple[float, int]:
    """Asymmetric int8 (scale, zero_point) covering [min(lo, 0), max(hi, 0)]; real 0 is exact."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-12:
        return 1.0, 0
    scale = (hi - lo) / 255.0
    zero_point = int(np.clip(round(INT8_MIN - lo / scale), INT8_MIN, INT8_MAX))
    return scale, zero_point


def quantize(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Float -> int8 with round-half-to-even (conversion and off-chain inputs only)."""
    return np.clip(np.rint(np.asarray(x, np.float64) / scale) + zero_point, INT8_MIN, INT8_MAX).astype(
        np.int8
    )


def multiplier(real: float, what: str) -> tuple[int, int]:
    try:
        return quantize_multiplier(real)
    except ValueError as exc:
        raise ConversionError(f"{what}: {exc}") from None


def quantize_weights(
    weight: np.ndarray,
    bias: np.ndarray,
    in_scale: float,
    out_scale: float,
    out_zero_point: int,
    clamp: tuple[int, int],
    what: str,
) -> tuple[np.ndarray, np.ndarray, Requant]:
    """Output-major weights (C, ...) -> per-channel int8, int32 bias (scale s_in * s_w[c]) and Requant."""
    w_scale = np.abs(weight).reshape(len(weight), -1).max(axis=1) / 127.0
    w_scale[w_scale == 0] = 1.0
    w_q = np.clip(np.rint(weight / w_scale.reshape((-1,) + (1,) * (weight.ndim - 1))), -127, 127).astype(
        np.int8
    )
    b = np.rint(bias.astype(np.float64) / (in_scale * w_scale))
    if np.abs(b).max(initial=0) >= 2**31:
        raise ConversionError(f"{what}: bias does not fit int32 at this input scale")
    ms = [multiplier(in_scale * float(s) / out_scale, what) for s in w_scale]
    requant = Requant(
        out_scale,
        out_zero_point,
        clamp[0],
        clamp[1],
        np.array([m for m, _ in ms], np.uint32),
        np.array([s for _, s in ms], np.uint8),
    )
    return w_q, b.astype(np.int32), requant


def softmax_table(in_scale: float) -> np.ndarray:
    """round(2**20 * exp(-in_scale * d)) for d = 0..255 (the stored table of the integer softmax)."""
    return np.rint(SOFTMAX_ONE * np.exp(-in_scale * np.arange(256))).astype(np.uint32)
