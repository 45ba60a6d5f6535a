"""Fully connected layer and the GEMM plumbing shared with conv: int8 x int8 products summed in float BLAS.

`gemm_plan` picks the float type of a layer's GEMM at decode time: float32 when every partial sum of
every output channel provably stays within 2**24 in magnitude (float32 then holds every intermediate
exactly, in any summation order, with or without FMA), float64 otherwise (exact below 2**53, which
`requant.MAX_FAN_IN` guarantees). Either way the GEMM output is the exact integer accumulator.
"""

from __future__ import annotations

import numpy as np

from evm_ext.tensor.requant import FLOAT32_EXACT, GemmRequantizer


def fold_input_zero_point(
    weight: np.ndarray, bias: np.ndarray, input_zero_point: int, axes: tuple[int, ...]
) -> np.ndarray:
    """bias - zp_in * sum(weight over `axes`): lets kernels multiply raw int8 inputs (no x - zp pass).

    Exact for any input: sum((x - zp) * w) + b == sum(x * w) + (b - zp * sum(w)).
    """
    return bias.astype(np.int64) - np.int64(input_zero_point) * weight.sum(axis=axes, dtype=np.int64)


def gemm_plan(
    weight_rows: np.ndarray, input_lo: int, input_hi: int
) -> tuple[type[np.floating], tuple[np.ndarray, np.ndarray]]:
    """(GEMM float type, (mm_min, mm_max)) for weight_rows int (C, K) and inputs in [input_lo, input_hi].

    Each output channel c sums K products w * x (or a subset of them); its value lies in
    [lo * P_c - hi * N_c, hi * P_c - lo * N_c] (P_c, N_c: sums of the positive and negated negative
    weights, lo <= 0 <= hi) and every partial sum is at most max(|lo|, hi) * (P_c + N_c) in magnitude.
    """
    pos = np.maximum(weight_rows, 0).sum(axis=1, dtype=np.int64)
    neg = np.abs(weight_rows.astype(np.int16)).sum(axis=1, dtype=np.int64) - pos  # int16: |-128| fits
    bounds = (input_lo * pos - input_hi * neg, input_hi * pos - input_lo * neg)
    partial = max(-input_lo, input_hi) * int((pos + neg).max())
    return (np.float32 if partial <= FLOAT32_EXACT else np.float64), bounds


def fully_connected(x: np.ndarray, weight_t: np.ndarray, requant: GemmRequantizer) -> np.ndarray:
    """x int8 (N, K), weight_t float (K, C) holding int8 values -> int8 (N, C); bias is in `requant`."""
    return requant(x.astype(weight_t.dtype).dot(weight_t))
