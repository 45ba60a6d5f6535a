"""Integer-only Softmax and ArgMax.

Softmax: for int8 input x along an axis, d = max(x) - x in [0, 255]; E = table[d] where the stored table
holds round(2**20 * exp(-scale_in * d)) (table[0] == 2**20, all entries in [0, 2**20]); S = sum(E) >= 2**20.
Output (scale 1/256, zero point -128): q = floor((512 * E + S) / (2 * S)) - 128, i.e. 256 * E / S rounded half
toward +inf, clamped to 127. All int64, no overflow: 512 * 2**20 * axis_len < 2**63.
"""

from __future__ import annotations

import numpy as np

SOFTMAX_ONE = 1 << 20
SOFTMAX_SCALE = 1.0 / 256.0
SOFTMAX_ZERO_POINT = -128


def softmax(x: np.ndarray, axis: int, table: np.ndarray) -> np.ndarray:
    """x int8, table int64[256] -> int8 probabilities (scale 1/256, zero point -128)."""
    d = x.max(axis=axis, keepdims=True).astype(np.int16) - x
    e = table[d]
    s = e.sum(axis=axis, keepdims=True)
    q = (512 * e + s) // (2 * s) - 128
    np.minimum(q, 127, out=q)
    return q.astype(np.int8)


def argmax(x: np.ndarray, axis: int, keepdims: bool) -> np.ndarray:
    """Index of the first maximum as int8 (axis length <= 128 is checked at decode)."""
    return np.argmax(x, axis=axis, keepdims=keepdims).astype(np.int8)
