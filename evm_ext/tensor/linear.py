"""Fully connected layer: int8 x int8 -> int64 accumulators (exact float64 BLAS) -> requantized int8."""

from __future__ import annotations

import numpy as np

from evm_ext.tensor.requant import Requantizer


def fold_input_zero_point(
    weight: np.ndarray, bias: np.ndarray, input_zero_point: int, axes: tuple[int, ...]
) -> np.ndarray:
    """bias - zp_in * sum(weight over `axes`): lets kernels multiply raw int8 inputs (no x - zp pass).

    Exact for any input: sum((x - zp) * w) + b == sum(x * w) + (b - zp * sum(w)).
    """
    return bias.astype(np.int64) - np.int64(input_zero_point) * weight.astype(np.int64).sum(axis=axes)


def fully_connected(
    x: np.ndarray, weight_t: np.ndarray, folded_bias: np.ndarray, requant: Requantizer
) -> np.ndarray:
    """x int8 (N, K), weight_t float64 (K, C) holding int8 values, folded_bias int64 (C,) -> int8 (N, C)."""
    acc = np.matmul(x.astype(np.float64), weight_t).astype(np.int64)
    acc += folded_bias
    return requant(acc)
