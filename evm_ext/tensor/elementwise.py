"""Elementwise kernels: lookup tables, quantized Add / Mul (numpy broadcasting), requantizing concat."""

from __future__ import annotations

import numpy as np

from evm_ext.tensor.requant import Requantizer


def lookup(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    """y = table[x + 128] for a 256-entry int8 table (any unary nonlinearity, computed at conversion)."""
    return table[x.view(np.uint8) ^ 0x80]


def add(
    a: np.ndarray,
    b: np.ndarray,
    zero_points: tuple[int, int],
    multipliers: tuple[int, int],
    requant: Requantizer,
) -> np.ndarray:
    """requant((a - za) * Ma + (b - zb) * Mb) with a unit-multiplier requantizer (the shared shift).

    Ma, Mb < 2**31 and |x - z| <= 255, so the int64 sum stays below 2**41.
    """
    acc = (a.astype(np.int64) - zero_points[0]) * multipliers[0]
    acc = acc + (b.astype(np.int64) - zero_points[1]) * multipliers[1]
    return requant(acc)


def mul(a: np.ndarray, b: np.ndarray, zero_points: tuple[int, int], requant: Requantizer) -> np.ndarray:
    """requant((a - za) * (b - zb)); |product| <= 2**16."""
    acc = (a.astype(np.int64) - zero_points[0]) * (b.astype(np.int64) - zero_points[1])
    return requant(acc)


def concat(
    parts: list[np.ndarray], axis: int, zero_points: list[int], requants: list[Requantizer]
) -> np.ndarray:
    """Concatenate along `axis`, bringing each part to the output quantization: requant(x - z_i)."""
    return np.concatenate(
        [rq(p.astype(np.int64) - z) for p, z, rq in zip(parts, zero_points, requants, strict=True)], axis=axis
    )
