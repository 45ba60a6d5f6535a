"""The engine's fast paths are bit-identical to the int64 rule: float64 requantization, float32 GEMMs and the
fused conv + max pool step (proofs in `GemmRequantizer`, `linear.gemm_plan`, `Conv.then_max_pool`)."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from evm_ext.model import Model, load_model
from evm_ext.model.ops import Conv, FullyConnected, MaxPool, Requant, Value
from evm_ext.tensor.conv import Geometry
from evm_ext.tensor.linear import gemm_plan
from evm_ext.tensor.requant import GemmRequantizer, Requantizer
from tests.engine_models import synthetic_model


def _int64_rule(mm, m, s, zp, lo, hi, bias):
    acc = np.asarray(mm, np.int64) + np.int64(bias)
    return Requantizer(np.array([m]), np.array([s]), zp, lo, hi, ())(acc)


def _probes(rq_args, mm_min, mm_max, rng):
    """Accumulators around both clip ends, around rounding ties, random ones and the range ends."""
    m, s, zp, lo, hi, bias = rq_args
    half = 1 << (s - 1)
    a_lo = (((lo - zp + 1) << s) - half - 1) // m
    a_hi = -((half - ((hi - zp) << s)) // m)
    # a * M + 2**(s-1) == k * 2**s: the tie rounded up, for a few k inside the range
    ties = [((k << s) - half) // m for k in range(lo - zp, hi - zp + 1, 7)]
    centres = [a_lo, a_hi, *ties]
    mm = [c - bias + d for c in centres for d in range(-3, 4)]
    mm += rng.integers(mm_min, mm_max + 1, size=500).tolist() + [mm_min, mm_max]
    return np.clip(np.array(mm, np.int64), mm_min, mm_max)


CASES = [  # (M, s, zero point, lo, hi, bias), mm range
    ((1 << 30, 31, 0, -128, 127, 0), (-(1 << 20), 1 << 20)),  # r = 1/2: every odd accumulator is a tie
    ((1518500250, 40, -128, -128, 127, 32133), (-(1 << 22), 1 << 22)),  # like the MNIST CNN's first conv
    ((2147483647, 45, 21, 21, 127, -70000), (-(1 << 24), 1 << 24)),  # fused ReLU, largest provable shift
    ((1 << 30, 32, -3, -30, 90, 5), (-3000, 3000)),
    ((1234567890, 38, 127, 100, 127, -(1 << 21)), (-(1 << 23), 1 << 23)),  # large bias, narrow clamp
]


@pytest.mark.parametrize(("args", "mm_range"), CASES)
def test_float_requantization_equals_int64_rule(args, mm_range):
    m, s, zp, lo, hi, bias = args
    rng = np.random.default_rng(s)
    bounds = tuple(np.array([b]) for b in mm_range)
    mm = _probes(args, *mm_range, rng)
    for dtype in (np.float32, np.float64):
        rq = GemmRequantizer(np.array([m]), np.array([s]), zp, lo, hi, np.array([bias]), bounds, dtype, ())
        assert rq.exact_float == (dtype == np.float64 or max(map(abs, mm_range)) <= 1 << 24)
        got = rq(mm.astype(dtype))
        assert got.dtype == np.int8
        assert got.tolist() == _int64_rule(mm, *args).tolist()
    exact = [
        min(max(math.floor(Fraction((int(a) + bias) * m, 2**s) + Fraction(1, 2)) + zp, lo), hi)
        for a in mm[:40]
    ]
    assert got[:40].tolist() == exact


def test_float_requantization_per_channel_and_broadcast_shapes():
    rng = np.random.default_rng(3)
    c = 6
    m = rng.integers(1 << 30, 1 << 31, size=c)
    s = rng.integers(34, 44, size=c)
    bias = rng.integers(-(1 << 20), 1 << 20, size=c)
    bounds = (np.full(c, -(1 << 22)), np.full(c, 1 << 22))
    mm = rng.integers(-(1 << 22), 1 << 22, size=(5, c, 3, 4))
    expected = Requantizer(m, s, -7, -100, 120, (c, 1, 1))(mm + bias.reshape(c, 1, 1))
    for sample_shape in ((c, 3, 4), (c, 300, 300)):  # expanded constants, and broadcast ones
        rq = GemmRequantizer(m, s, -7, -100, 120, bias, bounds, np.float64, (c, 1, 1), sample_shape)
        assert rq.exact_float
        assert np.array_equal(rq(mm.astype(np.float64)), expected)


@pytest.mark.parametrize(
    "args",
    [
        (3 << 29, 29, 0, -128, 127, 0),  # multiplier 3: output steps skip the clip ends
        (1 << 30, 57, 0, -128, 127, 0),  # shift 57: 256 * 2**57 >= 2**53
        (1 << 30, 40, 0, -128, 127, 1 << 31),  # bias * M >= 2**53
    ],
)
def test_unprovable_channels_use_the_int64_path(args):
    m, s, zp, lo, hi, bias = args
    bounds = (np.array([-(1 << 24)]), np.array([1 << 24]))
    rq = GemmRequantizer(np.array([m]), np.array([s]), zp, lo, hi, np.array([bias]), bounds, np.float64, ())
    assert not rq.exact_float
    mm = np.random.default_rng(1).integers(-(1 << 24), 1 << 24, size=300)
    assert rq(mm.astype(np.float64)).tolist() == _int64_rule(mm, *args).tolist()


def test_float32_gemm_is_exact_at_its_bound():
    """Worst case of the float32 choice: |partial sums| reach exactly 2**24 and stay exact."""
    k = 1024  # 1024 * 128 * 128 == 2**24
    w = np.full((2, k), -128, np.int8)
    w[1, ::2] = 127
    dtype, (lo, hi) = gemm_plan(w, -128, 127)
    assert dtype == np.float32
    x = np.stack([np.full(k, -128, np.int8), np.full(k, 127, np.int8), np.where(w[1] > 0, 127, -128)])
    got = x.astype(np.float32) @ w.T.astype(np.float32)
    exact = x.astype(np.int64) @ w.T.astype(np.int64)
    assert np.array_equal(got.astype(np.int64), exact)
    assert exact.max() == 1 << 24 and (lo <= exact.min(axis=0)).all() and (exact.max(axis=0) <= hi).all()
    assert gemm_plan(np.concatenate([w, w[:, :1]], axis=1), -128, 127)[0] == np.float64


@pytest.mark.parametrize("seed", range(6))
def test_fused_conv_max_pool_equals_the_two_ops(seed):
    rng = np.random.default_rng(seed)
    cin, cout = int(rng.integers(1, 4)), int(rng.integers(1, 6))
    conv_geo = Geometry(
        (3, 3), (1, int(rng.integers(1, 3))), (1, 1), tuple(int(p) for p in rng.integers(0, 2, 4))
    )
    pool_geo = Geometry(
        (2, 3), (2, 2), (1, int(rng.integers(1, 3))), (1, 0, 0, 1) if seed % 2 else (0, 0, 0, 0)
    )
    src = Value((cin, 11, 12), 0.1, int(rng.integers(-128, 128)))
    requant = Requant(
        0.05,
        int(rng.integers(-128, 0)),
        int(rng.integers(-128, -20)),
        int(rng.integers(20, 128)),
        rng.integers(1 << 30, 1 << 31, size=cout).astype(np.uint32),
        rng.integers(36, 41, size=cout).astype(np.uint8),
    )
    weight = rng.integers(-127, 128, size=(cout, cin, 3, 3)).astype(np.int8)
    bias = rng.integers(-20000, 20000, size=cout).astype(np.int32)
    conv = Conv((0,), [src], weight, bias, 1, conv_geo, requant)
    pool = MaxPool((1,), [conv.out], pool_geo)
    model = Model(src, [conv, pool])
    assert len(model._steps) == 1  # fused
    x = rng.integers(-128, 128, size=(7, *src.shape)).astype(np.int8)
    assert np.array_equal(model.run(x), pool.run([conv.run([x])]))
    assert conv._rq.exact_float


def test_shipped_cnn_takes_the_fast_paths():
    """Regression guard for speed (outputs are pinned elsewhere): float32 GEMMs, float64 requantization and
    both conv + max pool pairs fused."""
    model = load_model(Path(__file__).resolve().parents[1] / "models/mnist_cnn/mnist_cnn.aiem")
    gemm_ops = [op for op in model.ops if isinstance(op, (Conv, FullyConnected))]
    assert [op._rq.exact_float for op in gemm_ops] == [True] * 4
    assert {getattr(op, "_weight", getattr(op, "_weight_t", None)).dtype for op in gemm_ops} == {
        np.dtype(np.float32)
    }
    assert [type(op).__name__ for op in model.ops] == [
        "Conv",
        "MaxPool",
        "Conv",
        "MaxPool",
        "Reshape",
        "FullyConnected",
        "FullyConnected",
    ]
    assert len(model._steps) == 5


def test_empty_batch_runs_every_kernel():
    y = synthetic_model().run(np.zeros((0, 3, 8, 8), np.int8))
    assert y.shape == (0, 10) and y.dtype == np.int8
