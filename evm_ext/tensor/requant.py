"""Fixed-point requantization: the one rounding rule of the engine.

`requant(acc) = (acc * M + (1 << (s - 1))) >> s` in int64 with an arithmetic (floor) shift, i.e. the exact
value acc * M / 2**s rounded half toward +infinity; then the output zero point is added and the result is
clamped to [lo, hi] (the int8 range or a fused activation's range).

Invariants that make int64 overflow impossible: M is in [2**30, 2**31), s in [1, 62], and |acc| < 1.5 * 2**31
(guaranteed by int32 biases and `MAX_FAN_IN`), so |acc * M| + 2**61 < 2**63.
"""

from __future__ import annotations

import math

import numpy as np

INT8_MIN = -128
INT8_MAX = 127
M_MIN = 1 << 30
M_LIMIT = 1 << 31
SHIFT_MIN = 1
SHIFT_MAX = 62
# Largest fan-in (products summed into one accumulator): 32768 * 255 * 127 < 2**30, plus an int32 bias.
MAX_FAN_IN = 1 << 15


def quantize_multiplier(real: float) -> tuple[int, int]:
    """Return (M, s) with M in [2**30, 2**31) and s in [1, 62] such that M / 2**s ~= real (real > 0)."""
    if not (math.isfinite(real) and real > 0):
        raise ValueError(f"multiplier must be a positive finite number, got {real!r}")
    mantissa, exponent = math.frexp(real)  # real = mantissa * 2**exponent, mantissa in [0.5, 1)
    m = round(mantissa * M_LIMIT)
    if m == M_LIMIT:
        m //= 2
        exponent += 1
    s = 31 - exponent
    if not SHIFT_MIN <= s <= SHIFT_MAX:
        raise ValueError(f"multiplier {real!r} out of the representable range [2**-32, 2**30)")
    return m, s


class Requantizer:
    """Per-channel requantization parameters, pre-shaped to broadcast against the accumulators."""

    __slots__ = ("m", "shift", "half", "zero_point", "lo", "hi")

    def __init__(
        self, m: np.ndarray, shift: np.ndarray, zero_point: int, lo: int, hi: int, shape: tuple[int, ...]
    ) -> None:
        self.m = np.asarray(m, dtype=np.int64).reshape(shape)
        self.shift = np.asarray(shift, dtype=np.int64).reshape(shape)
        self.half = np.left_shift(np.int64(1), self.shift - 1)
        self.zero_point = np.int64(zero_point)
        self.lo, self.hi = lo, hi

    def __call__(self, acc: np.ndarray) -> np.ndarray:
        """int64 accumulators (consumed) -> int8: ((acc * M + 2**(s-1)) >> s) + zero_point, clamped."""
        acc *= self.m
        acc += self.half
        acc >>= self.shift
        acc += self.zero_point
        np.maximum(acc, self.lo, out=acc)
        np.minimum(acc, self.hi, out=acc)
        return acc.astype(np.int8)
