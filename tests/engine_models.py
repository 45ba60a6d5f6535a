"""A seeded synthetic int8 model using every op kind (built from integers only: no converter, no floats
on the execution path), shared by the golden-vector, determinism and fuzz tests."""

from __future__ import annotations

import math

import numpy as np

from evm_ext.model import Model
from evm_ext.model import ops as op_types
from evm_ext.model.quantize import softmax_table
from evm_ext.tensor.conv import Geometry


def _requant(
    rng: np.random.Generator, channels: int, fan_in: int, lo: int = -128, hi: int = 127
) -> op_types.Requant:
    shift = 31 + round(math.log2(math.sqrt(fan_in) * 6000 / 40))  # spreads outputs over the int8 range
    return random_requant(rng, channels, shift, lo, hi)


def random_requant(
    rng: np.random.Generator, channels: int, shift: int, lo: int = -128, hi: int = 127
) -> op_types.Requant:
    """A requantization with a random output zero point and per-channel multipliers, and `shift`."""
    return op_types.Requant(
        0.05,
        int(rng.integers(-20, 20)),
        lo,
        hi,
        rng.integers(1 << 30, 1 << 31, size=channels).astype(np.uint32),
        np.full(channels, shift, np.uint8),
    )


def _w(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.integers(-127, 128, size=shape).astype(np.int8)


def _b(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(-5000, 5000, size=n).astype(np.int32)


def synthetic_model(seed: int = 0, head: str = "softmax") -> Model:
    """(3, 8, 8) -> conv, depthwise conv, conv-transpose, lookup, add, mul, pools, concat, transpose,
    reshape, fully connected, then softmax (or argmax)."""
    rng = np.random.default_rng(seed)
    values = [op_types.Value((3, 8, 8), 0.02, 3)]
    ops = []

    def push(cls, inputs, **fields):
        op = cls(tuple(inputs), [values[i] for i in inputs], **fields)
        ops.append(op)
        values.append(op.out)
        return len(values) - 1

    g3 = Geometry((3, 3), (1, 1), (1, 1), (1, 1, 1, 1))
    v1 = push(
        op_types.Conv,
        [0],
        weight=_w(rng, 6, 3, 3, 3),
        bias=_b(rng, 6),
        groups=1,
        geometry=g3,
        requant=_requant(rng, 6, 27, lo=-30),
    )
    v2 = push(
        op_types.Conv,
        [v1],
        weight=_w(rng, 6, 1, 3, 3),
        bias=_b(rng, 6),
        groups=6,
        geometry=Geometry((3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),
        requant=_requant(rng, 6, 9),
    )
    v3 = push(
        op_types.ConvTranspose,
        [v2],
        weight=_w(rng, 6, 4, 4, 4),
        bias=_b(rng, 4),
        groups=1,
        geometry=Geometry((4, 4), (2, 2), (1, 1), (1, 1, 1, 1)),
        output_padding=(0, 0),
        requant=_requant(rng, 4, 24),
    )
    v4 = push(
        op_types.Lookup,
        [v3],
        scale=0.01,
        zero_point=0,
        table=np.tanh(np.arange(-128, 128) / 40.0).__mul__(127).round().astype(np.int8),
    )
    v5 = push(
        op_types.Conv,
        [0],
        weight=_w(rng, 4, 3, 1, 1),
        bias=_b(rng, 4),
        groups=1,
        geometry=Geometry((1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),
        requant=_requant(rng, 4, 3),
    )
    v6 = push(
        op_types.Add,
        [v4, v5],
        scale=0.05,
        zero_point=-3,
        lo=-128,
        hi=127,
        multipliers=(1 << 30, 3 << 29),
        shift=31,
    )
    v7 = push(op_types.Mul, [v6, v4], requant=_requant(rng, 1, 1))
    v8 = push(op_types.MaxPool, [v7], geometry=Geometry((2, 2), (2, 2), (1, 1), (0, 0, 0, 0)))
    v9 = push(
        op_types.AvgPool,
        [v7],
        geometry=Geometry((3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),
        count_include_pad=False,
    )
    v10 = push(
        op_types.Concat,
        [v8, v9],
        axis=0,
        requant=op_types.Requant(
            0.05, 1, -128, 127, np.array([1 << 30, 3 << 29], np.uint32), np.array([30, 31], np.uint8)
        ),
    )
    v11 = push(op_types.Transpose, [v10], perm=(1, 2, 0))
    v12 = push(op_types.Reshape, [v11], shape=(128,))
    v13 = push(
        op_types.FullyConnected,
        [v12],
        weight=_w(rng, 10, 128),
        bias=_b(rng, 10),
        requant=_requant(rng, 10, 128),
    )
    if head == "softmax":
        push(op_types.Softmax, [v13], axis=0, table=softmax_table(0.05))
    else:
        push(op_types.ArgMax, [v13], axis=0, keepdims=False)
    return Model(values[0], ops)


def synthetic_inputs(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, size=(n, 3, 8, 8)).astype(np.int8)
