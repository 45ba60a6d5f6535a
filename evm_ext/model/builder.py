"""Models built in code, op by op: the one model builder of the calibration sweep, tests and benchmarks.

`Graph(shape)` starts from an input value and appends ops with seeded random int8 weights; `model()`
returns the `Model`. Everything it builds goes through the same constructors as the decoder, so a built
model encodes, decodes and runs like a converted one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from evm_ext.model import ops
from evm_ext.model.runtime import Model
from evm_ext.tensor.conv import Geometry


class Graph:
    """Builds a Model op by op with random int8 weights; `value(i)` is the i-th value (0 = input).

    `slow`: defeat the engine's weight-dependent fast paths (docs/quantization.md), as an adversary would:
    weights of magnitude 127 (GEMMs in float64, not float32) and requantization shifts of 57 (int64, not
    float64, requantization). Gas depends on the GEMM width (weight bytes) but not on the requantization
    path, so the prices must cover the slow one. `fast`: weights in [-16, 16], so that GEMMs with a fan-in
    up to 8,192 stay float32 (the cheapest pricing of the same shape, for the upper bound).
    """

    def __init__(self, shape: tuple[int, ...], seed: int = 0, slow: bool = False, fast: bool = False) -> None:
        self.rng = np.random.default_rng(seed)
        self.slow, self.fast = slow, fast
        self.values = [ops.Value(shape, 0.05, 0)]
        self.ops: list = []

    def _add(self, op) -> int:
        self.ops.append(op)
        self.values.append(op.out)
        return len(self.values) - 1

    def requant(self, channels: int, fan_in: int) -> ops.Requant:
        shift = 57 if self.slow else 30 + 7 + max(0, math.ceil(math.log2(max(fan_in, 1))) // 2)
        return ops.Requant(0.05, 0, -128, 127, np.full(channels, 1 << 30, np.uint32),
                           np.full(channels, shift, np.uint8))

    def weights(self, *shape: int) -> np.ndarray:
        if self.slow:
            return (127 * self.rng.choice(np.array([-1, 1], np.int8), size=shape)).astype(np.int8)
        bound = 16 if self.fast else 127
        return self.rng.integers(-bound, bound + 1, size=shape, dtype=np.int8)

    def fc(self, i: int, out: int) -> int:
        fan_in = self.values[i].size
        return self._add(ops.FullyConnected((i,), [self.values[i]], self.weights(out, fan_in),
                                            self.rng.integers(-1000, 1000, out, dtype=np.int32),
                                            self.requant(out, fan_in)))

    def conv(self, i: int, cout: int, k: int, groups: int = 1, stride: int = 1,
             pad: int | None = None) -> int:
        """A k x k conv; `pad` on every side, by default k // 2 (the output keeps the input's size)."""
        cin = self.values[i].shape[0]
        geometry = Geometry((k, k), (stride, stride), (1, 1), (k // 2 if pad is None else pad,) * 4)
        return self._add(ops.Conv((i,), [self.values[i]], self.weights(cout, cin // groups, k, k),
                                  np.zeros(cout, np.int32), groups, geometry,
                                  self.requant(cout, cin * k * k)))

    def conv_transpose(self, i: int, cout: int, k: int, stride: int) -> int:
        cin = self.values[i].shape[0]
        geometry = Geometry((k, k), (stride, stride), (1, 1), (0, 0, 0, 0))
        return self._add(ops.ConvTranspose((i,), [self.values[i]], self.weights(cin, cout, k, k),
                                           np.zeros(cout, np.int32), 1, geometry, (0, 0),
                                           self.requant(cout, cin * k * k)))

    def lookup(self, i: int, fn: Callable[[np.ndarray], np.ndarray] = np.tanh) -> int:
        table = np.clip(np.rint(127 * fn((np.arange(256) - 128) / 32)), -128, 127).astype(np.int8)
        return self._add(ops.Lookup((i,), [self.values[i]], 0.05, 0, table))

    def add(self, a: int, b: int) -> int:
        return self._add(ops.Add((a, b), [self.values[a], self.values[b]], 0.05, 0, -128, 127,
                                 (1 << 30, 1 << 30), 31))

    def mul(self, a: int, b: int) -> int:
        return self._add(ops.Mul((a, b), [self.values[a], self.values[b]], self.requant(1, 1 << 14)))

    def pool(self, i: int, k: int, average: bool) -> int:
        geometry = Geometry((k, k), (k, k), (1, 1), (0, 0, 0, 0))
        if average:
            return self._add(ops.AvgPool((i,), [self.values[i]], geometry, False))
        return self._add(ops.MaxPool((i,), [self.values[i]], geometry))

    def reshape(self, i: int, shape: tuple[int, ...]) -> int:
        return self._add(ops.Reshape((i,), [self.values[i]], shape))

    def transpose(self, i: int, perm: tuple[int, ...]) -> int:
        return self._add(ops.Transpose((i,), [self.values[i]], perm))

    def concat(self, inputs: tuple[int, ...], axis: int) -> int:
        n = len(inputs)
        rq = ops.Requant(0.05, 0, -128, 127, np.full(n, 1 << 30, np.uint32), np.full(n, 30, np.uint8))
        return self._add(ops.Concat(inputs, [self.values[i] for i in inputs], axis, rq))

    def softmax(self, i: int) -> int:
        table = np.floor((1 << 20) * np.exp(-np.arange(256) / 16)).astype(np.uint32)
        return self._add(ops.Softmax((i,), [self.values[i]], len(self.values[i].shape) - 1, table))

    def argmax(self, i: int) -> int:
        return self._add(ops.ArgMax((i,), [self.values[i]], len(self.values[i].shape) - 1, False))

    def model(self) -> Model:
        return Model(self.values[0], self.ops)


def mlp(sizes: tuple[int, ...] = (784, 128, 10), seed: int = 0) -> Model:
    """FC layers of `sizes` with a ReLU lookup between them (the shape of the MNIST MLP)."""
    g = Graph((sizes[0],), seed)
    i = 0
    for n, out in enumerate(sizes[1:]):
        i = g.fc(i, out)
        if n < len(sizes) - 2:
            i = g.lookup(i, lambda x: np.maximum(x, 0))
    return g.model()
