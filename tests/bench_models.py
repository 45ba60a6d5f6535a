"""Small integer models built op by op for the bench tests (real engine ops, seeded random parameters)."""

from __future__ import annotations

import numpy as np

from evm_ext.model import Model
from evm_ext.model.ops import Conv, FullyConnected, Lookup, MaxPool, Requant, Reshape, Value
from evm_ext.tensor.conv import Geometry


def _requant(rng: np.random.Generator, channels: int, zero_point: int, lo: int) -> Requant:
    return Requant(
        0.05,
        zero_point,
        lo,
        127,
        rng.integers(1 << 30, 1 << 31, channels).astype(np.uint32),
        rng.integers(38, 42, channels).astype(np.uint8),
    )


def padded_cnn(seed: int = 0) -> Model:
    """Conv (pad 1, stride 2) -> MaxPool (3x3, stride 2, pad 1) -> Conv (dilation 2, pad (1, 2, 0, 1))
    -> Reshape -> FC: every geometry field of the Solidity baseline, on a 2x9x9 input."""
    rng = np.random.default_rng(seed)
    x0 = Value((2, 9, 9), 0.02, -7)
    conv1 = Conv(
        (0,),
        [x0],
        rng.integers(-127, 128, (4, 2, 3, 3)).astype(np.int8),
        rng.integers(-3000, 3000, 4).astype(np.int32),
        1,
        Geometry((3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),
        _requant(rng, 4, -20, -20),
    )
    pool = MaxPool((1,), [conv1.out], Geometry((3, 3), (2, 2), (1, 1), (1, 1, 1, 1)))
    conv2 = Conv(
        (2,),
        [pool.out],
        rng.integers(-127, 128, (3, 4, 2, 2)).astype(np.int8),
        rng.integers(-3000, 3000, 3).astype(np.int32),
        1,
        Geometry((2, 2), (1, 1), (2, 2), (1, 2, 0, 1)),
        _requant(rng, 3, 5, -128),
    )
    flat = Reshape((3,), [conv2.out], (conv2.out.size,))
    fc = FullyConnected(
        (4,),
        [flat.out],
        rng.integers(-127, 128, (5, conv2.out.size)).astype(np.int8),
        rng.integers(-3000, 3000, 5).astype(np.int32),
        _requant(rng, 5, 3, -128),
    )
    return Model(x0, [conv1, pool, conv2, flat, fc])


def with_lookup() -> Model:
    """An FC followed by a lookup table: the baseline does not implement lookups."""
    rng = np.random.default_rng(1)
    x0 = Value((4,), 0.02, 0)
    fc = FullyConnected(
        (0,),
        [x0],
        rng.integers(-127, 128, (3, 4)).astype(np.int8),
        np.zeros(3, np.int32),
        _requant(rng, 3, 0, -128),
    )
    return Model(x0, [fc, Lookup((1,), [fc.out], 0.01, 0, np.arange(-128, 128).astype(np.int8))])
