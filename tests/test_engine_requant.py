"""The one rounding rule, the multiplier encoding, integer pooling/softmax, the float64 exactness bound."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from evm_ext.model.quantize import softmax_table
from evm_ext.tensor.conv import Geometry
from evm_ext.tensor.elementwise import add
from evm_ext.tensor.pool import avg_pool2d
from evm_ext.tensor.requant import MAX_FAN_IN, Requantizer, quantize_multiplier
from evm_ext.tensor.softmax import softmax


def _requant(acc, m, s, zp=0, lo=-128, hi=127):
    return Requantizer(np.array([m]), np.array([s]), zp, lo, hi, ())(np.asarray(acc, np.int64))


def test_quantize_multiplier_hand_values():
    assert quantize_multiplier(0.5) == (1 << 30, 31)
    assert quantize_multiplier(1.0) == (1 << 30, 30)
    assert quantize_multiplier(0.75) == (3 << 29, 31)
    m, s = quantize_multiplier(0.0123)
    assert (1 << 30) <= m < (1 << 31) and abs(m / 2**s - 0.0123) < 2**-31 * 0.0123 * 2
    with pytest.raises(ValueError):
        quantize_multiplier(2.0**-40)


def test_requant_rounds_half_toward_plus_infinity():
    # M / 2**s = 1/2 exactly: x/2 for odd x is a tie
    got = _requant([-5, -3, -1, 1, 3, 5, 4, -4], 1 << 30, 31)
    assert got.tolist() == [-2, -1, 0, 1, 2, 3, 2, -2]
    # 1/4: 6/4 = 1.5 -> 2, -6/4 = -1.5 -> -1, 5/4 -> 1, -7/4 = -1.75 -> -2
    assert _requant([6, -6, 5, -7], 1 << 30, 32).tolist() == [2, -1, 1, -2]
    # zero point and clamp applied after rounding
    assert _requant([1000, -1000, 4], 1 << 30, 31, zp=10, lo=10, hi=100).tolist() == [100, 10, 12]


def test_requant_matches_exact_rational_rounding():
    """int64 numpy result == floor(acc * M / 2**s + 1/2) in exact rationals, at the accumulator bound."""
    rng = np.random.default_rng(7)
    acc = np.concatenate([rng.integers(-(3 << 30), 3 << 30, size=300), [-(3 << 30) + 1, (3 << 30) - 1]])
    for real in (0.00071, 0.0123, 0.37, 0.9999):
        m, s = quantize_multiplier(real)
        got = Requantizer(np.array([m]), np.array([s]), 0, -(2**62), 2**62, ())(acc.copy().astype(np.int64))
        rq = Requantizer(np.array([m]), np.array([s]), 0, -128, 127, ())
        exact = [math.floor(Fraction(int(a) * m, 2**s) + Fraction(1, 2)) for a in acc]
        assert np.clip(exact, -128, 127).tolist() == rq(acc.copy()).tolist()
        assert got.dtype == np.int8  # wide clamp still casts: compare the unclamped path below
        wide = acc * np.int64(m) + (np.int64(1) << np.int64(s - 1))
        wide >>= s
        assert wide.tolist() == exact
        assert (
            max(abs(e - int(a) * real) for e, a in zip(exact, acc, strict=True))
            <= 0.5 + (3 << 30) * real * 2**-30
        )


def test_avg_pool_rounds_half_up():
    x = np.array([[[[1, 2], [3, 5]]]], np.int8)  # sum 11 / 4 = 2.75 -> 3
    g = Geometry((2, 2), (1, 1), (1, 1), (0, 0, 0, 0))
    assert avg_pool2d(x, g, False, 0).item() == 3
    x = np.array([[[[1, 2], [3, 4]]]], np.int8)  # 10 / 4 = 2.5 -> 3 ; -10/4 = -2.5 -> -2
    assert avg_pool2d(x, g, False, 0).item() == 3
    assert avg_pool2d(-x, g, False, 0).item() == -2


def test_add_hand_values():
    # (a - 1) * 0.5 + (b + 2) * 0.25 with output zero point 3: M = (2**30, 2**29), s = 31
    a = np.array([5, -128, 127], np.int8)
    b = np.array([2, 127, -128], np.int8)
    got = add(a, b, (1, -2), (1 << 30, 1 << 29), Requantizer(np.int64(1), np.int64(31), 3, -128, 127, ()))
    # 2 + 1 + 3 = 6;  -64.5 + 32.25 = -32.25 -> -32, + 3 = -29;  63 - 31.5 = 31.5 -> 32 (tie up), + 3 = 35
    assert got.tolist() == [6, -29, 35]


def test_softmax_integer_rule():
    table = softmax_table(0.1)
    assert table[0] == 1 << 20 and table[10] == round(2**20 * np.exp(-1.0))
    x = np.array([[0, 0, 0, 0]], np.int8)
    assert softmax(x, 1, table.astype(np.int64)).tolist() == [[-64] * 4]  # 256/4 - 128
    x = np.array([[100, -100]], np.int8)
    assert softmax(x, 1, table.astype(np.int64)).tolist() == [[127, -128]]


def test_float64_accumulation_is_exact_at_the_fan_in_bound():
    """Worst case: MAX_FAN_IN products of magnitude 128*127 sum exactly in float64 BLAS."""
    k = MAX_FAN_IN
    x = np.full((2, k), -128, np.int8)
    x[1, ::2] = 127
    w = np.full((k, 3), -127, np.int8)
    w[::3, 1] = 127
    got = np.matmul(x.astype(np.float64), w.astype(np.float64)).astype(np.int64)
    want = x.astype(np.int64) @ w.astype(np.int64)
    assert np.array_equal(got, want)
    assert int(np.abs(want).max()) == k * 128 * 127
    # the bound in the docs: 2**14 per product, fan-in < 2**39 keeps partial sums below 2**53
    assert 128 * 127 < 2**14 and k * 2**14 < 2**53 and k * 255 * 127 < 2**30
