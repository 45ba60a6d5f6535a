"""Lowering a model's ops to the program of the compiled engine (`evm_ext.tensor.jit`).

The program is two flat arrays: `w8` (int8 weights and lookup tables) and `i64` (header, one record per
op, then every int64 constant). Constants are the same integers the numpy engine uses: weights as
stored, biases with the input zero point folded in (`linear.fold_input_zero_point`, for the ops that
fold it), multipliers, shifts and rounding halves 2**(s-1), tables, and index maps for broadcasting and
transposition. A reshape gets no record: its value shares its input's arena offset.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import NamedTuple

import numpy as np

from evm_ext.model.ops import (
    Add,
    ArgMax,
    AvgPool,
    Concat,
    Conv,
    ConvTranspose,
    FullyConnected,
    Lookup,
    MaxPool,
    Mul,
    Op,
    Reshape,
    Softmax,
    Transpose,
    Value,
)
from evm_ext.tensor import jit
from evm_ext.tensor.linear import fold_input_zero_point
from evm_ext.tensor.simd import LANES, TAPS

# A transposed conv runs per output phase unless that computes more than this many times its MACs (the
# columns of taps falling outside the input are zeros).
_PHASE_WASTE = 1.5
# Below this many output channels per group, a transposed conv's phases add each tap's products from
# the input planes (MODE_PHASES_DIRECT) rather than run GEMM tiles of 16 channels.
_PHASE_DIRECT_BELOW = 4


# Weight blocks start on a cache line: `simd.dot16` loads 64 bytes at a time, and a load that straddles
# two lines costs about twice as much (timings then depend on where malloc put the array).
ALIGN = 64

Ins = list[Value]  # an op's input values
Srcs = list[int]  # their arena offsets


class Program(NamedTuple):
    """The compiled engine's program of one model (read-only after lowering)."""

    w8: np.ndarray
    i64: np.ndarray


class _Builder:
    def __init__(self, records: int) -> None:
        self.records = np.zeros((records, jit.RECORD), np.int64)
        self.consts: list[np.ndarray] = []
        self.const_size = jit.HEADER + records * jit.RECORD
        self.weights: list[np.ndarray] = []
        self.weight_size = 0

    def const(self, values: np.ndarray) -> int:
        """Append int64 constants; return their offset in i64."""
        values = np.ascontiguousarray(values, dtype=np.int64).ravel()
        self.consts.append(values)
        self.const_size += values.size
        return self.const_size - values.size

    def weight(self, values: np.ndarray) -> int:
        """Append int8 values at the next multiple of ALIGN; return their offset in w8."""
        values = np.ascontiguousarray(values, dtype=np.int8).ravel()
        gap = -self.weight_size % ALIGN
        self.weights += [np.zeros(gap, np.int8), values]
        self.weight_size += gap + values.size
        return self.weight_size - values.size

    def channels(self, bias: np.ndarray, m: np.ndarray, shift: np.ndarray) -> int:
        """Per-channel (bias, M, 2**(s-1), s) as four int64 arrays; return the offset."""
        shift = shift.astype(np.int64)
        halves = 1 << (shift - 1)
        return self.const(np.concatenate([bias.astype(np.int64), m.astype(np.int64), halves, shift]))


def lower(source: Value, ops: tuple[Op, ...]) -> Program:
    """The program running `ops` (values numbered as in `Model.values`) on one sample at a time."""
    values = [source, *(op.out for op in ops)]
    readers = Counter(i for op in ops for i in op.inputs)
    fused = {  # conv index -> the max pool that alone reads it, run fused (as `runtime._plan`)
        k: ops[k + 1]
        for k, op in enumerate(ops[:-1])
        if isinstance(op, Conv) and isinstance(ops[k + 1], MaxPool)
        and ops[k + 1].inputs == (k + 1,) and readers[k + 1] == 1
    }
    offsets = [0]
    arena = source.size
    for k, op in enumerate(ops):
        if isinstance(op, Reshape):
            offsets.append(offsets[op.inputs[0]])
        elif k in fused:
            offsets.append(-1)  # never stored
        else:
            offsets.append(arena)
            arena += op.out.size
    lowered = [k for k, op in enumerate(ops) if not isinstance(op, Reshape) and k - 1 not in fused]
    b = _Builder(len(lowered))
    for r, k in zip(b.records, lowered, strict=True):
        op = ops[k]
        ins = [values[i] for i in op.inputs]
        r[jit.F_IN0] = offsets[op.inputs[0]]
        r[jit.F_IN1] = offsets[op.inputs[-1]]
        r[jit.F_OUT] = offsets[k + 1]
        _LOWER[type(op)](b, r, op, ins, [offsets[i] for i in op.inputs])
        if k in fused:
            r[jit.F_OUT] = offsets[k + 2]
            r[jit.P_POOL] = 1
            _geometry(r, fused[k], op.out, at=jit.FUSED_POOL)
    header = np.zeros(jit.HEADER, np.int64)
    header[[jit.H_OPS, jit.H_ARENA, jit.H_IN, jit.H_OUT, jit.H_IN_SIZE, jit.H_OUT_SIZE]] = (
        len(lowered), arena, 0, offsets[-1], source.size, values[-1].size,
    )
    i64 = np.concatenate([header, b.records.ravel(), *b.consts])
    w8 = _aligned(np.concatenate(b.weights) if b.weights else np.zeros(1, np.int8))
    i64.flags.writeable = w8.flags.writeable = False
    return Program(w8, i64)


def _aligned(values: np.ndarray) -> np.ndarray:
    """A copy of `values` whose first byte sits at a multiple of ALIGN in memory."""
    buf = np.empty(values.size + ALIGN, np.int8)
    start = -buf.ctypes.data % ALIGN
    out = buf[start : start + values.size]
    out[:] = values
    return out


def _gemm_out(r: np.ndarray, op: FullyConnected | Conv | ConvTranspose) -> None:
    r[jit.P_ZP_OUT], r[jit.P_LO], r[jit.P_HI] = op.requant.zero_point, op.requant.lo, op.requant.hi


def tile_weights(matrix: np.ndarray) -> np.ndarray:
    """A GEMM's (C, K) int8 weights in `simd.dot16`'s layout: C padded to a multiple of LANES and K to a
    multiple of TAPS with zeros, stored [c // LANES][k // TAPS][c % LANES][k % TAPS]."""
    c, k = matrix.shape
    cp, kp = -(-c // LANES) * LANES, -(-k // TAPS) * TAPS
    padded = np.zeros((cp, kp), np.int8)
    padded[:c, :k] = matrix
    return padded.reshape(cp // LANES, LANES, kp // TAPS, TAPS).transpose(0, 2, 1, 3).ravel()


def _flip_sums(matrix: np.ndarray, zero_point: int = 0) -> np.ndarray:
    """Per row, (zero_point + 128) * sum(w): what u8 inputs (x + 128) add to a GEMM whose inputs are
    centred on zero_point (0 where the zero point is folded into the bias: the flip's 128 * sum(w))."""
    return (zero_point + jit.FLIP) * matrix.astype(np.int64).sum(axis=1)


def _grouped(b: _Builder, matrices: list[np.ndarray]) -> int:
    """Each group's (C_g, K) weights tiled, groups one after another; return the offset of the first."""
    return b.weight(np.concatenate([tile_weights(m) for m in matrices]))


def _fully_connected(b: _Builder, r: np.ndarray, op: FullyConnected, ins: Ins, srcs: Srcs) -> None:
    channels, fan_in = op.weight.shape
    r[jit.F_KIND], r[jit.FC_K], r[jit.FC_C] = jit.K_FC, fan_in, channels
    r[jit.P_WEIGHT] = b.weight(tile_weights(op.weight))
    folded = fold_input_zero_point(op.weight, op.bias, ins[0].zero_point, axes=(1,))
    r[jit.P_CHAN] = b.channels(folded - _flip_sums(op.weight), op.requant.m, op.requant.shift)
    _gemm_out(r, op)


def _geometry(r: np.ndarray, op: Conv | ConvTranspose | MaxPool | AvgPool, x: Value, at: int = 0) -> None:
    """The window geometry fields of `op` on input `x`, at r[at + G_*]."""
    g = op.geometry
    f = r[at:]
    f[jit.G_CIN], f[jit.G_H], f[jit.G_W] = x.shape
    f[jit.G_COUT] = op.out.shape[0]
    f[jit.G_GROUPS] = getattr(op, "groups", 1)
    f[jit.G_KH], f[jit.G_KW] = g.kernel
    f[jit.G_SH], f[jit.G_SW] = g.stride
    f[jit.G_DH], f[jit.G_DW] = g.dilation
    f[jit.G_PT], f[jit.G_PL], f[jit.G_PB], f[jit.G_PR] = g.pads
    f[jit.G_OH], f[jit.G_OW] = op.out.shape[1:]


def _conv(b: _Builder, r: np.ndarray, op: Conv, ins: Ins, srcs: Srcs) -> None:
    (x,) = ins
    _geometry(r, op, x)
    r[jit.F_KIND] = jit.K_CONV
    cout, cin_g = op.weight.shape[:2]
    # (cout, kh, kw, cin_g): the channels-last column order of the im2col
    rows = op.weight.transpose(0, 2, 3, 1).reshape(cout, -1)
    if cin_g == 1:  # depthwise or one input channel: taps straight from the input planes, no GEMM
        r[jit.P_MODE] = jit.MODE_DIRECT
        r[jit.P_WEIGHT] = b.weight(rows)
    else:
        r[jit.P_MODE] = jit.MODE_GEMM
        r[jit.P_WEIGHT] = _grouped(b, np.split(rows, op.groups))
    folded = fold_input_zero_point(op.weight, op.bias, x.zero_point, axes=(1, 2, 3))
    r[jit.P_CHAN] = b.channels(folded - _flip_sums(rows), op.requant.m, op.requant.shift)
    r[jit.P_ZP_IN] = x.zero_point
    _gemm_out(r, op)


def _conv_transpose(b: _Builder, r: np.ndarray, op: ConvTranspose, ins: Ins, srcs: Srcs) -> None:
    (x,) = ins
    _geometry(r, op, x)
    r[jit.F_KIND] = jit.K_CONV_T
    r[jit.P_CHAN] = b.channels(op.bias, op.requant.m, op.requant.shift)
    r[jit.P_ZP_IN] = x.zero_point
    _gemm_out(r, op)
    phases = _phase_weights(op, x)
    if phases is None:
        r[jit.P_MODE] = jit.MODE_SCATTER
        # per group, one row per (co, i, j) over the group's input channels
        cin, cout_g, kh, kw = op.weight.shape
        w = op.weight.reshape(op.groups, cin // op.groups, cout_g * kh * kw).transpose(0, 2, 1)
        r[jit.P_WEIGHT] = _grouped(b, list(w))
        r[jit.P_ROWS] = b.const(np.concatenate([_flip_sums(m, x.zero_point) for m in w]))
        return
    # few output channels per group leave most of a GEMM tile's 16 lanes empty: per-tap planes instead
    direct = op.weight.shape[1] < _PHASE_DIRECT_BELOW
    r[jit.P_MODE] = jit.MODE_PHASES_DIRECT if direct else jit.MODE_PHASES
    table = []
    for na, nb, block in phases:
        rows = block.reshape(op.out.shape[0], na * nb * block.shape[-1])  # (cout, na * nb * cin_g)
        if not rows.size:
            weights = 0
        else:
            weights = b.weight(rows) if direct else _grouped(b, np.split(rows, op.groups))
        table += [na, nb, weights, b.const(op.bias.astype(np.int64) - _flip_sums(rows, x.zero_point))]
    r[jit.P_ROWS] = b.const(np.array(table))


def _phase_weights(op: ConvTranspose, x: Value) -> list[tuple[int, int, np.ndarray]] | None:
    """Per output phase (ry, rx) of a transposed conv with dilation 1: its tap counts (na, nb) and weights
    (cout, na, nb, cin_g) with W[ci, co, ry + a * sh, rx + (nb - 1 - b) * sw]; None for MODE_SCATTER
    (dilation, or when the phases' GEMMs would do more than `_PHASE_WASTE` times the op's MACs, as on
    inputs smaller than the kernel)."""
    (kh, kw), (sh, sw), dilation = op.geometry.kernel, op.geometry.stride, op.geometry.dilation
    if dilation != (1, 1):
        return None
    cin, cout_g = op.weight.shape[:2]
    cin_g = cin // op.groups
    oh, ow = op.out.shape[1:]
    pt, pl = op.geometry.pads[:2]
    w = op.weight.reshape(op.groups, cin_g, cout_g, kh, kw)
    phases, work = [], 0
    for ry in range(sh):
        for rx in range(sw):
            na, nb = len(range(ry, kh, sh)), len(range(rx, kw, sw))
            # (cout, na, nb, cin_g), taps b reversed: input columns qx - nb + 1 ... qx in increasing order
            block = w[:, :, :, ry::sh, rx::sw][..., ::-1].transpose(0, 2, 3, 4, 1)
            phases.append((na, nb, block))
            rows = len(range((ry - pt) % sh, oh, sh))
            work += rows * len(range((rx - pl) % sw, ow, sw)) * na * nb * cin_g * cout_g * op.groups
    return phases if work <= _PHASE_WASTE * op.macs else None


def _max_pool(b: _Builder, r: np.ndarray, op: MaxPool, ins: Ins, srcs: Srcs) -> None:
    _geometry(r, op, ins[0])
    r[jit.F_KIND] = jit.K_MAXPOOL


def _avg_pool(b: _Builder, r: np.ndarray, op: AvgPool, ins: Ins, srcs: Srcs) -> None:
    _geometry(r, op, ins[0])
    r[jit.F_KIND] = jit.K_AVGPOOL
    r[jit.A_INCLUDE_PAD] = op.count_include_pad or not any(op.geometry.pads)
    r[jit.A_ZP] = ins[0].zero_point


def _index_map(b: _Builder, x: Value, shape: tuple[int, ...]) -> int:
    """-1 when x already has `shape`, else the offset of the source index of each output element
    (numpy broadcasting of the per-sample shapes, as `ops._batched` does)."""
    if x.shape == shape:
        return -1
    return b.const(np.broadcast_to(np.arange(x.size).reshape(x.shape), shape).ravel())


def _binary(b: _Builder, r: np.ndarray, op: Add | Mul, ins: Ins, srcs: Srcs) -> None:
    shape = op.out.shape
    r[jit.E_SIZE] = op.out.size
    r[jit.E_MAP_A], r[jit.E_MAP_B] = _index_map(b, ins[0], shape), _index_map(b, ins[1], shape)
    r[jit.E_ZA], r[jit.E_ZB] = ins[0].zero_point, ins[1].zero_point
    r[jit.E_ZP] = op.out.zero_point
    if isinstance(op, Add):
        r[jit.F_KIND] = jit.K_ADD
        r[jit.E_MA], r[jit.E_MB] = op.multipliers
        r[jit.E_SHIFT], r[jit.E_LO], r[jit.E_HI] = op.shift, op.lo, op.hi
    else:
        r[jit.F_KIND] = jit.K_MUL
        r[jit.E_M], r[jit.E_SHIFT] = int(op.requant.m[0]), int(op.requant.shift[0])
        r[jit.E_LO], r[jit.E_HI] = op.requant.lo, op.requant.hi


def _lookup(b: _Builder, r: np.ndarray, op: Lookup, ins: Ins, srcs: Srcs) -> None:
    r[jit.F_KIND], r[jit.E_SIZE], r[jit.E_TABLE] = jit.K_LOOKUP, op.out.size, b.weight(op.table)


def _transpose(b: _Builder, r: np.ndarray, op: Transpose, ins: Ins, srcs: Srcs) -> None:
    r[jit.F_KIND], r[jit.E_SIZE] = jit.K_TRANSPOSE, op.out.size
    r[jit.E_MAP_A] = b.const(np.arange(ins[0].size).reshape(ins[0].shape).transpose(op.perm).ravel())


def _axis(r: np.ndarray, shape: tuple[int, ...], axis: int) -> None:
    r[jit.X_OUTER] = math.prod(shape[:axis])
    r[jit.X_LEN] = shape[axis]
    r[jit.X_INNER] = math.prod(shape[axis + 1 :])


def _concat(b: _Builder, r: np.ndarray, op: Concat, ins: Ins, srcs: Srcs) -> None:
    r[jit.F_KIND] = jit.K_CONCAT
    _axis(r, op.out.shape, op.axis)
    parts = [
        (src, v.shape[op.axis], v.zero_point, int(m), int(s))
        for src, v, m, s in zip(srcs, ins, op.requant.m, op.requant.shift, strict=True)
    ]
    r[jit.X_PARTS], r[jit.X_NPARTS], r[jit.E_ZP] = b.const(np.array(parts)), len(parts), op.out.zero_point


def _softmax(b: _Builder, r: np.ndarray, op: Softmax, ins: Ins, srcs: Srcs) -> None:
    r[jit.F_KIND] = jit.K_SOFTMAX
    _axis(r, ins[0].shape, op.axis)
    r[jit.X_TABLE] = b.const(op.table)


def _argmax(b: _Builder, r: np.ndarray, op: ArgMax, ins: Ins, srcs: Srcs) -> None:
    r[jit.F_KIND] = jit.K_ARGMAX
    _axis(r, ins[0].shape, op.axis)


_LOWER = {
    FullyConnected: _fully_connected,
    Conv: _conv,
    ConvTranspose: _conv_transpose,
    MaxPool: _max_pool,
    AvgPool: _avg_pool,
    Add: _binary,
    Mul: _binary,
    Lookup: _lookup,
    Transpose: _transpose,
    Concat: _concat,
    Softmax: _softmax,
    ArgMax: _argmax,
}
