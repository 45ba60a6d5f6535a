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


# float64 (float32) holds every integer of magnitude <= 2**53 (2**24), and each such integer times a
# power of two.
FLOAT64_EXACT = 1 << 53
FLOAT32_EXACT = 1 << 24
# Per-channel float constants are stored expanded to the per-sample output shape up to this many elements
# (numpy's elementwise loops are about twice as fast without a broadcast inner axis); at most 24 bytes per
# element, so <= 50 MB for a model of `Limits.max_ops` such ops.
_EXPAND_ELEMENTS = 1 << 13


class GemmRequantizer:
    """requant(mm + bias) per channel, for the exact integer output `mm` of a float GEMM (float32/64).

    Same result as `Requantizer` on int64 `mm + bias`, bit for bit. When provable at construction, it is
    computed in float64 instead (fewer, cheaper passes); proof, per channel with a = mm + bias,
    f(a) = (a * M + 2**(s-1)) >> s and output q(a) = clamp(f(a) + zp, lo, hi):

    1. f is non-decreasing, so q(a) == f(clip(a, a_lo, a_hi)) + zp where a_lo is the largest a with
       f(a) + zp <= lo and a_hi the smallest with f(a) + zp >= hi, provided f(a_lo) + zp == lo and
       f(a_hi) + zp == hi (checked with Python integers; fails only for multipliers > 1). Intersected
       with the accumulator's range [mm_min + bias, mm_max + bias] this gives the clip [e_lo, e_hi], i.e.
       mm is clipped (exactly, in the GEMM's type) to [e_lo - bias, e_hi - bias], which must then be
       representable in that type (integers within 2**24 for float32).
    2. y(mm) = mm * r + c with r = M * 2**-s and c = (bias * M + 2**(s-1) + (zp + 128) * 2**s) * 2**-s
       is exactly (a * M + 2**(s-1)) / 2**s + zp + 128 when every numerator (|mm * M| at the clip ends,
       |c * 2**s| and the sum, which is in [0, 2**(s+8))) is below 2**53: then each float64 result is a
       representable exact value. So floor(y) = q(a) + 128 in [0, 255] for every clipped mm.
    3. The unsafe cast of y >= 0 to uint8 truncates, i.e. floors it, and xor 0x80 maps q + 128 to the
       int8 q.
    Any channel failing a bound makes the whole op use the int64 path.
    """

    __slots__ = ("_int", "_bias", "_float")

    def __init__(
        self,
        m: np.ndarray,
        shift: np.ndarray,
        zero_point: int,
        lo: int,
        hi: int,
        bias: np.ndarray,
        mm_bounds: tuple[np.ndarray, np.ndarray],
        dtype: type[np.floating],
        shape: tuple[int, ...],
        sample_shape: tuple[int, ...] | None = None,
    ) -> None:
        """`dtype`: the GEMM's float type; `shape` broadcasts the per-channel arrays against one sample's
        output `sample_shape`."""
        self._int = Requantizer(m, shift, zero_point, lo, hi, shape)
        self._bias = np.asarray(bias, dtype=np.int64).reshape(shape)
        exact = FLOAT32_EXACT if dtype == np.float32 else FLOAT64_EXACT
        rows = [
            _float_channel(int(mc), int(sc), zero_point, lo, hi, int(bc), int(mn), int(mx), exact)
            for mc, sc, bc, mn, mx in zip(
                np.ravel(m), np.ravel(shift), np.ravel(bias), *map(np.ravel, mm_bounds), strict=True
            )
        ]
        if None in rows:
            self._float = None
            return
        cols = [
            np.array(col, dtype=t).reshape(shape)
            for col, t in zip(zip(*rows, strict=True), (dtype, dtype, np.float64, np.float64), strict=True)
        ]
        if sample_shape is not None and math.prod(sample_shape) <= _EXPAND_ELEMENTS:
            cols = [np.ascontiguousarray(np.broadcast_to(col, sample_shape)) for col in cols]
        self._float = tuple(cols)

    @property
    def exact_float(self) -> bool:
        """Whether the float64 path is used (every channel passed the bounds above)."""
        return self._float is not None

    def __call__(self, mm: np.ndarray) -> np.ndarray:
        """Float GEMM output holding exact integers (consumed: clipped in place) -> int8."""
        if self._float is None:
            acc = mm.astype(np.int64)
            acc += self._bias
            return self._int(acc)
        mm_lo, mm_hi, r, c = self._float
        np.maximum(mm, mm_lo, out=mm)
        np.minimum(mm, mm_hi, out=mm)
        q = np.empty(mm.shape, dtype=np.uint8)
        np.add(np.multiply(mm, r), c, out=q, casting="unsafe")
        q ^= 0x80
        return q.view(np.int8)


def _float_channel(
    m: int, s: int, zp: int, lo: int, hi: int, bias: int, mm_min: int, mm_max: int, exact: int
) -> tuple[int, int, float, float] | None:
    """(mm_lo, mm_hi, r, c) of one channel for `GemmRequantizer`'s float64 path, or None if not provable.

    `exact`: the GEMM type holds every integer of magnitude <= exact (2**24 or 2**53).
    """
    half = 1 << (s - 1)

    def f(a: int) -> int:
        return (a * m + half) >> s

    a_lo = (((lo - zp + 1) << s) - half - 1) // m
    a_hi = -((half - ((hi - zp) << s)) // m)
    if f(a_lo) + zp != lo or f(a_hi) + zp != hi or a_lo > a_hi:
        return None
    mm_lo = min(max(mm_min + bias, a_lo), a_hi) - bias
    mm_hi = min(max(mm_max + bias, a_lo), a_hi) - bias
    c = bias * m + half + ((zp - INT8_MIN) << s)
    if max(abs(mm_lo), abs(mm_hi)) > exact or max(abs(mm_lo), abs(mm_hi)) * m >= FLOAT64_EXACT:
        return None
    if abs(c) >= FLOAT64_EXACT or (INT8_MAX - INT8_MIN + 1) << s > FLOAT64_EXACT:
        return None
    return mm_lo, mm_hi, m * 2.0**-s, c * 2.0**-s
